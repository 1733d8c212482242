"""harness.backends against real Spark: a local JVM, then one shared Spark Connect server.

The JVMs are expensive on a 2-core machine, so each starts once per class and never two of
ours at a time: the local session is stopped before the Connect server starts, and the
orphan test runs its own server only after the shared one is gone.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import workdir as scratch
from harness.backends import (
    ConnectServer,
    get_spark,
    is_remote,
    reads_plans,
    sees_local_files,
    spark_version,
    stop_spark,
)
from harness.backends import config as backend_config
from harness.backends.base import redact
from harness.backends.sessions import _sessions
from harness.errors import BackendError

REPO = Path(__file__).resolve().parent.parent
# Starts and stops local JVMs and Connect servers of its own: it needs a process with no
# session of another backend (scripts/run-tests.sh runs it alone, -n 0).
pytestmark = pytest.mark.local_only(
    "starts its own JVMs and servers; run it alone: pytest tests/test_session.py -n 0"
)
DATABRICKS_PYTHON = REPO / ".venv-databricks" / "bin" / "python"

# databricks-connect's pyspark is client-only: no jars, so no local JVM or server from it.
needs_spark_jars = pytest.mark.skipif(
    not (backend_config.spark_home() / "jars").is_dir(),
    reason="this pyspark ships no jars (a databricks-connect environment); use .venv",
)


# --------------------------------------------------------------------------- helpers


def _decode_addr(hex_addr: str) -> str:
    """An address from /proc/net/tcp{,6} ("0100007F", 32 hex digits for IPv6) as text."""
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    text = socket.inet_ntop(socket.AF_INET6, words)
    return text.removeprefix("::ffff:")  # an IPv4-mapped socket is IPv4 for our purpose


def _listening(pid: int) -> dict[int, set[str]]:
    """Port -> addresses of the TCP sockets ``pid`` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                addr, port = local.split(":")
                ports.setdefault(int(port, 16), set()).add(_decode_addr(addr))
    return ports


def _gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_gone(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.5)
    return _gone(pid)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _child_env(**extra: str) -> dict[str, str]:
    """Our environment without anything that makes a child a Connect client."""
    env = {k: v for k, v in os.environ.items() if k not in backend_config.CLIENT_ONLY_ENV}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- no JVM needed


def test_unknown_backend_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match=r"unknown backend 'spark2'.*local, connect, databricks"):
        get_spark("spark2")


def test_connect_without_url_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    with pytest.raises(BackendError, match="SPARK_REMOTE") as info:
        get_spark("connect")
    assert "\n" not in str(info.value)


def test_connect_to_nothing_fails_fast() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    began = time.monotonic()
    with pytest.raises(BackendError, match=f"cannot reach .*127.0.0.1:{port}"):
        get_spark("connect", remote=f"sc://127.0.0.1:{port}")
    assert time.monotonic() - began < 60  # not the client's ten minutes of retries
    assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ


def test_tokens_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "s3cr3t-value")
    text = redact(
        "sc://adb-1.azuredatabricks.net:443/;token=dapi0123456789abcdef0123;x-cluster=1 "
        "Authorization: Bearer abc.def and s3cr3t-value"
    )
    assert "dapi0123" not in text and "abc.def" not in text and "s3cr3t" not in text
    assert "x-cluster=1" in text


