"""The local multi-process cluster, for real: ``scripts/local-cluster.sh up`` starts a
standalone master, two workers and a Spark Connect server as JVMs of their own; a query's
tasks run in both workers' executors; model suites (SQL, Python, R in the executors) pass
through its URL; and nothing is left running after ``down``, an interrupted ``up``, the
owner's death or the supervisor's SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_copy import REPO, copy_project

from harness.backends.clusterctl import read_state, running
from harness.backends.config import CLIENT_ONLY_ENV

SCRIPT = REPO / "scripts" / "local-cluster.sh"
pytestmark = [pytest.mark.backends, pytest.mark.xdist_group("local_cluster")]


def cluster_env(workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CLIENT_ONLY_ENV and not k.startswith("PYTEST_")
    }
    env.update(HARNESS_WORKDIR=str(workdir), HARNESS_PYTHON=sys.executable)
    return env


def ctl(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=cluster_env(workdir),
        capture_output=True,
        text=True,
        check=False,
    )


def jvms_in(folder: Path) -> list[int]:
    """Every running JVM whose command line names ``folder`` (our cluster's, whatever the
    state file says)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "java" in cmd and str(folder) in cmd and running(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until(condition, seconds: float = 180) -> bool:
    """Poll ``condition`` (a safety bound so a broken clean-up fails instead of hanging)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def up(workdir: Path, *args: str) -> str:
    proc = ctl(workdir, "up", *args)
    assert proc.returncode == 0, proc.stderr
    url = proc.stdout.strip().splitlines()[-1]
    assert url.startswith("sc://127.0.0.1:"), proc.stdout
    return url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One cluster (two workers) for the tests that use it; always taken down."""
    workdir = tmp_path_factory.mktemp("cluster") / ".harness"
    url = up(workdir)
    yield workdir, url
    ctl(workdir, "down")


def test_up_runs_master_two_workers_and_connect_server_on_loopback(cluster):
    workdir, url = cluster
    state = read_state(workdir / "cluster")
    assert state is not None and state["status"] == "ready" and state["url"] == url
    status = ctl(workdir, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "2 workers alive, 1 applications" in status.stdout
    pids = [state["master"]["pid"], *(w["pid"] for w in state["workers"])]
    pids.append(state["connect"]["pid"])
    assert len(set(pids)) == 4 and all(running(p) for p in pids)
    # every socket of the cluster's JVMs listens on 127.0.0.1 only
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    ours = [ln for ln in listening.splitlines() if any(f"pid={p}," in ln for p in pids)]
    assert ours, listening
    local = re.compile(r"\s(\[::ffff:)?127\.0\.0\.1\]?:\d+\s")
    assert all(local.search(ln) for ln in ours), "\n".join(ours)
    # a second `up` finds the running cluster instead of starting another
    assert up(workdir) == url


PROBE = """
import json, os, sys
from pyspark.sql import SparkSession

def executor_of(pid):
    # the python worker -> its daemon -> the executor JVM -> the worker JVM that started it
    while pid > 1:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
        parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        if "CoarseGrainedExecutorBackend" in cmd:
            return pid, parent
        pid = parent
    return None, None

def probe(batches):
    import pandas as pd, time
    time.sleep(1)  # keep each task long enough for both executors to get some
    for _ in batches:
        executor, worker = executor_of(os.getpid())
        yield pd.DataFrame({"executor": [executor], "worker": [worker],
                            "r_home": [os.environ.get("R_HOME")],
                            "python": [sys.executable]})

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
rows = spark.range(0, 800, 1, 8).mapInPandas(
    probe, "executor long, worker long, r_home string, python string").collect()
print(json.dumps([r.asDict() for r in rows]))
spark.stop()
"""


def test_tasks_run_in_executors_of_both_workers(cluster, tmp_path):
    workdir, url = cluster
    state = read_state(workdir / "cluster")
    assert state is not None
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    proc = subprocess.run(
        [sys.executable, str(script), url],
        env=cluster_env(workdir),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    workers = {w["pid"] for w in state["workers"]}
    assert {r["worker"] for r in rows} == workers  # both workers ran tasks
    assert len({r["executor"] for r in rows}) == 2
    assert state["connect"]["pid"] not in {r["executor"] for r in rows}  # not the driver
    assert {r["python"] for r in rows} == {sys.executable}
    assert all(r["r_home"] for r in rows)


def test_suites_pass_on_the_cluster_with_r_in_the_executors(cluster, tmp_path):
    """adoption_rate (SQL) and segment_models (SQL, then R per region via applyInPandas)."""
    _, url = cluster
    root = copy_project(tmp_path / "proj", models=("adoption_rate", "segment_models"))
    env = cluster_env(root / ".harness")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "suites", "-p", "no:randomly", "-v", "-n", "0"),
            *("--harness-backend", "connect", "--harness-remote", url),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = [ln for ln in proc.stdout.splitlines() if " PASSED" in ln]
    for model in ("adoption_rate", "segment_models"):
        assert any(model in ln and "values" in ln for ln in passed), proc.stdout[-4000:]


# Installed in every client process of the test below (sitecustomize on PYTHONPATH): any
# file operation of the client under the golden root is recorded and refused. The cluster
# (its JVMs and their Python workers) was started without it.
NO_CLIENT_IO = """
import os, sys
_root = os.environ["AUDIT_ROOT"]
_log = os.open(os.environ["AUDIT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
_events = {"open", "os.listdir", "os.scandir", "os.rename", "os.remove", "os.mkdir",
           "os.rmdir", "shutil.rmtree", "shutil.copyfile", "os.replace"}

def _hook(event, args):
    if event not in _events or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = path.decode(errors="replace")
    if isinstance(path, (str, os.PathLike)) and os.fspath(path).startswith(_root):
        os.write(_log, f"{event} {os.fspath(path)} pid={os.getpid()}\\n".encode())
        raise PermissionError(f"client touched the golden root: {event} {os.fspath(path)}")

sys.addaudithook(_hook)
"""


def test_nightly_with_goldens_only_the_cluster_writes(cluster, tmp_path):
    """The golden root a file: URI: the nightly captures and compares, a refresh makes a
    new version, a modified golden is caught; the client never opens a file under it."""
    _, url = cluster
    root = copy_project(tmp_path / "proj", models=("adoption_rate",))
    golden = tmp_path / "cluster-golden"
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(NO_CLIENT_IO)
    env = cluster_env(root / ".harness")
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(audit), str(REPO), env.get("PYTHONPATH")])),
        HARNESS_GOLDEN_ROOT=golden.as_uri(),
        AUDIT_ROOT=str(golden),
        AUDIT_LOG=str(tmp_path / "client-io.log"),
    )
    remote = ("--harness-backend", "connect", "--harness-remote", url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, check=False
        )

    nightly = run(
        *("-m", "harness.cli", "nightly", "--backend", "connect", "--remote", url),
        *("--capture", "emulated"),
        *("--dataset", "full", "--scale", "0.02", "--workers", "0", "--out", "reports"),
    )
    assert nightly.returncode == 0, nightly.stdout[-3000:] + nightly.stderr[-3000:]
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert [m["status"] for m in summary["models"]] == ["passed"]
    base = golden / "adoption_rate" / "full" / "adoption_rates"
    assert (base / "pointers" / "p000001.json").is_dir() and (base / "v0001" / "data").is_dir()

    hql = root / "suites" / "adoption_rate" / "adoption_rate.hql"
    hql.write_text(hql.read_text().replace("AVG(p.base_premium *", "AVG(2.0 * p.base_premium *"))
    env["HARNESS_SCALE"] = "0.02"
    suites = ("-m", "pytest", "suites", "-p", "no:randomly", "-n", "0", "--harness-dataset", "full")
    refresh = run(*suites, *remote, "--harness-update-golden", "--harness-reason", "CR-9: x2")
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-2000:]
    history = run(
        *("-m", "harness.cli", "golden", "history", "adoption_rate", "adoption_rates"),
        *("--dataset", "full", "--backend", "connect", "--remote", url),
    )
    assert history.returncode == 0, history.stderr[-2000:]
    assert history.stdout.splitlines()[-1].startswith("* v0002"), history.stdout
    assert "CR-9: x2" in history.stdout

    part = next((base / "v0002" / "data").glob("part-*.parquet"))
    blob = bytearray(part.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    part.write_bytes(bytes(blob))
    part.with_name(f".{part.name}.crc").unlink()  # as on an object store: no .crc
    corrupted = run(*suites, *remote)
    assert corrupted.returncode == 1, corrupted.stdout[-3000:]
    assert re.search(
        r"golden data (was modified or corrupted|cannot be read by the cluster)",
        corrupted.stdout,
    ), corrupted.stdout[-3000:]
    log = tmp_path / "client-io.log"
    assert log.read_text() == ""  # created by the hook in every client process, never written
    control = run("-c", f"open({str(base / 'summary.ambr')!r})")  # the hook does watch
    assert control.returncode == 1 and "client touched the golden root" in control.stderr
    assert "open " in log.read_text()


def test_down_stops_everything(cluster):
    workdir, _ = cluster
    state = read_state(workdir / "cluster")
    assert state is not None
    proc = ctl(workdir, "down")
    assert proc.returncode == 0, proc.stderr
    assert not running(state["supervisor"])
    assert jvms_in(workdir / "cluster") == []
    status = ctl(workdir, "status")
    assert status.returncode == 3 and "not running" in status.stdout


def test_interrupted_up_leaves_nothing(tmp_path):
    workdir = tmp_path / ".harness"
    folder = workdir / "cluster"
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "up", "--workers", "1"],
        env=cluster_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: len(jvms_in(folder)) >= 2), "no JVM started"
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends `up`
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "sc://" not in out
    assert wait_until(lambda: not jvms_in(folder)), jvms_in(folder)
    state = read_state(folder)
    assert state is not None and not running(state["supervisor"])


