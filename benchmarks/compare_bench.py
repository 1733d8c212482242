"""Benchmark ``harness.compare.compare`` against two floors and three peer tools, side by side.

    .venv/bin/python benchmarks/compare_bench.py --rows 1000000 --repeat 3 \
        [--peers all|fast|none] [--peer-timeout 900] [--out benchmarks/results/NAME.json]

One Spark session does all the Spark work; ``--session`` says whose:

* ``harness`` (default): ``harness.session.get_spark("local")``, the harness's own JVM
  options and settings;
* ``stock``: a session as a user builds it in a notebook, ``SparkSession.builder
  .master("local[2]")`` with stock JVM options and default ``spark.sql.*`` settings (only
  the driver memory and scratch folder are set, the same as the harness's, so that only
  JVM options and settings differ);
* ``connect``: a Spark Connect server this script starts with stock JVM options (local[2],
  127.0.0.1, stopped at exit), the benchmark being its client; peers and heap readings
  need the server's JVM, so they are left out.
The data is a deterministic golden/candidate Parquet pair generated Spark-side under
``<work_root>/bench/<rows>/`` (``.harness/bench/<rows>/`` by default) and reused when its
marker file is there. The true mismatch counts come from the generation rule, evaluated
with plain Spark queries and cross-checked with a plain join (never with the engine).

Contestants, each timed ``--repeat`` times round-robin (median reported):

* ``scan floor``   xxhash64 over every column of both inputs, aggregated (a full read)
* ``join floor``   full outer join of both inputs on the key, all columns, ``noop`` write
* ``engine``       ``harness.compare.compare(golden, candidate, keys=[KEY], rtol, atol)``
* ``engine+report``  the same + ``result.report()`` (which fetches the failure examples)
* ``engine, fresh code``  ``engine`` with an rtol nudged by 1e-7 relative each run, so that
  every run compiles new code, as each model's first comparison in a nightly run does; the
  other rows reuse the previous run's JIT-compiled classes (Spark caches generated code)
* ``datacompy``    ``datacompy.spark.SparkSQLCompare(...)`` + ``.matches()``, session as is
* ``datacompy dates-as-str``  the same with the DATE column cast to string on both sides
  (datacompy 1.1.0 TRY_CASTs every column to DOUBLE; Spark 4 rejects that for DATE)
* ``datacompy+report dates-as-str`` the same + ``.report()``            (``--peers all`` only)
* ``pyspark assert``   ``pyspark.testing.assertDataFrameEqual``          (``--peers all`` only)
* ``chispa``       ``chispa.assert_approx_df_equality``                  (``--peers all`` only)

Peers run in a child Python process that attaches to *this* process's JVM (the same
SparkContext and SparkSession, through the py4j gateway), under a Spark job group: on
``--peer-timeout`` the child is killed and its Spark jobs are cancelled, so a peer stuck in
a Python loop over collected rows cannot hold the benchmark hostage. Every Spark job of
every contestant therefore runs in the same warm JVM with the same settings.

Exit status: 0 unless the engine's verdict or its per-column mismatch counts are wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import itertools
import json
import logging
import math
import os
import platform
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# ----------------------------------------------------------------------------- the data

GEN_VERSION = 1  # bump when the generator changes: cached data with another version is rebuilt
MARKER = "_BENCH_OK.json"
KEY = "policy_id"
N_DOUBLES = 14
DOUBLES = [f"amt_{c:02d}" for c in range(1, N_DOUBLES + 1)]
STRINGS = ["region", "product_code", "status", "holder_ref"]
DATE_COL = "start_date"
LONG_COL = "units"
COLUMNS = [*DOUBLES, *STRINGS, DATE_COL, LONG_COL]  # 20 columns besides the key

VALUE_LO, VALUE_HI = 100.0, 1000.0  # every double value lies in [100, 1000)
NULL_MOD, NAN_MOD = 100, 1000  # ~1% nulls, ~0.1% NaN per double column (same rows both sides)
MOD_BEYOND = 1009  # candidate: amt_c * (1 + REL_BEYOND) where pmod(policy_id, 1009) == c
MOD_WITHIN = 101  # candidate: amt_c * (1 + REL_WITHIN) where pmod(policy_id, 101) == c
REL_BEYOND, REL_WITHIN = 1e-6, 1e-12
STRING_CHANGED = "product_code"
MOD_STRING, STRING_RESIDUE = 10007, 7  # candidate: product_code || '-v2' where pmod == 7
GEN_PARTITIONS = 4

RTOL, ATOL = 1e-9, 0.0
# chispa's precision is an absolute tolerance: rtol * max|value| accepts every within-
# tolerance change (<= 1e-9 absolute) and rejects every beyond-tolerance one (>= 1e-4).
CHISPA_PRECISION = RTOL * VALUE_HI

PROTOCOL = "@@BENCH@@ "

log = logging.getLogger("compare_bench")


def _unit(F: Any, salt: int) -> Any:
    """Uniform in [0, 1) from the row id: the top 53 bits of xxhash64(id, salt)."""
    return F.shiftrightunsigned(F.xxhash64(F.col("id"), F.lit(salt)), 11).cast("double") / float(
        1 << 53
    )


def _bucket(F: Any, salt: int, n: int) -> Any:
    return F.pmod(F.xxhash64(F.col("id"), F.lit(salt)), F.lit(n))


def golden_frame(spark: Any, rows: int) -> Any:
    from pyspark.sql import functions as F

    cols = [F.col("id").alias(KEY)]
    for c, name in enumerate(DOUBLES, start=1):
        value = F.lit(VALUE_LO) + F.lit(VALUE_HI - VALUE_LO) * _unit(F, 1000 + c)
        cols.append(
            F.when(_bucket(F, 2000 + c, NULL_MOD) == 0, F.lit(None).cast("double"))
            .when(_bucket(F, 3000 + c, NAN_MOD) == 0, F.lit(float("nan")))
            .otherwise(value)
            .alias(name)
        )
    regions = F.array(*[F.lit(x) for x in ("north", "south", "east", "west", "central")])
    statuses = F.array(*[F.lit(x) for x in ("active", "lapsed", "cancelled", "pending")])
    cols += [
        F.element_at(regions, (_bucket(F, 4001, 5) + 1).cast("int")).alias("region"),
        F.concat(F.lit("PRD-"), F.lpad(_bucket(F, 4002, 100000).cast("string"), 5, "0")).alias(
            "product_code"
        ),
        F.element_at(statuses, (_bucket(F, 4003, 4) + 1).cast("int")).alias("status"),
        F.hex(F.xxhash64(F.col("id"), F.lit(4004))).alias("holder_ref"),
        F.date_add(F.lit("2015-01-01").cast("date"), _bucket(F, 4005, 3650).cast("int")).alias(
            DATE_COL
        ),
        _bucket(F, 4006, 10_000_000).alias(LONG_COL),
    ]
    return spark.range(0, rows, 1, numPartitions=GEN_PARTITIONS).select(*cols)


def candidate_frame(golden: Any) -> Any:
    from pyspark.sql import functions as F

    key = F.col(KEY)
    cols: list[Any] = [key]
    for c, name in enumerate(DOUBLES, start=1):
        v = F.col(name)
        cols.append(
            F.when(F.pmod(key, F.lit(MOD_BEYOND)) == c, v * F.lit(1.0 + REL_BEYOND))
            .when(F.pmod(key, F.lit(MOD_WITHIN)) == c, v * F.lit(1.0 + REL_WITHIN))
            .otherwise(v)
            .alias(name)
        )
    for name in STRINGS:
        if name == STRING_CHANGED:
            cols.append(
                F.when(
                    F.pmod(key, F.lit(MOD_STRING)) == STRING_RESIDUE,
                    F.concat(F.col(name), F.lit("-v2")),
                )
                .otherwise(F.col(name))
                .alias(name)
            )
        else:
            cols.append(F.col(name))
    cols += [F.col(DATE_COL), F.col(LONG_COL)]
    return golden.select(*cols)


def _finite(F: Any, c: Any) -> Any:
    return c.isNotNull() & ~F.isnan(c)


def compute_truth(spark: Any, golden_path: Path, candidate_path: Path, rows: int) -> dict:
    """True per-column mismatch counts from the generation rule (plain Spark), then cross-
    checked with a plain keyed join of the written files. Raises if the data disagrees."""
    from pyspark.sql import functions as F

    g = spark.read.parquet(str(golden_path))
    key = F.col(KEY)
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for c, name in enumerate(DOUBLES, start=1):
        finite = _finite(F, F.col(name))
        beyond = F.pmod(key, F.lit(MOD_BEYOND)) == c
        within = (F.pmod(key, F.lit(MOD_WITHIN)) == c) & ~beyond
        aggs += [
            F.count_if(beyond & finite).alias(name),
            F.count_if(within & finite).alias(f"_w_{name}"),
            F.count_if(F.col(name).isNull()).alias(f"_null_{name}"),
            F.count_if(F.col(name).isNotNull() & F.isnan(F.col(name))).alias(f"_nan_{name}"),
        ]
    aggs.append(F.count_if(F.pmod(key, F.lit(MOD_STRING)) == STRING_RESIDUE).alias(STRING_CHANGED))
    r = g.agg(*aggs).collect()[0].asDict()
    counts = {name: 0 for name in COLUMNS}
    for name in DOUBLES:
        counts[name] = int(r[name])
    counts[STRING_CHANGED] = int(r[STRING_CHANGED])
    within_counts = {name: int(r[f"_w_{name}"]) for name in DOUBLES}

    # Cross-check on the written files with a plain join: every value that differs at all is
    # a designed change, beyond-tolerance ones really are beyond rtol and within ones within.
    e = g.select(*[F.col(c).alias(f"e_{c}") for c in [KEY, *COLUMNS]])
    a = spark.read.parquet(str(candidate_path))
    a = a.select(*[F.col(c).alias(f"a_{c}") for c in [KEY, *COLUMNS]])
    j = e.join(a, F.col(f"e_{KEY}") == F.col(f"a_{KEY}"), "full_outer")
    checks = [
        F.count(F.lit(1)).alias("_rows"),
        F.count_if(F.col(f"e_{KEY}").isNull() | F.col(f"a_{KEY}").isNull()).alias("_unpaired"),
    ]
    for c, name in enumerate(COLUMNS, start=1):
        ev, av = F.col(f"e_{name}"), F.col(f"a_{name}")
        checks.append(F.count_if(~ev.eqNullSafe(av)).alias(f"diff_{name}"))
        if name in DOUBLES:
            k = F.col(f"e_{KEY}")
            fin = _finite(F, ev) & _finite(F, av)
            ok = F.abs(av - ev) <= F.lit(RTOL) * F.abs(ev) + F.lit(ATOL)
            beyond = F.pmod(k, F.lit(MOD_BEYOND)) == c
            near = (F.pmod(k, F.lit(MOD_WITHIN)) == c) & ~beyond
            checks += [
                F.count_if(beyond & fin & ok).alias(f"bad_beyond_{name}"),
                F.count_if(near & fin & ~ok).alias(f"bad_within_{name}"),
            ]
    x = j.agg(*checks).collect()[0].asDict()
    problems = []
    if int(r["_rows"]) != rows or int(x["_rows"]) != rows or int(x["_unpaired"]):
        problems.append(
            f"row counts: golden {r['_rows']}, joined {x['_rows']}, "
            f"unpaired {x['_unpaired']} (want {rows}, {rows}, 0)"
        )
    for name in COLUMNS:
        want = counts[name] + within_counts.get(name, 0)
        if int(x[f"diff_{name}"]) != want:
            problems.append(f"{name}: {x[f'diff_{name}']} values differ, designed {want}")
        for kind in ("beyond", "within"):
            bad = int(x.get(f"bad_{kind}_{name}", 0) or 0)
            if bad:
                problems.append(f"{name}: {bad} {kind}-tolerance changes on the wrong side")
    if problems:
        raise SystemExit("generated data failed its self-check: " + "; ".join(problems))
    return {
        "mismatch_counts": counts,
        "total_mismatches": sum(counts.values()),
        "within_tolerance_changes": within_counts,
        "nulls": {name: int(r[f"_null_{name}"]) for name in DOUBLES},
        "nans": {name: int(r[f"_nan_{name}"]) for name in DOUBLES},
        "verdict": "fail" if sum(counts.values()) else "pass",
        "self_check": "ok: plain join agrees with the generation rule",
    }


def ensure_data(spark: Any, rows: int, root: Path) -> tuple[Path, Path, dict, bool, float]:
    """The golden/candidate pair and its truth; generated unless a valid marker is there."""
    marker = root / MARKER
    golden_path, candidate_path = root / "golden", root / "candidate"
    if marker.is_file():
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            if meta.get("version") == GEN_VERSION and meta.get("rows") == rows:
                return golden_path, candidate_path, meta["truth"], False, 0.0
        except (OSError, ValueError, KeyError):
            pass
    started = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    from pyspark.sql import functions as F

    gold = golden_frame(spark, rows)
    gold.write.mode("overwrite").parquet(str(golden_path))
    # The candidate is laid out differently (hash-partitioned, hash-ordered) so that nothing
    # can rely on both sides listing rows in the same order.
    (
        candidate_frame(gold)
        .repartition(GEN_PARTITIONS, KEY)
        .sortWithinPartitions(F.xxhash64(F.col(KEY)))
        .write.mode("overwrite")
        .parquet(str(candidate_path))
    )
    truth = compute_truth(spark, golden_path, candidate_path, rows)
    elapsed = time.perf_counter() - started
    meta = {
        "version": GEN_VERSION,
        "rows": rows,
        "generated_s": round(elapsed, 2),
        "rules": {
            "doubles": f"{N_DOUBLES} columns in [{VALUE_LO}, {VALUE_HI}); null where "
            f"pmod(xxhash64(id,salt),{NULL_MOD})==0, NaN where pmod(...,{NAN_MOD})==0",
            "beyond": f"amt_c *= 1+{REL_BEYOND} where pmod(policy_id,{MOD_BEYOND})==c",
            "within": f"amt_c *= 1+{REL_WITHIN} where pmod(policy_id,{MOD_WITHIN})==c",
            "string": f"{STRING_CHANGED} += '-v2' where pmod(policy_id,{MOD_STRING})"
            f"=={STRING_RESIDUE}",
        },
        "truth": truth,
    }
    marker.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")  # written last
    return golden_path, candidate_path, truth, True, elapsed


# ----------------------------------------------------------------------------- measuring


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


def short_error(exc: BaseException, limit: int = 160) -> str:
    """``Type: first meaningful line`` (no JVM trace, no ASCII-table borders), truncated."""
    text = str(exc).strip()
    line = ""
    for raw in text.splitlines():
        raw = raw.strip()
        if raw and not raw.startswith(("at ", "JVM stacktrace", "org.apache", "py4j", "+", "|")):
            line = raw
            break
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ----------------------------------------------------------------------------- the peers
# Each returns (verdict, per-column mismatch counts or None, note). They run in a child.


def peer_datacompy(spark: Any, golden: Any, candidate: Any, report: bool = False) -> tuple:
    from datacompy.spark import SparkSQLCompare

    cmp = SparkSQLCompare(spark, golden, candidate, join_columns=[KEY], abs_tol=ATOL, rel_tol=RTOL)
    matches = cmp.matches()
    counts = {s["column"]: int(s["unequal_cnt"]) for s in cmp.column_stats if s["column"] != KEY}
    note = ""
    if report:
        note = f"report {len(cmp.report())} chars"
    return ("pass" if matches else "fail"), counts, note


def peer_datacompy_report(spark: Any, golden: Any, candidate: Any) -> tuple:
    return peer_datacompy(spark, golden, candidate, report=True)


def peer_pyspark_assert(spark: Any, golden: Any, candidate: Any) -> tuple:
    from pyspark.testing import assertDataFrameEqual

    assertDataFrameEqual(candidate, golden, checkRowOrder=False, rtol=RTOL, atol=ATOL)
    return "pass", None, ""


def peer_chispa(spark: Any, golden: Any, candidate: Any) -> tuple:
    import chispa

    chispa.assert_approx_df_equality(
        golden,
        candidate,
        precision=CHISPA_PRECISION,
        ignore_row_order=True,
        allow_nan_equality=True,
    )
    return "pass", None, ""


# name -> (function, module imported before the clock starts, DATE columns cast to string)
# datacompy 1.1.0 computes max_diff with TRY_CAST(col AS DOUBLE) on every column. Spark 4
# rejects TRY_CAST(DATE AS DOUBLE) at analysis time (DATATYPE_MISMATCH: TRY_CAST always uses
# ANSI cast rules, so spark.sql.ansi.enabled=false does not help). The "dates-as-str"
# variants hand it the DATE column cast to string on both sides (an equivalent equality test).
PEERS = {
    "datacompy": (peer_datacompy, "datacompy.spark", False),
    "datacompy dates-as-str": (peer_datacompy, "datacompy.spark", True),
    "datacompy+report dates-as-str": (peer_datacompy_report, "datacompy.spark", True),
    "pyspark assert": (peer_pyspark_assert, "pyspark.testing", False),
    "chispa": (peer_chispa, "chispa", False),
}
PEER_SETS = {
    "none": [],
    "fast": ["datacompy", "datacompy dates-as-str"],
    "all": list(PEERS),
}


def _dates_as_strings(df: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    return df.select(
        *[
            F.col(f.name).cast("string").alias(f.name)
            if isinstance(f.dataType, T.DateType)
            else F.col(f.name)
            for f in df.schema.fields
        ]
    )


def _fail_types(name: str) -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [AssertionError]
    if name == "chispa":
        import chispa

        types += [chispa.DataFramesNotEqualError, chispa.SchemasNotEqualError]
    return tuple(types)


def child_main(args: argparse.Namespace) -> None:
    """Attach to the parent's JVM, run one peer once, report one JSON line, exit hard."""

    def emit(**msg: Any) -> None:
        sys.stdout.write(PROTOCOL + json.dumps(msg) + "\n")
        sys.stdout.flush()

    try:
        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger", "py4j"):
            logging.getLogger(name).disabled = True
        import importlib

        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway  # reads PYSPARK_GATEWAY_PORT/SECRET
        from pyspark.sql import SparkSession

        gateway = launch_gateway()
        jvm = gateway.jvm
        default = SparkSession._get_j_spark_session_class(jvm).getDefaultSession()
        if not default.isDefined():
            raise RuntimeError("the parent's JVM has no default SparkSession")
        jss = default.get()  # the parent's session: same SparkContext, same SQL settings
        jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(jss.sparkContext())
        sc = SparkContext(gateway=gateway, jsc=jsc, conf=SparkConf(_jconf=jsc.getConf()))
        spark = SparkSession(sc, jsparkSession=jss)
        sc.setJobGroup(args.group, f"compare_bench {args.child}", True)
        peer_fn, module, dates_as_strings = PEERS[args.child]
        importlib.import_module(module)
        fail_types = _fail_types(args.child)
        golden = spark.read.parquet(args.golden)
        candidate = spark.read.parquet(args.candidate)
        if dates_as_strings:
            golden, candidate = _dates_as_strings(golden), _dates_as_strings(candidate)
    except BaseException as exc:
        emit(event="error", stage="setup", error=short_error(exc))
        os._exit(3)
    emit(event="ready")
    probe = RssProbe()
    probe.begin()
    started = time.perf_counter()
    counts, note = None, ""
    try:
        verdict, counts, note = peer_fn(spark, golden, candidate)
    except fail_types as exc:
        verdict, note = "fail", short_error(exc, 100)
    except BaseException as exc:
        verdict, note = "error", short_error(exc)
    seconds = time.perf_counter() - started
    emit(
        event="done",
        verdict=verdict,
        seconds=seconds,
        counts=counts,
        note=note,
        py_rss_delta_mb=probe.end(),
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never run py4j/SparkContext shutdown hooks against the parent's JVM


# ----------------------------------------------------------------------------- the parent


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


def run_scan_floor(golden: Any, candidate: Any) -> tuple:
    from pyspark.sql import functions as F

    for df in (golden, candidate):
        df.select(F.xxhash64(*[F.col(c) for c in df.columns]).alias("h")).agg(
            F.bit_xor("h")
        ).collect()
    return "-", None, ""


def run_join_floor(golden: Any, candidate: Any) -> tuple:
    from pyspark.sql import functions as F

    e = golden.select(*[F.col(c).alias(f"e_{c}") for c in golden.columns])
    a = candidate.select(*[F.col(c).alias(f"a_{c}") for c in candidate.columns])
    joined = e.join(a, F.col(f"e_{KEY}") == F.col(f"a_{KEY}"), "full_outer")
    joined.write.format("noop").mode("overwrite").save()
    return "-", None, ""


_FRESH_RUNS = itertools.count(1)


def run_engine(golden: Any, candidate: Any, report: bool = False, fresh: bool = False) -> tuple:
    from harness.compare import compare

    # ``fresh``: a slightly different rtol each run (1e-7 relative steps, far from every
    # perturbation in the data, so the truth holds) makes Spark generate and compile new
    # code, as a new model's comparison would, instead of reusing the JIT-compiled classes
    # of the previous identical run. Shows the warm-JVM, cold-code cost.
    rtol = RTOL * (1 + next(_FRESH_RUNS) * 1e-7) if fresh else RTOL
    result = compare(golden, candidate, keys=[KEY], rtol=rtol, atol=ATOL)
    if report:  # the examples are fetched on first use: this times them too
        text = result.report()
        if result.passed != text.startswith("parity PASSED"):
            raise RuntimeError("report disagrees with the verdict")
    extra = {
        "rows": [result.rows_expected, result.rows_actual, result.rows_matched],
        "keys_ok": result.keys_ok,
        "schema_ok": result.schema_ok,
        "engine_elapsed_s": round(result.elapsed_s, 3),
    }
    return ("pass" if result.passed else "fail"), dict(result.mismatch_counts), extra


def run_in_process(spark: Any, sampler: HeapSampler, fn: Any, *args: Any) -> dict:
    load1 = os.getloadavg()[0]
    probe = RssProbe()
    probe.begin()
    sampler.begin()
    started = time.perf_counter()
    counts, note = None, ""
    try:
        verdict, counts, note = fn(*args)
    except Exception as exc:
        verdict, note = "error", short_error(exc)
    seconds = time.perf_counter() - started
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


def _reader(stream: Any, q: queue.Queue) -> None:
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


def _kill_child(proc: subprocess.Popen) -> None:
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
        str(Path(__file__).resolve()),
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
        _kill_child(proc)  # a finished child has exited already; a stuck one is killed
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


# ----------------------------------------------------------------------------- reporting


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(name: str, kind: str, runs: list[dict], truth: dict) -> dict:
    verdicts = sorted({r["verdict"] for r in runs})
    verdict = verdicts[0] if len(verdicts) == 1 else "mixed:" + "/".join(verdicts)
    timed = [r["seconds"] for r in runs if r["verdict"] in ("pass", "fail", "-")]
    if kind == "floor":
        verdict_ok = None
    elif verdict in ("pass", "fail"):
        verdict_ok = verdict == truth["verdict"]
    else:
        verdict_ok = None  # error / timeout: no verdict to judge
    counts_ok = None
    with_counts = [r["counts"] for r in runs if r["counts"] is not None]
    if with_counts:
        counts_ok = all(c == truth["mismatch_counts"] for c in with_counts)
    notes = []
    for r in runs:
        if r["note"] and not isinstance(r["note"], dict) and r["note"] not in notes:
            notes.append(r["note"])

    def med(field: str) -> float | None:
        vals = [r[field] for r in runs if r.get(field) is not None]
        return _median(vals)

    return {
        "name": name,
        "kind": kind,
        "verdict": verdict,
        "verdict_ok": verdict_ok,
        "counts_ok": counts_ok,
        "median_s": _median(timed),
        "n_timed": len(timed),
        "py_rss_delta_mb": med("py_rss_delta_mb"),
        "jvm_heap_after_mb": med("jvm_heap_after_mb"),
        "jvm_heap_peak_mb": med("jvm_heap_peak_mb"),
        "note": "; ".join(notes),
        "runs": runs,
    }


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "OK" if v else "WRONG"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else str(v)
    return str(v)


def render_table(results: list[dict], join_median: float | None) -> str:
    header = [
        "contestant",
        "verdict",
        "truth",
        "counts",
        "median_s",
        "runs",
        "x_join",
        "py_rss_MB",
        "heap_after_MB",
        "heap_peak_MB",
        "note",
    ]
    rows = []
    for r in results:
        ratio = r["median_s"] / join_median if r["median_s"] is not None and join_median else None
        rows.append(
            [
                r["name"],
                r["verdict"],
                _fmt(r["verdict_ok"]),
                _fmt(r["counts_ok"]),
                _fmt(r["median_s"], 2),
                f"{r['n_timed']}/{len(r['runs'])}",
                _fmt(ratio, 2),
                _fmt(r["py_rss_delta_mb"], 1),
                _fmt(r["jvm_heap_after_mb"], 0),
                _fmt(r["jvm_heap_peak_mb"], 0),
                (r["note"][:90] + "...") if len(r["note"]) > 93 else r["note"],
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    numeric = {4, 5, 6, 7, 8, 9}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(row) for row in rows)])


