"""Which Spark the harness runs on: a quiet local JVM, Spark Connect, or Databricks Connect.

Everything else in the harness uses only the public DataFrame API on the session returned
here, so the same models and comparisons run unchanged on all three backends.

Two pyspark facts shape this module:

* One process is either classic or Spark Connect: pyspark's ``functions`` pick their
  implementation from the ``SPARK_CONNECT_MODE_ENABLED`` environment variable, and a
  ``SparkContext`` refuses to start while it is set. So a process holds a local session *or*
  remote ones, and ``stop_spark()`` gives the process back to classic mode.
* The Spark Connect client retries an unreachable server for ten minutes; we probe the TCP
  port first so a wrong URL fails in seconds with a message that says what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness.errors import BackendError, first_line

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "BACKENDS",
    "ConnectServer",
    "get_spark",
    "is_remote",
    "spark_version",
    "stop_spark",
    "work_root",
]

BACKENDS = ("local", "connect", "databricks")
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
DEFAULT_CONNECT_PORT = 15002  # the port a "sc://host" URL without one means

_JAVA_HINT = "run: bash scripts/setup.sh (installs openjdk-17-jre-headless)"
_DATABRICKS_HINT = (
    "databricks-connect is not installed in this environment; create its environment with: "
    "bash scripts/setup-databricks-env.sh, then run with .venv-databricks/bin/pytest ..."
)
_CONNECT_URL_HINT = (
    "no Spark Connect URL: pass remote='sc://HOST:PORT' (CLI/pytest: --remote sc://HOST:PORT) "
    "or set SPARK_REMOTE; the pytest plugin starts a local server itself when neither is given"
)
# Environment that would turn a child JVM or Python worker into a Connect client.
_CLIENT_ONLY_ENV = (
    "SPARK_REMOTE",
    "SPARK_CONNECT_MODE_ENABLED",
    "SPARK_LOCAL_REMOTE",
    "PYSPARK_GATEWAY_PORT",
    "PYSPARK_GATEWAY_SECRET",
)

_lock = threading.RLock()
_sessions: dict[tuple[str, str | None, str | None], SparkSession] = {}
_local_workdir: Path | None = None
_set_connect_mode = False  # True when we (not the user) set SPARK_CONNECT_MODE_ENABLED


# --------------------------------------------------------------------------- helpers


# pyspark logs every failed query, with its JVM stack trace, as an ERROR JSON record on
# these Python loggers, even when the harness catches the error and reports it in one line.
for _name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
    logging.getLogger(_name).disabled = True


def work_root() -> Path:
    """Scratch root for the harness: ``$HARNESS_WORKDIR`` or ``<repo>/.harness`` (git-ignored)."""
    env = os.environ.get("HARNESS_WORKDIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / ".harness"


def _redact(text: str) -> str:
    """Remove Databricks tokens, which can hide in connection strings and SDK errors."""
    text = re.sub(r"(?i)(token=)[^;&\s'\"]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)(bearer\s+)[^\s'\";]+", r"\1<redacted>", text)
    text = re.sub(r"\bdapi[0-9a-f]{16,}(-\d+)?\b", "<redacted>", text)
    token = os.environ.get("DATABRICKS_TOKEN")
    if token:
        text = text.replace(token, "<redacted>")
    return text


def _first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception: no JVM or gRPC dump reaches the user."""
    return _redact(first_line(exc, 300))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BackendError(f"{name}={raw!r} is not a positive integer; unset it or fix it")
    return int(raw)


def _local_master() -> str:
    cores = os.environ.get("HARNESS_LOCAL_CORES", "").strip() or "*"
    if cores != "*" and not (cores.isdigit() and int(cores) >= 1):
        raise BackendError(
            f"HARNESS_LOCAL_CORES={cores!r} must be a positive integer or '*'; unset it or fix it"
        )
    return f"local[{cores}]"


def _check_memory(value: str, source: str) -> str:
    """Reject what would make the JVM die at launch with an unreadable error."""
    if not re.fullmatch(r"\d+[kKmMgGtT]?", value.strip()):
        raise BackendError(f"{source}={value!r} is not a JVM memory size like '4g' or '2048m'")
    return value.strip()


def _java_major(java: str) -> int | None:
    """Major version from ``java -version``, or None when it cannot be read."""
    return _java_major_cached(java, os.environ.get("JAVA_HOME"))


