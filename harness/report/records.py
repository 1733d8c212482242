"""Typed run records: the one definition of the run summary's shape (``summary.json``).

The pytest plugin and the CLI fill a ``ModelRecord`` per model x dataset as the run goes;
``RunSummary.to_dict()`` is ``summary.json``; every renderer reads these records, and
``from_dict`` reads a summary back (forgivingly: a field that is absent or of the wrong
type takes its default, so a partial or hand-edited summary still renders). Statuses are
derived from what actually ran, never assumed: a model whose outputs were not compared is
"not checked", not "passed".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.golden.provenance import golden_source
from harness.report.cells import num

if TYPE_CHECKING:  # only for type hints: records never import the layers that fill them
    from harness.outcomes import ModelRun, OutputComparison

PASSED, FAILED, ERROR, PARTIAL, NOT_CHECKED = "passed", "failed", "error", "partial", "not checked"
OUTPUT_STATUSES = (PASSED, FAILED, ERROR, NOT_CHECKED)
MODEL_STATUSES = (PASSED, PARTIAL, FAILED, ERROR, NOT_CHECKED)


# ------------------------------------------------------------------ forgiving coercions


def _finite(value: Any) -> float | None:
    x = num(value)
    return x if x is not None and math.isfinite(x) else None


def _int(value: Any) -> int | None:
    x = _finite(value)
    return int(x) if x is not None else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _lines(value: Any) -> list[str]:
    return [str(v) for v in value if v] if isinstance(value, (list, tuple)) else []


def _counts(value: Any) -> dict[str, int]:
    return {k: n for k, v in _mapping(value).items() if (n := _int(v)) is not None}


# --------------------------------------------------------------------- derived facts


def failing_columns(comparison: Mapping[str, Any] | None) -> list[str]:
    """The failing columns of a ``CompareResult.to_dict()``: the list the comparison itself
    made (``CompareResult.failing_columns``), or for a dict without one (an older summary)
    the same rule read from its columns: mismatches, or types that cannot be compared. In
    the comparison's column order; anything malformed counts as not failing."""
    if isinstance(comparison, Mapping) and isinstance(comparison.get("failing_columns"), list):
        return [str(name) for name in comparison["failing_columns"]]
    columns = comparison.get("columns") if isinstance(comparison, Mapping) else None
    if not isinstance(columns, Mapping):
        return []
    return [
        str(name)
        for name, col in columns.items()
        if isinstance(col, Mapping)
        and ((num(col.get("mismatches")) or 0) > 0 or col.get("kind") == "incomparable")
    ]


def model_status(error: str | None, output_statuses: Iterable[str]) -> str:
    """A model's status from what ran: "error" if the model or an output could not be
    checked, else "failed" if an output differs, else "passed" when every output was
    compared, "partial" when some were, "not checked" when none was (e.g. ``-k inputs``)."""
    statuses = list(output_statuses)
    if error or ERROR in statuses:
        return ERROR
    if FAILED in statuses:
        return FAILED
    compared = [s for s in statuses if s != NOT_CHECKED]
    if not compared:
        return NOT_CHECKED
    if len(compared) < len(statuses) or any(s != PASSED for s in compared):
        return PARTIAL
    return PASSED


def verdict(statuses: Iterable[str]) -> str:
    """The verdict over output statuses: FAILED on any failure or error, PASSED when every
    one passed, INCOMPLETE when some were not checked (or there are none)."""
    statuses = list(statuses)
    if any(s in (FAILED, ERROR) for s in statuses):
        return "FAILED"
    if statuses and all(s == PASSED for s in statuses):
        return "PASSED"
    return "INCOMPLETE"


# --------------------------------------------------------------------------- records


