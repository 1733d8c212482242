"""The parent end of a peer call: one call in a child process, guarded, and cleaned up after.

One job: run a peer where it cannot hold the benchmark hostage. The child
(``peer_child.py``, started through the ``compare_bench.py`` entry point) attaches to this
process's JVM through the py4j gateway and runs under its own Spark job group; the parent
times out the call (``--peer-timeout``), watches the child's RSS (``--peer-max-rss-gb``),
then kills the child's process group, cancels its Spark jobs, reads the JVM heap it left
behind and clears the Spark cache (datacompy caches its join). Every Spark job of every
contender thus runs in the same warm JVM with the same settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .measure import HeapSampler, jvm_used_after_gc_mb
from .peer_child import PROTOCOL

ENTRY = Path(__file__).resolve().parents[1] / "compare_bench.py"  # the child's command
REPO = ENTRY.parents[1]  # the child's working directory


def _reader(stream: Any, q: queue.Queue) -> None:
    """Queue the child's report lines, then ``eof``; every other line is ignored."""
    for line in stream:
        if line.startswith(PROTOCOL):
            with contextlib.suppress(ValueError):
                q.put(json.loads(line[len(PROTOCOL) :]))
    q.put({"event": "eof"})


def _wait_group_idle(spark: Any, group: str, timeout: float = 60.0) -> bool:
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = False
        for job_id in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job_id)
            if info is not None and info.status == "RUNNING":
                running = True
                break
        if not running:
            return True
        time.sleep(0.5)
    return False


def kill_child(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s process group (it was started in its own session) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def run_peer_child(
    spark: Any,
    sampler: HeapSampler,
    name: str,
    paths: tuple[Path, Path],
    timeout: float,
    max_rss_gb: float,
    log_dir: Path,
    tag: str,
) -> dict:
    """One call of one peer in a child process attached to this JVM; killed on timeout."""
    gateway = spark.sparkContext._gateway
    params = getattr(gateway, "java_parameters", None) or gateway.gateway_parameters
    pinned = type(gateway).__name__ == "ClientServer"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE")
    }
    env.update(
        PYSPARK_GATEWAY_PORT=str(params.port),
        PYSPARK_GATEWAY_SECRET=str(params.auth_token),
        PYSPARK_PIN_THREAD="true" if pinned else "false",
        PYTHONUNBUFFERED="1",
    )
    group = f"compare_bench-{uuid.uuid4().hex[:12]}"
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"{tag}.stderr"
    cmd = [
        sys.executable,
        str(ENTRY),
        "--_child",
        name,
        "--_group",
        group,
        "--_golden",
        str(paths[0]),
        "--_candidate",
        str(paths[1]),
    ]
    load1 = os.getloadavg()[0]
    out: dict[str, Any] = {
        "verdict": "error",
        "seconds": None,
        "counts": None,
        "note": "",
        "py_rss_delta_mb": None,
        "jvm_heap_peak_mb": None,
        "jvm_heap_after_mb": None,
        "load1_at_start": round(load1, 2),
        "stderr_log": str(stderr_path),
    }
    with open(stderr_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            text=True,
            cwd=str(REPO),
            start_new_session=True,  # its own process group: killpg reaches nothing else
        )
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
    sampling = False
    try:
        msg = _next_message(q, 300.0)
        if msg is None or msg.get("event") != "ready":
            out["note"] = _child_problem(msg, "setup", stderr_path)
            return out
        sampler.begin()
        sampling = True
        started = time.monotonic()
        rss_ready = _child_rss_kb(proc.pid) or 0
        rss_peak = rss_ready
        msg = None
        while True:  # wait for the answer; watch the clock and the child's memory
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                out["verdict"] = "timeout"
                out["seconds"] = round(elapsed, 1)
                out["note"] = f"killed after {timeout:g}s"
                break
            msg = _next_message(q, min(1.0, timeout - elapsed))
            if msg is not None:
                break
            rss_peak = max(rss_peak, _child_rss_kb(proc.pid) or 0)
            if rss_peak > max_rss_gb * 2**20:
                out["seconds"] = round(time.monotonic() - started, 1)
                out["note"] = (
                    f"killed: python RSS {rss_peak / 2**20:.1f} GB > --peer-max-rss-gb "
                    f"{max_rss_gb:g} after {out['seconds']:g}s"
                )
                break
        out["py_rss_delta_mb"] = round((rss_peak - rss_ready) / 1024, 1)
        if msg is not None and msg.get("event") == "done":
            out.update(
                verdict=msg["verdict"],
                seconds=round(msg["seconds"], 3),
                counts=msg.get("counts"),
                note=msg.get("note") or "",
                py_rss_delta_mb=msg.get("py_rss_delta_mb"),
            )
            if out["verdict"] == "error":
                out["note"] += f" (after {out['seconds']:.1f}s)"
        elif msg is not None:
            out["note"] = _child_problem(msg, "run", stderr_path)
    finally:
        kill_child(proc)  # a finished child has exited already; a stuck one is killed
        spark.sparkContext.cancelJobGroup(group)
        if not _wait_group_idle(spark, group):
            out["note"] = (out["note"] + "; " if out["note"] else "") + "jobs still cancelling"
        if sampling:
            out["jvm_heap_peak_mb"] = sampler.end()
        # Measured before clearing: what the peer left behind (datacompy caches its join).
        out["jvm_heap_after_mb"] = jvm_used_after_gc_mb(spark)
        spark.catalog.clearCache()
    return out


def _child_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _next_message(q: queue.Queue, timeout: float) -> dict | None:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return None


def _child_problem(msg: dict | None, stage: str, stderr_path: Path) -> str:
    if msg is None:
        return f"child {stage} timed out"
    if msg.get("event") == "error":
        return f"child {msg.get('stage', stage)}: {msg.get('error')}"
    tail = ""
    try:
        lines = [ln.strip() for ln in stderr_path.read_text(errors="replace").splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("WARNING: Using incubator")]
        tail = lines[-1][:160] if lines else ""
    except OSError:
        pass
    return f"child exited during {stage}" + (f": {tail}" if tail else "")
