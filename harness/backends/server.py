"""A local Spark Connect server on 127.0.0.1 as a child process that cannot outlive us.

The pytest plugin starts one per ``connect`` run without a URL and shares it with every
xdist worker (one JVM instead of one per worker). The server is launched as our child, not
through the daemonizing sbin script, in its own process group and with PR_SET_PDEATHSIG,
so it dies with its owner even on SIGKILL; ``stop()`` (also at exit) kills the group and
removes the server's work folder, and the next start sweeps folders of dead owners.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from harness import workdir as scratch
from harness.backends import config
from harness.backends.base import probe_tcp, redact
from harness.errors import BackendError

CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"

_running: set[ConnectServer] = set()  # stopped at interpreter exit


def stop_all_servers() -> None:
    """Stop every server this process started and has not stopped yet."""
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


@functools.cache
def _stop_all_at_exit() -> None:
    """Register, once per process, the stop of every server still running at exit."""
    atexit.register(stop_all_servers)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent_preexec(parent_pid: int) -> Any:
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


def meaningful_tail(log: Path, count: int = 4) -> str:
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
    return redact(tail if len(tail) <= 600 else "..." + tail[-597:])


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """TERM the process group ``proc`` leads (started with ``start_new_session``), KILL it
    after ``grace`` seconds, reap ``proc``; anything left in the group (a stuck child) goes too."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class ConnectServer:
    """A local Spark Connect server on 127.0.0.1, owned by this process.

    ``workdir`` defaults to a fresh folder under the scratch root, removed on ``stop()``; in
    a folder the caller gives, ``stop()`` removes only what the server added (log kept).
    ``master`` defaults to local mode (``HARNESS_LOCAL_CORES``); a local cluster passes its
    ``spark://`` URL, with ``conf`` and ``env`` added to the server's settings and environment.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        workdir: Path | None = None,
        driver_memory: str = "4g",
        master: str | None = None,
        conf: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._requested_port = port
        self._own_workdir = workdir is None
        self.workdir: Path | None = Path(workdir).resolve() if workdir is not None else None
        self.driver_memory = config.check_memory(driver_memory, "driver_memory")
        self.master = master
        self.extra_conf = dict(conf or {})
        self.extra_env = dict(env or {})
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
        master, partitions = self.master or config.local_master(), config.shuffle_partitions()
        config.find_java()
        attempts = 1 if self._requested_port else 3  # a picked free port can be taken meanwhile
        for attempt in range(attempts):
            port = self._requested_port or free_port()
            began = time.monotonic()
            self._launch(port, master, partitions)
            outcome = self._wait_ready(port, timeout)
            if outcome == "ready":
                self.start_seconds = time.monotonic() - began
                self.port, self.url = port, f"sc://127.0.0.1:{port}"
                _stop_all_at_exit()
                _running.add(self)
                return self.url
            tail = meaningful_tail(self.log_path) if self.log_path else "(no log)"
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
            root = scratch.spark_dir()
            scratch.sweep_dead_owners(root)
            self.workdir = scratch.owned_folder(root, "connect")
        self.workdir.mkdir(parents=True, exist_ok=True)
        before = set(self.workdir.iterdir())
        conf = config.spark_conf(
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
        conf.update(self.extra_conf)
        self._made = [
            self.workdir / name
            for name in ("tmp", "warehouse", "metastore_db", "derby.log", "log4j2.properties")
            if self.workdir / name not in before
        ]

        spark_home = config.spark_home()
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
        env = {k: v for k, v in os.environ.items() if k not in config.CLIENT_ONLY_ENV}
        env["SPARK_HOME"] = str(spark_home)
        env["SPARK_CONNECT_MODE"] = "0"  # as sbin/start-connect-server.sh: a server, not a client
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        # Python workers (applyInPandas) must see this environment's pandas/pyarrow/rpy2.
        env["PYSPARK_PYTHON"] = os.environ.get("PYSPARK_PYTHON") or sys.executable
        env.update(self.extra_env)

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
            preexec_fn=die_with_parent_preexec(os.getpid()),
        )
        self.pid = self._proc.pid

    def running(self) -> bool:
        """True while the server's process runs."""
        return self._proc is not None and self._proc.poll() is None

    def exit_status(self) -> str | None:
        """How the server's process ended ("killed by SIGKILL", "exit code 1"), reaping it
        so it never stays a zombie; None while it runs (or was never started)."""
        if self._proc is None:
            return None
        code = self._proc.poll()
        if code is None:
            return None
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def restart(self, timeout: float = 120) -> str:
        """Start the server again on the same port, so clients that know its URL find it;
        the old process is reaped first. Returns the URL."""
        port = self.port
        self._terminate(grace=5.0)
        if port is not None:
            self._requested_port = port
        self.url = None
        return self.start(timeout)

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
            if probe_tcp("127.0.0.1", port, timeout=1.0) is None and self._grpc_ready(port):
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
            stop_process_group(proc, grace)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.pid = None
        _running.discard(self)

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