@dataclass
class OutputRecord:
    """One output of one model run: compared with its golden, or why not."""

    output: str
    status: str = NOT_CHECKED  # passed | failed | error | not checked
    compare_seconds: float | None = None
    rows: int | None = None
    error: str | None = None
    comparison: dict[str, Any] | None = None  # CompareResult.to_dict()
    # Where the golden it was compared with came from (golden.provenance.golden_source):
    # {kind: emulated | imported | refreshed, version, ..., detail}.
    golden_source: dict[str, Any] | None = None

    @property
    def failing_columns(self) -> list[str]:
        return failing_columns(self.comparison)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "status": self.status,
            "compare_seconds": self.compare_seconds,
            "rows": self.rows,
            "error": self.error,
            "comparison": self.comparison,
            "golden_source": self.golden_source,
        }

    @classmethod
    def from_dict(cls, data: Any) -> OutputRecord:
        data = _mapping(data)
        comparison = data.get("comparison")
        comparison = dict(comparison) if isinstance(comparison, Mapping) else None
        error = _text(data.get("error")) or None
        status = _text(data.get("status"))
        if not status or not status.strip():
            passed = (comparison or {}).get("passed")
            status = (
                ERROR
                if error
                else PASSED
                if passed is True
                else FAILED
                if passed is False
                else NOT_CHECKED
            )
        rows = _int(data.get("rows"))
        if rows is None and comparison is not None:
            rows = _int(_mapping(comparison.get("rows")).get("actual"))
        source = data.get("golden_source")
        return cls(
            _text(data.get("output")) or "",
            status.strip().lower(),
            _finite(data.get("compare_seconds")),
            rows,
            error,
            comparison,
            dict(source) if isinstance(source, Mapping) else None,
        )


