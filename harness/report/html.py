"""Self-contained HTML parity report: what a data engineer opens after a nightly run.

The page has inline CSS and an inline SVG chart, and no scripts or external URLs, because
the machines that run and view it are offline. Everything that comes from the summary or
from the data (model names, keys, sample values, error messages) goes through ``cells.esc``
(``html.escape`` with ``quote=True``); a Content-Security-Policy that allows no scripts is a
second safety net.

The renderer reads the typed run records (``harness.report.records``) and, inside them,
``CompareResult.to_dict()`` (docs/ARCHITECTURE.md). A summary given as a dict is read with
``RunSummary.from_dict``, and every comparison field is optional: a partial summary (a model
that crashed before producing outputs, an output with an error and no comparison) still
renders.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.report.cells import esc as _e
from harness.report.cells import fmt_g as _fmt_g
from harness.report.cells import mapping as _d
from harness.report.cells import num as _num
from harness.report.cells import seq as _l
from harness.report.chart import chart as _chart
from harness.report.determinism_html import determinism_section, unsteady
from harness.report.golden_html import CSS as _GOLDEN_CSS
from harness.report.golden_html import driver_memory_section, golden_cell
from harness.report.records import (
    ERROR,
    FAILED,
    NOT_CHECKED,
    PASSED,
    ModelRecord,
    OutputRecord,
    RunSummary,
    failing_columns,
    verdict,
)
from harness.report.risks_html import CSS as _RISKS_CSS
from harness.report.risks_html import risks_section

__all__ = ["render_html", "write_html"]

_STATUSES = (PASSED, FAILED, ERROR)
_DETAIL_STATUSES = (FAILED, ERROR)
_MAX_VALUE_CHARS = 300  # long sample values (free text, JSON blobs) are cut to keep rows readable

# No scripts, no network: a mis-escaped value could still not run or phone home.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { --pass:#1a7f37; --pass-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9;
        --err:#8250df; --err-bg:#fbefff; --muted:#57606a; --line:#d0d7de; --head:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color:#1f2328;
       margin: 0; padding: 24px 32px 64px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 18px 0 6px; color:#1f2328; text-transform: uppercase;
     letter-spacing: .04em; }
a { color:#0969da; text-decoration: none; } a:hover { text-decoration: underline; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                   font-size: 12.5px; }
pre { background:#fff8f8; border:1px solid #ffcecb; border-radius:6px; padding:10px 12px;
      white-space: pre-wrap; word-break: break-word; margin: 4px 0; max-height: 320px;
      overflow:auto; }
.verdict { display:inline-block; font-weight:700; padding:2px 10px; border-radius:6px;
           margin-left: 8px; font-size: 15px; vertical-align: 2px; }
.meta { display:grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 18px;
        color: var(--muted); }
.meta dt { font-weight: 600; } .meta dd { margin: 0; color:#1f2328; }
.meta code { background: var(--head); padding: 0 5px; border-radius: 4px; margin-right: 6px; }
.counts span { margin-right: 14px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
.badge { display:inline-block; min-width: 58px; text-align:center; font-weight:600; font-size:12px;
         padding: 1px 8px; border-radius: 10px; border:1px solid transparent; }
.s-passed { color: var(--pass); background: var(--pass-bg); border-color:#aceebb; }
.s-failed { color: var(--fail); background: var(--fail-bg); border-color:#ffcecb; }
.s-error  { color: var(--err);  background: var(--err-bg);  border-color:#e8d0ff; }
.s-not-checked, .s-partial { color: #9a6700; background: #fff8c5; border-color: #eac54f; }
.s-other  { color: var(--muted); background: var(--head); border-color: var(--line); }
section.detail { border:1px solid var(--line); border-left: 5px solid var(--fail);
                 border-radius:6px; padding: 14px 18px; margin: 22px 0; }
section.detail.error { border-left-color: var(--err); }
section.detail:target { box-shadow: 0 0 0 3px #54aeff66; }
.muted { color: var(--muted); } .null { color: var(--muted); font-style: italic; }
.note { color: var(--muted); font-size: 85%; max-width: 28em; }
.top { float:right; font-size: 12px; }
ul { margin: 4px 0; padding-left: 22px; }
.keys code { background: var(--head); padding: 0 4px; border-radius: 4px; margin-right: 6px; }
svg text { font: 11px -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; fill:#1f2328; }
svg .axis { stroke: #d0d7de; } svg .tick { fill: var(--muted); }
"""


