"""A model's lint report with its spec's ``accepted:`` entries applied, and new ones written.

The one way ``harness lint`` and the run report's "migration risks" lint a model, so both
mark the same findings accepted and flag the same stale acceptances (an ``accepted:`` entry
that no longer matches anything, because the code changed). ``harness lint MODEL --accept
RULE@FILE:LINE --reason ...`` writes the entry for one open finding: its rule, file,
expression (and column), not its line, so the acceptance follows the code when lines above
it move and goes stale when the expression changes. The spec is edited with ruamel.yaml's
round trip, which keeps the file's comments and layout (PyYAML would drop them). Reads
files only: no Spark.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import SpecError
from harness.explain.findings import Finding, LintReport
from harness.spec import AcceptedFinding, ModelSpec, load_spec

_TARGET = re.compile(r"(?P<rule>[a-z0-9-]+)@(?P<file>.+):(?P<line>[0-9]+)")


def lint_model(spec: ModelSpec) -> tuple[LintReport, list[AcceptedFinding]]:
    """``spec``'s lint report with its ``accepted:`` entries applied, and the entries that
    matched no finding."""
    from harness.explain.lint import find  # the detection core (sqlglot), loaded on first use

    report = find(spec)
    stale = report.accept(spec.accepted, spec.directory)
    return report, stale


def describe_acceptance(entry: AcceptedFinding) -> str:
    """An ``accepted:`` entry in one line: ``rule file:line column `expression```."""
    at = f"{entry.file or ''}{f':{entry.line}' if entry.line else ''}"
    expression = f"`{entry.expression}`" if entry.expression else ""
    return " ".join(p for p in (entry.rule, at, entry.column or "", expression) if p)


def _same_file(finding: Finding, name: str, spec: ModelSpec, root: Path) -> bool:
    path = Path(finding.file).resolve()
    candidates = [spec.directory / name, root / name, Path(name)]
    return any(c.resolve() == path for c in candidates)


def find_target(spec: ModelSpec, target: str, root: Path) -> Finding:
    """The open finding ``RULE@FILE:LINE`` names (FILE relative to the model's folder or
    the project root, as lint prints it)."""
    match = _TARGET.fullmatch(target.strip())
    if match is None:
        raise SpecError(
            f"--accept {target!r}: expected RULE@FILE:LINE, e.g. "
            "percentile-approx@premium_bands.hql:27 (as harness lint prints it)"
        )
    rule, name, line = match["rule"], match["file"], int(match["line"])
    report, _ = lint_model(spec)
    found = [
        f
        for f in report.findings
        if f.rule == rule and f.line == line and _same_file(f, name, spec, root)
    ]
    open_ = [f for f in found if not f.accepted]
    if not open_:
        listed = ", ".join(f"{f.rule}@{Path(f.file).name}:{f.line}" for f in report.open_findings)
        why = "it is already accepted" if found else f"open findings: {listed or 'none'}"
        raise SpecError(
            f"{spec.spec_path}: no open finding {target} in model '{spec.name}' ({why})"
        )
    return open_[0]


def accept(spec: ModelSpec, target: str, reason: str, root: Path) -> AcceptedFinding:
    """Append an ``accepted:`` entry for the open finding ``target`` to the spec's
    model.yaml (comments and layout kept); the spec is validated again before the write
    is kept. Returns the entry written."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not reason.strip():
        raise SpecError("--accept needs --reason: say why the finding is accepted")
    finding = find_target(spec, target, root)
    entry = AcceptedFinding(
        rule=finding.rule,
        reason=reason.strip(),
        file=Path(finding.file).resolve().relative_to(spec.directory.resolve()).as_posix(),
        column=finding.column if finding.column else None,
        expression=finding.expression,
    )
    yaml = YAML()  # round trip: comments, order and flow styles stay as written
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the specs' "  - item" style
    yaml.preserve_quotes = True
    path = spec.spec_path
    before = path.read_text()
    data = yaml.load(before)
    item = CommentedMap()
    for key in ("rule", "file", "column", "expression", "reason"):
        value = getattr(entry, key)
        if value is not None:
            item[key] = value
    item.fa.set_flow_style()
    accepted = data.get("accepted")
    if accepted is None:
        accepted = CommentedSeq()
        data["accepted"] = accepted
    accepted.append(item)
    with path.open("w") as out:
        yaml.dump(data, out)
    try:
        load_spec(path.parent)
    except Exception:
        path.write_text(before)  # never leave a spec the harness cannot read
        raise
    return entry