def count_diff(got: dict | None, want: dict) -> str:
    if got is None:
        return "no counts"
    bad = [
        f"{c}: got {got.get(c)} want {want.get(c)}"
        for c in sorted(set(got) | set(want))
        if got.get(c) != want.get(c)
    ]
    return "; ".join(bad) if bad else "all equal"


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows per side (default 1000000)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per contestant (median)")
    p.add_argument(
        "--peers",
        default="fast",
        help="all | fast (the two datacompy runs) | none, or a comma list of: " + ", ".join(PEERS),
    )
    p.add_argument(
        "--peer-repeat",
        type=int,
        default=None,
        help="timed runs per peer tool (default: --repeat); peers take minutes at 10M rows",
    )
    p.add_argument("--peer-timeout", type=float, default=900.0, help="seconds per peer call")
    p.add_argument(
        "--peer-max-rss-gb",
        type=float,
        default=8.0,
        help="kill a peer whose Python process grows past this RSS (default 8)",
    )
    p.add_argument(
        "--session",
        choices=SESSIONS,
        default="harness",
        help="whose Spark session: the harness's own, a stock one, or a stock Connect server",
    )
    p.add_argument("--out", type=Path, default=None, help="write the JSON results here")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_group", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_golden", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_candidate", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        args.child, args.group = args._child, args._group
        args.golden, args.candidate = args._golden, args._candidate
        return args
    if args.rows < MOD_STRING:
        p.error(f"--rows must be at least {MOD_STRING} so every designed change occurs")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.peer_repeat is None:
        args.peer_repeat = args.repeat
    if args.peer_repeat < 1:
        p.error("--peer-repeat must be >= 1")
    if args.peer_timeout <= 0 or args.peer_max_rss_gb <= 0:
        p.error("--peer-timeout and --peer-max-rss-gb must be > 0")
    if args.session == "connect" and args.peers != "none":
        p.error("--session connect takes --peers none (peers attach to the benchmark's own JVM)")
    if args.peers in PEER_SETS:
        args.peer_list = PEER_SETS[args.peers]
    else:
        names = [n.strip() for n in args.peers.split(",") if n.strip()]  # "a, b" works too
        unknown = [n for n in names if n not in PEERS]
        if unknown:
            p.error(f"unknown peer(s) {unknown}; use all, fast, none or names from {list(PEERS)}")
        args.peer_list = names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._child:
        child_main(args)
        return 3  # not reached
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    load_start = os.getloadavg()

    from harness.session import spark_version, work_root

    with open_session(args.session, work_root()) as spark:
        return _run(spark, args, load_start, spark_version(spark), work_root())