# ---------------------------------------------------------------------------------------------
# small, forgiving accessors: any field may be absent, None or of the wrong type


def _fmt_secs(value: Any) -> str:
    x = _num(value)
    return "—" if x is None or not math.isfinite(x) else f"{x:.2f}"


def _fmt_int(value: Any) -> str:
    x = _num(value)
    if x is None or not math.isfinite(x):
        return "—"
    return f"{int(x):,}" if x == int(x) else f"{x:,}"


def _badge(status: str) -> str:
    known = (*_STATUSES, NOT_CHECKED, "partial")
    cls = f"s-{status.replace(' ', '-')}" if status in known else "s-other"
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _fmt_key(key: Any) -> str:
    """A key dict as ``col=value, ...`` (escaped), so composite keys read naturally."""
    if isinstance(key, Mapping):
        return ", ".join(f"{_e(k)}={_fmt_value(v)}" for k, v in key.items()) or "—"
    return _fmt_value(key)


def _fmt_value(value: Any) -> str:
    """A sample value, escaped; null is shown distinctly from the string 'None'."""
    if value is None:
        return '<span class="null">null</span>'
    text = repr(value) if isinstance(value, float) else str(value)
    if len(text) > _MAX_VALUE_CHARS:
        return f'<span title="{_e(text)}">{_e(text[:_MAX_VALUE_CHARS])}…</span>'
    return _e(text)


def _slug(text: str, index: int) -> str:
    """A unique, attribute-safe anchor id; the index keeps ids unique whatever the names."""
    return f"out-{index}-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "x")


# ---------------------------------------------------------------------------------------------
# summary-level facts


def _rows_of(summary: RunSummary) -> list[dict[str, Any]]:
    """One entry per model × dataset × output; a model without outputs still gets a row."""
    rows: list[dict[str, Any]] = []
    for model in summary.models:
        outputs = model.outputs
        placeholder = not outputs
        if placeholder:
            outputs = [OutputRecord("", model.status, error=model.error)]
        for j, out in enumerate(outputs):
            rows.append(
                {
                    "model": model,
                    "output": out,
                    # a model that erred as a whole (a crashed worker, say) errs in every row
                    "status": ERROR if model.error else out.status,
                    "span": len(outputs),
                    "first": j == 0,
                    "placeholder": placeholder,
                }
            )
    for i, row in enumerate(rows):
        name = f"{row['model'].model or 'model'}-{row['model'].dataset}-{row['output'].output}"
        shown = row["status"] in _DETAIL_STATUSES or unsteady(row["model"], row["output"].output)
        row["anchor"] = _slug(name, i) if shown else None
    return rows


def _max_rel(comparison: Mapping[str, Any]) -> float | None:
    """Largest finite max_rel_diff; inf beats it; NaN only when nothing else is known."""
    found = [_num(_d(c).get("max_rel_diff")) for c in _d(comparison.get("columns")).values()]
    values = [v for v in found if v is not None]
    if any(math.isinf(v) for v in values):
        return math.inf
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        return max(finite)
    return math.nan if values else None


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {s: sum(r["status"] == s for r in rows) for s in (*_STATUSES, NOT_CHECKED)}


def _title(rows: list[dict[str, Any]], summary: RunSummary) -> str:
    counts = _counts(rows)
    parts = [f"Parity {verdict(r['status'] for r in rows)}"]
    if summary.run.datasets:
        parts.append(",".join(summary.run.datasets))
    parts.append(f"{counts['failed']} failed, {counts['error']} error / {len(rows)} outputs")
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------------
# page sections


