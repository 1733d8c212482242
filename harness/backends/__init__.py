"""Which Spark the harness runs on: a quiet local JVM, Spark Connect, or Databricks Connect.

One object per backend (``local``, ``connect``, ``databricks``) in one registry, the single
list of backend names. Each says how it starts a session, whether the engine sees this
machine's files and whether query plans can be read; the rest of the harness asks these
questions of a session instead of guessing, and otherwise uses only the public DataFrame
API, so models and comparisons run unchanged on every backend.

    spark = get_spark("connect", remote="sc://127.0.0.1:15002")
    sees_local_files(spark)   # True: a loopback server reads our Parquet files
    reads_plans(spark)        # False: no py4j through a Connect client

Modules: ``base`` (the protocol, the registry, Connect URLs), ``local``, ``connect``,
``databricks`` (one backend each), ``sessions`` (the per-process session cache),
``server`` (a local Spark Connect server's process) and ``config`` (Spark/JVM settings,
Java detection).
"""

# Importing a backend's module registers it; the registry keeps this order (default first).
from harness.backends import local  # noqa: F401

# isort: split
from harness.backends import connect, databricks  # noqa: F401

# isort: split
from harness.backends.base import Backend, Session, get_backend, names
from harness.backends.server import ConnectServer
from harness.backends.sessions import (
    backend_of,
    get_spark,
    is_remote,
    reads_plans,
    sees_local_files,
    spark_version,
    stop_spark,
)

BACKENDS: tuple[str, ...] = names()  # ("local", "connect", "databricks")

__all__ = [
    "BACKENDS",
    "Backend",
    "ConnectServer",
    "Session",
    "backend_of",
    "get_backend",
    "get_spark",
    "is_remote",
    "names",
    "reads_plans",
    "sees_local_files",
    "spark_version",
    "stop_spark",
]
