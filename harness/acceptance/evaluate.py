"""One output's acceptance: its declared criteria (:mod:`harness.criteria`) measured on the
golden in force and the candidate, each metric with its threshold and verdict.

The review (``review.json``, ``review.html``) and the candidate's provenance hold what this
returns; ``harness approve`` refuses a candidate whose verdicts do not all pass. The label
(outcomes the scores are judged against) is read from a table the caller hands over (a
model input or output), filtered and joined on the declared keys; a column or key that is
not there is one error naming the spec, the output and the table.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from harness.acceptance.metrics import agreement, discrimination, distribution
from harness.criteria import METRICS, Acceptance, LabelSpec, passes
from harness.errors import HarnessError, SpecError, first_line
from harness.spec import ModelSpec
from harness.sqltext import substitute

LABEL = "_acc_label"


class AcceptanceError(HarnessError):
    """An acceptance criterion cannot be measured: a column, key or label table is not there."""


def _has(df: DataFrame, column: str) -> bool:
    return column.lower() in {f.name.lower() for f in df.schema.fields}


def label_frame(spec: ModelSpec, output: str, label: LabelSpec, table: DataFrame) -> DataFrame:
    """One row per label key: the largest value of the label column (1 when any row of the
    key is positive), over the rows ``where`` keeps."""
    at = f"{spec.spec_path}: outputs.{output}.acceptance.label"
    for column in (*label.keys, label.column):
        if not _has(table, column):
            raise SpecError(
                f"{at}: table '{label.table}' has no column '{column}' "
                f"(columns: {', '.join(f.name for f in table.schema.fields)})"
            )
    if label.where:
        condition = substitute(label.where, spec.parameters, f"{at}.where")
        try:
            # Analysed now on any backend: Spark Connect analyses lazily, and its client
            # keeps a filter's schema from its parent (a new column's it asks the server).
            table.select(F.expr(condition).alias("_acc_where")).schema  # noqa: B018
            table = table.where(F.expr(condition))
        except Exception as exc:
            raise SpecError(f'{at}.where: "{condition}": {first_line(exc)}') from None
    value = F.col(label.column).cast("int")
    return table.groupBy(*label.keys).agg(F.max(value).alias(LABEL))


def _discrimination(
    scores: DataFrame, labels: DataFrame, keys: tuple[str, ...], score: str, bins: int
) -> dict[str, Any]:
    """Discrimination of ``scores`` against ``labels``, the join made once (kept while the
    metric passes over it)."""
    joined = scores.select(*keys, score).join(labels, list(keys)).where(F.col(LABEL).isNotNull())
    joined = joined.select(score, LABEL).persist()
    try:
        return discrimination(joined, score, LABEL, bins)
    finally:
        joined.unpersist()


def evaluate(
    spec: ModelSpec,
    output: str,
    golden: DataFrame,
    candidate: DataFrame,
    *,
    label_table: DataFrame | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The output's metrics, with thresholds and verdicts: ``{passed, metrics: [{metric,
    value, threshold, direction, passed, means}], score: {...}, columns: [...]}``."""
    acc: Acceptance | None = spec.outputs[output].acceptance
    if acc is None:
        raise AcceptanceError(f"{spec.spec_path}: outputs.{output} declares no acceptance")
    at = f"{spec.spec_path}: outputs.{output}.acceptance"
    review: dict[str, Any] = {"metrics": [], "columns": []}
    values: dict[str, float | None] = {}
    if acc.score is not None:
        for side, frame in (("golden", golden), ("candidate", candidate)):
            if not _has(frame, acc.score):
                raise SpecError(f"{at}.score: the {side} of '{output}' has no column '{acc.score}'")
        keys = spec.outputs[output].keys
        dist = distribution(golden, candidate, acc.score, acc.bins)
        joined = golden.select(*keys, F.col(acc.score).alias("_g")).join(
            candidate.select(*keys, F.col(acc.score).alias("_c")), list(keys)
        )
        # Each metric passes over its input a few times (cut points, totals, the result):
        # the join is made once and kept for them, then dropped.
        joined = joined.select("_g", "_c").persist()
        try:
            agree = agreement(joined, "_g", "_c", acc.top_n, acc.bins)
        finally:
            joined.unpersist()
        values.update(
            psi=dist["psi"],
            ks=dist["ks"],
            rank_correlation=agree["rank_correlation"],
            top_n_overlap=agree["top_n_overlap"],
        )
        review["score"] = {"column": acc.score, "bins": acc.bins, **dist, "agreement": agree}
        if acc.label is not None:
            if label_table is None:
                raise AcceptanceError(f"{at}.label: table '{acc.label.table}' was not given")
            for key in acc.label.keys:
                if not _has(golden, key):
                    raise SpecError(
                        f"{at}.label.keys: output '{output}' has no column '{key}' to join on"
                    )
            labels = label_frame(spec, output, acc.label, label_table)
            try:
                seen = {
                    side: _discrimination(frame, labels, acc.label.keys, acc.score, acc.bins)
                    for side, frame in (("golden", golden), ("candidate", candidate))
                }
            except ValueError as exc:  # a label that is not an outcome
                raise SpecError(
                    f"{at}.label.column: '{acc.label.column}' of '{acc.label.table}' must be "
                    f"0/1 or boolean: {exc}"
                ) from None
            g, c = seen["golden"], seen["candidate"]
            values["auc_drop"] = _minus(g["auc"], c["auc"])
            values["capture_drop"] = _minus(g["capture"], c["capture"])
            values["calibration_gap"] = c["calibration_gap"]
            values["calibration_gap_increase"] = _minus(c["calibration_gap"], g["calibration_gap"])
            review["discrimination"] = {"label": acc.label.column, **seen}
    for metric, threshold in acc.thresholds.items():
        value = values.get(metric)
        review["metrics"].append(
            {
                "metric": metric,
                "value": value,
                "threshold": threshold,
                "direction": METRICS[metric].direction,
                "passed": passes(metric, value, threshold),
                "means": METRICS[metric].means,
            }
        )
    review["columns"] = column_verdicts(acc, candidate, changes)
    review["passed"] = all(m["passed"] for m in review["metrics"]) and all(
        c["passed"] for c in review["columns"]
    )
    return review


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def column_verdicts(
    acc: Acceptance, candidate: DataFrame, changes: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each bounded column against the zero-tolerance changes of the candidate
    (:mod:`harness.refresh`: largest absolute and relative change on matched keys)."""
    moved = (changes or {}).get("columns", {})
    out = []
    for column, bound in acc.columns.items():
        present = _has(candidate, column)
        seen = moved.get(column, {}) if present else {}
        row: dict[str, Any] = {"column": column, "reason": bound.reason, "present": present}
        ok = present
        for name, limit in bound.as_dict().items():
            value = seen.get(name, 0.0)
            value = float("inf") if value is None and seen.get("changed") else value or 0.0
            row[name] = {"value": value, "limit": limit, "passed": value <= limit}
            ok = ok and value <= limit
        row["passed"] = ok
        out.append(row)
    return out


def failures(review: dict[str, Any]) -> list[str]:
    """Each failed check in one line: the metric (or column), its value and its threshold."""
    lines = []
    for m in review.get("metrics", []):
        if not m["passed"]:
            word = "at most" if m["direction"] == "max" else "at least"
            lines.append(f"{m['metric']} = {_num(m['value'])}, needs {word} {_num(m['threshold'])}")
    for c in review.get("columns", []):
        if not c["present"]:
            lines.append(f"column {c['column']}: not in the candidate")
        for name, seen in c.items():
            if isinstance(seen, dict) and not seen["passed"]:
                lines.append(
                    f"column {c['column']}: {name} = {_num(seen['value'])}, "
                    f"needs at most {_num(seen['limit'])}"
                )
    return lines


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
