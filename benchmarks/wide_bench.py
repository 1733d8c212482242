"""How the comparison's cost grows with an output's width, in the user's session.

    .venv/bin/python benchmarks/wide_bench.py [--rows 1000000] [--widths 20,64,128,256] \
        [--repeat 3] [--session stock|connect|harness] [--out FILE.json]

The engine never changes ``spark.sql.codegen.maxFields`` (a session's settings are shared):
it puts at most as many columns in one counting query as keep whole-stage codegen within
the session's value (100 by default), so a wide output takes several passes. This measures
what that costs: per width, ``compare()`` beside the join floor (a full outer join of both
sides, every column, ``noop`` write; comparebench's floor) in the same session, medians of
``--repeat`` runs. DOUBLE columns, one perturbed value in about every 1,000 rows per column,
so every comparison fails and counts its mismatches (checked against the planted count).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE):  # the checkout (``harness``), then this folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from comparebench.contenders.floors import JoinFloor  # noqa: E402
from comparebench.data import ATOL, KEY, RTOL  # noqa: E402
from comparebench.sessions import SESSIONS, open_session  # noqa: E402

PERIOD = 997  # column i's value is perturbed where key % PERIOD == i % PERIOD


def write_inputs(spark: Any, rows: int, width: int, folder: Path) -> tuple[str, str, int]:
    """Golden and candidate Parquet of ``width`` DOUBLE columns; returns their paths and
    the number of planted mismatches."""
    from pyspark.sql import functions as F

    base = spark.range(rows).select(
        F.col("id").alias(KEY),
        *[(F.rand(seed=i) * 1000 + 1).alias(f"d{i}") for i in range(width)],
    )
    golden, candidate = str(folder / f"g{width}"), str(folder / f"c{width}")
    base.write.mode("overwrite").parquet(golden)
    g = spark.read.parquet(golden)
    moved = [
        F.when(F.col(KEY) % PERIOD == i % PERIOD, F.col(f"d{i}") * (1 + 1e-6))
        .otherwise(F.col(f"d{i}"))
        .alias(f"d{i}")
        for i in range(width)
    ]
    g.select(KEY, *moved).write.mode("overwrite").parquet(candidate)
    planted = sum(len(range(i % PERIOD, rows, PERIOD)) for i in range(width))
    return golden, candidate, planted


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def measure(spark: Any, rows: int, width: int, repeat: int, folder: Path) -> dict[str, Any]:
    from harness.compare import compare

    golden_path, candidate_path, planted = write_inputs(spark, rows, width, folder)
    golden, candidate = spark.read.parquet(golden_path), spark.read.parquet(candidate_path)
    floor, engine, counted = [], [], None
    for _ in range(repeat):
        floor.append(timed(lambda: JoinFloor().run(spark, golden, candidate))[0])
        seconds, result = timed(
            lambda: compare(golden, candidate, keys=[KEY], rtol=RTOL, atol=ATOL)
        )
        engine.append(seconds)
        counted = sum(c.mismatches for c in result.columns.values())
    f, e = statistics.median(floor), statistics.median(engine)
    return {
        "width": width,
        "join_floor_s": round(f, 2),
        "engine_s": round(e, 2),
        "x_join": round(e / f, 2),
        "pairs": [round(b / a, 2) for a, b in zip(floor, engine, strict=True)],
        "mismatches": counted,
        "planted": planted,
        "counts_ok": counted == planted,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--widths", default="20,64,128,256", help="DOUBLE columns per side")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--session", choices=SESSIONS, default="stock")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="wide-bench-") as tmp,
        open_session(args.session, Path(tmp)) as spark,
    ):
        fields = spark.conf.get("spark.sql.codegen.maxFields", "100")
        results = [measure(spark, args.rows, w, args.repeat, Path(tmp)) for w in widths]
    print(
        f"wide_bench: session={args.session}, rows={args.rows:,}, repeat={args.repeat}, "
        f"spark.sql.codegen.maxFields={fields} (never changed), rtol={RTOL:g}"
    )
    print(f"{'width':>6}  {'join floor s':>12}  {'engine s':>9}  {'x_join':>6}  pairs  counts")
    for r in results:
        counts = "OK" if r["counts_ok"] else f"WRONG ({r['mismatches']} vs {r['planted']})"
        print(
            f"{r['width']:>6}  {r['join_floor_s']:>12}  {r['engine_s']:>9}  {r['x_join']:>6}  "
            f"{', '.join(map(str, r['pairs']))}  {counts}"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": results}, indent=2)
        )
    return 0 if all(r["counts_ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