@dataclass
class ModelRecord:
    """One model on one dataset: the run (inputs, times, fingerprint) and each output.

    ``outputs`` lists every output the spec declares, in its order, so an output that was
    not compared shows as "not checked". ``fingerprint_changes`` is per model (a run has one
    fingerprint): what changed since its goldens were made, the union over the compared
    outputs' goldens (normally one list, as a model's goldens are written together); None
    when no golden was read.
    """

    model: str
    dataset: str
    outputs: list[OutputRecord] = field(default_factory=list)
    run_seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # outcomes.PHASES and R's split
    # Peak memory (MB, the process's resident set) of each R step run on the driver: what
    # sizes the driver (docs/cluster.md, "Sizing the driver").
    r_peak_mb: dict[str, float] = field(default_factory=dict)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    engine: dict[str, str] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    fingerprint_changes: list[str] | None = None
    data_quality: list[str] = field(default_factory=list)  # failed warn-severity input checks
    notes: list[str] = field(default_factory=list)  # what the runner adapted (skipped SETs...)
    step_output: dict[str, str] = field(default_factory=dict)  # step -> what it printed
    # The determinism check's report (DeterminismReport.to_dict()) when a run asked for it.
    determinism: dict[str, Any] | None = None
    # The fault (a lost Spark session) after which the model was run again, once.
    retried_after: str | None = None
    # Set on a record a resumed run took over from the run it resumes (that run's start):
    # the model passed there and its bundle fingerprint has not changed since.
    carried_over: str | None = None

    @classmethod
    def start(cls, model: str, dataset: str, outputs: Iterable[str]) -> ModelRecord:
        return cls(model, dataset, [OutputRecord(o) for o in outputs])

    @property
    def status(self) -> str:
        return model_status(self.error, (o.status for o in self.outputs))

    def output(self, name: str) -> OutputRecord:
        for out in self.outputs:
            if out.output == name:
                return out
        self.outputs.append(OutputRecord(name))
        return self.outputs[-1]

    def record_run(self, run: ModelRun, engine: Mapping[str, str]) -> None:
        """What the model run produced (before any comparison)."""
        self.run_seconds = round(run.run_seconds, 3)
        self.timings = {k: round(v, 3) for k, v in run.timings.items()}
        self.r_peak_mb = {k: round(v, 1) for k, v in run.r_peak_mb.items()}
        self.rows_in, self.rows_out = dict(run.rows_in), dict(run.rows_out)
        self.engine = dict(engine)
        self.fingerprint = run.fingerprint
        self.data_quality = [c.line() for c in run.checks if not c.ok]
        self.notes = list(run.notes)
        self.step_output = dict(run.step_output)

    def record_comparison(self, compared: OutputComparison) -> None:
        """One output compared with its golden."""
        out = self.output(compared.output)
        out.status = PASSED if compared.passed else FAILED
        out.compare_seconds = round(compared.compare_seconds, 3)
        out.rows = compared.comparison.rows_actual
        out.comparison = compared.comparison.to_dict()
        out.golden_source = golden_source(compared.golden_manifest)
        out.error = None
        known = self.fingerprint_changes or []
        new = [c for c in compared.fingerprint_changes if c not in known]
        self.fingerprint_changes = known + new

    def record_error(self, error: str, output: str | None = None) -> None:
        """The model (``output`` None) or one output could not be run or compared."""
        if output is None:
            self.error = error
        else:
            out = self.output(output)
            out.status, out.error = ERROR, error

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "status": self.status,
            "run_seconds": self.run_seconds,
            "timings": self.timings,
            "r_peak_mb": self.r_peak_mb,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "error": self.error,
            "engine": self.engine,
            "fingerprint": self.fingerprint,
            "fingerprint_changes": self.fingerprint_changes,
            "data_quality": self.data_quality,
            "notes": self.notes,
            "step_output": self.step_output,
            "determinism": self.determinism,
            "retried_after": self.retried_after,
            "carried_over": self.carried_over,
            "outputs": [o.to_dict() for o in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelRecord:
        data = _mapping(data)
        outputs = data.get("outputs")
        changes = data.get("fingerprint_changes")
        fingerprint = data.get("fingerprint")
        determinism = data.get("determinism")
        return cls(
            model=_text(data.get("model")) or "",
            dataset=_text(data.get("dataset")) or "",
            outputs=[OutputRecord.from_dict(o) for o in outputs]
            if isinstance(outputs, (list, tuple))
            else [],
            run_seconds=_finite(data.get("run_seconds")),
            timings={
                str(k): f
                for k, v in _mapping(data.get("timings")).items()
                if (f := _finite(v)) is not None
            },
            r_peak_mb={
                str(k): f
                for k, v in _mapping(data.get("r_peak_mb")).items()
                if (f := _finite(v)) is not None
            },
            rows_in=_counts(data.get("rows_in")),
            rows_out=_counts(data.get("rows_out")),
            error=_text(data.get("error")) or None,
            engine={k: str(v) for k, v in _mapping(data.get("engine")).items()},
            fingerprint=dict(fingerprint) if isinstance(fingerprint, Mapping) else None,
            fingerprint_changes=_lines(changes) if isinstance(changes, (list, tuple)) else None,
            data_quality=_lines(data.get("data_quality")),
            notes=_lines(data.get("notes")),
            step_output={
                str(k): v
                for k, v in _mapping(data.get("step_output")).items()
                if isinstance(v, str)
            },
            determinism=dict(determinism) if isinstance(determinism, Mapping) else None,
            retried_after=_text(data.get("retried_after")) or None,
            carried_over=_text(data.get("carried_over")) or None,
        )


@dataclass
class RiskFinding:
    """One ``harness lint`` finding in a model's code, as the report shows it."""

    rule: str
    file: str  # relative to the repository root
    line: int | None
    expression: str
    where: str  # "table.column" the construct sits in, or "<clause> clause of table"
    feeds: list[str] = field(default_factory=list)  # output columns it reaches: output.column
    accepted: str = ""  # the spec's reason; "" when open
    type_unknown: bool = False  # the rule needs a type lint could not infer here

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "expression": self.expression,
            "where": self.where,
            "feeds": self.feeds,
            "accepted": self.accepted or None,
            "type_unknown": self.type_unknown,
        }

    @classmethod
    def from_dict(cls, data: Any) -> RiskFinding:
        data = _mapping(data)
        return cls(
            _text(data.get("rule")) or "",
            _text(data.get("file")) or "",
            _int(data.get("line")),
            _text(data.get("expression")) or "",
            _text(data.get("where")) or "",
            _lines(data.get("feeds")),
            _text(data.get("accepted")) or "",
            data.get("type_unknown") is True,
        )