def test_up_under_timeout_in_command_substitution_stays_up_until_the_shell_exits(tmp_path):
    """``url=$(timeout 300 scripts/local-cluster.sh up)``: ``timeout`` exits as soon as ``up``
    returns, so the owner is the shell above it; ``up`` names it, the cluster is still there
    after some of the supervisor's owner checks, and it stops once that shell exits."""
    workdir = tmp_path / ".harness"
    folder = workdir / "cluster"
    up_err = tmp_path / "up.err"
    script = (
        'url=$(timeout 300 "$SCRIPT" up --workers 1 2>"$UP_ERR") || exit 10\n'
        'echo "url=$url"\n'
        "sleep 3  # `timeout` is gone; the supervisor checks its owner once a second\n"
        '"$SCRIPT" status\n'
    )
    env = cluster_env(workdir)
    env.update(SCRIPT=str(SCRIPT), UP_ERR=str(up_err))
    shell = subprocess.Popen(
        ["bash", "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = shell.communicate()
        assert shell.returncode == 0, out + err + up_err.read_text()
        assert re.search(r"^url=sc://127\.0\.0\.1:\d+$", out, re.M), out
        assert "cluster: ready (supervisor pid" in out, out
        assert f"owner pid {shell.pid} (bash)" in out, out
        state = read_state(folder)
        assert state is not None and state["owner"] == shell.pid, state
        said = up_err.read_text().splitlines()[-1]
        assert f"its owner, pid {shell.pid} (bash), exits" in said, up_err.read_text()
        # the shell has exited: now the cluster goes
        assert wait_until(lambda: not jvms_in(folder)), jvms_in(folder)
        assert wait_until(lambda: not running(state["supervisor"]))
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
        ctl(workdir, "down")


def test_owner_death_and_supervisor_kill_leave_nothing(tmp_path):
    """The cluster stops when its owner exits, and its JVMs die with a SIGKILLed supervisor."""
    for how in ("owner exits", "supervisor killed"):
        workdir = tmp_path / how.replace(" ", "-") / ".harness"
        folder = workdir / "cluster"
        owner = subprocess.Popen(["sleep", "100000"])
        try:
            up(workdir, "--workers", "1", "--owner", str(owner.pid))
            state = read_state(folder)
            assert state is not None
            assert len(jvms_in(folder)) >= 4  # master, worker, executor, Connect server
            if how == "owner exits":
                owner.kill()
                owner.wait()
            else:
                os.kill(state["supervisor"], signal.SIGKILL)
            assert wait_until(lambda f=folder: not jvms_in(f)), (how, jvms_in(folder))
            assert wait_until(lambda s=state: not running(s["supervisor"]))
        finally:
            owner.kill()
            owner.wait()
            ctl(workdir, "down")