def _header(summary: RunSummary, rows: list[dict[str, Any]]) -> str:
    run = summary.run
    counts = _counts(rows)
    other = len(rows) - sum(counts.values())
    word = verdict(r["status"] for r in rows)
    css = {"PASSED": "s-passed", "FAILED": "s-failed"}.get(word, "s-not-checked")
    meta: list[tuple[str, str]] = [
        ("Started", _e(run.started or "—")),
        ("Finished", _e(run.finished or "—")),
    ]
    duration = _duration(run.started, run.finished)
    if duration:
        meta.append(("Duration", _e(duration)))
    meta += [("Backend", _e(run.backend or "—")), ("Dataset", _e(", ".join(run.datasets) or "—"))]
    if run.engine:
        meta.append(
            ("Engines", " ".join(f"<code>{_e(k)} {_e(v)}</code>" for k, v in run.engine.items()))
        )
    meta.append(
        (
            "Outputs",
            '<span class="counts">'
            f"<span>{len(rows)} total</span>"
            + "".join(
                f"<span>{_badge(s)} {counts[s]}</span>"
                for s in (*_STATUSES, NOT_CHECKED)
                if s != NOT_CHECKED or counts[s]
            )
            + (f"<span>other {other}</span>" if other else "")
            + "</span>",
        )
    )
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
    return (
        f'<h1 id="top">Parity report <span class="verdict {css}">{word}</span></h1>\n'
        f'<dl class="meta">{dl}</dl>\n'
    )


def _duration(started: Any, finished: Any) -> str | None:
    try:
        delta = datetime.fromisoformat(str(finished)) - datetime.fromisoformat(str(started))
    except (TypeError, ValueError):
        return None
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return None
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m {seconds % 60:02d}s"


def _summary_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "<thead><tr><th>Model</th><th>Dataset</th><th>Output</th><th>Status</th>"
        "<th>Golden</th><th class=num>Rows</th><th class=num>Failing columns</th>"
        "<th class=num>Max rel diff</th><th class=num>Run s</th><th class=num>Compare s</th>"
        "</tr></thead>"
    )
    body: list[str] = []
    for row in rows:
        model, out = row["model"], row["output"]
        comparison = out.comparison or {}
        cells = []
        span = f' rowspan="{row["span"]}"' if row["span"] > 1 else ""
        if row["first"]:
            notes = "".join(
                f'<div class="note">{_e(label)} {_e(text)}</div>'
                for label, text in (
                    ("retried after:", model.retried_after),
                    ("kept from the run of", model.carried_over),
                )
                if text
            )
            cells.append(
                f"<td{span}><b>{_e(model.model or '—')}</b>{notes}</td>"
                f"<td{span}>{_e(model.dataset or '—')}</td>"
            )
        name = _e(out.output or ("(no outputs)" if row["placeholder"] else "—"))
        if row["anchor"]:
            name = f'<a href="#{_e(row["anchor"])}">{name}</a>'
        cells.append(f"<td>{name}</td><td>{_badge(row['status'])}</td>{golden_cell(out)}")
        failing = len(out.failing_columns) if comparison else None
        cells.append(
            f"<td class=num>{_fmt_int(out.rows)}</td>"
            f"<td class=num>{'—' if failing is None else failing}</td>"
            f"<td class=num>{_fmt_g(_max_rel(comparison))}</td>"
        )
        if row["first"]:
            cells.append(f"<td class=num{span}>{_fmt_secs(model.run_seconds)}</td>")
        cells.append(f"<td class=num>{_fmt_secs(out.compare_seconds)}</td>")
        body.append(f'<tr class="row-{_e(row["status"])}">' + "".join(cells) + "</tr>")
    if not body:
        body.append('<tr><td colspan="10" class="muted">No models in this run.</td></tr>')
    return (
        f'<h2>Summary</h2>\n<table id="summary">{head}<tbody>\n'
        + "\n".join(body)
        + "\n</tbody></table>\n"
    )


def _sample_keys(sample: Any) -> str:
    keys = _l(sample)
    if not keys:
        return ""
    return (
        '<span class="keys"> e.g. '
        + "".join(f"<code>{_fmt_key(k)}</code>" for k in keys[:10])
        + "</span>"
    )