def test_databricks_without_the_package_names_the_setup_script() -> None:
    try:
        import databricks.connect  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("databricks-connect is installed here")
    with pytest.raises(BackendError, match=r"scripts/setup-databricks-env\.sh") as info:
        get_spark("databricks", remote="sc://example:443/;token=dapiabcdef0123456789abcd")
    assert "dapiabcdef" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HARNESS_DRIVER_MEMORY", "lots"),
        ("HARNESS_LOCAL_CORES", "0"),
        ("HARNESS_SHUFFLE_PARTITIONS", "-1"),
    ],
)
def test_bad_settings_fail_before_any_jvm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    if _sessions.open:
        pytest.skip("this process already holds a session, which get_spark would return")
    monkeypatch.setenv("HARNESS_WORKDIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(BackendError, match=name):
        get_spark("local")
    with pytest.raises(BackendError, match=name if "MEMORY" not in name else "driver_memory"):
        if "MEMORY" in name:
            ConnectServer(driver_memory=value)
        else:
            ConnectServer().start()
    assert not (tmp_path / "spark").exists()


def test_missing_java_is_one_actionable_line(tmp_path: Path) -> None:
    env = _child_env(PATH=str(tmp_path), HARNESS_WORKDIR=str(tmp_path / "work"))
    env.pop("JAVA_HOME", None)
    code = textwrap.dedent(
        """
        from harness.errors import BackendError
        from harness.backends import get_spark
        try:
            get_spark("local")
        except BackendError as exc:
            print(exc)
            raise SystemExit(3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    message = result.stdout.strip()
    assert "\n" not in message
    assert message.startswith("Java 17 not found")
    assert "bash scripts/setup.sh" in message and "openjdk-17-jre-headless" in message
    assert "Traceback" not in result.stderr and "py4j" not in result.stderr.lower()


# --------------------------------------------------------------------------- local backend


@pytest.fixture(scope="class")
def local_spark() -> Iterator[object]:
    stop_spark()
    spark = get_spark("local")
    yield spark
    stop_spark()


@needs_spark_jars
class TestLocal:
    def test_quiet_utc_arrow_session(self, local_spark) -> None:
        conf = local_spark.conf
        assert conf.get("spark.sql.session.timeZone") == "UTC"
        assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
        assert conf.get("spark.ui.enabled") == "false"
        assert conf.get("spark.ui.showConsoleProgress") == "false"
        assert conf.get("spark.sql.adaptive.enabled") == "true"
        assert not is_remote(local_spark)
        assert spark_version(local_spark).startswith("4.")

    def test_capabilities(self, local_spark) -> None:
        assert reads_plans(local_spark) and sees_local_files(local_spark)
        assert local_spark.range(3)._jdf is not None  # py4j really is there

    def test_work_files_live_under_dot_harness(self, local_spark) -> None:
        workdir = scratch.work_root() / "spark" / str(os.getpid())
        warehouse = local_spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
        assert Path(warehouse).resolve() == workdir / "warehouse"
        assert (workdir / "log4j2.properties").is_file()
        if "HARNESS_WORKDIR" not in os.environ:
            assert workdir.is_relative_to(REPO / ".harness")

    def test_session_is_cached(self, local_spark) -> None:
        assert get_spark() is local_spark
        assert get_spark("local") is local_spark

    def test_cannot_mix_with_connect_in_one_process(self, local_spark) -> None:
        with pytest.raises(BackendError, match="already runs a local Spark session"):
            get_spark("connect", remote="sc://127.0.0.1:1")


@needs_spark_jars
def test_stop_spark_removes_the_local_work_folder() -> None:
    # Runs after TestLocal has stopped its session: nothing of this pid may be left.
    from pyspark import SparkContext

    stop_spark()
    assert not (scratch.work_root() / "spark" / str(os.getpid())).exists()
    assert SparkContext._gateway is None  # the gateway JVM is gone too, not just the context


# --------------------------------------------------------------------------- Connect server


@pytest.fixture(scope="class")
def server() -> Iterator[ConnectServer]:
    stop_spark()  # never a local JVM and a server of ours at once
    server = ConnectServer(driver_memory="1g")
    server.start()
    yield server
    stop_spark()
    server.stop()


@pytest.fixture(scope="class")
def client(server: ConnectServer) -> Iterator[object]:
    spark = get_spark("connect", remote=server.url)
    yield spark
    stop_spark()


@needs_spark_jars
class TestConnectServer:
    def test_listens_on_loopback_only(self, server: ConnectServer) -> None:
        assert server.url == f"sc://127.0.0.1:{server.port}"
        assert server.pid is not None
        listening = _listening(server.pid)
        assert listening.get(server.port) == {"127.0.0.1"}
        # The driver's own RPC and block-manager ports stay on loopback too.
        assert all(addrs == {"127.0.0.1"} for addrs in listening.values()), listening

    def test_query_and_apply_in_pandas(self, server: ConnectServer, client) -> None:
        assert is_remote(client)
        assert get_spark("connect", remote=server.url) is client
        assert client.range(10).selectExpr("sum(id) AS s").collect()[0]["s"] == 45
        assert client.conf.get("spark.sql.session.timeZone") == "UTC"
        # A server on 127.0.0.1 reads our files; no Connect client reads plans.
        assert sees_local_files(client) and not reads_plans(client)

        def total(pdf):  # runs in the server's Python worker: this venv's pandas
            return pdf.assign(id=pdf["id"].sum())[["k", "id"]].drop_duplicates()

        out = (
            client.range(10)
            .selectExpr("id % 2 AS k", "id")
            .groupBy("k")
            .applyInPandas(total, "k long, id long")
            .orderBy("k")
            .collect()
        )
        assert [(r.k, r.id) for r in out] == [(0, 20), (1, 25)]

    def test_compare_over_connect_proves_keys_by_observing(self, client, monkeypatch) -> None:
        """Through a Connect client the engine cannot read the executed plan; it observes
        the input row counts instead, and still takes the one-pass route only when the
        keys line up one-to-one."""
        from harness.compare import engine

        windowed = []
        real = engine.count_pass

        def spy(plan, e, a, **kw):
            windowed.append(kw["windowed"])
            return real(plan, e, a, **kw)

        monkeypatch.setattr(engine, "count_pass", spy)
        e = client.range(0, 50).selectExpr("id", "CAST(id AS DOUBLE) AS v")
        nudged = e.selectExpr("id", "v * (1 + 1e-12) AS v")
        clean = engine.compare(e, nudged, keys=["id"], rtol=1e-9)
        assert clean.passed and windowed == [False]
        duplicated = engine.compare(e, e.union(e.where("id = 7")), keys=["id"])
        assert windowed == [False, False, True]  # counts disagree: the windowed reference
        assert len(duplicated.duplicate_keys_actual) == 1
        assert (duplicated.rows_expected, duplicated.rows_actual) == (50, 51)

    def test_databricks_connect_client(self, server: ConnectServer) -> None:
        if not DATABRICKS_PYTHON.exists():
            pytest.skip("no .venv-databricks; create it with: bash scripts/setup-databricks-env.sh")
        code = textwrap.dedent(
            """
            import sys
            from harness.backends import get_spark, is_remote
            spark = get_spark("databricks", remote=sys.argv[1])
            assert is_remote(spark)
            print(spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"])

            def total(pdf):  # the server's worker Python (the main .venv) unpickles this
                return pdf.assign(id=pdf["id"].sum())[["k", "id"]].drop_duplicates()

            rows = (
                spark.range(10).selectExpr("id % 2 AS k", "id").groupBy("k")
                .applyInPandas(total, "k long, id long").orderBy("k").collect()
            )
            print([(r.k, r.id) for r in rows])
            """
        )
        result = subprocess.run(
            [str(DATABRICKS_PYTHON), "-c", code, str(server.url)],
            cwd=REPO,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.splitlines()[-2:] == ["45", "[(0, 20), (1, 25)]"]

    def test_stop_frees_port_kills_jvm_and_cleans_up(self, server: ConnectServer, client) -> None:
        port, pid, workdir = server.port, server.pid, server.workdir
        assert port and pid and workdir and workdir.is_dir()
        server.stop()
        assert _wait_gone(pid, 10)
        assert _port_free(port)
        assert not workdir.exists()
        assert server.url is None and server.pid is None
        server.stop()  # idempotent
        # The client outlived its server: stopping it must not wait out its 10 minutes of retries.
        began = time.monotonic()
        stop_spark()
        assert time.monotonic() - began < 60
        assert "SPARK_CONNECT_MODE_ENABLED" not in os.environ


# --------------------------------------------------------------------------- orphans


@needs_spark_jars
def test_server_dies_with_its_owner(tmp_path: Path) -> None:
    """A SIGKILLed owner (no atexit, no stop()) must not leave a Spark Connect JVM behind."""
    code = textwrap.dedent(
        """
        import time
        from harness.backends import ConnectServer
        server = ConnectServer(driver_memory="1g")
        server.start()
        print(server.pid, server.workdir, flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        env=_child_env(HARNESS_WORKDIR=str(tmp_path)),
    )
    try:
        ready, _, _ = select.select([owner.stdout], [], [], 240)
        assert ready, "the child's server did not start within 240 s"
        line = owner.stdout.readline().split()
        assert line, f"the child exited with {owner.poll()} before starting a server"
        jvm_pid, workdir = int(line[0]), Path(line[1])
        assert "SparkConnectServer" in Path(f"/proc/{jvm_pid}/cmdline").read_text()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    gone = _wait_gone(jvm_pid, 30)
    if not gone:  # don't leave it running for the next test
        os.killpg(jvm_pid, signal.SIGKILL)
    assert gone, f"JVM {jvm_pid} outlived its SIGKILLed owner"
    # Its folder stays behind; the next start sweeps folders of dead owners.
    scratch.sweep_dead_owners(tmp_path / "spark")
    assert not workdir.exists()
