"""``harness lint``'s findings written out: text for people, JSON for scripts, SARIF 2.1.0
for code-scanning tools (GitHub code scanning, Azure DevOps' SARIF viewers).

All three read the same ``LintReport`` list and say the same things: each finding's rule,
file:line (relative to the repository root), expression, the output columns it feeds and,
when the spec accepted it, the reason; and per model the code lint could not analyse, which
is listed, never passed silently.

SARIF choices (docs/explain.md): an accepted finding is a result with a ``suppressions``
entry of kind ``external`` (the acceptance lives in model.yaml, outside the code) whose
``justification`` is the reason, so viewers show it as suppressed, not as gone. Code not
analysed is a result of level ``note`` under the rule ``not-analysed``: GitHub code scanning
and Azure DevOps list results, while neither shows ``toolExecutionNotifications``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.catalogue import CODE_DETECTORS, Rule, load_catalogue
from harness.explain.findings import Finding, LintReport
from harness.explain.sqlsource import NotAnalysed

FORMATS = ("text", "json", "sarif")
JSON_VERSION = 1  # the JSON output's shape; bumped when a key changes meaning
NOT_ANALYSED_RULE = "not-analysed"  # the SARIF rule of code lint could not read
TOOL_NAME = "harness-lint"
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def render(
    reports: Iterable[LintReport],
    fmt: str,
    *,
    root: Path,
    catalogue: Mapping[str, Rule] | None = None,
) -> str:
    """``reports`` in ``fmt`` (one of ``FORMATS``), paths relative to ``root``."""
    reports = list(reports)
    rules = load_catalogue() if catalogue is None else catalogue
    if fmt == "text":
        return to_text(reports, root=root, catalogue=rules)
    if fmt == "json":
        return json.dumps(to_json(reports, root=root, catalogue=rules), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(reports, root=root, catalogue=rules), indent=2) + "\n"
    raise ValueError(f"unknown lint format {fmt!r}; one of {', '.join(FORMATS)}")


# ----------------------------------------------------------------------------- shared


def relative(path: Path | str, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes; as given when outside it."""
    path = Path(path)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def feeds(finding: Finding) -> list[str]:
    """The output columns the finding feeds, as ``output.column`` (a python/r step's code:
    what its tables reach, unverified: lineage stops at the step)."""
    if finding.clause in CODE_DETECTORS:
        return [f"{table}.{column}" for table, column in finding.feeds_beyond]
    return [f"{table}.{column}" for table, column in finding.feeds]


def where(finding: Finding) -> str:
    """Where in its statement the construct sits: ``table.column`` or the clause."""
    if finding.clause in CODE_DETECTORS:
        return f"{finding.clause} step {finding.step}"
    if finding.column:
        return f"{finding.table}.{finding.column}" if finding.table else finding.column
    return f"{finding.clause} clause" + (f" of {finding.table}" if finding.table else "")


def _title(rule_id: str, catalogue: Mapping[str, Rule]) -> str:
    rule = catalogue.get(rule_id)
    return rule.title if rule else rule_id


def totals(reports: Iterable[LintReport]) -> dict[str, int]:
    reports = list(reports)
    return {
        "models": len(reports),
        "open": sum(len(r.open_findings) for r in reports),
        # open findings whose rule needs a type sqlglot could not infer (in "open" too)
        "type_unknown": sum(1 for r in reports for f in r.open_findings if f.type_unknown),
        "accepted": sum(len(r.accepted_findings) for r in reports),
        "not_analysed": sum(len(r.not_analysed) for r in reports),
    }


# ------------------------------------------------------------------------------- text


def to_text(reports: list[LintReport], *, root: Path, catalogue: Mapping[str, Rule]) -> str:
    lines: list[str] = []
    for report in reports:
        n_open, n_acc = len(report.open_findings), len(report.accepted_findings)
        lines.append(
            f"{report.model}: {n_open} open, {n_acc} accepted, "
            f"{len(report.not_analysed)} not analysed"
        )
        for f in report.findings:
            mark = "accepted" if f.accepted else "WARNING "
            unknown = "  (type unknown)" if f.type_unknown else ""
            lines.append(
                f"  {mark} {f.rule}  {relative(f.file, root)}:{f.line}  {f.expression}{unknown}"
            )
            fed = ", ".join(feeds(f)) or "no output column found"
            lines.append(f"           {_title(f.rule, catalogue)}; in {where(f)}; feeds {fed}")
            if f.accepted:
                lines.append(f"           accepted: {f.accepted}")
        for na in report.not_analysed:
            at = f":{na.line}" if na.line else ""
            lines.append(f"  not analysed  {relative(na.file, root)}{at}  ({na.step}) {na.why}")
    t = totals(reports)
    unknown = f" ({t['type_unknown']} with a type unknown)" if t["type_unknown"] else ""
    lines.append(
        f"{t['open']} open{unknown}, {t['accepted']} accepted, {t['not_analysed']} not analysed "
        f"in {t['models']} model(s)"
    )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- JSON


def _finding_json(f: Finding, root: Path, catalogue: Mapping[str, Rule]) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "title": _title(f.rule, catalogue),
        "step": f.step,
        "file": relative(f.file, root),
        "line": f.line,
        "expression": f.expression,
        "table": f.table,
        "column": f.column,
        "clause": f.clause,
        "feeds": feeds(f),
        "type_unknown": f.type_unknown,
        "accepted": f.accepted or None,
    }


