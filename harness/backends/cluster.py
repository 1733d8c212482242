"""A Spark standalone cluster on this machine: a master and workers as JVMs of their own, and
a Spark Connect server whose master it is, all bound to 127.0.0.1.

It gives tests and demos the shape of a real cluster (executors in other JVMs than the
driver, Python and R steps in the executors' Python workers, shuffles between processes)
without a cluster manager. pyspark's pip package is a complete SPARK_HOME but has no
``sbin/start-master.sh``, so the master and workers start with ``bin/spark-class``. Every JVM
is a child of the process that starts the cluster, in a process group of its own and with
the parent-death signal (as ``ConnectServer`` does), so none outlives it; ``stop()`` kills the
groups, the workers' executors included. ``clusterctl`` keeps such a process running in the
background for ``scripts/local-cluster.sh``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness import workdir as scratch
from harness.backends import config
from harness.backends.server import (
    ConnectServer,
    die_with_parent_preexec,
    free_port,
    meaningful_tail,
    stop_process_group,
)
from harness.errors import BackendError
from harness.rsession import PROFILE_ENV

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass(frozen=True)
class ClusterSettings:
    """How big the cluster is. Each worker offers its cores and memory to one executor."""

    workers: int = 2
    worker_cores: int = 1
    executor_memory: str = "3g"  # each worker offers exactly this to its executor
    driver_memory: str = "4g"  # the Connect server, which is the driver
    daemon_memory: str = "512m"  # the master and worker JVMs themselves

    @classmethod
    def from_env(cls, workers: int | None = None) -> ClusterSettings:
        """Defaults, changed by ``HARNESS_CLUSTER_WORKERS``, ``HARNESS_CLUSTER_EXECUTOR_MEMORY``
        and ``HARNESS_DRIVER_MEMORY`` (checked here, before any JVM starts)."""
        env = os.environ.get
        return cls(
            workers=workers or config.env_int("HARNESS_CLUSTER_WORKERS", cls.workers),
            executor_memory=config.check_memory(
                env("HARNESS_CLUSTER_EXECUTOR_MEMORY") or cls.executor_memory,
                "HARNESS_CLUSTER_EXECUTOR_MEMORY",
            ),
            driver_memory=config.check_memory(
                env("HARNESS_DRIVER_MEMORY") or cls.driver_memory, "HARNESS_DRIVER_MEMORY"
            ),
        )


def r_home() -> str | None:
    """R's home for the executors' rpy2: ``$R_HOME``, else what ``R RHOME`` says."""
    if os.environ.get("R_HOME"):
        return os.environ["R_HOME"]
    r = shutil.which("R")
    if r is None:
        return None
    out = subprocess.run([r, "RHOME"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


class JvmProcess:
    """One daemon JVM (``spark-class CLASS args``), our child in a process group of its own."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.cmd, self.env, self.folder = name, cmd, env, folder
        self.log_path = folder / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            env=self.env,
            start_new_session=True,  # own process group: stop() kills its executors too
            preexec_fn=die_with_parent_preexec(os.getpid()),
        )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def failure(self) -> str:
        """Why it is not running, with the last lines of its log."""
        return f"{self.name} exited; log {self.log_path}: {meaningful_tail(self.log_path)}"

    def stop(self) -> None:
        if self._proc is not None:
            stop_process_group(self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


class LocalCluster:
    """A master, ``settings.workers`` workers and a Connect server in ``folder``.

    ``start()`` returns the ``sc://`` URL once the master sees every worker and the Connect
    server's application holds every worker's cores; ``stop()`` stops all of them (the
    folder keeps the logs).
    """

    def __init__(self, folder: Path, settings: ClusterSettings | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.settings = settings or ClusterSettings()
        self.master_port: int | None = None
        self.ui_port: int | None = None
        self.master: JvmProcess | None = None
        self.workers: list[JvmProcess] = []
        self.server: ConnectServer | None = None

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    def processes(self) -> list[JvmProcess]:
        return [p for p in (self.master, *self.workers) if p is not None]

    # ------------------------------------------------------------------ start

    def start(self, timeout: float = 300, progress: Any = print) -> str:
        """Start everything, waiting at most ``timeout`` seconds per stage; stops what
        started on any failure."""
        config.find_java()
        try:
            return self._start(timeout, progress)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float, progress: Any) -> str:
        began = time.monotonic()
        self.master_port, self.ui_port = free_port(), free_port()
        self.master = self._daemon(
            "master",
            MASTER_CLASS,
            [
                "--host",
                "127.0.0.1",
                "--port",
                str(self.master_port),
                "--webui-port",
                str(self.ui_port),
            ],
        )
        self.master.start()
        self._wait("the master's web UI to answer", timeout, lambda: self.state() is not None)
        progress(f"master {self.master_url} (UI {self.ui_url}) in {_since(began)}")

        s = self.settings
        for i in range(1, s.workers + 1):
            worker = self._daemon(
                f"worker-{i}",
                WORKER_CLASS,
                [
                    *("--host", "127.0.0.1", "--port", "0", "--webui-port", "0"),
                    *("--cores", str(s.worker_cores), "--memory", s.executor_memory),
                    *("--work-dir", str(self.folder / f"worker-{i}" / "work"), self.master_url),
                ],
                worker_env=self._worker_env(i),
            )
            worker.start()
            self.workers.append(worker)
        self._wait(f"{s.workers} workers to register", timeout, self._workers_alive)
        progress(
            f"{s.workers} workers ({s.worker_cores} core, {s.executor_memory} each) in "
            f"{_since(began)}"
        )

        self.server = ConnectServer(
            workdir=self.folder / "connect",
            driver_memory=s.driver_memory,
            master=self.master_url,
            conf=self._app_conf(),
            env={"PYTHONPATH": self._pythonpath()},
        )
        url = self.server.start(timeout=timeout)
        self._wait("the executors to register", timeout, self._app_has_all_cores)
        progress(f"Spark Connect server {url} with {s.workers} executors in {_since(began)}")
        return url

    def _daemon(
        self, name: str, cls: str, args: list[str], worker_env: dict[str, str] | None = None
    ) -> JvmProcess:
        folder = self.folder / name
        tmp = folder / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in config.CLIENT_ONLY_ENV}
        env.update(
            SPARK_HOME=str(config.spark_home()),
            SPARK_LOCAL_IP="127.0.0.1",  # every socket, web UIs included, on loopback
            SPARK_MASTER_HOST="127.0.0.1",
            SPARK_DAEMON_MEMORY=self.settings.daemon_memory,
            # No drifting to the next port when ours is taken: a clear failure instead.
            SPARK_DAEMON_JAVA_OPTS=config.java_options(
                **{
                    "spark.port.maxRetries": "0",
                    "spark.master.rest.enabled": "false",  # no fixed port 6066
                    "java.io.tmpdir": str(tmp),
                }
            ),
            **(worker_env or {}),
        )
        cmd = [str(config.spark_home() / "bin" / "spark-class"), cls, *args]
        return JvmProcess(name, cmd, env, folder)

    def _pythonpath(self) -> str:
        """The checkout holding ``harness`` first, so executors import the driver's code."""
        paths = [str(scratch.CHECKOUT), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        return os.pathsep.join(dict.fromkeys(p for p in paths if p))

    def _worker_env(self, i: int) -> dict[str, str]:
        """What the executors (children of the worker) need to run Python and R steps."""
        env = {
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON") or sys.executable,
            "PYTHONPATH": self._pythonpath(),
            "SPARK_LOCAL_DIRS": str(self.folder / f"worker-{i}" / "tmp"),
        }
        home = r_home()
        if home:
            env["R_HOME"] = home
        if os.environ.get(PROFILE_ENV):  # where R in the executors reports its time split
            env[PROFILE_ENV] = os.environ[PROFILE_ENV]
        return env

    def _app_conf(self) -> dict[str, str]:
        s = self.settings
        tmp = self.folder / "executor-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        log4j = config.write_log4j(self.folder)
        return {
            "spark.app.name": "parity-harness-cluster",
            "spark.executor.cores": str(s.worker_cores),
            "spark.executor.memory": s.executor_memory,
            "spark.cores.max": str(s.workers * s.worker_cores),
            "spark.executor.extraJavaOptions": config.java_options(
                *config.JIT_OPTIONS,
                **{"log4j.configurationFile": log4j.as_uri(), "java.io.tmpdir": str(tmp)},
            ),
            # The server's context starts only once every executor has registered, so the
            # first query already spreads over all workers.
            "spark.scheduler.minRegisteredResourcesRatio": "1.0",
            "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
        }

    def _wait(self, what: str, timeout: float, ready: Any) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self.failed()
            if dead:
                raise BackendError(f"local cluster: {dead}")
            if ready():
                return
            time.sleep(0.5)
        raise BackendError(
            f"local cluster: timed out after {timeout:.0f}s waiting for {what}; logs in "
            f"{self.folder}"
        )

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any] | None:
        """The master's own view (its web UI's ``/json``), or None while it does not answer."""
        if self.ui_port is None:
            return None
        return master_state(self.ui_port)

    def _workers_alive(self) -> bool:
        state = self.state() or {}
        return int(state.get("aliveworkers", 0)) >= self.settings.workers

    def _app_has_all_cores(self) -> bool:
        want = self.settings.workers * self.settings.worker_cores
        apps = (self.state() or {}).get("activeapps", [])
        return any(int(app.get("cores", 0)) >= want for app in apps)

    def failed(self) -> str | None:
        """What stopped running, if anything did: a daemon JVM or the Connect server."""
        for proc in self.processes():
            if not proc.running():
                return proc.failure()
        if self.server is not None and self.server.url and not self.server.running():
            return f"the Spark Connect server exited; log {self.server.log_path}"
        return None

    def describe(self) -> dict[str, Any]:
        """Pids, ports and logs, for the state file."""
        return {
            "master": {
                "url": self.master_url,
                "ui": self.ui_url,
                "pid": self.master.pid if self.master else None,
                "log": str(self.master.log_path) if self.master else None,
            },
            "workers": [
                {"name": w.name, "pid": w.pid, "log": str(w.log_path)} for w in self.workers
            ],
            "connect": {
                "url": self.url,
                "pid": self.server.pid if self.server else None,
                "log": str(self.server.log_path) if self.server else None,
            },
        }

    # ------------------------------------------------------------------ stop

    def stop(self) -> None:
        """Stop the Connect server (the application), then the workers, then the master."""
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        for proc in reversed(self.processes()):
            proc.stop()


def master_state(ui_port: int) -> dict[str, Any] | None:
    """The standalone master's ``/json`` (workers, applications), or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json", timeout=5) as resp:
            return dict(json.load(resp))
    except (OSError, urllib.error.URLError, ValueError):
        return None


def _since(began: float) -> str:
    return f"{time.monotonic() - began:.1f}s"
