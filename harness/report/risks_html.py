"""The report's "Migration risks" section: per model, what ``harness lint`` found.

Its own module so the page's main renderer stays readable. Per model: the open findings
(rule, file:line, expression, the output columns each feeds), the accepted ones with their
reason, the code lint could not analyse (listed, never passed silently), acceptances that
no longer match anything, and a lint error if there was one. Everything is escaped.

It stays readable at fifty findings: open findings come first, worst symptom first (the
catalogue's ``SEVERITY_ORDER``: a failed run, lost rows, NULLs... last-digit noise), each
with its symptom; a list of more than ``FEEDS_SHOWN`` fed columns is folded into a
``<details>`` whose summary names the first ones and how many more.
"""

from __future__ import annotations

from harness.catalogue import SEVERITY_ORDER, load_catalogue
from harness.report.cells import esc as _e
from harness.report.records import RiskFinding, RiskRecord

FEEDS_SHOWN = 3  # fed columns shown before the list folds

CSS = """
.risk-open { color: var(--fail); font-weight: 600; }
.risk-accepted { color: var(--pass); }
section.risks { border:1px solid var(--line); border-left: 5px solid #9a6700;
                border-radius:6px; padding: 10px 18px; margin: 14px 0; }
section.risks td.expr { max-width: 34em; overflow-wrap: anywhere; }
section.risks details.feeds summary { cursor: pointer; }
.symptom { font-size: 85%; white-space: nowrap; }
"""


def _where(f: RiskFinding) -> str:
    return f"{f.file}:{f.line}" if f.line else f.file


def _symptom(rule: str) -> str:
    found = load_catalogue().get(rule)
    return found.symptom.kind if found else ""


def _rank(f: RiskFinding) -> tuple[int, str, int]:
    """Worst symptom first, then by place; a rule the catalogue lost goes last."""
    kind = _symptom(f.rule)
    rank = SEVERITY_ORDER.index(kind) if kind in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return rank, f.file, f.line or 0


def _feeds(feeds: list[str]) -> str:
    if not feeds:
        return '<span class="muted">—</span>'
    codes = [f"<code>{_e(c)}</code>" for c in feeds]
    if len(codes) <= FEEDS_SHOWN:
        return ", ".join(codes)
    shown = ", ".join(codes[:FEEDS_SHOWN])
    return (
        f'<details class="feeds"><summary>{shown} and {len(codes) - FEEDS_SHOWN} more'
        f"</summary>{', '.join(codes[FEEDS_SHOWN:])}</details>"
    )


def _finding_row(f: RiskFinding) -> str:
    status = (
        f'<span class="risk-accepted">accepted</span>: {_e(f.accepted)}'
        if f.accepted
        else '<span class="risk-open">open</span>'
    )
    return (
        f"<tr><td><code>{_e(f.rule)}</code><br><span class='symptom muted'>"
        f"{_e(_symptom(f.rule))}</span></td><td class=mono>{_e(_where(f))}</td>"
        f"<td class='mono expr'>{_e(f.expression)}"
        f"{'<br><span class=muted>type unknown</span>' if f.type_unknown else ''}</td>"
        f"<td>{_e(f.where)}</td>"
        f"<td>{_feeds(f.feeds)}</td><td>{status}</td></tr>"
    )


def _model(risk: RiskRecord) -> str:
    parts = [
        f'<section class="risks" id="risks-{_e(risk.model)}">',
        f"<h3>{_e(risk.model)}</h3>",
    ]
    if risk.error:
        parts.append(f"<pre>{_e(risk.error)}</pre>")
    if risk.findings:
        parts.append(
            "<table><thead><tr><th>Rule<br><span class='symptom'>symptom</span></th>"
            "<th>Where</th><th>Expression</th><th>In</th>"
            "<th>Feeds</th><th>Status</th></tr></thead><tbody>"
            + "".join(
                _finding_row(f)
                for f in [*sorted(risk.open, key=_rank), *sorted(risk.accepted, key=_rank)]
            )
            + "</tbody></table>"
        )
    elif not risk.error:
        parts.append('<p class="muted">No catalogue construct found in the analysed code.</p>')
    if risk.not_analysed:
        parts.append(
            "<p><b>Not analysed</b> (review by hand):</p><ul>"
            + "".join(f"<li><code>{_e(line)}</code></li>" for line in risk.not_analysed)
            + "</ul>"
        )
    if risk.stale:
        parts.append(
            "<p><b>Accepted in the spec but matching nothing</b> (remove if the code "
            "changed):</p><ul>"
            + "".join(f"<li><code>{_e(line)}</code></li>" for line in risk.stale)
            + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def risks_section(risks: list[RiskRecord]) -> str:
    """The section: a count per model, then each model's findings; "" with no risks."""
    if not risks:
        return ""
    rows = "".join(
        f'<tr><td><a href="#risks-{_e(r.model)}">{_e(r.model)}</a></td>'
        f"<td class=num>{'—' if r.error else len(r.open)}</td>"
        f"<td class=num>{'—' if r.error else len(r.accepted)}</td>"
        f"<td class=num>{'—' if r.error else len(r.not_analysed)}</td>"
        f"<td>{'lint failed' if r.error else ''}</td></tr>"
        for r in risks
    )
    return (
        "<h2 id='risks' style='margin-top:28px'>Migration risks</h2>\n"
        '<p class="muted">What <code>harness lint</code> finds in each model\'s code: '
        "constructs whose meaning changed between Hive and Spark 4 (docs/explain.md).</p>\n"
        "<table><thead><tr><th>Model</th><th class=num>Open</th><th class=num>Accepted</th>"
        "<th class=num>Not analysed</th><th></th></tr></thead><tbody>"
        + rows
        + "</tbody></table>\n"
        + "\n".join(_model(r) for r in risks)
        + "\n"
    )