@dataclass
class RiskRecord:
    """A model's migration risks: what ``harness lint`` finds in its code (per model, not
    per dataset), the findings its spec accepted, the code lint could not analyse, the
    acceptances that matched nothing (stale), or why lint failed."""

    model: str
    findings: list[RiskFinding] = field(default_factory=list)
    not_analysed: list[str] = field(default_factory=list)  # "file[:line]: why (step s)"
    stale: list[str] = field(default_factory=list)  # spec acceptances that matched nothing
    error: str | None = None

    @property
    def open(self) -> list[RiskFinding]:
        return [f for f in self.findings if not f.accepted]

    @property
    def accepted(self) -> list[RiskFinding]:
        return [f for f in self.findings if f.accepted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "open": len(self.open),
            "accepted": len(self.accepted),
            "findings": [f.to_dict() for f in self.findings],
            "not_analysed": self.not_analysed,
            "stale_acceptances": self.stale,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Any) -> RiskRecord:
        data = _mapping(data)
        findings = data.get("findings")
        return cls(
            _text(data.get("model")) or "",
            [RiskFinding.from_dict(f) for f in findings]
            if isinstance(findings, (list, tuple))
            else [],
            _lines(data.get("not_analysed")),
            _lines(data.get("stale_acceptances")),
            _text(data.get("error")) or None,
        )


@dataclass
class RunRecord:
    """The run header: when, on which backend and datasets, with which engines."""

    started: str | None = None  # ISO 8601, UTC
    finished: str | None = None
    seconds: float | None = None
    backend: str | None = None
    datasets: list[str] = field(default_factory=list)
    engine: dict[str, str] = field(default_factory=dict)  # with R's version if R steps ran

    def to_dict(
        self, counts: Mapping[str, int] | None = None, verdict: str | None = None
    ) -> dict[str, Any]:
        return {
            "verdict": verdict,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            "backend": self.backend,
            "dataset": ",".join(self.datasets),
            "engine": self.engine,
            "counts": dict(counts or {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        data = _mapping(data)
        datasets = _text(data.get("dataset")) or ""
        return cls(
            _text(data.get("started")),
            _text(data.get("finished")),
            _finite(data.get("seconds")),
            _text(data.get("backend")),
            [d for d in datasets.split(",") if d],
            {k: str(v) for k, v in _mapping(data.get("engine")).items()},
        )


@dataclass
class RunSummary:
    """``summary.json``: the run header, one record per model x dataset, and the migration
    risks (``harness lint``) of each model, per model."""

    run: RunRecord
    models: list[ModelRecord]
    risks: list[RiskRecord] = field(default_factory=list)

    @property
    def output_statuses(self) -> list[str]:
        return [o.status for m in self.models for o in m.outputs]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self.output_statuses:
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def verdict(self) -> str:
        """Over every output, and every model that erred as a whole (a crashed worker, a
        model that could not run): a model error is never hidden by its outputs' passes."""
        erred = [ERROR for m in self.models if m.error]
        return verdict([*self.output_statuses, *erred])

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(self.counts, self.verdict),
            "models": [m.to_dict() for m in self.models],
            "risks": [r.to_dict() for r in self.risks],
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunSummary:
        data = _mapping(data)
        models = data.get("models")
        risks = data.get("risks")
        return cls(
            RunRecord.from_dict(data.get("run")),
            [ModelRecord.from_dict(m) for m in models] if isinstance(models, (list, tuple)) else [],
            [RiskRecord.from_dict(r) for r in risks] if isinstance(risks, (list, tuple)) else [],
        )


def run_engine(
    models: Iterable[ModelRecord], engine: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The run's engine line: the versions every model recorded (R's among them when an R
    step ran), then the controller's own (``engine``), which win on a conflict."""
    merged: dict[str, str] = {}
    for model in models:
        for name, version in model.engine.items():
            merged.setdefault(name, version)
    merged.update(engine or {})
    return merged
