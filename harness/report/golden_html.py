"""The report's view of where each golden came from: the summary table's "Golden" cell and
the driver-memory list of R steps (its own module to keep html.py to the page's layout).

An emulated golden is marked so on sight (a production run compares against real legacy
exports: an emulated one there means the run proved nothing about HDInsight's numbers);
the cell's title carries the full line of :func:`harness.golden.provenance.describe`.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.golden.provenance import describe
from harness.report.cells import esc as _e
from harness.report.cells import mapping as _d
from harness.report.records import ModelRecord, OutputRecord

CSS = """
.g-emulated { color:#9a6700; font-weight:600; } .g-imported { color: var(--pass); }
.g-refreshed { color:#0969da; } .g-unknown { color: var(--muted); }
"""


def golden_cell(out: OutputRecord) -> str:
    """The golden's kind and version, its whole provenance line in the title and below."""
    source = _d(out.golden_source)
    if not source:
        return "<td class=muted>—</td>"
    kind = str(source.get("kind") or "unknown")
    version = f" {_e(source.get('version'))}" if source.get("version") else ""
    line = describe(source)
    return (
        f'<td class="golden" title="{_e(line)}"><span class="g-{_e(kind)}">{_e(kind)}</span>'
        f"{version}<br><small class=muted>{_e(line)}</small></td>"
    )


def driver_memory_section(models: Iterable[ModelRecord]) -> str:
    """Each R step run on the driver with the peak memory of the process (docs/cluster.md,
    "Sizing the driver"), when any ran."""
    rows = [
        f"<tr><td>{_e(m.model)}</td><td>{_e(m.dataset)}</td><td><code>{_e(step)}</code></td>"
        f"<td class=num>{mb:,.0f}</td></tr>"
        for m in models
        for step, mb in m.r_peak_mb.items()
    ]
    if not rows:
        return ""
    return (
        "<h2 style='margin-top:28px'>R on the driver</h2>\n<p class=muted>Peak resident memory "
        "of the driver's Python process (with R inside it) during each R step that ran there; "
        'size the job\'s driver from it (docs/cluster.md, "Sizing the driver").</p>\n'
        "<table id=driver-memory><thead><tr><th>Model</th><th>Dataset</th><th>Step</th>"
        "<th class=num>Peak MB</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>\n"
    )
