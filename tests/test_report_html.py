"""The HTML report: escaping, anchors, the SVG chart, partial summaries, and a real browser.

The browser tests load the page in headless Chromium because only a browser proves that an
injected ``<script>`` did not run and that the page lays out (a screenshot is produced).
"""

from __future__ import annotations

import copy
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

from harness.report.html import render_html, write_html

XSS = "<script>document.title='pwned'</script>"
XSS_ESCAPED = "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"
TITLE = "Parity FAILED · sample · 1 failed, 2 error / 5 outputs"


def _summary() -> dict[str, Any]:
    """One passing model, one failing (hostile strings, odd diffs), one error, one empty model."""
    failing = {
        "passed": False,
        "keys": ["policy_id"],
        "rows": {"expected": 1000, "actual": 999, "matched": 998},
        "missing_keys": {"count": 2, "sample": [{"policy_id": 17}, {"policy_id": XSS}]},
        "extra_keys": {"count": 1, "sample": [{"policy_id": 9001}]},
        "duplicate_keys": {"expected": 0, "actual": 1, "sample_expected": [],
                           "sample_actual": [{"policy_id": 5}]},
        "schema": {"missing_columns": ["x"], "extra_columns": ["<b>extra</b>"],
                   "type_changes": [{"column": "n", "expected": "int", "actual": "bigint",
                                     "tolerated": True}]},
        "columns": {
            "premium": {"type": "double", "kind": "numeric", "rtol": 1e-9, "atol": 0.0,
                        "mismatches": 3, "max_abs_diff": 0.5, "max_rel_diff": 0.01},
            "ratio": {"type": "double", "kind": "numeric", "rtol": 1e-6, "atol": 0.0,
                      "mismatches": 1, "max_abs_diff": math.inf, "max_rel_diff": math.inf},
            "nan_col": {"type": "double", "kind": "numeric", "rtol": 1e-9, "atol": 0.0,
                        "mismatches": 2, "max_abs_diff": math.nan, "max_rel_diff": math.nan},
            "segment": {"type": "string", "kind": "string", "mismatches": 1,
                        "max_abs_diff": None, "max_rel_diff": None},
            "exact": {"type": "double", "kind": "numeric", "rtol": 1e-9, "atol": 0.0,
                      "mismatches": 0, "max_abs_diff": 0.0, "max_rel_diff": 0.0},
            "close": {"type": "double", "kind": "numeric", "rtol": 1e-6, "atol": 0.0,
                      "mismatches": 0, "max_abs_diff": 1e-9, "max_rel_diff": 3e-10},
        },
        "mismatch_counts": {"premium": 3, "ratio": 1, "nan_col": 2, "segment": 1},
        "samples": {
            "premium": [{"key": {"policy_id": 3}, "expected": 10.0, "actual": 10.5,
                         "abs_diff": 0.5, "rel_diff": 0.05}],
            "segment": [{"key": {"policy_id": XSS}, "expected": XSS, "actual": "retail",
                         "abs_diff": None, "rel_diff": None}],
        },
        "hints": ["premium: differences look like percentile_approx drift"],
        "elapsed_s": 1.23,
    }
    return {
        "run": {"started": "2025-01-02T02:00:00+00:00", "finished": "2025-01-02T02:07:31+00:00",
                "backend": "local", "dataset": "sample",
                "engine": {"spark": "4.3.0", "python": "3.11.7", "R": "4.2.2"}},
        "models": [
            {"model": "adoption_rate", "dataset": "sample", "status": "passed",
             "run_seconds": 3.2, "fingerprint_changes": [],
             "outputs": [{"output": "rates", "status": "passed", "compare_seconds": 0.8,
                          "rows": 120, "error": None,
                          "comparison": {"passed": True, "columns": {}}}]},
            {"model": "premium_calc", "dataset": "sample", "status": "failed",
             "run_seconds": 12.5, "rows_in": {"policies": 1000},
             "fingerprint_changes": ["fixture customers: 1 -> 2", "code:model.sql changed"],
             "outputs": [
                 {"output": "premiums", "status": "failed", "compare_seconds": 2.1,
                  "rows": 999, "error": None, "comparison": failing},
                 {"output": "by_segment", "status": "error", "compare_seconds": None,
                  "error": f"AnalysisException: column {XSS} not found"},
             ]},
            {"model": "churn", "status": "passed", "run_seconds": 1.0,
             "outputs": [{"output": "scores", "status": "passed", "rows": 50}]},
            {"model": "crashed_model", "status": "error", "error": "ModelRunError: boom",
             "outputs": []},
        ],
    }


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


def test_data_is_escaped() -> None:
    page = render_html(_summary())
    assert "<script" not in page
    assert "document.title='pwned'" not in page
    assert XSS_ESCAPED in page  # shown as text: in keys, a string value and an error message
    assert page.count(XSS_ESCAPED) >= 4
    assert "<b>extra</b>" not in page and "&lt;b&gt;extra&lt;/b&gt;" in page
    assert not re.search(r"\son[a-z]+\s*=", page), "no inline event handlers"


