"""Judging the runs: each contender's medians, its verdict and counts against the truth.

One job: turn the raw runs into the figures the table and the JSON show, and into the
benchmark's own verdict (``engine_ok``: the exit status is 1 when the engine's verdict or
per-column counts are wrong). Kept apart from the runner, which only measures, and from
``render.py``, which only formats.
"""

from __future__ import annotations

import statistics

from .contenders import DATACOMPY, ENGINE, JOIN_FLOOR


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(name: str, kind: str, runs: list[dict], truth: dict) -> dict:
    """One contender's table row: its runs' medians and its verdict and counts judged."""
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


def add_join_ratios(results: list[dict]) -> float | None:
    """Set each result's ``ratio_to_join_floor``; returns the join floor's median."""
    join_median = next(r for r in results if r["name"] == JOIN_FLOOR)["median_s"]
    for r in results:
        r["ratio_to_join_floor"] = (
            round(r["median_s"] / join_median, 3) if r["median_s"] and join_median else None
        )
    return join_median


def engine_ok(engine: dict) -> bool:
    """The engine's verdict and its per-column mismatch counts are both the truth's."""
    return engine["verdict_ok"] is True and bool(engine["counts_ok"])


def datacompy_ratios(by_name: dict[str, dict]) -> dict[str, float]:
    """``<datacompy variant>_over_engine``: each datacompy row's median over the engine's."""
    engine = by_name[ENGINE]
    ratios = {}
    for peer in DATACOMPY:
        pr = by_name.get(peer)
        if pr and pr["median_s"] and engine["median_s"]:
            ratios[f"{peer}_over_engine"] = round(pr["median_s"] / engine["median_s"], 2)
    return ratios
