"""Golden outputs: versioned, verified, written atomically, wherever the root is.

* :mod:`.store`: versions, manifests, provenance, history and restore (``GoldenStore``),
  and the :class:`~.store.Storage` protocol with the registry that picks one by root;
* :mod:`.disk`: a folder on this machine (kept in git; sha256 per file, ``CURRENT``);
* :mod:`.cluster`: a URI the cluster reads and writes (Spark does all I/O; a content
  digest computed on the cluster; numbered pointer objects);
* :mod:`.summary`: per-column statistics and the reviewable ``summary.ambr``.
"""

from harness.golden.store import (
    KEEP_VERSIONS,
    SOURCES,
    GoldenRef,
    GoldenStore,
    Storage,
    is_uri,
    storage_for,
)
from harness.golden.summary import column_stats, render_summary

__all__ = [
    "KEEP_VERSIONS",
    "SOURCES",
    "GoldenRef",
    "GoldenStore",
    "Storage",
    "column_stats",
    "is_uri",
    "render_summary",
    "storage_for",
]