@functools.lru_cache(maxsize=8)
def _java_major_cached(java: str, _java_home: str | None) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _find_java() -> str:
    """The ``java`` spark-submit will use (JAVA_HOME, then PATH), or how to get one."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home, "bin", "java")
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            raise BackendError(
                f"Java 17 not found: JAVA_HOME={java_home} has no bin/java; fix or unset "
                f"JAVA_HOME, or {_JAVA_HINT}"
            )
        java = str(candidate)
    else:
        found = shutil.which("java")
        if found is None:
            raise BackendError(
                f"Java 17 not found (JAVA_HOME is unset and no java on PATH); {_JAVA_HINT}"
            )
        java = found
    major = _java_major(java)
    if major is not None and major < 17:
        raise BackendError(
            f"Java 17 not found: {java} is Java {major}, Spark 4 needs 17 or newer; {_JAVA_HINT}"
        )
    return java


def _spark_home() -> Path:
    """The pip-installed pyspark package is a complete SPARK_HOME (bin/, jars/ incl. connect)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale_workdirs(root: Path) -> None:
    """Remove work folders of harness processes that died without cleaning up (e.g. SIGKILL)."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        match = re.fullmatch(r"(?:connect-)?(\d+)(?:-.*)?", entry.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _without_env(names: tuple[str, ...]) -> Iterator[None]:
    """Hide variables from a child launched inside the block (callers hold ``_lock``)."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _jvm_opt(name: str, value: str) -> str:
    """A ``-Dname=value`` that survives Spark's option-string parsing even with spaces."""
    return f'"-D{name}={value}"' if re.search(r"\s", value) else f"-D{name}={value}"


def _write_log4j(workdir: Path, extra_loggers: dict[str, str] | None = None) -> Path:
    """log4j2 at ERROR, read at JVM start so even early WARNs (NativeCodeLoader) stay quiet."""
    lines = [
        "status = error",
        "rootLogger.level = error",
        "rootLogger.appenderRef.stderr.ref = stderr",
        "appender.stderr.type = Console",
        "appender.stderr.name = stderr",
        "appender.stderr.target = SYSTEM_ERR",
        "appender.stderr.layout.type = PatternLayout",
        "appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex",
        # pyspark's gateway counts as a shell: unless its logger has a level of its own,
        # Spark prints 'Setting default log level to "WARN"' and lets WARN lines through.
        "logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer",
        "logger.gateway.level = error",
        "logger.hive.name = org.apache.hadoop.hive",
        "logger.hive.level = off",
        "logger.datanucleus.name = DataNucleus",
        "logger.datanucleus.level = off",
    ]
    for i, (logger, level) in enumerate((extra_loggers or {}).items()):
        lines += [f"logger.l{i}.name = {logger}", f"logger.l{i}.level = {level}"]
    path = workdir / "log4j2.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spark_conf(
    workdir: Path,
    *,
    master: str,
    driver_memory: str,
    shuffle_partitions: int,
    extra_loggers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Settings shared by the local session and our Connect server: quiet, UTC, Arrow, own dirs."""
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    log4j = _write_log4j(workdir, extra_loggers)
    java_opts = " ".join(
        [
            _jvm_opt("log4j.configurationFile", log4j.as_uri()),
            # Whole-stage codegen fuses a comparison's join, projection and aggregation into
            # one large method; HotSpot will not JIT methods over 8000 bytecodes by default
            # and would interpret it (measured ~2x slower on a 1M x 20 comparison).
            "-XX:-DontCompileHugeMethods",
            # That method loops over a whole partition, so it only ever runs as on-stack-
            # replacement code, and every rarely taken branch (a mismatch, a new maximum)
            # deoptimizes and recompiles it. After 400 recompilations HotSpot leaves the
            # method in the interpreter for good: measured 11.4 s instead of 3.9 s for a
            # 1M x 20 comparison. Never give up recompiling.
            "-XX:PerMethodRecompilationCutoff=-1",
            "-XX:PerBytecodeRecompilationCutoff=-1",
            _jvm_opt("derby.system.home", str(workdir)),  # derby.log and metastore_db
            _jvm_opt("java.io.tmpdir", str(tmp)),
        ]
    )
    return {
        "spark.master": master,
        "spark.app.name": "parity-harness",
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        # Spark caches generated classes by source (100 by default); a cache hit also reuses
        # what the JIT compiled for them. A nightly run compares many outputs, and an output
        # compared on sample and on full data generates the same code: keep more of it.
        "spark.sql.codegen.cache.maxEntries": "500",
        "spark.sql.warehouse.dir": str(workdir / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={workdir / 'metastore_db'};create=true"
        ),
        "spark.local.dir": str(tmp),
        # Hive support: the legacy profile registers Hive's own UDFs (hive-exec ships with
        # pyspark); the metastore is a scratch Derby database in the work folder.
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.hive.metastore.sharedPrefixes": "org.apache.derby",
    }


# --------------------------------------------------------------------------- public API


def get_spark(
    backend: str = "local", *, remote: str | None = None, profile: str | None = None
) -> SparkSession:
    """The process's session for ``backend``, created on first use and cached after that.

    ``local`` starts a quiet in-process JVM; ``connect`` attaches to a Spark Connect server
    (``remote`` or ``$SPARK_REMOTE``); ``databricks`` uses Databricks Connect configured the
    usual Databricks way (``remote``/``$SPARK_REMOTE``, a ``~/.databrickscfg`` ``profile``, or
    DATABRICKS_* variables).
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if backend == "local" and (remote or profile):
        raise BackendError(
            "the local backend takes no remote URL or profile; use --backend connect or databricks"
        )
    if backend == "connect" and profile:
        raise BackendError("profile is a Databricks setting; use --backend databricks with it")
    if backend != "local":
        remote = remote or os.environ.get("SPARK_REMOTE") or None
    key = (backend, remote, profile)
    with _lock:
        cached = _sessions.get(key)
        if cached is not None and _alive(cached):
            return cached
        if backend == "local":
            spark = _start_local()
        elif backend == "connect":
            spark = _start_connect(remote)
        else:
            spark = _start_databricks(remote, profile)
        _sessions[key] = spark
        return spark


