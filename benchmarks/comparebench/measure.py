"""How one call is measured: wall time, Python RSS peak, driver JVM heap peak and after GC.

One job: the figures of the table's memory columns and the timing of a call made in the
benchmark process (floors and the engine; peer calls are timed by their own child process,
``peer_process.py``, with the same probes). Python RSS comes from ``/proc/self/status``
(VmHWM reset with ``clear_refs`` before the call), the JVM heap from ``Runtime`` through
py4j: sampled by a background thread during the call, and read after ``System.gc()``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from typing import Any

from .contenders import Contender, short_error


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssProbe:
    """Peak RSS of this Python process during a call: VmHWM reset (clear_refs 5) + read."""

    def begin(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")
            self.exact = True
        except OSError:
            self.exact = False  # cannot reset: the delta is then a lower bound
        self.base = _status_kb("VmRSS") or 0
        self.hwm_before = _status_kb("VmHWM") or 0

    def end(self) -> float | None:
        hwm = _status_kb("VmHWM")
        if hwm is None:
            return None
        ref = self.base if self.exact else max(self.base, self.hwm_before)
        return round(max(0, hwm - ref) / 1024, 1)


class HeapSampler:
    """One background thread polling the driver JVM's used heap (no GC) during a call."""

    def __init__(self, spark: Any, interval: float = 0.25) -> None:
        try:  # a Spark Connect client has no JVM to read: peaks are then None
            self._runtime = spark._jvm.java.lang.Runtime.getRuntime()
        except Exception:
            self._runtime = None
        self._interval = interval
        self._lock = threading.Lock()
        self._active = False
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heap-sampler", daemon=True)
        self._thread.start()

    def _used(self) -> int:
        rt = self._runtime
        if rt is None:
            raise RuntimeError("no JVM")
        return int(rt.totalMemory() - rt.freeMemory())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if not self._active:
                    continue
            try:
                used = self._used()
            except Exception:
                continue
            with self._lock:
                self._peak = max(self._peak, used)

    def begin(self) -> None:
        with self._lock:
            self._active, self._peak = True, 0

    def end(self) -> float | None:
        with self._lock:
            self._active = False
            peak = self._peak
        if self._runtime is None:
            return None
        with contextlib.suppress(Exception):
            peak = max(peak, self._used())
        return round(peak / 2**20, 1)

    def close(self) -> None:
        self._stop.set()


def jvm_used_after_gc_mb(spark: Any) -> float | None:
    """The driver JVM's used heap after a full GC, in MB; ``None`` without a JVM (Connect)."""
    # Python first: a result's closures form reference cycles that pin its JVM objects
    # (and through them Spark's shuffle files, which at 10M rows fill a RAM work folder).
    gc.collect()
    try:
        system = spark._jvm.java.lang.System
        system.gc()
        time.sleep(0.2)
        system.gc()
        rt = spark._jvm.java.lang.Runtime.getRuntime()
        return round((rt.totalMemory() - rt.freeMemory()) / 2**20, 1)
    except Exception:
        return None


def timed_run(
    contender: Contender,
    spark: Any,
    golden: Any,
    candidate: Any,
    fail_types: tuple[type[BaseException], ...] = (),
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> tuple[str, dict[str, int] | None, str | dict[str, Any], float]:
    """``contender.run`` timed: (verdict, counts, note, seconds). An exception of
    ``fail_types`` is the contender's way of saying "fail"; one of ``errors`` is an error
    (a peer's child process, which must always report, counts every BaseException)."""
    started = time.perf_counter()
    counts: dict[str, int] | None = None
    note: str | dict[str, Any] = ""
    try:
        verdict, counts, note = contender.run(spark, golden, candidate)
    except fail_types as exc:
        verdict, note = "fail", short_error(exc, 100)
    except errors as exc:
        verdict, note = "error", short_error(exc)
    return verdict, counts, note, time.perf_counter() - started


def run_in_process(
    spark: Any, sampler: HeapSampler, contender: Contender, golden: Any, candidate: Any
) -> dict:
    """One timed call of ``contender`` in this process, with its memory figures."""
    contender.prepare()
    golden, candidate = contender.inputs(golden, candidate)
    load1 = os.getloadavg()[0]
    probe = RssProbe()
    probe.begin()
    sampler.begin()
    verdict, counts, note, seconds = timed_run(contender, spark, golden, candidate)
    heap_peak = sampler.end()
    rss = probe.end()
    return {
        "verdict": verdict,
        "seconds": round(seconds, 3),
        "counts": counts,
        "note": note,
        "py_rss_delta_mb": rss,
        "jvm_heap_peak_mb": heap_peak,
        "jvm_heap_after_mb": jvm_used_after_gc_mb(spark),
        "load1_at_start": round(load1, 2),
    }
