"""The golden/candidate pair with a known answer: its generation rule, its truth, its cache.

One job: give every contender the same deterministic Parquet pair (``spark.range`` +
``xxhash64(id, salt)``, no ``rand()``) and the true per-column mismatch counts, computed
from the generation rule with plain Spark queries and cross-checked with a plain keyed join
of the written files, never with the engine under test, so that the benchmark can judge
the engine's verdict and counts as well as time it. The pair is written under
``<work_root>/bench/<rows>/`` and reused while its marker file (written last) is there and
carries this module's ``GEN_VERSION``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

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

# The tolerance everyone compares with; the truth (which changes exceed it) depends on it.
RTOL, ATOL = 1e-9, 0.0


def _unit(F: Any, salt: int) -> Any:
    """Uniform in [0, 1) from the row id: the top 53 bits of xxhash64(id, salt)."""
    return F.shiftrightunsigned(F.xxhash64(F.col("id"), F.lit(salt)), 11).cast("double") / float(
        1 << 53
    )


def _bucket(F: Any, salt: int, n: int) -> Any:
    return F.pmod(F.xxhash64(F.col("id"), F.lit(salt)), F.lit(n))


def golden_frame(spark: Any, rows: int) -> Any:
    """The golden side: key ``0..rows-1``, doubles with nulls and NaNs, strings, a date, a long."""
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
    """The candidate side: the golden with the designed changes (beyond, within, string)."""
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
