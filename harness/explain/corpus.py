"""Lint measured on a labelled corpus: how often a finding is real, how often a real one is found.

A corpus (``tests/lint_corpus.yaml``) holds, per catalogue rule, statements where the rule's
difference truly can change a number (``applies``) and look-alikes where it cannot
(``not``), each with a one-line reason; a ``python`` or ``r`` rule's cases are a step's
code (the rule's ``language``). Each statement is linted alone, as a one-step model
over the corpus's tables, with the whole catalogue; a case counts as flagged when lint
reports the case's rule. Precision is flagged-and-applies over flagged, recall
flagged-and-applies over applies. ``tests/test_lint_corpus.py`` runs every case and
``scripts/lint_precision.py`` prints the scores (docs/explain.md quotes them).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.catalogue import Rule, load_catalogue
from harness.ddl import parse_ddl
from harness.errors import HarnessError
from harness.explain.lint import find
from harness.spec import InputSpec, ModelSpec, OutputSpec, StepSpec

LABELS = ("applies", "not")  # the difference can show / cannot


class CorpusError(HarnessError):
    """The corpus file is malformed."""


@dataclass(frozen=True)
class Case:
    rule: str
    label: str  # one of LABELS
    sql: str
    why: str
    known: str = ""  # why lint is known to get this case wrong ("" when it gets it right)

    @property
    def expected_flag(self) -> bool:
        """What lint is expected to say: the label, or its opposite for a known miss."""
        return (self.label == "applies") != bool(self.known)


@dataclass
class Corpus:
    tables: dict[str, list[tuple[str, str]]]
    cases: list[Case]


def load_corpus(path: Path) -> Corpus:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        raise CorpusError(f"{path}: expected 'tables' and 'rules' mappings")
    tables = {
        name.lower(): [(c.lower(), t) for c, t in parse_ddl(str(ddl))]
        for name, ddl in (data.get("tables") or {}).items()
    }
    cases: list[Case] = []
    for rule, labelled in data["rules"].items():
        for label in LABELS:
            for i, item in enumerate((labelled or {}).get(label) or []):
                cases.append(_case(path, f"rules.{rule}.{label}[{i}]", rule, label, item))
    return Corpus(tables, cases)


def _case(path: Path, where: str, rule: str, label: str, item: Any) -> Case:
    if isinstance(item, list) and len(item) == 2:
        return Case(rule, label, str(item[0]), str(item[1]))
    if isinstance(item, dict) and {"sql", "why"} <= set(item) <= {"sql", "why", "known"}:
        return Case(rule, label, str(item["sql"]), str(item["why"]), str(item.get("known", "")))
    raise CorpusError(f"{path}: {where}: expected [sql, why] or {{sql, why, known}}")


def lint_case(
    case: Case, tables: dict[str, list[tuple[str, str]]], catalogue: dict[str, Rule]
) -> list[str]:
    """The expressions lint flags under ``case.rule`` in the case's statements."""
    language = catalogue[case.rule].language if case.rule in catalogue else "sql"
    with tempfile.TemporaryDirectory(prefix="lint-corpus-") as tmp:
        directory = Path(tmp)
        if language == "sql":
            (directory / "case.hql").write_text(case.sql.rstrip().rstrip(";") + ";\n")
            step = StepSpec("sql", "case.hql", produces={"out": None}, name="sql")
        else:  # a python or r rule: the case is the step's code
            name = f"case.{'py' if language == 'python' else 'R'}"
            (directory / name).write_text(case.sql.rstrip() + "\n")
            step = StepSpec(language, f"{name}:run", produces={"out": None}, name=language)
        spec = ModelSpec(
            name="corpus",
            team="lint",
            description=case.why,
            directory=directory,
            steps=(step,),
            inputs={t: InputSpec(t, t, "1") for t in tables},
            outputs={"out": OutputSpec("out", ("id",))},
        )
        report = find(spec, catalogue=catalogue, schemas=tables)
    return [f.expression for f in report.findings if f.rule == case.rule]


@dataclass
class Score:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0

    def add(self, case: Case, flagged: bool) -> None:
        if case.label == "applies":
            if flagged:
                self.true_pos += 1
            else:
                self.false_neg += 1
        elif flagged:
            self.false_pos += 1
        else:
            self.true_neg += 1

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        real = self.true_pos + self.false_neg
        return self.true_pos / real if real else 1.0


def score(
    corpus: Corpus, catalogue: dict[str, Rule] | None = None
) -> tuple[Score, dict[str, Score], list[tuple[Case, bool]]]:
    """The corpus's overall score, each rule's, and each case with whether lint flagged it."""
    rules = load_catalogue() if catalogue is None else catalogue
    total = Score()
    per_rule: dict[str, Score] = {}
    outcomes: list[tuple[Case, bool]] = []
    for case in corpus.cases:
        flagged = bool(lint_case(case, corpus.tables, rules))
        total.add(case, flagged)
        per_rule.setdefault(case.rule, Score()).add(case, flagged)
        outcomes.append((case, flagged))
    return total, per_rule, outcomes


def table(total: Score, per_rule: dict[str, Score], outcomes: Iterable[tuple[Case, bool]]) -> str:
    """The scores as text: one line per rule, the misses, then the totals."""
    outcomes = list(outcomes)
    lines = [f"{'rule':32} {'TP':>3} {'FP':>3} {'FN':>3} {'TN':>3}  precision  recall"]
    for rule, s in per_rule.items():
        lines.append(
            f"{rule:32} {s.true_pos:3} {s.false_pos:3} {s.false_neg:3} {s.true_neg:3}"
            f"  {s.precision:9.0%}  {s.recall:6.0%}"
        )
    misses = [(c, f) for c, f in outcomes if f != (c.label == "applies")]
    if misses:
        lines.append("")
        lines.append("lint disagrees with the label:")
        for case, flagged in misses:
            what = "flags a look-alike" if flagged else "misses"
            lines.append(f"  {case.rule}: {what}: {case.sql}  ({case.why})")
    lines.append("")
    lines.append(
        f"{len(outcomes)} cases: {total.true_pos} TP, {total.false_pos} FP, "
        f"{total.false_neg} FN, {total.true_neg} TN; precision {total.precision:.1%}, "
        f"recall {total.recall:.1%}"
    )
    return "\n".join(lines) + "\n"