def test_self_contained() -> None:
    page = render_html(_summary())
    assert not re.search(r"https?://|//cdn|<link|<script|\bsrc=", page)
    assert "Content-Security-Policy" in page


def test_summary_table_and_anchors() -> None:
    page = render_html(_summary())
    c = _parse(page)
    assert c.title == TITLE
    assert c.summary_rows == 5  # 4 outputs + 1 model without outputs
    anchors = [h[1:] for h in c.hrefs if h.startswith("#") and h != "#top"]
    assert len(anchors) == 3  # premiums (failed), by_segment (error), crashed_model (error)
    for anchor in anchors:
        assert anchor in c.ids
        assert '<section class="detail' in page.split(f'id="{anchor}"')[0][-60:]
    assert "badge s-passed" in page and "badge s-failed" in page and "badge s-error" in page


def test_failure_section_content() -> None:
    page = render_html(_summary())
    for text in ("Schema differences", "Failing columns", "Example rows", "Hints",
                 "What changed since the golden", "fixture customers: 1 -&gt; 2",
                 "missing keys", "extra keys", "duplicate keys in output",
                 "ModelRunError: boom", "AnalysisException", "percentile_approx drift"):
        assert text in page, text
    failing_table = page.split("<h3>Failing columns</h3>")[1].split("</table>")[0]
    for col in ("premium", "ratio", "nan_col", "segment"):
        assert f"<code>{col}</code>" in failing_table
    assert "<code>exact</code>" not in failing_table


def test_svg_chart_handles_special_values() -> None:
    page = render_html(_summary())
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 1
    svg = svgs[0]
    for label in ("∞", "NaN", "n/a", "0 (exact)", "1e-2", "1e0", "premium", "close"):
        assert label in svg, label
    assert "<rect" in svg


@pytest.mark.parametrize(
    "summary",
    [
        {},
        {"run": None, "models": None},
        {"models": [{}]},
        {"models": [{"model": "m", "outputs": None}]},
        {"models": [{"model": "m", "status": "error", "outputs": [{"output": "o",
                                                                    "status": "error"}]}]},
        {"models": [{"model": "m", "outputs": [{"output": "o", "comparison": {
            "passed": False, "columns": {"c": None, "d": {"max_rel_diff": "inf"}},
            "samples": {"c": [None, {"key": None}]}, "missing_keys": {"count": "3"},
            "schema": {"type_changes": [None]}, "hints": None}}]}]},
        {"models": [{"model": "m", "outputs": [{"output": "o", "status": "failed",
                                                "comparison": {"columns": {
                                                    "a": {"max_rel_diff": 0.0},
                                                    "b": {"max_rel_diff": None}}}}]}]},
    ],
)
def test_partial_summaries_render(summary: dict[str, Any]) -> None:
    page = render_html(summary)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


_JUNK: list[Any] = [None, 0, -1, 1.5, math.nan, math.inf, -math.inf, "", "x<y>", [], {}, [None],
                    {"a": None}, [{"b": 1}], True, "inf", "NaN", 5e-324, 1e308]


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


def test_malformed_summaries_never_crash() -> None:
    for seed in range(300):
        summary = _summary()
        _mutate(summary, random.Random(seed))
        page = render_html(summary)
        assert "<script" not in page, seed


def test_all_passed_title() -> None:
    s = _summary()
    s["models"] = s["models"][:1]
    assert _parse(render_html(s)).title == "Parity PASSED · sample · 0 failed, 0 error / 1 outputs"


def test_write_html(tmp_path: Path) -> None:
    out = write_html(_summary(), tmp_path / "nested" / "report.html")
    assert out == tmp_path / "nested" / "report.html"
    assert out.read_text(encoding="utf-8") == render_html(_summary())


# --------------------------------------------------------------------------------------------
# real browser


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    message = "headless Chromium is not installed: run `bash scripts/setup.sh`"
    if os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (HARNESS_REQUIRE_BROWSER=1)")
    pytest.skip(message)


def _run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
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
    page.write_text(f"<!DOCTYPE html><html><head><title>safe</title></head><body>{XSS}</body>"
                    "</html>", encoding="utf-8")
    assert _parse(_dump_dom(page)).title == "pwned"


def test_browser_dom_title_and_rows(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_without_csp(render_html(_summary())), encoding="utf-8")
    dom = _parse(_dump_dom(page))
    assert dom.title == TITLE  # the injected script did not run
    assert dom.scripts == 0
    assert dom.summary_rows == 5


def test_browser_screenshot(tmp_path: Path) -> None:
    page = write_html(_summary(), tmp_path / "report.html")
    png = tmp_path / "report.png"
    proc = _run_chromium(f"--screenshot={png}", "--window-size=1280,2000", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("HARNESS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)
        shutil.copy(page, Path(keep).with_suffix(".html"))


def test_summary_fixture_is_not_mutated() -> None:
    s = _summary()
    before = copy.deepcopy(s)
    render_html(s)
    assert repr(s) == repr(before)  # repr: NaN != NaN would defeat ==
