"""The ``connect`` backend: a Spark Connect client to a server at ``sc://HOST:PORT``.

No py4j, so query plans cannot be read. The server sees this machine's files when it runs
on this machine, which the URL the session was built with tells: a loopback host (as the
server the pytest plugin starts on 127.0.0.1). Any other host is treated as remote without
contacting it. The Spark Connect client retries an unreachable server for ten minutes, so
the TCP port is probed first and a wrong URL fails in seconds with what to do.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, cast

from harness.backends.base import (
    Backend,
    Session,
    brief,
    is_loopback,
    parse_sc_url,
    probe_tcp,
    register,
)
from harness.backends.recovery import bound_retries
from harness.errors import BackendError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONNECT_URL_HINT = (
    "no Spark Connect URL: pass remote='sc://HOST:PORT' (CLI: --remote, pytest: "
    "--harness-remote sc://HOST:PORT) or set SPARK_REMOTE; the pytest plugin starts a local "
    "server itself when neither is given"
)


class ConnectBackend(Backend):
    name = "connect"
    remote = True
    reads_plans = False

    def check_args(self, remote: str | None, profile: str | None) -> None:
        if profile:
            raise BackendError(
                "profile is a Databricks setting; use --harness-backend databricks with it"
            )

    def sees_local_files(self, host: str | None) -> bool:
        return is_loopback(host)

    def start(self, url: str | None, profile: str | None) -> Session:
        """A client session, checked to reach the server before it is returned."""
        if not url:
            raise BackendError(CONNECT_URL_HINT)
        host, port = parse_sc_url(url)
        reason = probe_tcp(host, port)
        if reason is not None:
            raise BackendError(
                f"cannot reach the Spark Connect server at {host}:{port} ({reason}); start one "
                "(the pytest plugin does when no URL is given) or fix the URL (CLI: --remote, "
                "pytest: --harness-remote, or SPARK_REMOTE)"
            )
        try:
            from pyspark.sql.connect.session import SparkSession as ConnectSession
        except ImportError as exc:
            raise BackendError(
                f"the Spark Connect client is not installed ({brief(exc)}); "
                "run: pip install 'pyspark[connect]'"
            ) from None
        try:
            # create(), not getOrCreate(): that would hand back any other default session.
            spark = ConnectSession.builder.remote(url).create()
            bound_retries(spark)  # never pyspark's ten minutes of back-off per call
            spark.conf.set("spark.sql.session.timeZone", "UTC")  # first RPC: proves it connects
        except Exception as exc:
            raise BackendError(
                f"Spark Connect session at {host}:{port} failed: {brief(exc)}"
            ) from None
        # pyspark types the Connect session apart from pyspark.sql.SparkSession; the harness
        # uses the API they share.
        return Session(self, cast("SparkSession", spark), url=url)

    def stop(self, session: Session, timeout: float = 10.0) -> None:
        """A client releases its server-side session on stop() and retries that for ten
        minutes if the server is unreachable (e.g. the plugin stopped it first), so: skip the
        release when the port is closed, and never wait more than ``timeout`` for it anyway."""
        spark = session.spark
        if session.url:
            with contextlib.suppress(BackendError):
                if probe_tcp(*parse_sc_url(session.url), timeout=2.0) is not None:
                    spark.release_session_on_close = False  # type: ignore[attr-defined]

        def stop() -> None:
            with contextlib.suppress(Exception):
                spark.stop()

        worker = threading.Thread(target=stop, name="harness-stop-spark", daemon=True)
        worker.start()
        worker.join(timeout)


CONNECT = register(ConnectBackend())