def _detail(row: dict[str, Any]) -> str:
    model: ModelRecord = row["model"]
    out: OutputRecord = row["output"]
    comparison = out.comparison or {}
    status = row["status"]
    title = _e(model.model or "—")
    if out.output:
        title += f" / {_e(out.output)}"
    if model.dataset:
        title += f" <span class=muted>on {_e(model.dataset)}</span>"
    parts = [
        f'<section class="detail {_e(status)}" id="{_e(row["anchor"])}">',
        '<a class="top" href="#top">↑ summary</a>',
        f"<h2>{title} {_badge(status)}</h2>",
    ]
    facts = []
    if model.dataset:
        facts.append(f"dataset <code>{_e(model.dataset)}</code>")
    keys = _l(comparison.get("keys"))
    if keys:
        facts.append("keys " + ", ".join(f"<code>{_e(k)}</code>" for k in keys))
    rows = _d(comparison.get("rows"))
    if rows:
        facts.append(
            "rows expected <b>{}</b> · actual <b>{}</b> · matched <b>{}</b>".format(
                _fmt_int(rows.get("expected")),
                _fmt_int(rows.get("actual")),
                _fmt_int(rows.get("matched")),
            )
        )
    if model.rows_in:
        facts.append(
            "inputs "
            + ", ".join(f"<code>{_e(k)}</code> {_fmt_int(v)}" for k, v in model.rows_in.items())
        )
    if facts:
        parts.append('<p class="muted">' + " &nbsp;|&nbsp; ".join(facts) + "</p>")

    errors = [("Error", out.error)]
    if model.error and model.error != out.error:
        errors.append(("Model error", model.error))
    for label, text in errors:
        if text:
            parts.append(f"<h3>{label}</h3><pre>{_e(text)}</pre>")

    parts.append(_schema(_d(comparison.get("schema"))))
    parts.append(_keys_section(comparison))
    parts.append(_columns_table(comparison))
    parts.append(_samples(comparison))
    hints = [h for h in _l(comparison.get("hints")) if h]
    if hints:
        parts.append(
            "<h3>Why it may differ</h3><ul>" + "".join(f"<li>{_e(h)}</li>" for h in hints) + "</ul>"
        )
    parts.append(_changes(model))
    if model.data_quality:
        parts.append(
            "<h3>Input data-quality warnings</h3><ul>"
            + "".join(f"<li>{_e(w)}</li>" for w in model.data_quality)
            + "</ul>"
        )
    parts.append(determinism_section(model, out.output))
    parts.append(_chart(comparison))
    if not comparison and not out.error and not model.error:
        parts.append('<p class="muted">No comparison and no error were recorded.</p>')
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _schema(schema: Mapping[str, Any]) -> str:
    missing = _l(schema.get("missing_columns"))
    extra = _l(schema.get("extra_columns"))
    changes = [_d(c) for c in _l(schema.get("type_changes"))]
    if not (missing or extra or changes):
        return ""
    out = ["<h3>Schema differences</h3><ul>"]
    if missing:
        out.append(
            "<li>Missing in output (in golden): "
            + ", ".join(f"<code>{_e(c)}</code>" for c in missing)
            + "</li>"
        )
    if extra:
        out.append(
            "<li>Extra in output (not in golden): "
            + ", ".join(f"<code>{_e(c)}</code>" for c in extra)
            + "</li>"
        )
    out.append("</ul>")
    if changes:
        out.append(
            "<table><thead><tr><th>Column</th><th>Golden type</th><th>Output type</th>"
            "<th>Tolerated</th></tr></thead><tbody>"
        )
        for c in changes:
            tolerated = c.get("tolerated")
            tol = (
                "yes"
                if tolerated is True
                else '<b style="color:var(--fail)">no</b>'
                if tolerated is False
                else "—"
            )
            out.append(
                f"<tr><td><code>{_e(c.get('column'))}</code></td>"
                f"<td>{_e(c.get('expected'))}</td><td>{_e(c.get('actual'))}</td>"
                f"<td>{tol}</td></tr>"
            )
        out.append("</tbody></table>")
    return "".join(out)


def _keys_section(comparison: Mapping[str, Any]) -> str:
    missing = _d(comparison.get("missing_keys"))
    extra = _d(comparison.get("extra_keys"))
    dup = _d(comparison.get("duplicate_keys"))
    items = []
    if (_num(missing.get("count")) or 0) > 0:
        items.append(
            f"<li><b>{_fmt_int(missing['count'])}</b> missing keys (in golden, not in "
            f"output){_sample_keys(missing.get('sample'))}</li>"
        )
    if (_num(extra.get("count")) or 0) > 0:
        items.append(
            f"<li><b>{_fmt_int(extra['count'])}</b> extra keys (in output, not in "
            f"golden){_sample_keys(extra.get('sample'))}</li>"
        )
    for side, label in (("expected", "golden"), ("actual", "output")):
        if (_num(dup.get(side)) or 0) > 0:
            items.append(
                f"<li><b>{_fmt_int(dup[side])}</b> duplicate keys in {label}"
                f"{_sample_keys(dup.get('sample_' + side))}</li>"
            )
    return "<h3>Keys</h3><ul>" + "".join(items) + "</ul>" if items else ""


