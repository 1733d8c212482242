"""What a determinism check found: per output, the columns and keys that differ between two
runs of a model, a verdict, and the report as text and JSON.

The shapes apart from the check that fills them (``determinism``), as ``findings`` is for
lint: the CLI, the pytest item and the suspects (lint findings on a column's lineage) read
these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.explain.attribute import lint_report  # cached per spec; no Spark
from harness.explain.findings import Finding
from harness.spec import ModelSpec

# What a check concludes of an output, best first. "within tolerance": the runs differ only
# in numbers, by less than the output's own tolerances (floating sums added in another
# order), so no golden comparison can fail on it; reported, but not a failure.
DETERMINISTIC = "deterministic"
WITHIN_TOLERANCE = "within tolerance"
NONDETERMINISTIC = "nondeterministic"
STATUSES = (DETERMINISTIC, WITHIN_TOLERANCE, NONDETERMINISTIC)
LINEAGE_MISSING = "no suspects: the model's code could not be analysed (see the log)"


@dataclass
class ColumnDiff:
    """A column whose values differ between the two runs (rows matched by key)."""

    column: str
    rows: int
    max_abs_diff: Any = None
    max_rel_diff: Any = None
    examples: list[dict[str, Any]] = field(default_factory=list)  # key, reference, other
    suspects: list[Finding] = field(default_factory=list)  # lint findings on its lineage

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "examples": self.examples,
            "suspects": [_finding_dict(f) for f in self.suspects],
        }


@dataclass
class OutputDeterminism:
    """One output of the model: the reference run against one other plan's run."""

    output: str
    plan: str
    rows: tuple[int, int]  # (reference run, other run)
    columns: list[ColumnDiff]
    only_reference: int  # keys in the reference run only
    only_other: int
    duplicates: tuple[int, int]  # duplicated keys in (reference run, other run)
    key_examples: list[dict[str, Any]]  # {"in": which run, "key": {column: value}}
    schema: list[str]  # schema differences (a run that changes its own schema)
    within_tolerance: bool = False  # the differences pass the output's own tolerances
    # Findings in a clause (WHERE, window, join...) that shape this output's rows: the
    # suspects when its row set differs.
    row_suspects: list[Finding] = field(default_factory=list)

    @property
    def row_set_differs(self) -> bool:
        return bool(self.only_reference or self.only_other or any(self.duplicates))

    @property
    def status(self) -> str:
        if not (self.columns or self.row_set_differs or self.schema):
            return DETERMINISTIC
        return WITHIN_TOLERANCE if self.within_tolerance else NONDETERMINISTIC

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "plan": self.plan,
            "status": self.status,
            "rows": {"reference": self.rows[0], "other": self.rows[1]},
            "columns": {c.column: c.to_dict() for c in self.columns},
            "keys_only_in_reference": self.only_reference,
            "keys_only_in_other": self.only_other,
            "duplicate_keys": {"reference": self.duplicates[0], "other": self.duplicates[1]},
            "key_examples": self.key_examples,
            "row_suspects": [_finding_dict(f) for f in self.row_suspects],
            "schema": self.schema,
        }

    def lines(self, max_examples: int) -> list[str]:
        head = f"[{self.output}] vs {self.plan}:"
        if self.status == DETERMINISTIC:
            return [f"{head} deterministic ({self.rows[0]:,} rows)"]
        rows = f"{self.rows[0]:,} vs {self.rows[1]:,} rows"
        lines = [f"{head} {self.status.upper()} ({rows})"]
        if self.status == WITHIN_TOLERANCE:
            lines[0] += ": differences within the output's tolerances, no parity failure"
        lines += [f"    schema: {s}" for s in self.schema]
        if self.row_set_differs:
            lines.append(
                f"    row set differs: {self.only_reference:,} keys only in the reference run, "
                f"{self.only_other:,} only in the {self.plan} run; duplicated keys "
                f"{self.duplicates[0]:,} / {self.duplicates[1]:,}"
            )
            shown: dict[str, int] = {}
            for k in self.key_examples:
                shown[k["in"]] = shown.get(k["in"], 0) + 1
                if shown[k["in"]] <= max_examples:
                    lines.append(f"      e.g. {_short(k['key'])} ({k['in']})")
            lines += [f"      suspect: {_finding_line(f)}" for f in self.row_suspects]
        for c in sorted(self.columns, key=lambda c: -c.rows):
            diff = f", max rel diff {c.max_rel_diff:.3g}" if _is_number(c.max_rel_diff) else ""
            lines.append(f"    {c.column}: {c.rows:,} rows differ{diff}")
            for ex in c.examples[:max_examples]:
                lines.append(
                    f"      e.g. {_short(ex.get('key'))}: {_short(ex.get('expected'))} "
                    f"-> {_short(ex.get('actual'))}"
                )
            lines += [f"      suspect: {_finding_line(f)}" for f in c.suspects]
        return lines