def stop_spark() -> None:
    """Stop every cached session and remove the local work folder; safe to call twice."""
    global _local_workdir
    with _lock:
        sessions = list(_sessions.items())
        _sessions.clear()
        for (backend, remote, _profile), spark in sessions:
            _stop_session(spark, remote if backend == "connect" else None)
        if _local_workdir is not None:
            shutil.rmtree(_local_workdir, ignore_errors=True)
            _local_workdir = None
        _leave_connect_mode_if_idle()


def _leave_connect_mode_if_idle() -> None:
    """Hand the process back to classic mode (if we took it) so a local session can start."""
    global _set_connect_mode
    if _set_connect_mode and not _sessions:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        _set_connect_mode = False


def _stop_session(spark: SparkSession, url: str | None, timeout: float = 10.0) -> None:
    """Stop one session without hanging when its server is already gone.

    A Connect client releases its server-side session on stop() and retries that for ten
    minutes if the server is unreachable (e.g. the plugin stopped it first), so: skip the
    release when the port is closed, and never wait more than ``timeout`` for it anyway.
    """
    if not is_remote(spark):
        with contextlib.suppress(Exception):
            spark.stop()
        _shutdown_local_jvm()
        return
    if url:
        with contextlib.suppress(BackendError):
            if _probe_tcp(*_parse_sc_url(url), timeout=2.0) is not None:
                spark.release_session_on_close = False  # type: ignore[attr-defined]

    def stop() -> None:
        with contextlib.suppress(Exception):
            spark.stop()

    worker = threading.Thread(target=stop, name="harness-stop-spark", daemon=True)
    worker.start()
    worker.join(timeout)


def _shutdown_local_jvm(timeout: float = 15.0) -> None:
    """End pyspark's gateway JVM, which outlives ``SparkContext.stop()`` and holds its memory.

    The gateway exits when its stdin closes; pyspark launches a fresh one on the next start.
    """
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None or SparkContext._active_spark_context is not None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):
        gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.stdin.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def is_remote(spark: Any) -> bool:
    """True for Spark Connect and Databricks Connect sessions (no SparkContext, no py4j)."""
    return type(spark).__module__.startswith(("pyspark.sql.connect", "databricks.connect"))


def spark_version(spark: SparkSession) -> str:
    """The engine's Spark version as the server reports it (``spark.version``)."""
    try:
        return str(spark.version)
    except Exception as exc:
        raise BackendError(f"cannot read the Spark version: {_first_line(exc)}") from None


def _alive(spark: SparkSession) -> bool:
    if is_remote(spark):
        return not getattr(spark, "is_stopped", False)
    return getattr(getattr(spark, "_sc", None), "_jsc", None) is not None


