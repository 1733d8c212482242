"""The peak memory of this process over one stretch of work: what an R step on the driver needs.

An R step without ``group_by`` runs inside this Python process (rpy2): its input tables
(Arrow), R's copies of them, everything the R code builds and the results all live in the
driver's memory, next to (not inside) Spark's driver JVM. How large the job's driver must
be is therefore this process's peak during the step, which is what this module measures.

Linux keeps a process's peak resident set (``VmHWM`` in ``/proc/self/status``) and lets the
process reset it to the current size (writing ``5`` to ``/proc/self/clear_refs``, Linux 4.0
and later), so the peak of one step is exact rather than sampled. Where that is not
available, the process's lifetime peak (``getrusage``) is reported, an upper bound, and
marked as such by :attr:`PeakMemory.exact`. No library for this: psutil (a dev dependency
here, used by the benchmark's sampler) reads the current size and, like ``resource``, only a
lifetime peak; resetting the kernel's counter is the one way to an exact per-step peak.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from pathlib import Path
from types import TracebackType

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mb(name: str) -> float | None:
    """A ``kB`` line of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MB, if readable."""
    with contextlib.suppress(OSError, ValueError):
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) / 1024
    return None


def _lifetime_peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs kB


def _reset_peak() -> bool:
    """Make the peak resident set start again from the current size; False if unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_mb("VmHWM") is not None


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.mb``: the process's peak resident set
    (MB) during the block; ``peak.exact`` is False when only the lifetime peak was known."""

    def __init__(self) -> None:
        self.exact = False
        self.mb = 0.0

    def __enter__(self) -> PeakMemory:
        self.exact = _reset_peak()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        peak = _status_mb("VmHWM") if self.exact else None
        self.mb = peak if peak is not None else _lifetime_peak_mb()
