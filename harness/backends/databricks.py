"""The ``databricks`` backend: Databricks Connect, configured the way Databricks users do it.

``--harness-remote``/``$SPARK_REMOTE``, a ``~/.databrickscfg`` profile, or the
``DATABRICKS_*`` variables (serverless when no cluster is named). databricks-connect
replaces pyspark, so it lives in an environment of its own (``.venv-databricks/``). A
Databricks workspace never sees this machine's files, whatever the URL: goldens and
outputs go through the client. Tokens never reach a message.
"""

from __future__ import annotations

from harness.backends.base import Session, brief, parse_sc_url, probe_tcp, register
from harness.backends.connect import ConnectBackend
from harness.errors import BackendError

DATABRICKS_HINT = (
    "databricks-connect is not installed in this environment; create its environment with: "
    "bash scripts/setup-databricks-env.sh, then run with .venv-databricks/bin/pytest ..."
)


class DatabricksBackend(ConnectBackend):
    name = "databricks"
    remote = True
    reads_plans = False

    def check_args(self, remote: str | None, profile: str | None) -> None:
        """Any combination is valid: the URL wins over the profile, both over DATABRICKS_*."""

    def sees_local_files(self, host: str | None) -> bool:
        return False

    def start(self, url: str | None, profile: str | None) -> Session:
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


DATABRICKS = register(DatabricksBackend())
