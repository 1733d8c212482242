"""The report's view of a model's determinism check: which outputs differed between
physical plans, shown in each output's detail section (its own module to keep html.py to
the page's layout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.explain.determinism_report import DETERMINISTIC
from harness.report.cells import esc as _e
from harness.report.cells import mapping as _d
from harness.report.cells import seq as _l
from harness.report.records import ModelRecord


def _entries(model: ModelRecord, output: str) -> list[Mapping[str, Any]]:
    """The model's determinism check on this output, one entry per plan compared."""
    report = model.determinism or {}
    entries = [o for o in _l(report.get("outputs")) if isinstance(o, Mapping)]
    return [e for e in entries if e.get("output") == output]


def unsteady(model: ModelRecord, output: str) -> bool:
    """Whether the determinism check found this output to differ between plans."""
    return any(e.get("status") != DETERMINISTIC for e in _entries(model, output))


def determinism_section(model: ModelRecord, output: str) -> str:
    """This output's lines of the model's determinism check, when the run made one."""
    lines = []
    for entry in _entries(model, output):
        columns = ", ".join(map(str, _d(entry.get("columns"))))
        what = f"; columns that differ: {_e(columns)}" if columns else ""
        lines.append(f"<li>vs plan {_e(entry.get('plan'))}: {_e(entry.get('status'))}{what}</li>")
    return f"<h3>Determinism</h3><ul>{''.join(lines)}</ul>" if lines else ""
