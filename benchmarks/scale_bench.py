"""Where the nightly's time and memory go, per model, at a given scale, in local mode or on
the local multi-process cluster.

    .venv/bin/python benchmarks/scale_bench.py --mode local   --scale 1  [--models a,b]
    .venv/bin/python benchmarks/scale_bench.py --mode cluster --scale 10 [--out FILE.json]

For each model, one after the other (so that memory peaks belong to one model), the loop
the nightly runs for it, through the same library calls:

1. inputs generated and cached, and their checks run, once and untimed, as the night's
   capture does (a real nightly reads its tables in place; the one-off cost is reported
   on its own, ``input_generation_s``);
2. ``api.run_model`` on the Spark platform: its phases (``outcomes.PHASES``) are the harness's
   ``inputs`` and ``checks`` and the model's ``steps`` and ``materialize``; for R on the
   driver, the split of the step (Spark to pandas, pandas to R, R, R to pandas, pandas to
   Spark); for R in the executors, the same split summed over the groups, from the files
   the workers write under ``$HARNESS_R_PROFILE``;
3. each output written as a golden (``api.write_golden``) into a scratch golden store;
4. each output compared with that golden (``api.compare_output``: read, verify, compare).
   Comparing a run with itself costs what a passing comparison costs; a pass is required.

The golden is made from the Spark run, not from a second (legacy) run: the capture is one
more model run, the model's work, and would double the wall time without telling more.

Memory: every process involved is sampled with psutil (RSS, every 0.25 s) while each model
runs, and the peak of each kind is kept: ``client`` (this Python, with embedded R for R on
the driver), ``driver`` (the Spark driver JVM: in-process in local mode, the Connect
server on the cluster), ``executors`` (executor JVMs; the driver in local mode),
``workers`` (Python workers and the R inside them, summed).

The harness's share is (inputs + checks + golden write + read, verify and compare) over the
model's whole time; the target is at most 20%.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import api  # noqa: E402
from harness.backends import get_spark, stop_spark  # noqa: E402
from harness.errors import first_line  # noqa: E402
from harness.golden import GoldenStore  # noqa: E402
from harness.rsession import PROFILE_ENV  # noqa: E402
from harness.workdir import work_root  # noqa: E402

HARNESS_PHASES = ("inputs", "checks", "compare")  # every night (golden_write: capture/refresh)
MODEL_PHASES = ("steps", "materialize")
# Moving data between Spark and R on the driver: inside the model's steps, but the
# harness's work (rbridge), so counted as the harness's. R in the executors reports its
# split as CPU seconds summed over workers (r_workers.*): shown, not subtracted.
R_MOVES = ("r.spark_to_client", "r.to_r", "r.from_r", "r.client_to_spark")
KINDS = ("client", "driver", "executors", "workers")


def _kind(proc: psutil.Process, me: int) -> str | None:
    """Which kind of process this is, by its command line (None: not ours to count)."""
    if proc.pid == me:
        return "client"
    try:
        cmd = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if "CoarseGrainedExecutorBackend" in cmd:
        return "executors"
    if "java" in cmd and ("SparkSubmit" in cmd or "SparkConnectServer" in cmd):
        return "driver"
    if "pyspark.daemon" in cmd or "pyspark.worker" in cmd or "pyspark/worker" in cmd:
        return "workers"
    return None


class Sampler:
    """Peak RSS per kind of process, over the processes under ``roots``."""

    def __init__(self, roots: list[int], interval: float = 0.25):
        self.roots, self.interval = roots, interval
        self.peaks: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[str, int]:
        me, seen, sums = os.getpid(), set(), dict.fromkeys(KINDS, 0)
        for root in self.roots:
            try:
                tree = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for proc in tree:
                if proc.pid in seen:
                    continue
                seen.add(proc.pid)
                kind = _kind(proc, me)
                if kind is None:
                    continue
                with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    sums[kind] += proc.memory_info().rss
        return sums

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            sums = self._sample()
            with self._lock:
                for kind, rss in sums.items():
                    self.peaks[kind] = max(self.peaks[kind], rss)

    def take(self) -> dict[str, float]:
        """Peaks (GB) since the last take; then start over."""
        with self._lock:
            out = {k: round(v / 2**30, 2) for k, v in self.peaks.items()}
            self.peaks = dict.fromkeys(KINDS, 0)
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def _session(mode: str, workers: int) -> Iterator[tuple[Any, list[int], dict[str, Any]]]:
    """The Spark session, the process roots to sample and facts about the setup."""
    if mode == "local":
        spark = get_spark("local")
        try:
            yield spark, [os.getpid()], {"master": spark.sparkContext.master}
        finally:
            stop_spark()
        return
    ctl = [sys.executable, "-m", "harness.backends.clusterctl"]
    up = subprocess.run(
        [*ctl, "up", "--workers", str(workers), "--owner", str(os.getpid())],
        capture_output=True,
        text=True,
        check=False,
    )
    if up.returncode:
        raise SystemExit(f"local cluster did not start:\n{up.stderr[-2000:]}")
    url = up.stdout.strip().splitlines()[-1]
    state = json.loads((work_root() / "cluster" / "state.json").read_text())
    try:
        spark = get_spark("connect", remote=url)
        yield spark, [os.getpid(), int(state["supervisor"])], {"remote": url, "workers": workers}
    finally:
        stop_spark()
        subprocess.run([*ctl, "down"], capture_output=True, check=False)


def _r_profile(folder: Path) -> dict[str, float]:
    """The grouped R split the workers wrote (summed), then the folder emptied."""
    out: dict[str, float] = {}
    for file in folder.glob("*.jsonl"):
        for line in file.read_text().splitlines():
            for part, value in json.loads(line).items():
                if part != "rows":
                    out[f"r_workers.{part}"] = out.get(f"r_workers.{part}", 0.0) + value
        file.unlink()
    return out


def bench_model(
    spark: Any, project: api.Project, name: str, scale: float, store: GoldenStore, rprof: Path
) -> dict[str, Any]:
    spec = project.model(name)
    started = time.perf_counter()
    frames, bundles = api.load_inputs(spark, project, spec, "full", scale=scale)
    rows_in = {t: df.count() for t, df in frames.items()}
    api.input_checks(spark, frames, bundles, "full", scale=scale)  # kept, as by the capture
    generation = time.perf_counter() - started
    _r_profile(rprof)
    run = api.run_model(spark, project, spec, "full", scale=scale)
    timings = dict(run.timings)
    timings.update(_r_profile(rprof))
    started = time.perf_counter()
    for output in spec.outputs:
        api.write_golden(spark, store, run, output, source="refresh", reason="scale_bench")
    timings["golden_write"] = time.perf_counter() - started
    started = time.perf_counter()
    failed = []
    for output in spec.outputs:
        compared = api.compare_output(spark, store, run, output)
        if not compared.passed:
            failed.append(output)
    timings["compare"] = time.perf_counter() - started
    return {
        "model": name,
        "rows_in": rows_in,
        "rows_out": run.rows_out,
        "input_generation_s": round(generation, 2),
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "failed": failed,
    }


def shares(timings: dict[str, float]) -> dict[str, float]:
    """The harness's and the model's seconds, and the harness's share, of one model."""
    moves = sum(timings.get(p, 0.0) for p in R_MOVES)
    harness = sum(timings[p] for p in HARNESS_PHASES) + moves
    model = sum(timings[p] for p in MODEL_PHASES) - moves
    return {
        "harness_s": round(harness, 2),
        "model_s": round(model, 2),
        "golden_write_s": timings["golden_write"],
        "harness_share": round(harness / (harness + model), 3),
    }


