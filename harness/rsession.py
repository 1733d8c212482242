"""R inside this process: started once through rpy2, its console captured.

Everything R prints (``print``, ``cat``, ``message``, warnings) is kept in order in
:data:`MESSAGES` until :func:`take_output`; :mod:`harness.rbridge` calls model functions,
:mod:`harness.rconvert` converts tables; both start R here. rpy2 is imported on first use,
so Spark workers that never run R never load it.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from typing import Any

from harness.errors import ModelRunError

MESSAGES: list[str] = []  # R's console output since the last take_output()
# A folder: when set, R called per group in Spark's workers appends where its time went
# there (rbridge); the local cluster hands it on to its executors.
PROFILE_ENV = "HARNESS_R_PROFILE"


@lru_cache(maxsize=1)
def r() -> Any:
    """rpy2's low-level interface with R started (once per process), or a clear error."""
    if not os.environ.get("R_HOME") and shutil.which("R") is None:
        raise ModelRunError(
            "R is not installed (no R on PATH, R_HOME unset): run "
            "bash scripts/setup.sh, which installs Debian's r-base-core"
        )
    try:
        import rpy2.rinterface as ri
        import rpy2.rinterface_lib.callbacks as callbacks
    except Exception as exc:  # ImportError, or rpy2 failing to find libR
        raise ModelRunError(f"rpy2 cannot load R ({exc}); run bash scripts/setup.sh") from None
    # R's console (print, cat, message, and the warnings rbridge writes) comes here, in order.
    callbacks.consolewrite_warnerror = lambda text: MESSAGES.append(text)
    callbacks.consolewrite_print = lambda text: MESSAGES.append(text)
    saved = os.environ.get("LD_LIBRARY_PATH")
    ri.initr_simple()
    # Embedded R prepends its ldpaths (incl. /usr/lib/x86_64-linux-gnu) to this process's
    # LD_LIBRARY_PATH; child processes (pytest, spark-submit) would then load the system
    # libpython instead of the venv's. R's libraries are loaded by now: restore it.
    if saved is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = saved
    return ri


def take_output() -> str:
    """R's console output since the last take (then forgotten)."""
    text = "".join(MESSAGES)
    MESSAGES.clear()
    return text


def r_package_versions(packages: list[str]) -> dict[str, str]:
    """R's version and each package's, as R reports them ("not installed" if absent)."""
    ri = r()
    versions = {"R": str(ri.evalr('paste(R.version$major, R.version$minor, sep=".")')[0])}
    for pkg in packages:
        try:
            versions[pkg] = str(ri.evalr(f'as.character(packageVersion("{pkg}"))')[0])
        except Exception:
            versions[pkg] = "not installed"
    return versions
