"""The ``local`` backend: a quiet classic Spark session on an in-process JVM.

The only backend with py4j access (query plans can be read) and the default; it always
sees this machine's files. Its metastore, warehouse and temp files live in a work folder
of its own under the harness's scratch root, removed when the session stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys

from harness import workdir
from harness.backends import config
from harness.backends.base import Backend, Session, brief, register
from harness.errors import BackendError


class LocalBackend(Backend):
    name = "local"
    remote = False
    reads_plans = True

    def check_args(self, remote: str | None, profile: str | None) -> None:
        if remote or profile:
            raise BackendError(
                "the local backend takes no remote URL or profile; "
                "use --harness-backend connect or databricks"
            )

    def sees_local_files(self, host: str | None) -> bool:
        return True

    def alive(self, session: Session) -> bool:
        return getattr(getattr(session.spark, "_sc", None), "_jsc", None) is not None

    def start(self, url: str | None, profile: str | None) -> Session:
        """Configured before the JVM starts, so that it is quiet from its first line."""
        if os.environ.get("SPARK_CONNECT_MODE_ENABLED"):
            raise BackendError(
                "this process already uses Spark Connect; pyspark cannot mix it with a local "
                "session in one process: call harness.backends.stop_spark() first or use "
                "another process"
            )
        master, partitions = config.local_master(), config.shuffle_partitions()
        memory = config.check_memory(
            os.environ.get("HARNESS_DRIVER_MEMORY", "4g"), "HARNESS_DRIVER_MEMORY"
        )
        config.find_java()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        root = workdir.spark_dir()
        workdir.sweep_dead_owners(root)
        folder = workdir.owned_folder(root)
        folder.mkdir(parents=True, exist_ok=True)
        conf_items = config.spark_conf(
            folder, master=master, driver_memory=memory, shuffle_partitions=partitions
        )

        from pyspark import SparkConf, SparkContext
        from pyspark.sql import SparkSession

        # Built directly rather than through SparkSession.builder, which would turn into a
        # Connect client whenever SPARK_REMOTE is set (as it is in a connect-backend pytest run).
        conf = SparkConf(loadDefaults=False).setAll(list(conf_items.items()))
        try:
            with config.without_env(config.CLIENT_ONLY_ENV):  # spark-submit: no Connect client
                sc = SparkContext.getOrCreate(conf)
            sc.setLogLevel("ERROR")
            spark = SparkSession(sc, options=conf_items)
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise BackendError(
                f"local Spark failed to start: {brief(exc)} (check java -version is 17 and "
                f"HARNESS_DRIVER_MEMORY)"
            ) from None
        return Session(self, spark, workdir=folder)

    def stop(self, session: Session) -> None:
        with contextlib.suppress(Exception):
            session.spark.stop()
        _shutdown_gateway_jvm()
        if session.workdir is not None:
            shutil.rmtree(session.workdir, ignore_errors=True)


def _shutdown_gateway_jvm(timeout: float = 15.0) -> None:
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


LOCAL = register(LocalBackend())
