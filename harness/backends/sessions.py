"""The process's Spark sessions: one per backend and URL, created on first use, and what
the rest of the harness may assume about a session it is handed.

One pyspark fact shapes this module: a process is either classic or Spark Connect.
pyspark's ``functions`` pick their implementation from the ``SPARK_CONNECT_MODE_ENABLED``
environment variable, and a ``SparkContext`` refuses to start while it is set. So a process
holds a local session *or* remote ones, and ``stop_spark()`` gives it back to classic mode.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
from typing import TYPE_CHECKING, Any

from harness.backends import config
from harness.backends.base import Backend, Session, brief, get_backend, parse_sc_url
from harness.backends.server import stop_all_servers
from harness.errors import BackendError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_Key = tuple[str, str | None, str | None]


class _Sessions:
    """The sessions this process started, and whether it was us who entered Connect mode."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.open: dict[_Key, Session] = {}
        self.entered_connect_mode = False

    def enter_connect_mode(self) -> None:
        """Make pyspark.sql.functions build Connect columns, as the classic builder would."""
        if "SPARK_CONNECT_MODE_ENABLED" not in os.environ:
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
            self.entered_connect_mode = True

    def leave_connect_mode_if_idle(self) -> None:
        """Hand the process back to classic mode (if we took it) so a local session can start."""
        if self.entered_connect_mode and not self.open:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
            self.entered_connect_mode = False

    def check_no_local_session(self) -> None:
        if any(
            (not s.backend.remote or s.adopted) and s.backend.alive(s) for s in self.open.values()
        ):
            raise BackendError(
                "this process already runs a local Spark session; pyspark cannot mix it with "
                "Spark Connect in one process: call harness.backends.stop_spark() first or use "
                "another process"
            )

    def find(self, spark: Any) -> Session | None:
        return next((s for s in self.open.values() if s.spark is spark), None)


_sessions = _Sessions()


@functools.cache
def _stop_all_at_exit() -> None:
    """Register, once per process, the stop of every session (before servers, which atexit
    runs later because they registered earlier) at interpreter exit."""
    atexit.register(_at_exit)


def _at_exit() -> None:
    with contextlib.suppress(Exception):
        stop_spark()  # clients first, while their servers still answer
    stop_all_servers()


def get_spark(
    backend: str = "local", *, remote: str | None = None, profile: str | None = None
) -> SparkSession:
    """The process's session for ``backend``, created on first use and cached after that.

    ``local`` starts a quiet in-process JVM; ``connect`` attaches to a Spark Connect server
    (``remote`` or ``$SPARK_REMOTE``); ``databricks`` uses Databricks Connect configured the
    usual Databricks way (``remote``/``$SPARK_REMOTE``, a ``~/.databrickscfg`` ``profile``, or
    DATABRICKS_* variables), except on a Databricks cluster itself, where it takes the
    cluster's active session (no token, no Connect to itself).
    """
    chosen = get_backend(backend)
    chosen.check_args(remote, profile)
    connects = chosen.remote and not chosen.adopts(remote, profile)
    url = (remote or os.environ.get("SPARK_REMOTE") or None) if connects else None
    key = (chosen.name, url, profile)
    with _sessions.lock:
        cached = _sessions.open.get(key)
        if cached is not None and chosen.alive(cached):
            return cached.spark
        if connects:
            _sessions.check_no_local_session()
            _sessions.enter_connect_mode()
        config.quiet_pyspark_loggers()
        _stop_all_at_exit()
        try:
            session = chosen.start(url, profile)
        except BaseException:
            _sessions.leave_connect_mode_if_idle()
            raise
        _sessions.open[key] = session
        return session.spark


def stop_spark() -> None:
    """Stop every cached session and remove the local work folder; safe to call twice."""
    with _sessions.lock:
        opened = list(_sessions.open.values())
        _sessions.open.clear()
        for session in opened:
            session.backend.stop(session)
        _sessions.leave_connect_mode_if_idle()


def is_remote(spark: Any) -> bool:
    """True for Spark Connect and Databricks Connect sessions (no SparkContext, no py4j)."""
    return type(spark).__module__.startswith(("pyspark.sql.connect", "databricks.connect"))


def backend_of(spark: Any) -> Backend:
    """The backend behind a session: the one that started it, else its kind (a session the
    caller built: classic is ``local``, a Databricks session ``databricks``, else ``connect``)."""
    found = _sessions.find(spark)
    if found is not None:
        return found.backend
    if not is_remote(spark):
        return get_backend("local")
    module = type(spark).__module__
    return get_backend("databricks" if module.startswith("databricks") else "connect")


def reads_plans(spark: Any) -> bool:
    """True when query plans (e.g. shuffle metrics) can be read through py4j: an in-process
    classic session. Spark Connect and Databricks Connect clients cannot see plans."""
    return backend_of(spark).reads_plans


def sees_local_files(spark: Any) -> bool:
    """True when the engine behind ``spark`` reads and writes this machine's files (a local
    session, or a Spark Connect server on a loopback address), so goldens and outputs can be
    Parquet paths; otherwise they travel through the client. Decided from the URL the session
    was built with, never by contacting the host."""
    backend = backend_of(spark)
    found = _sessions.find(spark)
    if found is not None:
        host = parse_sc_url(found.url)[0] if found.url else None
    else:
        host = getattr(getattr(spark, "client", None), "host", None) if backend.remote else None
    return backend.sees_local_files(host)


def spark_version(spark: SparkSession) -> str:
    """The engine's Spark version as the server reports it (``spark.version``)."""
    try:
        return str(spark.version)
    except Exception as exc:
        raise BackendError(f"cannot read the Spark version: {brief(exc)}") from None