@dataclass
class DeterminismReport:
    model: str
    dataset: str
    platform: str
    reference: str  # the reference plan, described
    variants: list[str]  # the plans compared with it, described
    outputs: list[OutputDeterminism]
    seconds: dict[str, float]  # plan name -> run time
    suspects_note: str = ""  # why no suspects are named ("" when lineage ran)

    @property
    def status(self) -> str:
        """The worst of the outputs' statuses."""
        return max((o.status for o in self.outputs), key=STATUSES.index, default=DETERMINISTIC)

    @property
    def failed(self) -> bool:
        return self.status == NONDETERMINISTIC

    def nondeterministic_columns(self) -> dict[str, list[str]]:
        """Each nondeterministic output (any plan) -> its columns that differ; [] when only
        its row set does. What attribution asks before blaming the migration for a column."""
        found: dict[str, list[str]] = {}
        for o in self.outputs:
            if o.status == NONDETERMINISTIC:
                names = found.setdefault(o.output, [])
                names += [c.column for c in o.columns if c.column not in names]
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "platform": self.platform,
            "status": self.status,
            "reference": self.reference,
            "variants": self.variants,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "suspects_note": self.suspects_note,
            "outputs": [o.to_dict() for o in self.outputs],
        }

    def text(self, max_examples: int = 3) -> str:
        lines = [
            f"{self.model} on {self.dataset} ({self.platform} platform): {self.status.upper()}",
            f"  reference: {self.reference}",
        ]
        lines += [f"  against:   {p}" for p in self.variants]
        for o in self.outputs:
            lines += o.lines(max_examples)
        if self.suspects_note and self.status != DETERMINISTIC:
            lines.append(f"  suspects: {self.suspects_note}")
        return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _finding_line(f: Finding) -> str:
    return f"{f.rule} at {f.file.name}:{f.line}: {f.expression}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "file": str(f.file), "line": f.line, "expression": f.expression}


# --------------------------------------------------------------------------- suspects


def add_suspects(spec: ModelSpec, outputs: list[OutputDeterminism]) -> str:
    """Fill each differing column's ``suspects`` with the lint findings on its lineage path
    (``Finding.feeds``: the output columns a finding reaches); returns why none could be
    named ("" when lint ran)."""
    if all(o.status == DETERMINISTIC for o in outputs):
        return ""
    report = lint_report(spec)
    if report is None:
        return LINEAGE_MISSING
    findings = report.findings
    for o in outputs:
        for c in o.columns:
            c.suspects = [f for f in findings if _reaches(f, o.output, c.column)]
        if o.row_set_differs:
            o.row_suspects = [  # constructs outside a plain select item shape the rows
                f
                for f in findings
                if (f.column is None or f.clause != "select") and _reaches(f, o.output, None)
            ]
    return ""


def _reaches(finding: Finding, output: str, column: str | None) -> bool:
    """Whether ``finding`` feeds ``output``'s ``column`` (any column when None), through SQL
    or beyond a python/r step."""
    return any(
        table == output and (column is None or col in (column, "*"))
        for table, col in (*finding.feeds, *finding.feeds_beyond)
    )