SESSIONS = ("harness", "stock", "connect")


@contextlib.contextmanager
def open_session(kind: str, wroot: Path) -> Any:
    """The benchmark's session of ``kind`` (see the module docstring), stopped afterwards."""
    from harness.session import get_spark, stop_spark

    memory = os.environ.get("HARNESS_DRIVER_MEMORY", "4g")
    scratch = wroot / "bench" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    if kind == "harness":
        spark = get_spark("local")
        try:
            yield spark
        finally:
            stop_spark()
        return
    if kind == "stock":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.memory", memory)
            .config("spark.local.dir", str(scratch))
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()
        return
    server = _start_stock_connect_server(memory, scratch, wroot / "bench" / "connect-server.log")
    try:
        try:
            yield get_spark("connect", remote=server[1])
        finally:
            stop_spark()
    finally:
        _kill_child(server[0])


def _start_stock_connect_server(memory: str, scratch: Path, log_path: Path) -> tuple:
    """A Spark Connect server on 127.0.0.1 with stock JVM options: (process, sc:// URL)."""
    import socket

    import pyspark

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = Path(pyspark.__file__).parent
    cmd = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--driver-memory",
        memory,
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        f"spark.local.dir={scratch}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_REMOTE", "PYSPARK_"))}
    env.update(SPARK_HOME=str(home), SPARK_CONNECT_MODE="0", SPARK_LOCAL_IP="127.0.0.1")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the Connect server exited ({proc.returncode}); see {log_path}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"sc://127.0.0.1:{port}"
        time.sleep(0.5)
    _kill_child(proc)
    raise SystemExit(f"the Connect server did not listen within 180 s; see {log_path}")


