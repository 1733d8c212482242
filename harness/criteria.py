"""Acceptance criteria of an output (``outputs.<name>.acceptance`` in ``model.yaml``): what a
change that is *meant* to move the numbers must still satisfy to be approved.

One job: the metrics a criterion can name (``METRICS``, the one list, each with its
direction and what it needs), the per-column bounds for outputs that are not scores
(``BOUNDS``) and the strict validation of the declaration, so a misspelt metric, a
threshold of the wrong type or a label table the model does not have is one line naming
the file and field. Computing the metrics is :mod:`harness.acceptance` (Spark); this module
runs nothing and sits low so the spec can validate against it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import SpecError
from harness.fields import check_choice, check_fields, problem


@dataclass(frozen=True)
class Metric:
    """One acceptance metric: a threshold is a maximum (``max``) or a minimum (``min``);
    ``needs`` is ``score`` (the two versions' scores) or ``label`` (scores and outcomes)."""

    name: str
    direction: str
    needs: str
    means: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("psi", "max", "score", "population stability index over bins fixed from the golden"),
        Metric("ks", "max", "score", "two-sample Kolmogorov-Smirnov statistic of the scores"),
        Metric("auc_drop", "max", "label", "golden AUC minus candidate AUC against the label"),
        Metric(
            "capture_drop",
            "max",
            "label",
            "golden minus candidate share of the positives captured by the top bin",
        ),
        Metric(
            "calibration_gap",
            "max",
            "label",
            "candidate's largest |mean predicted - observed rate| over its bins",
        ),
        Metric(
            "calibration_gap_increase",
            "max",
            "label",
            "candidate's calibration gap minus the golden's (scores of a model not meant to "
            "be calibrated on these outcomes: may it get worse?)",
        ),
        Metric(
            "rank_correlation",
            "min",
            "score",
            "Spearman correlation of golden and candidate scores on matched keys",
        ),
        Metric(
            "top_n_overlap",
            "min",
            "score",
            "share of the golden's top-N keys that stay in the candidate's top N",
        ),
    )
}
BOUNDS = ("max_rel_change", "max_abs_change")  # per-column bounds of a non-score output
DEFAULT_BINS = 10  # deciles

_ACCEPTANCE_FIELDS = {"score", "bins", "top_n", "label", "thresholds", "columns", "description"}
_LABEL_FIELDS = {"table", "column", "keys", "where"}
_BOUND_FIELDS = {*BOUNDS, "reason"}


@dataclass(frozen=True)
class LabelSpec:
    """Outcomes for the scores: ``column`` of ``table`` (an input table or an output of the
    model), rows filtered by ``where`` (Spark SQL, ``${parameter}`` from the model's
    parameters), joined to the scores on ``keys`` (the largest value per key: 1 if any)."""

    table: str
    column: str
    keys: tuple[str, ...]
    where: str = ""


@dataclass(frozen=True)
class ColumnBound:
    max_rel_change: float | None = None
    max_abs_change: float | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, float]:
        return {b: v for b in BOUNDS if (v := getattr(self, b)) is not None}


@dataclass(frozen=True)
class Acceptance:
    """What one output's approved change must satisfy."""

    score: str | None = None
    bins: int = DEFAULT_BINS
    top_n: int | None = None  # None: the golden's top bin (rows / bins)
    label: LabelSpec | None = None
    thresholds: dict[str, float] = field(default_factory=dict)  # metric -> threshold
    columns: dict[str, ColumnBound] = field(default_factory=dict)
    description: str = ""


def passes(metric: str, value: float | None, threshold: float) -> bool:
    """A metric's verdict: within its threshold in the metric's direction (None fails)."""
    if value is None or value != value:
        return False
    if METRICS[metric].direction == "max":
        return value <= threshold
    return value >= threshold


