"""Lint of Python and R steps: the catalogue's ``python`` and ``r`` rules over a step's code.

SQL rules are matched in parsed statements (:mod:`harness.explain.lint`); a Python step's
own code (its DataFrame API calls, its pandas) and an R step's code are matched here, on
their own syntax trees (:mod:`harness.explain.pysource`, :mod:`harness.explain.rsource`).
Each finding names the step's file and line and the construct's text; the code of a step
shapes every table it produces, so its ``feeds_beyond`` are the outputs' columns reached
from the step's tables (lineage: "through a python/r step", unverified), which is what
attribution follows for a failing column or a failed run. A file that cannot be parsed is
"not analysed", with the parser's reason.
"""

from __future__ import annotations

from harness.catalogue import Rule
from harness.errors import HarnessError
from harness.explain.findings import Finding
from harness.explain.lineage import ColumnRef, Lineage
from harness.explain.pysource import CodeHit, parse_python, python_hits
from harness.explain.rsource import RParseError, parse_r, r_hits
from harness.explain.sqlsource import NotAnalysed
from harness.spec import ModelSpec, StepSpec


def code_findings(
    spec: ModelSpec, rules: dict[str, Rule], lineage: Lineage | None
) -> tuple[list[Finding], list[NotAnalysed]]:
    """The ``python``/``r`` rules' constructs in ``spec``'s python and r steps, and the
    steps whose code could not be parsed."""
    findings: list[Finding] = []
    skipped: list[NotAnalysed] = []
    for step in spec.steps:
        if step.kind not in ("python", "r"):
            continue
        wanted = [r for r in rules.values() if step.kind in r.detect]
        if not wanted:
            continue
        name = step.name or step.file
        path = spec.directory / step.file
        try:
            source = path.read_text()
        except OSError:
            continue  # sqlsource already lists an unreadable file
        try:
            hits = _hits(step, source, str(path), wanted)
        except SyntaxError:
            continue  # sqlsource lists a Python file that does not parse
        except RParseError as exc:
            skipped.append(NotAnalysed(name, path, None, f"cannot parse: {exc}"))
            continue
        except HarnessError as exc:  # R not installed: say so, lint the rest
            skipped.append(NotAnalysed(name, path, None, f"R code not analysed: {exc}"))
            continue
        beyond = _feeds(lineage, name, step)
        for rule, hit in hits:
            findings.append(
                Finding(
                    rule=rule.id,
                    step=name,
                    file=path,
                    line=hit.line,
                    expression=hit.text,
                    table=next(iter(step.produces), None),
                    column=None,  # a step's code shapes every column it produces
                    clause=step.kind,
                    feeds_beyond=beyond,
                )
            )
    return findings, skipped


def _hits(
    step: StepSpec, source: str, filename: str, rules: list[Rule]
) -> list[tuple[Rule, CodeHit]]:
    out: list[tuple[Rule, CodeHit]] = []
    if step.kind == "python":
        py = parse_python(source, filename)
        for rule in rules:
            out += [(rule, h) for h in python_hits(py, list(rule.detect["python"]))]
    else:
        parsed = parse_r(source)
        for rule in rules:
            out += [(rule, h) for h in r_hits(parsed, list(rule.detect["r"]))]
    return out


def _feeds(lineage: Lineage | None, name: str, step: StepSpec) -> tuple[ColumnRef, ...]:
    """The outputs' columns reached from what the step produces (its own, if outputs)."""
    if lineage is None:
        return tuple((t.lower(), "*") for t in step.produces)
    stop = next((key for key, s in lineage.stops.items() if s.step == name), None)
    if stop is None:
        return ()
    verified, beyond = lineage.downstream((stop, None))
    return tuple(sorted(lineage.output_columns(verified | beyond)))