def _columns_table(comparison: Mapping[str, Any]) -> str:
    failing = failing_columns(comparison)
    if not failing:
        return ""
    columns = _d(comparison.get("columns"))
    counts = _d(comparison.get("mismatch_counts"))
    out = [
        "<h3>Failing columns</h3><table><thead><tr><th>Column</th><th>Type</th>"
        "<th class=num>Mismatches</th><th class=num>rtol</th><th class=num>atol</th>"
        "<th class=num>Max abs diff</th><th class=num>Max rel diff</th></tr></thead><tbody>"
    ]
    for name in failing:
        col = _d(columns.get(name))
        mismatches = col.get("mismatches", counts.get(name))
        kind = " / ".join(_e(x) for x in (col.get("type"), col.get("kind")) if x)
        out.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{kind or '—'}</td>"
            f"<td class=num>{_fmt_int(mismatches)}</td>"
            f"<td class=num>{_fmt_g(col.get('rtol'))}</td>"
            f"<td class=num>{_fmt_g(col.get('atol'))}</td>"
            f"<td class=num>{_fmt_g(col.get('max_abs_diff'))}</td>"
            f"<td class=num>{_fmt_g(col.get('max_rel_diff'))}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _samples(comparison: Mapping[str, Any]) -> str:
    samples = _d(comparison.get("samples"))
    body = []
    for name, rows in samples.items():
        for sample in _l(rows):
            s = _d(sample)
            body.append(
                f"<tr><td><code>{_e(name)}</code></td>"
                f"<td class=mono>{_fmt_key(s.get('key'))}</td>"
                f"<td class=mono>{_fmt_value(s.get('expected'))}</td>"
                f"<td class=mono>{_fmt_value(s.get('actual'))}</td>"
                f"<td class=num>{_fmt_g(s.get('abs_diff'))}</td>"
                f"<td class=num>{_fmt_g(s.get('rel_diff'))}</td></tr>"
            )
    if not body:
        return ""
    return (
        "<h3>Example rows</h3><table><thead><tr><th>Column</th><th>Key</th>"
        "<th>Expected (golden)</th><th>Actual (output)</th><th class=num>Abs diff</th>"
        "<th class=num>Rel diff</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def _changes(model: ModelRecord) -> str:
    if model.fingerprint_changes is None:  # no golden was read: nothing to compare with
        return ""
    if not model.fingerprint_changes:
        return (
            "<h3>What changed since the golden</h3><p class=muted>Nothing: same code, spec "
            "and fixtures as when the golden was made.</p>"
        )
    return (
        "<h3>What changed since the golden</h3><ul>"
        + "".join(f"<li><code>{_e(c)}</code></li>" for c in model.fingerprint_changes)
        + "</ul>"
    )


# ---------------------------------------------------------------------------------------------


def render_html(summary: RunSummary | Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML string (inline CSS and SVG, no scripts)."""
    if not isinstance(summary, RunSummary):
        summary = RunSummary.from_dict(summary)
    rows = _rows_of(summary)
    details = [_detail(r) for r in rows if r["anchor"]]
    body = [_header(summary, rows), _summary_table(rows)]
    if details:
        body.append(f"<h2 style='margin-top:28px'>Failures ({len(details)})</h2>")
        body.extend(details)
    body.append(driver_memory_section(summary.models))
    body.append(risks_section(summary.risks))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(_title(rows, summary))}</title>\n"
        f"<style>{_CSS}{_GOLDEN_CSS}{_RISKS_CSS}</style>\n</head>\n"
        "<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def write_html(summary: RunSummary | Mapping[str, Any], path: Path) -> Path:
    """Render ``summary`` to ``path`` (parents created); returns the path for chaining."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary), encoding="utf-8")
    return path