def _threshold(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise problem(SpecError, path, where, f"must be a number, got {value!r}", "e.g. 0.1")
    return float(value)


def _count(path: Path, where: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise problem(SpecError, path, where, f"must be a whole number >= {least}, got {value!r}")
    return value


def _names(path: Path, where: str, value: Any) -> tuple[str, ...]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise problem(SpecError, path, where, f"must be a list of column names, got {value!r}")
    return tuple(value)


def _text(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem(SpecError, path, where, f"must be a column name, got {value!r}")
    return value


def _label(path: Path, where: str, raw: Any, tables: Collection[str]) -> LabelSpec:
    data = check_fields(SpecError, path, where, raw, _LABEL_FIELDS, {"table", "column", "keys"})
    table = check_choice(SpecError, path, f"{where}.table", data["table"], tables, "label table")
    where_sql = data.get("where", "")
    if not isinstance(where_sql, str):
        raise problem(SpecError, path, f"{where}.where", "must be a Spark SQL condition")
    return LabelSpec(
        table,
        _text(path, f"{where}.column", data["column"]),
        _names(path, f"{where}.keys", data["keys"]),
        where_sql,
    )


def parse_acceptance(path: Path, where: str, raw: Any, tables: Collection[str]) -> Acceptance:
    """``outputs.<name>.acceptance`` validated; ``tables`` are the names a label may read
    (the model's inputs and outputs)."""
    data = check_fields(SpecError, path, where, raw, _ACCEPTANCE_FIELDS)
    thresholds_raw = data.get("thresholds") or {}
    if not isinstance(thresholds_raw, dict):
        raise problem(SpecError, path, f"{where}.thresholds", "must map metric names to numbers")
    thresholds = {}
    for name, value in thresholds_raw.items():
        metric = check_choice(SpecError, path, f"{where}.thresholds", name, METRICS, "metric")
        thresholds[metric] = _threshold(path, f"{where}.thresholds.{metric}", value)
    score = _text(path, f"{where}.score", data["score"]) if "score" in data else None
    if thresholds and score is None:
        raise problem(
            SpecError, path, where, "thresholds need the score column", "e.g. 'score: propensity'"
        )
    label = _label(path, f"{where}.label", data["label"], tables) if "label" in data else None
    for metric in thresholds:
        if METRICS[metric].needs == "label" and label is None:
            raise problem(
                SpecError,
                path,
                f"{where}.thresholds.{metric}",
                "needs outcomes to score against",
                "declare 'label: {table, column, keys}'",
            )
    columns_raw = data.get("columns") or {}
    if not isinstance(columns_raw, dict):
        raise problem(SpecError, path, f"{where}.columns", "must map column names to bounds")
    columns = {}
    for col, bound in columns_raw.items():
        at = f"{where}.columns.{col}"
        bound = check_fields(SpecError, path, at, bound, _BOUND_FIELDS)
        if not any(b in bound for b in BOUNDS):
            raise problem(SpecError, path, at, f"set one of {', '.join(BOUNDS)}")
        reason = bound.get("reason", "")
        if not isinstance(reason, str) or not reason.strip():
            raise problem(SpecError, path, f"{at}.reason", "say why this change is acceptable")
        values = {b: _threshold(path, f"{at}.{b}", bound[b]) for b in BOUNDS if b in bound}
        for b, v in values.items():
            if v < 0:
                raise problem(SpecError, path, f"{at}.{b}", f"must be >= 0, got {v!r}")
        columns[str(col)] = ColumnBound(**values, reason=reason.strip())
    if not thresholds and not columns:
        raise problem(
            SpecError, path, where, "declares nothing to check", "add 'thresholds' or 'columns'"
        )
    return Acceptance(
        score=score,
        bins=_count(path, f"{where}.bins", data.get("bins", DEFAULT_BINS), 2),
        top_n=_count(path, f"{where}.top_n", data["top_n"], 1) if "top_n" in data else None,
        label=label,
        thresholds=thresholds,
        columns=columns,
        description=str(data.get("description", "")),
    )


def criteria_line(acc: Acceptance) -> str:
    """The criteria in one line (``harness describe``)."""
    signs = {"max": "<=", "min": ">="}
    parts = [f"{m} {signs[METRICS[m].direction]} {t:g}" for m, t in acc.thresholds.items()]
    parts += [
        f"{col} {b} <= {v:g}"
        for col, bound in acc.columns.items()
        for b, v in bound.as_dict().items()
    ]
    where = f" of {acc.score}" if acc.score else ""
    label = f"; label {acc.label.table}.{acc.label.column}" if acc.label else ""
    return f"{', '.join(parts)}{where}{label}"
