"""Compatibility facade: the session functions moved to ``harness.backends``.

Kept so that ``from harness.session import get_spark`` (benchmarks, users' scripts) keeps
working; new code imports from ``harness.backends``.
"""

from harness.backends import (
    BACKENDS,
    ConnectServer,
    get_spark,
    is_remote,
    spark_version,
    stop_spark,
)
from harness.workdir import work_root

__all__ = [
    "BACKENDS",
    "ConnectServer",
    "get_spark",
    "is_remote",
    "spark_version",
    "stop_spark",
    "work_root",
]
