"""The HTML report, rendered from the records of a real run (tests/real_run.py): escaping,
anchors, the dataset column, statuses, what changed since the golden, the SVG chart,
partial and malformed summaries, and a real browser.

The browser tests load the page in headless Chromium because only a browser proves that an
injected ``<script>`` did not run and that the page lays out (a screenshot is produced).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from comparisons import column, comparison
from real_run import XSS, RealRun

from harness.report.chart import chart, svg_bars
from harness.report.html import render_html, write_html
from harness.report.records import RunSummary, failing_columns

pytestmark = pytest.mark.xdist_group("real_run")  # the real run happens once per worker

XSS_ESCAPED = "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"


@pytest.fixture
def summary(real_summary_run: RealRun) -> dict[str, Any]:
    return copy.deepcopy(real_summary_run.summary)


@pytest.fixture
def page(summary: dict[str, Any]) -> str:
    return render_html(summary)


def _model(summary: dict[str, Any], name: str, dataset: str = "sample") -> dict[str, Any]:
    return next(m for m in summary["models"] if m["model"] == name and m["dataset"] == dataset)


def _section(page: str, model: str, dataset: str) -> str:
    """The failure section of a model's output on a dataset."""
    for part in page.split('<section class="detail')[1:]:
        if f"{model} / " in part and f"on {dataset}</span>" in part:
            return part.split("</section>")[0]
    raise AssertionError(f"no failure section for {model} on {dataset}")


