"""The run report's "migration risks": each model's lint report as ``RiskRecord``s.

The models are linted the one way ``harness lint`` lints them
(:func:`harness.explain.acceptance.lint_model`), so the report and the command mark the
same findings accepted and flag the same stale acceptances. Lint reads files only: no Spark.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.errors import HarnessError, first_line
from harness.explain.acceptance import describe_acceptance, lint_model
from harness.explain.findings import LintReport
from harness.explain.formats import feeds, relative, where
from harness.report.records import RiskFinding, RiskRecord
from harness.spec import AcceptedFinding, load_spec


def risk_record(report: LintReport, root: Path, stale: Iterable[AcceptedFinding]) -> RiskRecord:
    """The report's view of one model's lint report, paths relative to ``root``."""
    return RiskRecord(
        report.model,
        [
            RiskFinding(
                f.rule,
                relative(f.file, root),
                f.line,
                f.expression,
                where(f),
                feeds(f),
                f.accepted,
                f.type_unknown,
            )
            for f in report.findings
        ],
        [
            f"{relative(na.file, root)}{f':{na.line}' if na.line else ''}: {na.why} "
            f"(step {na.step})"
            for na in report.not_analysed
        ],
        [describe_acceptance(e) for e in stale],
    )


def migration_risks(names: Iterable[str], suites: Path, root: Path) -> list[RiskRecord]:
    """The risks of each named model (``suites/<name>/model.yaml``) for the nightly report.
    A model whose spec or lint fails gets a record with the error, shown in the report, so
    one broken model never hides the others' risks."""
    records = []
    for name in names:
        try:
            report, stale = lint_model(load_spec(suites / name))
        except HarnessError as exc:
            records.append(RiskRecord(name, error=str(exc)))
        except Exception as exc:  # a lint bug: shown in the report, not lost
            why = f"lint failed: {type(exc).__name__}: {first_line(exc)}"
            records.append(RiskRecord(name, error=why))
        else:
            records.append(risk_record(report, root, stale))
    return records
