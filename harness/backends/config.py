"""Spark and JVM configuration, and Java detection, for the JVMs the harness starts itself.

The local session and our Spark Connect server share one configuration (quiet, UTC, Arrow,
own work folders, Hive support, JIT settings that the comparison's generated code needs),
read from the ``HARNESS_*`` settings and checked before any JVM starts, so that a bad
setting is one clear line instead of a JVM that dies at launch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from harness.errors import BackendError

JAVA_HINT = "run: bash scripts/setup.sh (installs openjdk-17-jre-headless)"
# Environment that would turn a child JVM or Python worker into a Connect client.
CLIENT_ONLY_ENV = (
    "SPARK_REMOTE",
    "SPARK_CONNECT_MODE_ENABLED",
    "SPARK_LOCAL_REMOTE",
    "PYSPARK_GATEWAY_PORT",
    "PYSPARK_GATEWAY_SECRET",
)


def quiet_pyspark_loggers() -> None:
    """pyspark logs every failed query, with its JVM stack trace, as an ERROR record on these
    Python loggers, even when the harness catches the error and reports it in one line."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise BackendError(f"{name}={raw!r} is not a positive integer; unset it or fix it")
    return int(raw)


def shuffle_partitions() -> int:
    return env_int("HARNESS_SHUFFLE_PARTITIONS", 8)


def local_master() -> str:
    cores = os.environ.get("HARNESS_LOCAL_CORES", "").strip() or "*"
    if cores != "*" and not (cores.isdigit() and int(cores) >= 1):
        raise BackendError(
            f"HARNESS_LOCAL_CORES={cores!r} must be a positive integer or '*'; unset it or fix it"
        )
    return f"local[{cores}]"


def check_memory(value: str, source: str) -> str:
    """Reject what would make the JVM die at launch with an unreadable error."""
    if not re.fullmatch(r"\d+[kKmMgGtT]?", value.strip()):
        raise BackendError(f"{source}={value!r} is not a JVM memory size like '4g' or '2048m'")
    return value.strip()


def java_major(java: str) -> int | None:
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


def find_java() -> str:
    """The ``java`` spark-submit will use (JAVA_HOME, then PATH), or how to get one."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home, "bin", "java")
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            raise BackendError(
                f"Java 17 not found: JAVA_HOME={java_home} has no bin/java; fix or unset "
                f"JAVA_HOME, or {JAVA_HINT}"
            )
        java = str(candidate)
    else:
        found = shutil.which("java")
        if found is None:
            raise BackendError(
                f"Java 17 not found (JAVA_HOME is unset and no java on PATH); {JAVA_HINT}"
            )
        java = found
    major = java_major(java)
    if major is not None and major < 17:
        raise BackendError(
            f"Java 17 not found: {java} is Java {major}, Spark 4 needs 17 or newer; {JAVA_HINT}"
        )
    return java


def spark_home() -> Path:
    """The pip-installed pyspark package is a complete SPARK_HOME (bin/, jars/ incl. connect)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@contextlib.contextmanager
def without_env(names: tuple[str, ...]) -> Iterator[None]:
    """Hide variables from a child launched inside the block (callers hold the session lock)."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _jvm_opt(name: str, value: str) -> str:
    """A ``-Dname=value`` that survives Spark's option-string parsing even with spaces."""
    return f'"-D{name}={value}"' if re.search(r"\s", value) else f"-D{name}={value}"


# HotSpot settings for every JVM that runs the comparison's generated code (the driver, and
# the executors of a cluster).
JIT_OPTIONS = (
    # Whole-stage codegen fuses a comparison's join, projection and aggregation into one
    # large method; HotSpot will not JIT methods over 8000 bytecodes by default and would
    # interpret it (measured ~2x slower on a 1M x 20 comparison).
    "-XX:-DontCompileHugeMethods",
    # That method loops over a whole partition, so it only ever runs as on-stack-replacement
    # code, and every rarely taken branch (a mismatch, a new maximum) deoptimizes and
    # recompiles it. After 400 recompilations HotSpot leaves the method in the interpreter
    # for good: measured 11.4 s instead of 3.9 s for a 1M x 20 comparison. Never give up
    # recompiling.
    "-XX:PerMethodRecompilationCutoff=-1",
    "-XX:PerBytecodeRecompilationCutoff=-1",
)


def java_options(*options: str, **properties: str) -> str:
    """One JVM option string: ``options`` as they are, then ``-Dname=value`` per property
    (quoted where a value has spaces, so Spark's option-string parsing keeps it whole)."""
    return " ".join([*options, *(_jvm_opt(k, v) for k, v in properties.items())])


def write_log4j(workdir: Path, extra_loggers: dict[str, str] | None = None) -> Path:
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


def spark_conf(
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
    log4j = write_log4j(workdir, extra_loggers)
    java_opts = java_options(
        *JIT_OPTIONS,
        **{
            "log4j.configurationFile": log4j.as_uri(),
            "derby.system.home": str(workdir),  # derby.log and metastore_db
            "java.io.tmpdir": str(tmp),
        },
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