class _Collector(HTMLParser):
    """Collects ids, hrefs, the title and the summary table's body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.title = ""
        self.summary_rows = 0
        self.scripts = 0
        self._in_title = self._title_done = False
        self._table: list[str] = []
        self._in_tbody = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if tag == "title" and not self._title_done:  # the page's, not an SVG tooltip
            self._in_title = True
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table.append(a.get("id") or "")
        if tag == "tbody" and self._table[-1:] == ["summary"]:
            self._in_tbody = True
        if tag == "tr" and self._in_tbody:
            self.summary_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title, self._title_done = False, True
        if tag == "tbody":
            self._in_tbody = False
        if tag == "table" and self._table:
            self._table.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    return c


# --------------------------------------------------------------------------------------------


def test_real_run_recorded_what_ran(summary: dict[str, Any]) -> None:
    statuses = {(m["model"], m["dataset"]): m["status"] for m in summary["models"]}
    assert statuses == {
        ("adoption_rate", "sample"): "failed",
        ("adoption_rate", "full"): "error",
        ("crashed_model", "sample"): "error",
        ("propensity_glm", "sample"): "partial",
    }
    glm = {o["output"]: o["status"] for o in _model(summary, "propensity_glm")["outputs"]}
    assert glm == {"propensity_scores": "passed", "propensity_coefficients": "not checked"}
    assert summary["run"]["dataset"] == "sample,full"
    assert summary["run"]["counts"] == {"failed": 1, "error": 2, "passed": 1, "not checked": 1}


def test_real_run_reports_each_models_migration_risks(summary: dict[str, Any], page: str) -> None:
    """Needs the lint core (harness.explain.lint): without it each record says lint failed."""
    risks = {r["model"]: r for r in summary["risks"]}
    assert sorted(risks) == ["adoption_rate", "crashed_model", "propensity_glm"]
    assert [r["error"] for r in risks.values()] == [None, None, None]
    # propensity_glm's R step is read on R's parse tree now (issue 23): nothing left unread
    assert risks["propensity_glm"]["not_analysed"] == []
    assert risks["propensity_glm"]["findings"] == []
    assert "<h2 id='risks'" in page and 'id="risks-propensity_glm"' in page


def test_data_is_escaped(page: str) -> None:
    assert "<script" not in page
    assert "document.title='pwned'" not in page
    # shown as text: in extra keys (a region value) and in the crashed model's error
    assert page.count(XSS_ESCAPED) >= 2
    assert not re.search(r"\son[a-z]+\s*=", page), "no inline event handlers"


def test_self_contained(page: str) -> None:
    assert not re.search(r"https?://|//cdn|<link|<script|\bsrc=", page)
    assert "Content-Security-Policy" in page


def test_summary_table_and_anchors(page: str) -> None:
    c = _parse(page)
    assert c.title == "Parity FAILED · sample,full · 1 failed, 2 error / 5 outputs"
    assert c.summary_rows == 5  # one per model x dataset x output
    links = [h[1:] for h in c.hrefs if h.startswith("#") and h != "#top"]
    anchors = [a for a in links if not a.startswith("risks-")]  # the risks table's own links
    assert len(anchors) == 3  # adoption_rate on sample (failed) and full (error), crashed_model
    for anchor in links:
        assert anchor in c.ids
        assert '<section class="' in page.split(f'id="{anchor}"')[0][-60:]
    for anchor in anchors:
        assert '<section class="detail' in page.split(f'id="{anchor}"')[0][-60:]
    assert len(links) - len(anchors) == 3  # one per model: adoption_rate, crashed, propensity
    for badge in ("s-passed", "s-failed", "s-error", "s-not-checked"):
        assert f"badge {badge}" in page, badge


def test_summary_table_has_a_dataset_column(page: str) -> None:
    """One model on two datasets: two rows that say which is which."""
    table = page.split('<table id="summary">')[1].split("</table>")[0]
    assert "<th>Dataset</th>" in table
    assert "<td><b>adoption_rate</b></td><td>sample</td>" in table
    assert "<td><b>adoption_rate</b></td><td>full</td>" in table


def test_report_of_a_failing_run_shows_what_changed_since_the_golden(
    real_summary_run: RealRun, page: str
) -> None:
    """The code and a parameter of adoption_rate changed since its golden was captured."""
    record = _model(real_summary_run.summary, "adoption_rate")
    assert record["fingerprint_changes"] == [
        "model code adoption_rate.hql: changed",
        "spec: changed",
    ]
    section = _section(page, "adoption_rate", "sample")
    changed = section.split("<h3>What changed since the golden</h3>")[1].split("<h3>")[0]
    assert "<code>model code adoption_rate.hql: changed</code>" in changed
    assert "<code>spec: changed</code>" in changed
    out = real_summary_run.stdout  # the text report pytest prints
    assert "changed since the golden was made:" in out
    assert "model code adoption_rate.hql: changed" in out and "spec: changed" in out


def test_no_golden_read_means_no_changes_section(page: str) -> None:
    for model, dataset in (("adoption_rate", "full"), ("crashed_model", "sample")):
        assert "What changed since the golden" not in _section(page, model, dataset)


def test_failure_section_content(summary: dict[str, Any], page: str) -> None:
    section = _section(page, "adoption_rate", "sample")
    for text in (
        "Failing columns",
        "Example rows",
        "missing keys",
        "extra keys",
        "What changed since the golden",
        "Max relative difference per column",
    ):
        assert text in section, text
    comparison = _model(summary, "adoption_rate")["outputs"][0]["comparison"]
    failing = failing_columns(comparison)
    assert failing == ["expected_premium"]
    failing_table = section.split("<h3>Failing columns</h3>")[1].split("</table>")[0]
    assert "<code>expected_premium</code>" in failing_table
    assert "<code>contacts</code>" not in failing_table
    assert "no golden for adoption_rate/full/adoption_rates" in _section(
        page, "adoption_rate", "full"
    )
    assert "UNRESOLVED_COLUMN" in _section(page, "crashed_model", "sample")


def test_failing_column_count_is_the_one_definition(summary: dict[str, Any], page: str) -> None:
    from harness.report.text import format_comparison

    comparison = _model(summary, "adoption_rate")["outputs"][0]["comparison"]
    row = page.split('<tr class="row-failed">')[1].split("</tr>")[0]
    cells = re.findall(r"<td class=num[^>]*>([^<]*)</td>", row)
    assert cells[1] == str(len(failing_columns(comparison))) == "1"
    text = format_comparison(comparison)
    assert f"1 of {len(comparison['columns'])} compared columns differ" in text


def test_engine_line_names_R_when_an_R_model_ran(summary: dict[str, Any], page: str) -> None:
    engine = summary["run"]["engine"]
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", engine["R"]) and engine["spark"]
    assert f"<code>R {engine['R']}</code>" in page
    assert "R" not in _model(summary, "adoption_rate")["engine"]  # SQL only


def test_real_run_chart_marks_every_failing_column_red(summary: dict[str, Any], page: str) -> None:
    comparison = _model(summary, "adoption_rate")["outputs"][0]["comparison"]
    svg = _section(page, "adoption_rate", "sample").split('<svg class="chart"')[1]
    rows = _chart_rows(svg.split("</svg>")[0])
    assert set(rows) == set(comparison["columns"])
    for name, row in rows.items():
        assert (RED in row) == (name in failing_columns(comparison)), name


def test_summary_round_trips_through_the_records(summary: dict[str, Any]) -> None:
    assert RunSummary.from_dict(summary).to_dict() == summary


def test_svg_chart_handles_special_values() -> None:
    svg = svg_bars(
        [
            ("inf_col", math.inf, 1e-9, True),
            ("nan_col", math.nan, 1e-9, True),
            ("none_col", None, None, False),
            ("zero", 0.0, 1e-9, False),
            ("premium", 0.01, 1e-9, True),
            ("close", 3e-10, 1e-6, False),
        ]
    )
    for label in ("∞", "NaN", "n/a", "0 (exact)", "1e-2", "1e0", "premium", "close"):
        assert label in svg, label
    assert "<rect" in svg and svg.count("<g>") == 6


RED, GREEN = "#cf222e", "#2da44e"


def _chart_rows(svg: str) -> dict[str, str]:
    """Each chart row's SVG (a ``<g>``), by column name."""
    rows = {}
    for g in re.findall(r"<g>.*?</g>", svg):
        name = re.search(r'text-anchor="end">([^<]*)</text>', g)
        assert name, g
        rows[name.group(1)] = g
    return rows


