"""The review page of a proposed golden (``review.html``): what a modeler and an approver read
before ``harness approve``.

Per output: strict parity, what changed at zero tolerance, the acceptance metrics with
their thresholds and verdicts, the score distributions of both versions overlaid, the lift
and calibration charts per bin and the per-column bounds. Self-contained like the nightly
report (inline CSS and SVG, a Content-Security-Policy that allows no script; every value
escaped), so it renders offline and can be attached to the change request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.report.cells import esc, fmt_g, mapping, num, seq

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
th { background: #f6f8fa; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.muted { color: #57606a; } .charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #57606a; }
"""
_GOLDEN = "#0969da"
_CANDIDATE = "#bf3989"
_W, _H, _PAD = 420, 220, 36


def _tr(*cells: str, head: str = "") -> str:
    """One table row of already escaped cells (``head``: a header cell first)."""
    first = f"<th>{head}</th>" if head else ""
    return "<tr>" + first + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _dashed(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#8c959f" '
        'stroke-dasharray="4 3"/>'
    )


def _verdict(passed: Any) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _n(value: Any) -> str:
    number = num(value)
    return "n/a" if number is None else esc(fmt_g(number, 4))


def _count(value: Any) -> str:
    number = num(value)
    return "n/a" if number is None else f"{number:,.0f}"


def _legend() -> str:
    return (
        f'<p class="muted"><span style="color:{_GOLDEN}">&#9632; golden (in force)</span> '
        f'&nbsp; <span style="color:{_CANDIDATE}">&#9632; candidate</span></p>'
    )


def _frame(body: str, caption: str, x_label: str, y_label: str, css: str) -> str:
    return (
        f'<figure class="{css}"><figcaption>{esc(caption)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{esc(caption)}">'
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - 8}" y2="{_H - _PAD}" stroke="#8c959f"/>'
        f'<line x1="{_PAD}" y1="8" x2="{_PAD}" y2="{_H - _PAD}" stroke="#8c959f"/>'
        f'<text x="{_W // 2}" y="{_H - 6}" text-anchor="middle">{esc(x_label)}</text>'
        f'<text x="10" y="{_H // 2}" transform="rotate(-90 10 {_H // 2})" '
        f'text-anchor="middle">{esc(y_label)}</text>{body}</svg></figure>'
    )


def _x(i: float, n: int) -> float:
    return _PAD + (_W - 8 - _PAD) * i / max(n, 1)


def _y(value: float, top: float) -> float:
    return _H - _PAD - (_H - _PAD - 8) * (value / top if top > 0 else 0.0)


def distribution_chart(histogram: Mapping[str, Any]) -> str:
    """Both versions' score histograms (shares per equal-width bin) as overlaid steps."""
    sides = {s: [num(v) or 0.0 for v in seq(histogram.get(s))] for s in ("golden", "candidate")}
    n = max(len(sides["golden"]), len(sides["candidate"]))
    if not n:
        return ""
    shares = {s: [v / (sum(vals) or 1.0) for v in vals] for s, vals in sides.items()}
    top = max([*shares["golden"], *shares["candidate"], 1e-12])
    body = ""
    for side, colour in (("golden", _GOLDEN), ("candidate", _CANDIDATE)):
        points = []
        for i, share in enumerate(shares[side]):
            points += [
                f"{_x(i, n):.1f},{_y(share, top):.1f}",
                f"{_x(i + 1, n):.1f},{_y(share, top):.1f}",
            ]
        body += (
            f'<polyline class="series-{side}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"/>'
        )
    lo, hi = num(histogram.get("lo")), num(histogram.get("hi"))
    body += f'<text x="{_PAD}" y="{_H - _PAD + 14}">{_n(lo)}</text>'
    body += f'<text x="{_W - 8}" y="{_H - _PAD + 14}" text-anchor="end">{_n(hi)}</text>'
    return _frame(body, "Score distribution", "score", "share of rows", "chart-distribution")