def _run(spark: Any, args: argparse.Namespace, load_start: tuple, version: str, wroot: Path) -> int:
    root = wroot / "bench" / str(args.rows)
    log.info("data: %s", root)
    golden_path, candidate_path, truth, generated, gen_s = ensure_data(spark, args.rows, root)
    log.info(
        "data %s (%.1fs); truth: %d mismatching values over %d columns, verdict %s",
        "generated" if generated else "reused",
        gen_s,
        truth["total_mismatches"],
        sum(1 for v in truth["mismatch_counts"].values() if v),
        truth["verdict"],
    )
    golden = spark.read.parquet(str(golden_path))
    candidate = spark.read.parquet(str(candidate_path))
    sampler = HeapSampler(spark)
    log.info("warm-up: one untimed scan of both inputs")
    run_scan_floor(golden, candidate)

    contestants: list[tuple[str, str]] = [
        ("scan floor", "floor"),
        ("join floor", "floor"),
        ("engine", "engine"),
        ("engine+report", "engine"),
        ("engine, fresh code", "engine"),
        *[(name, "peer") for name in args.peer_list],
    ]
    runs: dict[str, list[dict]] = {name: [] for name, _ in contestants}
    skip: set[str] = set()
    log_dir = wroot / "bench" / "logs"
    for rep in range(1, args.repeat + 1):
        for name, kind in contestants:
            if name in skip or (kind == "peer" and rep > args.peer_repeat):
                continue
            log.info("run %d/%d: %s ...", rep, args.repeat, name)
            if kind == "peer":
                tag = f"{args.rows}-{name.replace(' ', '_').replace('+', '_')}-{rep}"
                r = run_peer_child(
                    spark,
                    sampler,
                    name,
                    (golden_path, candidate_path),
                    args.peer_timeout,
                    args.peer_max_rss_gb,
                    log_dir,
                    tag,
                )
                if r["verdict"] in ("timeout", "error"):
                    skip.add(name)  # one timeout/error is the answer; do not repeat it
            else:
                fn = {
                    "scan floor": run_scan_floor,
                    "join floor": run_join_floor,
                    "engine+report": functools.partial(run_engine, report=True),
                    "engine, fresh code": functools.partial(run_engine, fresh=True),
                }.get(name, run_engine)
                r = run_in_process(spark, sampler, fn, golden, candidate)
                if kind == "engine" and isinstance(r["note"], dict):
                    r["engine"] = r.pop("note")
                    r["note"] = ""
            runs[name].append(r)
            log.info(
                "    %s in %s s%s",
                r["verdict"],
                r["seconds"],
                f" ({r['note']})" if r["note"] else "",
            )
    sampler.close()
    load_end = os.getloadavg()

    results = [summarize(name, kind, runs[name], truth) for name, kind in contestants]
    by_name = {r["name"]: r for r in results}
    join_median = by_name["join floor"]["median_s"]
    for r in results:
        r["ratio_to_join_floor"] = (
            round(r["median_s"] / join_median, 3) if r["median_s"] and join_median else None
        )
    engine = by_name["engine"]
    engine_counts_ok = bool(engine["counts_ok"])
    engine_ok = engine["verdict_ok"] is True and engine_counts_ok

    dc_peers = [name for name in PEERS if name.startswith("datacompy")]
    ratios = {}
    for peer in dc_peers:
        pr = by_name.get(peer)
        if pr and pr["median_s"] and engine["median_s"]:
            ratios[f"{peer}_over_engine"] = round(pr["median_s"] / engine["median_s"], 2)

    machine = {
        "nproc": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in load_end],
        "spark_version": version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "session": args.session,
        "driver_memory": spark.conf.get("spark.driver.memory", "?"),
        "master": spark.conf.get("spark.master", "?"),
        "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "ansi_enabled": spark.conf.get("spark.sql.ansi.enabled"),
    }
    print()
    print(
        f"compare_bench: session={args.session}, rows={args.rows:,} x {len(COLUMNS)} columns"
        " + key, "
        f"repeat={args.repeat} (peers {args.peer_repeat}), peers={args.peers}, "
        f"rtol={RTOL:g} atol={ATOL:g}"
    )
    print(
        f"spark {version} {machine['master']}, driver memory {machine['driver_memory']}, "
        f"nproc {machine['nproc']}, load {machine['loadavg_start'][0]:.2f} -> "
        f"{machine['loadavg_end'][0]:.2f}; truth: verdict {truth['verdict']}, "
        f"{truth['total_mismatches']} mismatching values"
    )
    print()
    print(render_table(results, join_median))
    print()
    wrong_runs = [r for r in engine["runs"] if r["counts"] != truth["mismatch_counts"]]
    print(
        "engine vs truth: verdict "
        + ("OK" if engine["verdict_ok"] else "WRONG")
        + f" ({engine['verdict']}), counts "
        + (
            "OK"
            if engine_counts_ok
            else "WRONG: "
            + count_diff(wrong_runs[0]["counts"] if wrong_runs else None, truth["mismatch_counts"])
        )
        + f" ({truth['total_mismatches']} mismatches over {len(COLUMNS)} columns)"
    )
    for peer in dc_peers:
        key = f"{peer}_over_engine"
        if peer in by_name:
            if key in ratios:
                print(f"{peer} / engine time: {ratios[key]:.2f}x")
            else:
                print(f"{peer} / engine time: n/a ({by_name[peer]['verdict']})")

    if args.out:
        doc = {
            "benchmark": "compare_bench",
            "machine": machine,
            "params": {
                "rows": args.rows,
                "repeat": args.repeat,
                "peer_repeat": args.peer_repeat,
                "peers": args.peer_list,
                "peer_timeout_s": args.peer_timeout,
                "peer_max_rss_gb": args.peer_max_rss_gb,
                "rtol": RTOL,
                "atol": ATOL,
                "chispa_precision": CHISPA_PRECISION,
            },
            "data": {
                "path": str(root),
                "generated_this_run": generated,
                "generation_s": round(gen_s, 2),
                "truth": truth,
            },
            "results": results,
            "ratios": ratios,
            "engine_ok": engine_ok,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"results written to {args.out}")
    return 0 if engine_ok else 1


if __name__ == "__main__":
    sys.exit(main())
