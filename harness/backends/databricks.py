"""The ``databricks`` backend: the cluster's own session on a Databricks cluster, else
Databricks Connect, configured the way Databricks users do it.

On a Databricks cluster (the runtime sets ``DATABRICKS_RUNTIME_VERSION``), as in the
nightly job's task, the harness runs on the driver next to the session the cluster already
has: it takes that session (``SparkSession.getActiveSession()``) and needs no token and no
Connect to itself, unless a URL or a profile is named explicitly. From a laptop or CI it
uses Databricks Connect: ``--harness-remote``/``$SPARK_REMOTE``, a ``~/.databrickscfg``
profile, or the ``DATABRICKS_*`` variables (serverless when no cluster is named).
databricks-connect replaces pyspark, so it lives in an environment of its own
(``.venv-databricks/``). Either way the engine's executors never see this machine's files:
goldens belong at a URI the cluster reads and writes (a Unity Catalog Volume), and outputs
stay in Spark. Tokens never reach a message.
"""

from __future__ import annotations

import os

from harness.backends.base import Session, brief, parse_sc_url, probe_tcp, register
from harness.backends.connect import ConnectBackend
from harness.backends.recovery import bound_retries
from harness.errors import BackendError

RUNTIME_ENV = "DATABRICKS_RUNTIME_VERSION"  # set by the Databricks Runtime on its clusters

DATABRICKS_HINT = (
    "databricks-connect is not installed in this environment; create its environment with: "
    "bash scripts/setup-databricks-env.sh, then run with .venv-databricks/bin/pytest ..."
)


def on_databricks_runtime() -> bool:
    """True on a Databricks cluster's driver (the runtime sets ``DATABRICKS_RUNTIME_VERSION``)."""
    return bool(os.environ.get(RUNTIME_ENV))


class DatabricksBackend(ConnectBackend):
    name = "databricks"
    remote = True
    reads_plans = False

    def check_args(self, remote: str | None, profile: str | None) -> None:
        """Any combination is valid: the URL wins over the profile, both over DATABRICKS_*."""

    def sees_local_files(self, host: str | None) -> bool:
        return False

    def adopts(self, remote: str | None, profile: str | None) -> bool:
        return on_databricks_runtime() and not remote and not profile

    def start(self, url: str | None, profile: str | None) -> Session:
        if self.adopts(url, profile):
            return self._cluster_session()
        try:
            from databricks.connect import DatabricksSession
        except ImportError:
            raise BackendError(DATABRICKS_HINT) from None
        if url:
            host, port = parse_sc_url(url)
            reason = probe_tcp(host, port)
            if reason is not None:  # else the client retries for ten minutes
                raise BackendError(
                    f"cannot reach Databricks Connect at {host}:{port} ({reason}); check the "
                    "workspace URL in --harness-remote / SPARK_REMOTE"
                )
        try:
            builder = DatabricksSession.builder
            if url:
                builder = builder.remote(url)
            elif profile:
                builder = builder.profile(profile)
            spark = builder.getOrCreate()
            bound_retries(spark)  # a restarting cluster is waited for in bounded time
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as exc:
            how = (
                "the remote URL"
                if url
                else f"profile {profile!r}"
                if profile
                else "DATABRICKS_HOST/DATABRICKS_TOKEN/DATABRICKS_CLUSTER_ID or ~/.databrickscfg"
            )
            raise BackendError(
                f"Databricks Connect session failed: {brief(exc)} (check {how})"
            ) from None
        return Session(self, spark, url=url)

    def _cluster_session(self) -> Session:
        """The session of the cluster this process runs on (the driver's), adopted as it is."""
        from pyspark.sql import SparkSession

        try:
            spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        except Exception as exc:
            raise BackendError(
                f"Databricks Runtime {os.environ.get(RUNTIME_ENV)}: the cluster's session is "
                f"not available ({brief(exc)}); run on the driver, in the job's task"
            ) from None
        return Session(self, spark, adopted=True)

    def stop(self, session: Session, timeout: float = 10.0) -> None:
        """A session adopted from the cluster is the cluster's: it is left running."""
        if not session.adopted:
            super().stop(session, timeout)


DATABRICKS = register(DatabricksBackend())