def _bars(rows: Mapping[str, Sequence[Any]], field: str) -> tuple[str, int, float]:
    n = max((len(seq(v)) for v in rows.values()), default=0)
    values = [num(mapping(b).get(field)) or 0.0 for v in rows.values() for b in seq(v)]
    top = max([*values, 1e-12]) * 1.1
    body = ""
    for k, (side, colour) in enumerate((("golden", _GOLDEN), ("candidate", _CANDIDATE))):
        for i, b in enumerate(seq(rows.get(side))):
            value = num(mapping(b).get(field)) or 0.0
            x = _x(i + 0.1 + 0.4 * k, n)
            width = _x(0.4, n) - _PAD
            y = _y(value, top)
            body += (
                f'<rect class="bar-{side}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{_H - _PAD - y:.1f}" fill="{colour}"><title>bin {i + 1}: '
                f"{esc(fmt_g(value, 4))}</title></rect>"
            )
    return body, n, top


def lift_chart(discrimination: Mapping[str, Any]) -> str:
    """Lift per bin (positive rate over the overall rate), lowest scores first, both versions."""
    rows = {s: seq(mapping(discrimination.get(s)).get("bins")) for s in ("golden", "candidate")}
    body, n, top = _bars(rows, "lift")
    if not n:
        return ""
    body += _dashed(_PAD, _y(1.0, top), _W - 8, _y(1.0, top))
    return _frame(body, "Lift per score bin", "score bin (low to high)", "lift", "chart-lift")


def calibration_chart(discrimination: Mapping[str, Any]) -> str:
    """Mean predicted score against observed rate per bin, both versions, and the diagonal."""
    points = {
        s: [
            (num(mapping(b).get("mean_score")) or 0.0, num(mapping(b).get("rate")) or 0.0)
            for b in seq(mapping(discrimination.get(s)).get("bins"))
        ]
        for s in ("golden", "candidate")
    }
    values = [v for pts in points.values() for p in pts for v in p]
    if not values:
        return ""
    top = max([*values, 1e-12]) * 1.05

    def at(x: float, y: float) -> str:
        px = _PAD + (_W - 8 - _PAD) * x / top
        return f"{px:.1f},{_y(y, top):.1f}"

    body = _dashed(_PAD, _y(0.0, top), _W - 8, _y(top, top))
    for side, colour in (("golden", _GOLDEN), ("candidate", _CANDIDATE)):
        body += (
            f'<polyline class="series-{side}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(at(x, y) for x, y in points[side])}"/>'
        )
        for x, y in points[side]:
            px, py = at(x, y).split(",")
            body += f'<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>'
    return _frame(
        body, "Calibration per score bin", "mean predicted", "observed rate", "chart-calibration"
    )


def _metrics_table(acceptance: Mapping[str, Any]) -> str:
    rows = "".join(
        _tr(
            esc(m.get("metric")),
            _n(m.get("value")),
            ("&le; " if m.get("direction") == "max" else "&ge; ") + _n(m.get("threshold")),
            _verdict(m.get("passed")),
            esc(m.get("means")),
        )
        for m in map(mapping, seq(acceptance.get("metrics")))
    )
    for c in map(mapping, seq(acceptance.get("columns"))):
        for name, seen in c.items():
            if isinstance(seen, Mapping):
                rows += _tr(
                    f"{esc(c.get('column'))}: {esc(name)}",
                    _n(seen.get("value")),
                    "&le; " + _n(seen.get("limit")),
                    _verdict(seen.get("passed")),
                    esc(c.get("reason")),
                )
        if not c.get("present", True):
            rows += _tr(esc(c.get("column")), "not in the candidate", "", _verdict(False), "")
    return (
        '<table class="metrics"><tr><th>metric</th><th>value</th><th>threshold</th>'
        f"<th>verdict</th><th>what it measures</th></tr>{rows}</table>"
    )