def totals(models: list[dict[str, Any]]) -> dict[str, Any]:
    """The nightly's shares over every measured model (and with a golden write, as on a
    capture or refresh night), the median model's, and the peaks."""
    measured = [shares(m["timings"]) for m in models if "error" not in m]
    harness = sum(m["harness_s"] for m in measured)
    model = sum(m["model_s"] for m in measured)
    writes = sum(m["golden_write_s"] for m in measured)
    return {
        "harness_s": round(harness, 1),
        "model_s": round(model, 1),
        "golden_write_s": round(writes, 1),
        "harness_share": round(harness / (harness + model), 3) if measured else None,
        "harness_share_with_golden_writes": round(
            (harness + writes) / (harness + writes + model), 3
        )
        if measured
        else None,
        "median_model_harness_share": statistics.median(m["harness_share"] for m in measured)
        if measured
        else None,
        "peak_gb": {k: max(m["memory_gb"][k] for m in models) for k in KINDS} if models else {},
    }


def table(result: dict[str, Any]) -> str:
    """The result as a Markdown table (what the issue note quotes)."""
    head = (
        "| model | rows in | rows out | inputs | checks | steps | materialize | compare "
        "| golden write | harness share | peak GB client/driver/executors/workers | R split (s) |"
    )
    lines = [
        f"{result['mode']}, scale {result['scale']:g} "
        f"(session start {result['session_start_s']} s)",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for m in result["models"]:
        if "error" in m:
            lines.append(f"| {m['model']} | error: {m['error'][:200]} |" + " |" * 10)
            continue
        t = m["timings"]
        split = ", ".join(
            f"{k.split('.', 1)[1]}{' (workers)' if k.startswith('r_workers') else ''} {v:.1f}"
            for k, v in t.items()
            if k.startswith(("r.", "r_workers."))
        )
        mem = "/".join(f"{m['memory_gb'][k]:.1f}" for k in KINDS)
        lines.append(
            f"| {m['model']} | {sum(m['rows_in'].values()):,} | {sum(m['rows_out'].values()):,} "
            f"| {t['inputs']:.1f} | {t['checks']:.1f} | {t['steps']:.1f} | {t['materialize']:.1f} "
            f"| {t['compare']:.1f} | {t['golden_write']:.1f} "
            f"| {shares(t)['harness_share']:.0%} | {mem} | {split or '-'} |"
        )
    total = totals(result["models"])
    if total["harness_share"] is not None:
        lines.append(
            f"| **all** | | | | | {total['model_s']:.0f} s model | | {total['harness_s']:.0f} s "
            f"harness | {total['golden_write_s']:.0f} s | **{total['harness_share']:.0%}** "
            f"({total['harness_share_with_golden_writes']:.0%} with writes) "
            f"| max {'/'.join(f'{v:.1f}' for v in total['peak_gb'].values())} | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("local", "cluster"), default="local")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--models", default="", help="comma-separated (default: every model)")
    ap.add_argument("--workers", type=int, default=2, help="cluster workers")
    ap.add_argument("--out", default=None, help="JSON result file")
    ap.add_argument("--render", nargs="+", default=None, help="print the tables of result files")
    args = ap.parse_args(argv)
    if args.render:
        for file in args.render:
            print(table(json.loads(Path(file).read_text())) + "\n")
        return 0
    project = api.Project.find(REPO)
    names = [n for n in args.models.split(",") if n] or [
        n for n, s in sorted(project.models.items()) if "full" in s.datasets
    ]
    rprof = Path(tempfile.mkdtemp(prefix="r-profile-"))
    os.environ[PROFILE_ENV] = str(rprof)  # before any JVM starts: workers inherit it
    golden = Path(tempfile.mkdtemp(prefix="bench-golden-"))
    store = GoldenStore(golden)
    began = time.perf_counter()
    models = []
    try:
        with _session(args.mode, args.workers) as (spark, roots, setup):
            api.scratch_database(spark)  # the session's one-off catalogue start, not a model's
            session_s = time.perf_counter() - began
            sampler = Sampler(roots)
            try:
                for name in names:
                    sampler.take()
                    print(f"[scale_bench] {name} (scale {args.scale}, {args.mode})", flush=True)
                    try:
                        result = bench_model(spark, project, name, args.scale, store, rprof)
                    except Exception as exc:  # a model that does not fit is a result too
                        result = {"model": name, "error": first_line(exc)[:500]}
                    result["memory_gb"] = sampler.take()
                    print(json.dumps(result), flush=True)
                    models.append(result)
            finally:
                sampler.stop()
    finally:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.rmtree(rprof, ignore_errors=True)
    result = {
        "mode": args.mode,
        "scale": args.scale,
        "setup": setup,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "session_start_s": round(session_s, 1),
        "models": models,
        "total": totals(models),
    }
    print(table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    failed = [m["model"] for m in models if m.get("failed") or "error" in m]
    if failed:
        print(f"[scale_bench] comparisons failed or models did not run: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
