"""What the benchmark shows: the printed header, table and verdict lines, and the JSON.

One job: formatting, so that the output's shape (documented in benchmarks/README.md "The
table" and "JSON") lives in one place and measuring or scoring code never prints.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from .contenders import CHISPA_PRECISION, DATACOMPY, ENGINE
from .data import ATOL, COLUMNS, RTOL


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "OK" if v else "WRONG"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else str(v)
    return str(v)


def render_table(results: list[dict], join_median: float | None) -> str:
    """The contenders' table (columns explained in benchmarks/README.md "The table")."""
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
    """The columns whose counts differ from the truth's, or ``all equal``."""
    if got is None:
        return "no counts"
    bad = [
        f"{c}: got {got.get(c)} want {want.get(c)}"
        for c in sorted(set(got) | set(want))
        if got.get(c) != want.get(c)
    ]
    return "; ".join(bad) if bad else "all equal"


def print_summary(
    args: argparse.Namespace,
    version: str,
    machine: dict[str, Any],
    truth: dict,
    results: list[dict],
    join_median: float | None,
    ratios: dict[str, float],
) -> None:
    """The run's header, the table, the engine against the truth, the datacompy ratios."""
    by_name = {r["name"]: r for r in results}
    engine = by_name[ENGINE]
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
            if engine["counts_ok"]
            else "WRONG: "
            + count_diff(wrong_runs[0]["counts"] if wrong_runs else None, truth["mismatch_counts"])
        )
        + f" ({truth['total_mismatches']} mismatches over {len(COLUMNS)} columns)"
    )
    for peer in DATACOMPY:
        key = f"{peer}_over_engine"
        if peer in by_name:
            if key in ratios:
                print(f"{peer} / engine time: {ratios[key]:.2f}x")
            else:
                print(f"{peer} / engine time: n/a ({by_name[peer]['verdict']})")


def json_document(
    args: argparse.Namespace,
    machine: dict[str, Any],
    data_root: Path,
    generated: bool,
    gen_s: float,
    truth: dict,
    results: list[dict],
    ratios: dict[str, float],
    engine_ok: bool,
) -> dict[str, Any]:
    """The ``--out`` document (schema in benchmarks/README.md "JSON")."""
    return {
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
            "path": str(data_root),
            "generated_this_run": generated,
            "generation_s": round(gen_s, 2),
            "truth": truth,
        },
        "results": results,
        "ratios": ratios,
        "engine_ok": engine_ok,
    }
