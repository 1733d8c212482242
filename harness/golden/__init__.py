"""Golden outputs: versioned, verified, written atomically, wherever the root is.

* :mod:`.base`: a golden's name (``GoldenRef``), the :class:`~.base.Storage` protocol,
  the manifest's fixed fields;
* :mod:`.store`: versions, manifests, provenance, history and restore (``GoldenStore``),
  and the registry that picks a storage by root;
* :mod:`.disk`: a folder on this machine (kept in git; sha256 per file, ``CURRENT``);
* :mod:`.cluster`: a URI the cluster reads and writes (Spark does all I/O; a content
  digest computed on the cluster; numbered pointer objects);
* :mod:`.journal`: the switch record that makes a model's approval of several outputs
  one step;
* :mod:`.summary`: per-column statistics and the reviewable ``summary.ambr``;
* :mod:`.provenance`: where a golden came from (emulated, imported, refreshed), as reports
  show it.
"""

from harness.golden.base import GoldenRef, Storage
from harness.golden.provenance import KINDS, golden_source
from harness.golden.store import (
    KEEP_VERSIONS,
    ROOT_ENV,
    SOURCES,
    GoldenStore,
    is_uri,
    storage_for,
)
from harness.golden.summary import column_stats, render_summary

__all__ = [
    "KEEP_VERSIONS",
    "KINDS",
    "ROOT_ENV",
    "SOURCES",
    "GoldenRef",
    "GoldenStore",
    "Storage",
    "column_stats",
    "golden_source",
    "is_uri",
    "render_summary",
    "storage_for",
]