def _not_analysed_json(na: NotAnalysed, root: Path) -> dict[str, Any]:
    return {"step": na.step, "file": relative(na.file, root), "line": na.line, "why": na.why}


def to_json(
    reports: list[LintReport], *, root: Path, catalogue: Mapping[str, Rule]
) -> dict[str, Any]:
    """The JSON document (keys documented in docs/explain.md)."""
    return {
        "version": JSON_VERSION,
        "totals": totals(reports),
        "models": [
            {
                "model": r.model,
                "open": len(r.open_findings),
                "accepted": len(r.accepted_findings),
                "findings": [_finding_json(f, root, catalogue) for f in r.findings],
                "not_analysed": [_not_analysed_json(na, root) for na in r.not_analysed],
            }
            for r in reports
        ],
    }


# ------------------------------------------------------------------------------ SARIF


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    help_lines = [f"Fix: {rule.fix}"]
    if rule.legacy_conf:
        conf = ", ".join(f"{k}={v}" for k, v in rule.legacy_conf.items())
        help_lines.append(f"Legacy behaviour (to confirm a difference): {conf}")
    help_lines.append(f"Reference: {rule.reference}")
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.differs} (since {rule.since})"},
        "help": {"text": "\n".join(help_lines), "markdown": "\n\n".join(help_lines)},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["migration", "hive-to-spark", rule.symptom.kind]},
    }
    if rule.reference.startswith(("http://", "https://")):
        entry["helpUri"] = rule.reference
    return entry


_NOT_ANALYSED_SARIF_RULE: dict[str, Any] = {
    "id": NOT_ANALYSED_RULE,
    "name": "NotAnalysed",
    "shortDescription": {"text": "code harness lint cannot analyse"},
    "fullDescription": {
        "text": "R code, Python DataFrame code and SQL built at run time are not checked "
        "against the catalogue: review them by hand for Hive-to-Spark differences."
    },
    "help": {"text": "Review this code by hand against the catalogue (docs/catalogue.md)."},
    "defaultConfiguration": {"level": "note"},
    "properties": {"tags": ["migration", "not-analysed"]},
}


def _location(path: Path, line: int | None, root: Path, model: str, step: str) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": relative(path, root), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line or 1},
        },
        "logicalLocations": [{"name": step, "fullyQualifiedName": f"{model}/{step}"}],
    }


def _fingerprint(*parts: object) -> str:
    """Stable across line moves: what the finding is, not where it moved to."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def _finding_result(
    report: LintReport, f: Finding, index: int, root: Path, catalogue: Mapping[str, Rule]
) -> dict[str, Any]:
    fed = ", ".join(feeds(f)) or "no output column found"
    text = (
        f"{_title(f.rule, catalogue)}: `{f.expression}` in {where(f)} "
        f"({report.model}, step {f.step}) feeds {fed}."
    )
    rule = catalogue.get(f.rule)
    if rule:
        text += f" Fix: {rule.fix}"
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": "warning",
        "message": {"text": text},
        "locations": [_location(f.file, f.line, root, report.model, f.step)],
        "partialFingerprints": {
            "harnessLint/v1": _fingerprint(
                report.model, f.rule, relative(f.file, root), f.expression, f.table, f.column
            )
        },
        "properties": {
            "model": report.model,
            "expression": f.expression,
            "table": f.table,
            "column": f.column,
            "clause": f.clause,
            "feeds": feeds(f),
            "typeUnknown": f.type_unknown,
        },
    }
    if f.accepted:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": f.accepted}
        ]
    return result


def _not_analysed_result(
    report: LintReport, na: NotAnalysed, index: int, root: Path
) -> dict[str, Any]:
    return {
        "ruleId": NOT_ANALYSED_RULE,
        "ruleIndex": index,
        "level": "note",
        "message": {"text": f"{na.why} ({report.model}, step {na.step})"},
        "locations": [_location(na.file, na.line, root, report.model, na.step)],
        "partialFingerprints": {
            "harnessLint/v1": _fingerprint(report.model, relative(na.file, root), na.why)
        },
        "properties": {"model": report.model},
    }


def to_sarif(
    reports: list[LintReport], *, root: Path, catalogue: Mapping[str, Rule]
) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run; every catalogue rule is in ``tool.driver.rules``
    (viewers show a rule's help beside its results), then ``not-analysed``."""
    rules = [_sarif_rule(rule) for rule in catalogue.values()]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    for report in reports:  # a rule the catalogue lost still gets an entry
        for f in report.findings:
            if f.rule not in index:
                index[f.rule] = len(rules)
                rules.append({"id": f.rule, "shortDescription": {"text": f.rule}})
    index[NOT_ANALYSED_RULE] = len(rules)
    rules.append(_NOT_ANALYSED_SARIF_RULE)
    results = []
    for report in reports:
        for f in report.findings:
            results.append(_finding_result(report, f, index[f.rule], root, catalogue))
        for na in report.not_analysed:
            results.append(_not_analysed_result(report, na, index[NOT_ANALYSED_RULE], root))
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "fullName": "harness lint: Hive-to-Spark migration risks",
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"{TOOL_NAME}/"},
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }
