"""Where the harness keeps scratch files: one root, its sub-folders, and the sweep of
folders whose owning process died.

One root so that ``HARNESS_WORKDIR`` moves everything the harness writes besides goldens
(Spark work folders, generated full data, materialised model outputs, benchmark data), and
nothing lands anywhere else. The root is git-ignored.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
from pathlib import Path

__all__ = [
    "cluster_dir",
    "data_dir",
    "exchange_dir",
    "outputs_dir",
    "owned_folder",
    "pid_alive",
    "spark_dir",
    "sweep_dead_owners",
    "work_root",
]

CHECKOUT = Path(__file__).resolve().parent.parent  # the repository holding this package
_folder_ids = itertools.count(1)


def work_root(project_root: Path | str | None = None) -> Path:
    """``$HARNESS_WORKDIR``, else ``<project_root>/.harness``, else ``<checkout>/.harness``.

    Give one ``HARNESS_WORKDIR`` per project copy: model outputs are kept there per
    model, dataset and platform, for inspection after a run.
    """
    env = os.environ.get("HARNESS_WORKDIR")
    if env:
        return Path(env).expanduser().resolve()
    base = Path(project_root).resolve() if project_root is not None else CHECKOUT
    return base / ".harness"


def spark_dir() -> Path:
    """Parent of the per-process Spark work folders (metastore, warehouse, tmp, logs)."""
    return work_root() / "spark"


def cluster_dir() -> Path:
    """The local Spark cluster's one folder: its state (pids, ports), logs and work folders."""
    return work_root() / "cluster"


def data_dir() -> Path:
    """Generated full-size input data, cached per fixture version and row count
    (``$HARNESS_DATA_DIR`` puts it elsewhere, e.g. on a bigger disk)."""
    env = os.environ.get("HARNESS_DATA_DIR")
    return Path(env).expanduser().resolve() if env else work_root() / "data"


def outputs_dir(project_root: Path | str | None = None) -> Path:
    """Materialised model outputs: ``<root>/outputs/<model>/<dataset>/<platform>/<output>``."""
    return work_root(project_root) / "outputs"


def exchange_dir() -> Path:
    """Tables handed between the client and Spark as files (an R step's results, when the
    backend reads this machine's files): one owned folder per handover, swept when its
    process is gone."""
    parent = work_root() / "exchange"
    sweep_dead_owners(parent)
    folder = owned_folder(parent, "r")
    atexit.register(shutil.rmtree, folder, True)  # read lazily until then
    return folder


def owned_folder(parent: Path, prefix: str = "") -> Path:
    """A fresh folder name under ``parent`` that records this process as its owner:
    ``<pid>`` or ``<prefix>-<pid>-<n>``, so that ``sweep_dead_owners`` can tell whose it is."""
    if not prefix:
        return parent / str(os.getpid())
    return parent / f"{prefix}-{os.getpid()}-{next(_folder_ids)}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_dead_owners(parent: Path) -> None:
    """Remove folders of harness processes that died without cleaning up (e.g. SIGKILL)."""
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        match = re.fullmatch(r"(?:[a-z]+-)?(\d+)(?:-.*)?", entry.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