# --------------------------------------------------------------------------- local


def _start_local() -> SparkSession:
    """A classic session on a local JVM, configured before the JVM starts so it is quiet."""
    global _local_workdir
    if os.environ.get("SPARK_CONNECT_MODE_ENABLED"):
        raise BackendError(
            "this process already uses Spark Connect; pyspark cannot mix it with a local session "
            "in one process: call harness.session.stop_spark() first or use another process"
        )
    master, partitions = _local_master(), _env_int("HARNESS_SHUFFLE_PARTITIONS", 8)
    memory = _check_memory(os.environ.get("HARNESS_DRIVER_MEMORY", "4g"), "HARNESS_DRIVER_MEMORY")
    _find_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = work_root() / "spark"
    _sweep_stale_workdirs(root)
    workdir = root / str(os.getpid())
    workdir.mkdir(parents=True, exist_ok=True)
    conf_items = _spark_conf(
        workdir, master=master, driver_memory=memory, shuffle_partitions=partitions
    )

    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    # Built directly rather than through SparkSession.builder, which would turn into a
    # Connect client whenever SPARK_REMOTE is set (as it is in a connect-backend pytest run).
    conf = SparkConf(loadDefaults=False).setAll(list(conf_items.items()))
    try:
        with _without_env(_CLIENT_ONLY_ENV):  # spark-submit would launch a Connect client
            sc = SparkContext.getOrCreate(conf)
        sc.setLogLevel("ERROR")
        spark = SparkSession(sc, options=conf_items)
    except Exception as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise BackendError(
            f"local Spark failed to start: {_first_line(exc)} (check java -version is 17 and "
            f"HARNESS_DRIVER_MEMORY)"
        ) from None
    _local_workdir = workdir
    return spark


# --------------------------------------------------------------------------- remote


def _parse_sc_url(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"sc://(\[[^\]]+\]|[^:/;\[\]]+)(?::(\d+))?/?(;.*)?", url.strip())
    if not match:
        raise BackendError(
            f"bad Spark Connect URL {_redact(url)!r}; expected sc://HOST:PORT (e.g. "
            "sc://127.0.0.1:15002)"
        )
    host = match.group(1).strip("[]")
    return host, int(match.group(2) or DEFAULT_CONNECT_PORT)


