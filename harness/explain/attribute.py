"""Why an output differs: each failing column's likely causes, ranked by evidence.

Replaces the old regular-expression hints. A cause is a lint finding (a catalogue
construct at file:line) and it is only ever proposed for a column on the finding's lineage
path: a column that does not derive from a construct is never blamed on it. Candidates
are ranked by

1. lineage: the construct feeds the column through SQL (verified), or only through a
   python/r step where lineage stops (possible, marked "unverified");
2. the numbers: the column's differences match the rule's symptom (a relative drift in
   the rule's band, NULL vs value, whole-hour shifts, whole vs fractional numbers,
   changed row sets...);
3. the legacy platform: whether it emulates the rule (the golden then has Hive's
   behaviour, so the construct explains a difference; if not, a difference is less likely
   to come from it).

The hints that need no code (:mod:`harness.explain.numeric`) follow the causes. A run
that fails with a Spark error is explained the same way by :func:`explain_error`: the
findings of the failing statement whose rule's Spark 4 error it is.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from harness.catalogue import Rule, emulation, legacy_profile, load_catalogue
from harness.explain.findings import Finding, LintReport
from harness.explain.numeric import FP_NOISE, integral, number, numeric_hints
from harness.spec import ModelSpec
from harness.sqltext import statements

log = logging.getLogger(__name__)

MAX_CAUSES = 3  # per column: the report stays readable
_LINEAGE, _BEYOND, _SYMPTOM, _WEAK, _EMULATED = 8, 2, 4, 1, 1  # evidence weights


@dataclass(frozen=True)
class Cause:
    """One ranked, evidenced cause of a failing column (``column`` None: the row set)."""

    column: str | None
    rank: int
    rule: str
    title: str
    file: Path
    line: int
    expression: str
    evidence: tuple[str, ...]
    setting: str  # the legacy setting to try, "" when none exists
    fix: str
    unverified: bool  # reached only through a python/r step
    accepted: str = ""

    def text(self) -> str:
        where = f"{self.column}" if self.column else "rows (keys)"
        parts = [
            f"{where} #{self.rank}: {self.rule} ({self.title}) at "
            f"{self.file.name}:{self.line} `{self.expression}`",
            "; ".join(self.evidence),
        ]
        if self.accepted:
            parts.append(f"accepted in the spec: {self.accepted}")
        if self.setting:
            parts.append(f"legacy setting to try: {self.setting}")
        parts.append(f"fix: {self.fix}")
        return " — ".join(parts)


# ------------------------------------------------------------------------------ evidence


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def _shift_seconds(samples: list[dict[str, Any]]) -> list[float]:
    shifts = []
    for sample in samples:
        expected, actual = _when(sample.get("expected")), _when(sample.get("actual"))
        if expected is not None and actual is not None:
            shifts.append((actual - expected).total_seconds())
    return shifts


def symptom_evidence(
    rule: Rule, name: str, column: dict[str, Any], result: dict[str, Any]
) -> tuple[int, str]:
    """How well a column's numbers match ``rule``'s symptom: (weight, what was seen)."""
    kind = rule.symptom.kind
    rel = number(column.get("max_rel_diff"))
    samples = result.get("samples", {}).get(name, [])
    nulls = column.get("null_mismatches") or 0
    if kind == "relative-drift" and rel is not None:
        low, high = rule.symptom.min_rel or 0.0, rule.symptom.max_rel or math.inf
        if low <= rel <= high:
            return _SYMPTOM, f"max rel diff {rel:.1e} is in the rule's drift band"
        return 0, f"max rel diff {rel:.1e} is outside the rule's band [{low:.0e}, {high:.0e}]"
    if kind == "fp-noise" and rel is not None:
        if 0 < rel < FP_NOISE:
            return _SYMPTOM, f"max rel diff {rel:.1e} is floating-point noise"
        return 0, f"max rel diff {rel:.1e} is more than floating-point noise"
    if kind == "null-vs-value":
        if nulls:
            return _SYMPTOM, f"{nulls:,} rows are NULL on one side only"
        return 0, "no NULL-vs-value rows"
    if kind in ("hour-shift", "day-shift"):
        unit = 3600 if kind == "hour-shift" else 86400
        shifts = _shift_seconds(samples)
        if shifts and all(s and s % unit == 0 for s in shifts):
            return _SYMPTOM, f"values shift by whole {'hours' if unit == 3600 else 'days'}"
        return 0, ""
    if kind == "integral-vs-fraction":
        pairs = [s for s in samples if s.get("actual") is not None]
        if pairs and all(integral(s.get("expected")) != integral(s.get("actual")) for s in pairs):
            return _SYMPTOM, "whole numbers on one side, fractions on the other"
        return 0, ""
    if kind == "row-set":
        keys = (result.get("missing_keys") or {}).get("count", 0) + (
            result.get("extra_keys") or {}
        ).get("count", 0)
        if keys:
            return _SYMPTOM, f"{keys:,} keys are missing or extra"
        return _WEAK, ""
    if kind == "order":
        if str(column.get("type", "")).startswith("array"):
            return _SYMPTOM, "an array column differs"
        return 0, ""
    if kind == "type-change":
        if column.get("type") != column.get("actual_type"):
            return _SYMPTOM, f"type {column.get('type')} became {column.get('actual_type')}"
        return 0, ""
    if kind == "value-change" and column.get("mismatches"):
        return _WEAK, ""
    return 0, ""


def legacy_setting(rule: Rule) -> str:
    """What restores the legacy behaviour: a Spark setting, a Hive UDF to register, or R code
    run before the step."""
    parts = [f"{k}={v}" for k, v in rule.legacy_conf.items()]
    parts += [
        f"Hive's {cls.rsplit('.', 1)[-1]} as hive_{fn} (legacy.functions: {{{fn}: {cls}}})"
        for fn, cls in rule.hive_udfs.items()
    ]
    if rule.legacy_r:
        parts.append(f"{rule.legacy_r} before the R step")
    return "; ".join(parts)


def emulated_here(rule: Rule, spec: ModelSpec | None) -> bool:
    """Whether this project's legacy platform reproduces Hive's behaviour for ``rule``
    (its goldens then show the difference the rule describes)."""
    profile = legacy_profile()
    if spec is not None:
        profile = profile.overridden(spec.legacy_conf, spec.legacy_functions, spec.legacy_r)
    emulated, _ = emulation(profile.conf, profile.functions, {rule.id: rule}, r=profile.r)
    return bool(emulated)


# ------------------------------------------------------------------------------- ranking


def _rank(
    column: str | None,
    candidates: list[tuple[Finding, bool]],
    evidence_of,
    rules: dict[str, Rule],
    spec: ModelSpec | None,
) -> list[Cause]:
    scored = []
    for finding, unverified in candidates:
        rule = rules.get(finding.rule)
        if rule is None:
            continue
        evidence = [
            "beyond a python/r step, unverified"
            if unverified
            else f"on its lineage ({_via(finding)})"
        ]
        score = _BEYOND if unverified else _LINEAGE
        weight, seen = evidence_of(rule)
        score += weight
        if seen:
            evidence.append(seen)
        if emulated_here(rule, spec):
            score += _EMULATED
            evidence.append("the legacy platform emulates it")
        else:
            evidence.append("not emulated on the legacy platform")
        scored.append((-score, str(finding.file), finding.line, finding, rule, evidence))
    scored.sort(key=lambda s: s[:3])
    causes = []
    for rank, (_, _, _, finding, rule, evidence) in enumerate(scored[:MAX_CAUSES], start=1):
        causes.append(
            Cause(
                column,
                rank,
                rule.id,
                rule.title,
                finding.file,
                finding.line,
                finding.expression,
                tuple(evidence),
                legacy_setting(rule),
                rule.fix,
                any(f is finding and u for f, u in candidates),
                finding.accepted,
            )
        )
    return causes


def _via(finding: Finding) -> str:
    if finding.column is None:
        return f"the {finding.clause} clause of {finding.table or 'a query'}"
    return f"{finding.table or 'a query'}.{finding.column}"


def _on_path(report: LintReport, output: str, column: str) -> list[tuple[Finding, bool]]:
    ref, anything = (output.lower(), column.lower()), (output.lower(), "*")
    found = []
    for finding in report.findings:
        if ref in finding.feeds:
            found.append((finding, False))
        elif ref in finding.feeds_beyond or anything in finding.feeds_beyond:
            found.append((finding, True))
    return found


def attribute(
    result: dict[str, Any],
    spec: ModelSpec | None,
    output: str,
    report: LintReport | None = None,
    catalogue: dict[str, Rule] | None = None,
) -> list[Cause]:
    """The ranked causes of each failing column of ``result`` (a ``CompareResult.to_dict()``
    of ``output``), and of missing or extra keys (``column`` None)."""
    if spec is None:
        return []
    report = report if report is not None else lint_report(spec)
    if report is None:
        return []
    rules = catalogue if catalogue is not None else load_catalogue()
    causes: list[Cause] = []
    columns = result.get("columns", {})
    for name in _failing(result):
        column = columns.get(name, {})
        candidates = _on_path(report, output, name)
        causes += _rank(
            name,
            candidates,
            lambda rule, n=name, c=column: symptom_evidence(rule, n, c, result),
            rules,
            spec,
        )
    keys_differ = (result.get("missing_keys") or {}).get("count") or (
        result.get("extra_keys") or {}
    ).get("count")
    if keys_differ:
        seen: dict[int, tuple[Finding, bool]] = {}
        for key in result.get("keys", []):
            for finding, unverified in _on_path(report, output, key):
                seen.setdefault(id(finding), (finding, unverified))
        causes += _rank(
            None,
            list(seen.values()),
            lambda rule: symptom_evidence(rule, "", {}, result),
            rules,
            spec,
        )
    return causes


def _failing(result: dict[str, Any]) -> list[str]:
    failing = result.get("failing_columns")
    if failing is not None:
        return list(failing)
    return [n for n, c in result.get("columns", {}).items() if c.get("mismatches")]


_REPORTS: dict[int, tuple[ModelSpec, LintReport | None]] = {}


def lint_report(spec: ModelSpec) -> LintReport | None:
    """``lint.find(spec)``, once per spec object; None (logged) when the model's code
    cannot be read: attribution then falls back to the hints that need no code."""
    cached = _REPORTS.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    from harness.explain.lint import find

    report: LintReport | None
    try:
        report = find(spec)
    except Exception as exc:  # attribution must never hide the comparison it explains
        log.warning("cannot analyse model %s for attribution: %s", spec.name, exc)
        report = None
    _REPORTS[id(spec)] = (spec, report)
    return report


# ------------------------------------------------------------------- hints (the report)


def hints(
    result: dict[str, Any],
    spec: ModelSpec | None = None,
    output: str | None = None,
    report: LintReport | None = None,
) -> list[str]:
    """What the failure report prints under "why it may differ": the ranked causes of each
    failing column (when the model's code and output are known), where lineage stops, then
    the hints that need no code."""
    out: list[str] = []
    causes = attribute(result, spec, output, report) if spec and output else []
    blamed = {c.column for c in causes}
    out += [c.text() for c in causes]
    if spec is not None and output is not None:
        report = report if report is not None else lint_report(spec)
        out += _stops(result, output, report, blamed)
    out += numeric_hints(result)
    if not any(c.column is None for c in causes):
        missing = (result.get("missing_keys") or {}).get("count")
        extra = (result.get("extra_keys") or {}).get("count")
        if missing or extra:
            out.append(
                "keys differ and no catalogue construct feeds the key columns: check the "
                "inputs and the filters on dirty values (NULL/'N/A')"
            )
    return out


def _stops(
    result: dict[str, Any], output: str, report: LintReport | None, blamed: set[str | None]
) -> list[str]:
    if report is None or report.lineage is None:
        return []
    lines = []
    for name in _failing(result):
        _real, _beyond, stops = report.lineage.sources(output, name)
        if stops:
            lines.append(f"{name}: {'; '.join(s.describe() for s in stops)}")
        elif name not in blamed and report.lineage.node(output, name) is not None:
            lines.append(f"{name}: no catalogue construct on its lineage")
    return lines


# ----------------------------------------------------------------------- failed runs

_STATEMENT = re.compile(r"^(?P<file>.+?): statement (?P<n>\d+) failed")
_PRODUCING = re.compile(r"failed producing '(?P<output>[^']+)'")


def _in_statement(findings: list[Finding], path: Path, n: int) -> list[Finding]:
    """The findings inside statement ``n`` (1-based, as the runner counts) of ``path``."""
    try:
        found = statements(path.read_text())
    except OSError:
        return []
    if not 0 < n <= len(found):
        return []
    start, end = found[n - 1].line, found[n].line if n < len(found) else math.inf
    return [f for f in findings if f.file.resolve() == path.resolve() and start <= f.line < end]


def explain_error(spec: ModelSpec, message: str, report: LintReport | None = None) -> list[Cause]:
    """The findings that can raise the Spark error in ``message`` (a failed model run):
    rules whose Spark 4 error (their demo's ``spark.error``) the message carries, found in
    the statement, the output or the file the message names (never anywhere else)."""
    report = report if report is not None else lint_report(spec)
    if report is None:
        return []
    rules = load_catalogue()
    raising = {
        rid
        for rid, rule in rules.items()
        if isinstance(rule.demo.get("spark"), dict)
        and str(rule.demo["spark"].get("error", "")).strip()
        and str(rule.demo["spark"]["error"]).strip() in message
    }
    candidates = [f for f in report.findings if f.rule in raising]
    match = _STATEMENT.match(message)
    producing = _PRODUCING.search(message)
    if match:
        candidates = _in_statement(candidates, Path(match["file"]), int(match["n"]))
    elif producing:  # a view evaluated when the output is written: what feeds that output
        output = producing["output"].lower()
        candidates = [
            f for f in candidates if any(t == output for t, _ in (*f.feeds, *f.feeds_beyond))
        ]
    else:  # a python step's spark.sql: only findings of the file the message names
        candidates = [f for f in candidates if str(f.file) in message]
    return _rank(
        None,
        [(f, False) for f in candidates],
        lambda rule: (_SYMPTOM, "the run fails with the rule's Spark 4 error"),
        rules,
        spec,
    )


def with_error_causes(spec: ModelSpec, message: str) -> str:
    """``message`` with its most likely cause appended (one line), if one is found."""
    try:
        causes = explain_error(spec, message)
    except Exception as exc:  # never hide the original error
        log.warning("cannot explain the error of model %s: %s", spec.name, exc)
        return message
    if not causes:
        return message
    top = causes[0]
    more = (
        f" (or {', '.join(f'{c.file.name}:{c.line}' for c in causes[1:])})"
        if len(causes) > 1
        else ""
    )
    setting = f"; legacy setting: {top.setting}" if top.setting else ""
    return (
        f"{message} — likely cause: {top.rule} at {top.file.name}:{top.line} "
        f"`{top.expression}`{more}{setting}; fix: {top.fix}"
    )