def _discrimination_table(disc: Mapping[str, Any]) -> str:
    fields = ("auc", "gini", "capture", "calibration_gap")
    rows = "".join(
        _tr(
            side,
            *(_n(mapping(disc.get(side)).get(f)) for f in fields),
            *(_count(mapping(disc.get(side)).get(f)) for f in ("rows", "positives")),
        )
        for side in ("golden", "candidate")
    )
    heads = ("version", "AUC", "Gini", "top-bin capture", "calibration gap", "labelled rows")
    return (
        f"<p>Against <code>{esc(disc.get('label'))}</code>:</p><table class='discrimination'>"
        f"<tr>{''.join(f'<th>{h}</th>' for h in heads)}<th>positives</th></tr>{rows}</table>"
    )


def _output(name: str, o: Mapping[str, Any]) -> str:
    parity = mapping(o.get("parity"))
    out = f'<section class="output" id="{esc(name)}"><h2>{esc(name)}</h2>'
    failing = ", ".join(map(str, seq(parity.get("failing_columns"))))
    out += (
        f"<p>Strict parity with the golden in force ({esc(o.get('golden'))}): "
        f"{_verdict(parity.get('passed'))}{' — columns ' + esc(failing) if failing else ''}</p>"
    )
    lines = "".join(f"<li>{esc(line)}</li>" for line in seq(o.get("change_lines")))
    out += f"<h3>What changed (zero tolerance)</h3><ul class='changes'>{lines}</ul>"
    acc = mapping(o.get("acceptance"))
    if not acc:
        return out + "<p class='muted'>No acceptance criteria declared.</p></section>"
    out += f"<h3>Acceptance: {_verdict(acc.get('passed'))}</h3>{_metrics_table(acc)}"
    score = mapping(acc.get("score"))
    agree = mapping(score.get("agreement"))
    if score:
        out += (
            f"<p>Score <code>{esc(score.get('column'))}</code>: {esc(agree.get('matched'))} keys "
            f"matched; top N = {esc(agree.get('top_n'))}; PSI over {esc(score.get('bins'))} bins "
            "fixed from the golden.</p>"
        )
    disc = mapping(acc.get("discrimination"))
    if disc:
        out += _discrimination_table(disc)
    charts = distribution_chart(mapping(score.get("histogram"))) if score else ""
    if disc:
        charts += lift_chart(disc) + calibration_chart(disc)
    if charts:
        out += _legend() + f'<div class="charts">{charts}</div>'
    return out + "</section>"


def render_review(review: Mapping[str, Any]) -> str:
    """The review page of one proposal (``review.json``'s content)."""
    outputs = mapping(review.get("outputs"))
    declared = [mapping(o.get("acceptance")) for o in map(mapping, outputs.values())]
    passed = all(a.get("passed") for a in declared if a)
    verdict = "ACCEPTANCE PASSED" if passed else "ACCEPTANCE FAILED"
    title = f"{review.get('model')} {review.get('version')}: {verdict}"
    head = (
        f"<h1>{esc(title)}</h1><table>"
        + _tr(esc(review.get("model")), head="model")
        + _tr(esc(review.get("dataset")), head="dataset")
        + _tr(esc(review.get("version")), head="candidate")
        + _tr(esc(review.get("reason")), head="reason")
        + _tr(
            f"{esc(review.get('proposed_at'))} by {esc(review.get('proposed_by'))}", head="proposed"
        )
        + "</table><p class='muted'>Approve: <code>harness approve "
        f"{esc(review.get('model'))} --dataset {esc(review.get('dataset'))} --candidate "
        f"{esc(review.get('version'))} --by NAME</code></p>"
    )
    body = head + "".join(_output(str(n), mapping(o)) for n, o in outputs.items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def write_review_html(review: Mapping[str, Any], path: Path) -> Path:
    path.write_text(render_review(review), encoding="utf-8")
    return path
