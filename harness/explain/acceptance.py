"""A model's lint report with its spec's ``accepted:`` entries applied.

The one way ``harness lint`` and the run report's "migration risks" lint a model, so both
mark the same findings accepted and flag the same stale acceptances (an ``accepted:`` entry
that no longer matches anything, because the code changed). Reads files only: no Spark.
"""

from __future__ import annotations

from harness.explain.findings import LintReport
from harness.spec import AcceptedFinding, ModelSpec


def lint_model(spec: ModelSpec) -> tuple[LintReport, list[AcceptedFinding]]:
    """``spec``'s lint report with its ``accepted:`` entries applied, and the entries that
    matched no finding."""
    from harness.explain.lint import find  # the detection core (sqlglot), loaded on first use

    report = find(spec)
    stale = report.accept(spec.accepted, spec.directory)
    return report, stale


def describe_acceptance(entry: AcceptedFinding) -> str:
    """An ``accepted:`` entry in one line: ``rule file:line column``."""
    at = f"{entry.file or ''}{f':{entry.line}' if entry.line else ''}"
    return " ".join(p for p in (entry.rule, at, entry.column or "") if p)