def _probe_tcp(host: str, port: int, timeout: float = 5.0) -> str | None:
    """None when something accepts connections at host:port, else the reason it does not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _check_no_local_session() -> None:
    if any(not is_remote(s) and _alive(s) for s in _sessions.values()):
        raise BackendError(
            "this process already runs a local Spark session; pyspark cannot mix it with Spark "
            "Connect in one process: call harness.session.stop_spark() first or use another process"
        )


def _enter_connect_mode() -> None:
    """Make pyspark.sql.functions build Connect columns, as the classic builder would."""
    global _set_connect_mode
    _check_no_local_session()
    if "SPARK_CONNECT_MODE_ENABLED" not in os.environ:
        os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
        _set_connect_mode = True


def _start_connect(remote: str | None) -> SparkSession:
    """A Spark Connect client session, checked to reach the server before it is returned."""
    if not remote:
        raise BackendError(_CONNECT_URL_HINT)
    _check_no_local_session()
    host, port = _parse_sc_url(remote)
    reason = _probe_tcp(host, port)
    if reason is not None:
        raise BackendError(
            f"cannot reach the Spark Connect server at {host}:{port} ({reason}); start one "
            "(the pytest plugin does when no URL is given) or fix --remote / SPARK_REMOTE"
        )
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:
        raise BackendError(
            f"the Spark Connect client is not installed ({_first_line(exc)}); "
            "run: pip install 'pyspark[connect]'"
        ) from None
    _enter_connect_mode()
    try:
        # create(), not getOrCreate(): that would hand back any other default Connect session.
        spark = ConnectSession.builder.remote(remote).create()
        spark.conf.set("spark.sql.session.timeZone", "UTC")  # first RPC: proves it connects
    except Exception as exc:
        _leave_connect_mode_if_idle()
        raise BackendError(
            f"Spark Connect session at {host}:{port} failed: {_first_line(exc)}"
        ) from None
    return spark


def _start_databricks(remote: str | None, profile: str | None) -> SparkSession:
    """A Databricks Connect session, configured the way Databricks users already do it."""
    try:
        from databricks.connect import DatabricksSession
    except ImportError:
        raise BackendError(_DATABRICKS_HINT) from None
    if remote:
        host, port = _parse_sc_url(remote)
        reason = _probe_tcp(host, port)
        if reason is not None:  # else the client retries for ten minutes
            raise BackendError(
                f"cannot reach Databricks Connect at {host}:{port} ({reason}); check the "
                "workspace URL in --remote / SPARK_REMOTE"
            )
    _enter_connect_mode()
    try:
        builder = DatabricksSession.builder
        if remote:
            builder = builder.remote(remote)
        elif profile:
            builder = builder.profile(profile)
        spark = builder.getOrCreate()
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    except Exception as exc:
        how = (
            "the remote URL"
            if remote
            else f"profile {profile!r}"
            if profile
            else "DATABRICKS_HOST/DATABRICKS_TOKEN/DATABRICKS_CLUSTER_ID or ~/.databrickscfg"
        )
        _leave_connect_mode_if_idle()
        raise BackendError(
            f"Databricks Connect session failed: {_first_line(exc)} (check {how})"
        ) from None
    return spark


# --------------------------------------------------------------------------- Connect server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent_preexec(parent_pid: int) -> Any:
    """A preexec_fn asking Linux to SIGTERM the child when we die, even by SIGKILL.

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so start servers from a
    long-lived thread (the main thread in pytest and the CLI).
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # we died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _meaningful_tail(log: Path, count: int = 4) -> str:
    """The last few log lines that say something (no stack frames), joined on one line."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    keep = [
        ln.strip()
        for ln in lines
        if ln.strip() and not re.match(r"\s*(at |\.\.\. \d+ more|WARNING: Using incubator)", ln)
    ]
    # "java.lang.X: msg" is often followed by "Exception in thread "main" java.lang.X: msg"
    keep = [ln for i, ln in enumerate(keep) if i + 1 == len(keep) or ln not in keep[i + 1]]
    tail = " | ".join(keep[-count:]) or "(log is empty)"
    return _redact(tail if len(tail) <= 600 else "..." + tail[-597:])


_servers: set[ConnectServer] = set()
_server_ids = itertools.count(1)


@atexit.register
def _stop_all_at_exit() -> None:
    with contextlib.suppress(Exception):
        stop_spark()  # clients first, while their servers still answer
    for server in list(_servers):
        with contextlib.suppress(Exception):
            server.stop()


class ConnectServer:
    """A local Spark Connect server on 127.0.0.1, owned by this process.

    Launched as our child (not via the daemonizing sbin script) in its own process group, with
    PR_SET_PDEATHSIG so that it dies with us even if we are SIGKILLed; ``stop()`` kills the
    group and removes the server's work folder.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        workdir: Path | None = None,
        driver_memory: str = "4g",
    ) -> None:
        self._requested_port = port
        self._own_workdir = workdir is None
        self.workdir: Path | None = Path(workdir).resolve() if workdir is not None else None
        self.driver_memory = _check_memory(driver_memory, "driver_memory")
        self.port: int | None = None
        self.url: str | None = None
        self.pid: int | None = None
        self.start_seconds: float | None = None  # how long start() waited for the server
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._made: list[Path] = []

    @property
    def log_path(self) -> Path | None:
        return self.workdir / "server.log" if self.workdir is not None else None

    def __enter__(self) -> ConnectServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120) -> str:
        """Launch the server and wait until a client can connect; returns ``sc://127.0.0.1:PORT``."""
        if self._proc is not None and self._proc.poll() is None and self.url:
            return self.url
        master, partitions = _local_master(), _env_int("HARNESS_SHUFFLE_PARTITIONS", 8)
        _find_java()
        attempts = 1 if self._requested_port else 3  # a picked free port can be taken meanwhile
        for attempt in range(attempts):
            port = self._requested_port or _free_port()
            began = time.monotonic()
            self._launch(port, master, partitions)
            outcome = self._wait_ready(port, timeout)
            if outcome == "ready":
                self.start_seconds = time.monotonic() - began
                self.port, self.url = port, f"sc://127.0.0.1:{port}"
                _servers.add(self)
                return self.url
            tail = _meaningful_tail(self.log_path) if self.log_path else "(no log)"
            self._terminate()
            if outcome == "port-taken" and attempt + 1 < attempts:
                continue
            if outcome == "port-taken":
                raise BackendError(
                    f"Spark Connect server could not bind 127.0.0.1:{port} (port in use); "
                    "pick another port or stop what uses it"
                )
            what = (
                f"did not accept connections within {timeout:.0f}s"
                if outcome == "timeout"
                else "exited during start-up"
            )
            raise BackendError(f"Spark Connect server {what}; log {self.log_path}: {tail}")
        raise AssertionError("unreachable")

    def _launch(self, port: int, master: str, partitions: int) -> None:
        if self.workdir is None:
            root = work_root() / "spark"
            _sweep_stale_workdirs(root)
            self.workdir = root / f"connect-{os.getpid()}-{next(_server_ids)}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        before = set(self.workdir.iterdir())
        conf = _spark_conf(
            self.workdir,
            master=master,
            driver_memory=self.driver_memory,
            shuffle_partitions=partitions,
            # one INFO line saying where it listens; everything else stays at ERROR
            extra_loggers={CONNECT_SERVER_CLASS: "info"},
        )
        conf["spark.app.name"] = "parity-harness-connect-server"
        conf["spark.connect.grpc.binding.address"] = "127.0.0.1"
        conf["spark.connect.grpc.binding.port"] = str(port)
        conf["spark.connect.grpc.port.maxRetries"] = "0"  # fail fast instead of drifting ports
        # In a caller's folder, stop() removes only what the server added (log kept).
        self._made = [
            self.workdir / name
            for name in ("tmp", "warehouse", "metastore_db", "derby.log", "log4j2.properties")
            if self.workdir / name not in before
        ]

        spark_home = _spark_home()
        cmd = [
            str(spark_home / "bin" / "spark-submit"),
            "--class",
            CONNECT_SERVER_CLASS,
            "--name",
            conf["spark.app.name"],
            "--master",
            conf.pop("spark.master"),
            "--driver-memory",
            conf.pop("spark.driver.memory"),
        ]
        for key, value in conf.items():
            cmd += ["--conf", f"{key}={value}"]
        env = {k: v for k, v in os.environ.items() if k not in _CLIENT_ONLY_ENV}
        env["SPARK_HOME"] = str(spark_home)
        env["SPARK_CONNECT_MODE"] = "0"  # as sbin/start-connect-server.sh: a server, not a client
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        # Python workers (applyInPandas) must see this environment's pandas/pyarrow/rpy2.
        env["PYSPARK_PYTHON"] = os.environ.get("PYSPARK_PYTHON") or sys.executable

        assert self.log_path is not None
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in _terminate()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            start_new_session=True,  # own process group: stop() kills the whole tree
            preexec_fn=_die_with_parent_preexec(os.getpid()),
        )
        self.pid = self._proc.pid

    def _wait_ready(self, port: int, timeout: float) -> str:
        """'ready' once a gRPC channel to the port is up, else 'port-taken', 'exited', 'timeout'."""
        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.log_path.read_text(encoding="utf-8", errors="replace")
                if re.search(r"BindException|Address already in use", log):
                    return "port-taken"
                return "exited"
            if _probe_tcp("127.0.0.1", port, timeout=1.0) is None and self._grpc_ready(port):
                # Someone else could own the port if our JVM failed to bind it: re-check ours.
                if self._proc.poll() is None:
                    return "ready"
                continue
            time.sleep(0.25)
        return "timeout"

    @staticmethod
    def _grpc_ready(port: int) -> bool:
        """An HTTP/2 handshake proves a gRPC server (not just any socket) is listening."""
        try:
            import grpc
        except ImportError:
            return True
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            grpc.channel_ready_future(channel).result(timeout=5)
            return True
        except grpc.FutureTimeoutError:
            return False
        finally:
            channel.close()

    def _terminate(self, grace: float = 15.0) -> None:
        """Kill the JVM's process group (TERM, then KILL) and reap it; keeps the work folder."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            # Anything left in the group (a stuck child) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.pid = None
        _servers.discard(self)

    def stop(self) -> None:
        """Stop the server and remove its work folder (or what we made in a given one)."""
        self._terminate()
        if self.workdir is not None:
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None
            else:
                for path in self._made:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        self._made = []
        self.url = None
        self.pid = None
        self.port = None

    def __repr__(self) -> str:
        state = f"url={self.url!r} pid={self.pid}" if self.url else "stopped"
        return f"ConnectServer({state})"