def _failed_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A one-output run summary around a comparison, through JSON as summary.json is."""
    summary = {
        "models": [
            {
                "model": "m",
                "dataset": "sample",
                "status": "failed",
                "outputs": [{"output": "o", "status": "failed", "comparison": result}],
            }
        ]
    }
    return json.loads(json.dumps(summary))


@pytest.mark.parametrize("max_rel", [0.0, None, math.nan])
def test_chart_marks_a_column_failing_only_by_null_vs_value_as_failing(
    max_rel: float | None,
) -> None:
    """1,879 rows of NaN against NULL: no relative difference to draw (0, None or NaN), but
    the column fails, so the chart says so in red, never the green "0 (exact)"."""
    result = comparison(
        column("premium", max_abs=1e-13, max_rel=1e-12),  # passes
        column("score", max_abs=0.0, max_rel=0.0),  # passes, exactly
        column(
            "uplift",
            mismatches=1879,
            max_abs=max_rel,
            max_rel=max_rel,
            nulls=1879,
            examples=[({"id": 7}, math.nan, None)],
        ),
        rows=(2000, 2000, 2000),
    ).to_dict()
    assert result["failing_columns"] == ["uplift"]
    page = render_html(_failed_summary(result))
    svg = page.split('<svg class="chart"')[1].split("</svg>")[0]
    rows = _chart_rows(svg)
    assert list(rows) == ["uplift", "premium", "score"]  # the failing one first
    failing = rows["uplift"]
    assert "fails: 1,879 NULL vs value" in failing
    assert RED in failing and GREEN not in failing
    assert "exact" not in failing
    # passing columns keep their look
    assert GREEN in rows["premium"] and RED not in rows["premium"]
    assert "fails" not in rows["premium"]
    assert "0 (exact)" in rows["score"] and RED not in rows["score"]


def test_chart_says_how_each_failing_column_fails() -> None:
    result = comparison(
        column("mixed", mismatches=12, max_abs=0.5, max_rel=0.0, nulls=3),
        column("region", "string", mismatches=4),  # exact: no relative difference at all
        column("flag", "boolean", mismatches=2, nulls=2),
        column("when", "date", actual_type="int", kind="incomparable"),
        column("big", mismatches=5, max_abs=2.0, max_rel=0.25),  # a bar, as before
    ).to_dict()
    rows = _chart_rows(chart(result))
    assert "fails: 12 rows (3 NULL vs value)" in rows["mixed"]
    assert "fails: 4 rows" in rows["region"]
    assert "fails: 2 NULL vs value" in rows["flag"]
    assert "fails: types cannot be compared" in rows["when"]
    assert "fails:" not in rows["big"].split("</title>")[1]  # drawn as a red bar
    assert f'fill="{RED}" opacity="0.85"' in rows["big"]
    for name, row in rows.items():
        assert RED in row and GREEN not in row, name


def test_chart_never_leaves_a_failing_column_out() -> None:
    """Past the chart's 60 rows it shows the largest differences, and every failing column:
    one failing by NULL vs value comes first, one failing by a small difference is kept."""
    passing = [column(f"c{i:02d}", max_abs=1.0, max_rel=0.5, rtol=1.0) for i in range(70)]
    nulls = column("z_nulls", mismatches=9, max_rel=None, nulls=9)
    small = column("z_small", mismatches=1, max_abs=1e-6, max_rel=1e-6)
    html = chart(comparison(*passing, nulls, small).to_dict())
    rows = _chart_rows(html)
    names = list(rows)
    assert len(names) == 61 and (names[0], names[-1]) == ("z_nulls", "z_small")
    assert "fails: 9 NULL vs value" in rows["z_nulls"] and RED in rows["z_small"]
    assert "Showing 61 of 72 columns" in html


@pytest.mark.parametrize(
    "partial",
    [
        {},
        {"run": None, "models": None},
        {"models": [{}]},
        {"models": [{"model": "m", "outputs": None}]},
        {
            "models": [
                {"model": "m", "status": "error", "outputs": [{"output": "o", "status": "error"}]}
            ]
        },
        {
            "models": [
                {
                    "model": "m",
                    "outputs": [
                        {
                            "output": "o",
                            "comparison": {
                                "passed": False,
                                "columns": {"c": None, "d": {"max_rel_diff": "inf"}},
                                "samples": {"c": [None, {"key": None}]},
                                "missing_keys": {"count": "3"},
                                "schema": {"type_changes": [None]},
                                "hints": None,
                            },
                        }
                    ],
                }
            ]
        },
        {
            "models": [
                {
                    "model": "m",
                    "outputs": [
                        {
                            "output": "o",
                            "status": "failed",
                            "comparison": {
                                "columns": {"a": {"max_rel_diff": 0.0}, "b": {"max_rel_diff": None}}
                            },
                        }
                    ],
                }
            ]
        },
    ],
)
def test_partial_summaries_render(partial: dict[str, Any]) -> None:
    page = render_html(partial)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


_JUNK: list[Any] = [
    None,
    0,
    -1,
    1.5,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x<y>",
    [],
    {},
    [None],
    {"a": None},
    [{"b": 1}],
    True,
    "inf",
    "NaN",
    5e-324,
    1e308,
    XSS,
]


def _mutate(obj: Any, rng: random.Random) -> None:
    """Drop fields and swap values for junk of the wrong type, in place."""
    items = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj))
    for k, v in items:
        r = rng.random()
        if r < 0.1 and isinstance(obj, dict):
            del obj[k]
        elif r < 0.2:
            obj[k] = rng.choice(_JUNK)
        elif isinstance(v, (dict, list)):
            _mutate(v, rng)


def test_malformed_summaries_never_crash(summary: dict[str, Any]) -> None:
    for seed in range(200):
        mutated = copy.deepcopy(summary)
        _mutate(mutated, random.Random(seed))
        page = render_html(mutated)
        assert "<script" not in page, seed


def test_all_passed_and_incomplete_titles(summary: dict[str, Any]) -> None:
    glm = _model(summary, "propensity_glm")
    summary["models"] = [glm]
    assert _parse(render_html(summary)).title.startswith("Parity INCOMPLETE · ")
    glm["outputs"] = glm["outputs"][:1]
    assert _parse(render_html(summary)).title == (
        "Parity PASSED · sample,full · 0 failed, 0 error / 1 outputs"
    )


def test_write_html(summary: dict[str, Any], tmp_path: Path) -> None:
    out = write_html(summary, tmp_path / "nested" / "report.html")
    assert out == tmp_path / "nested" / "report.html"
    assert out.read_text(encoding="utf-8") == render_html(summary)


def test_report_html_written_by_the_run_is_this_renderer(real_summary_run: RealRun) -> None:
    written = (real_summary_run.root / "reports" / "report.html").read_text(encoding="utf-8")
    assert written == render_html(real_summary_run.summary)


def test_summary_is_not_mutated(summary: dict[str, Any]) -> None:
    before = copy.deepcopy(summary)
    render_html(summary)
    assert repr(summary) == repr(before)  # repr: NaN != NaN would defeat ==


# --------------------------------------------------------------------------------------------
# real browser


def _chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path:
        return path
    message = "headless Chromium is not installed: run `bash scripts/setup.sh`"
    if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (HARNESS_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def _run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _dump_dom(path: Path) -> str:
    proc = _run_chromium("--dump-dom", path.resolve().as_uri())
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def _without_csp(page: str) -> str:
    """Drop the CSP so the browser test checks the escaping itself, not the safety net."""
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    assert stripped != page
    return stripped


def test_browser_control_detects_script(tmp_path: Path) -> None:
    """A page that does run the script gets title 'pwned': the title check below can fail."""
    page = tmp_path / "control.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>safe</title></head><body>{XSS}</body></html>",
        encoding="utf-8",
    )
    assert _parse(_dump_dom(page)).title == "pwned"


def test_browser_dom_title_and_rows(page: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(_without_csp(page), encoding="utf-8")
    dom = _parse(_dump_dom(path))
    assert dom.title == _parse(page).title  # the injected script did not run
    assert dom.scripts == 0
    assert dom.summary_rows == 5


def test_browser_screenshot(summary: dict[str, Any], tmp_path: Path) -> None:
    page = write_html(summary, tmp_path / "report.html")
    png = tmp_path / "report.png"
    proc = _run_chromium(f"--screenshot={png}", "--window-size=1280,2000", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("HARNESS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)
        shutil.copy(page, Path(keep).with_suffix(".html"))
