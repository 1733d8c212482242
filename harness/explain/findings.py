"""What lint finds: one ``Finding`` per catalogue construct in a model's code, and the report.

The shapes every producer (``lint``, ``lineage``) and consumer (formats, attribution,
the nightly report) share, so none of them imports another's internals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.explain.lineage import ColumnRef, Lineage
from harness.explain.sqlsource import NotAnalysed
from harness.spec import AcceptedFinding


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
    # The rule is about a type (integers, strings...) that sqlglot could not infer here: the
    # finding stays, marked so, and counts apart in lint's totals.
    type_unknown: bool = False

    def covered_by(self, entry: AcceptedFinding, directory: Path) -> bool:
        """True when the spec's ``entry`` (its file relative to the model's ``directory``)
        names this finding: same rule, and the same file, line, column and expression where
        it says."""
        if entry.rule != self.rule:
            return False
        if (
            entry.file is not None
            and Path(directory, entry.file).resolve() != Path(self.file).resolve()
        ):
            return False
        if entry.line is not None and entry.line != self.line:
            return False
        if entry.expression is not None and " ".join(entry.expression.split()) != " ".join(
            self.expression.split()
        ):
            return False
        if entry.column is None:
            return True
        names = {self.column} if self.column else set()
        names |= {c for _, c in self.feeds} | {f"{t}.{c}" for t, c in self.feeds}
        if self.table and self.column:
            names.add(f"{self.table}.{self.column}")
        return entry.column in names


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

    @property
    def accepted_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.accepted]

    def accept(self, entries: Iterable[AcceptedFinding], directory: Path) -> list[AcceptedFinding]:
        """Mark each finding an entry covers as accepted with the entry's reason (the first
        matching entry's, in the spec's order); returns the entries that matched nothing, so
        a stale acceptance (the code changed) can be reported rather than kept forever."""
        entries = list(entries)
        used: set[int] = set()
        for i, finding in enumerate(self.findings):
            for j, entry in enumerate(entries):
                if finding.covered_by(entry, directory):
                    used.add(j)
                    if not finding.accepted:
                        self.findings[i] = replace(finding, accepted=entry.reason)
                    break
        return [e for j, e in enumerate(entries) if j not in used]
