"""What lint finds: one ``Finding`` per catalogue construct in a model's code, and the report.

The shapes every producer (``lint``, ``lineage``) and consumer (formats, attribution,
the nightly report) share, so none of them imports another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.explain.sqlsource import NotAnalysed

if TYPE_CHECKING:  # lineage imports ColumnRef from here
    from harness.explain.lineage import Lineage

ColumnRef = tuple[str, str]  # (table or output, column)


@dataclass(frozen=True)
class Finding:
    rule: str  # catalogue rule id
    step: str  # the step's name
    file: Path
    line: int
    expression: str  # the construct as SQL text (Hive dialect), shortened
    table: str | None  # the table or view its statement creates; None for a bare query
    # The column of ``table`` whose expression holds the construct; None when it sits in a
    # clause (WHERE, JOIN, GROUP BY, a window's ORDER BY...) and so shapes every column.
    column: str | None
    clause: str  # where in the statement: select, where, join, group, having, order, window
    accepted: str = ""  # the spec's reason for accepting it; "" when not accepted
    feeds: tuple[ColumnRef, ...] = ()  # the model outputs' columns it reaches (lineage)
    # Outputs' columns it reaches only through a python/r step, where lineage stops: a
    # possible cause there, unverified. Column "*": every column of an undeclared output.
    feeds_beyond: tuple[ColumnRef, ...] = ()


@dataclass
class LintReport:
    model: str
    findings: list[Finding] = field(default_factory=list)
    not_analysed: list[NotAnalysed] = field(default_factory=list)
    lineage: Lineage | None = field(default=None, repr=False, compare=False)  # from find()

    @property
    def open_findings(self) -> list[Finding]:
        """The findings no accepted entry covers: what lint warns about."""
        return [f for f in self.findings if not f.accepted]
