"""Whose Spark session the benchmark runs in (``--session``), opened and stopped.

One job: the three session kinds, so that the engine can be shown as fast in each.

* ``harness`` (default): ``harness.backends.get_spark("local")``, the harness's own JVM
  options and settings;
* ``stock``: a session as a user builds it in a notebook, ``SparkSession.builder
  .master("local[2]")`` with stock JVM options and default ``spark.sql.*`` settings (only
  the driver memory and scratch folder are set, the same as the harness's, so that only
  JVM options and settings differ);
* ``connect``: a Spark Connect server started here with stock JVM options (local[2],
  127.0.0.1, stopped at exit), the benchmark being its client; peers and heap readings
  need the server's JVM, so they are left out.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .peer_process import kill_child

SESSIONS = ("harness", "stock", "connect")


@contextlib.contextmanager
def open_session(kind: str, wroot: Path) -> Iterator[Any]:
    """The benchmark's session of ``kind`` (see this module's docstring), stopped afterwards."""
    from harness.backends import get_spark, stop_spark

    memory = os.environ.get("HARNESS_DRIVER_MEMORY", "4g")
    scratch = wroot / "bench" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    if kind == "harness":
        spark = get_spark("local")
        try:
            yield spark
        finally:
            stop_spark()
        return
    if kind == "stock":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.memory", memory)
            .config("spark.local.dir", str(scratch))
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()
        return
    server = _start_stock_connect_server(memory, scratch, wroot / "bench" / "connect-server.log")
    try:
        try:
            yield get_spark("connect", remote=server[1])
        finally:
            stop_spark()
    finally:
        kill_child(server[0])


def _start_stock_connect_server(
    memory: str, scratch: Path, log_path: Path
) -> tuple[subprocess.Popen, str]:
    """A Spark Connect server on 127.0.0.1 with stock JVM options: (process, sc:// URL)."""
    import socket

    import pyspark

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = Path(pyspark.__file__).parent
    cmd = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--driver-memory",
        memory,
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        f"spark.local.dir={scratch}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_REMOTE", "PYSPARK_"))}
    env.update(SPARK_HOME=str(home), SPARK_CONNECT_MODE="0", SPARK_LOCAL_IP="127.0.0.1")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the Connect server exited ({proc.returncode}); see {log_path}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"sc://127.0.0.1:{port}"
        time.sleep(0.5)
    kill_child(proc)
    raise SystemExit(f"the Connect server did not listen within 180 s; see {log_path}")
