"""The report's "Migration risks" at fifty findings, in a real browser: open findings worst
symptom first (the catalogue's SEVERITY_ORDER), long "feeds" lists folded into a closed
<details>, and a page that lays out (a screenshot). The summary is built here, so no Spark:
the real run's risks are tested in test_report_html.py."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from test_report_html import _dump_dom, _run_chromium

from harness.catalogue import SEVERITY_ORDER, load_catalogue
from harness.report.html import render_html
from harness.report.records import RiskFinding, RiskRecord, RunRecord, RunSummary
from harness.report.risks_html import FEEDS_SHOWN

FEEDS = [f"out.col_{i}" for i in range(9)]


def _summary(n: int = 50) -> RunSummary:
    rules = [r for r in load_catalogue().values() if r.detect]
    findings = [
        RiskFinding(
            rule=rules[i % len(rules)].id,
            file="suites/big/big.hql",
            line=i + 1,
            expression=f"expr_{i}(x)",
            where=f"big.c{i}",
            feeds=FEEDS if i % 2 else FEEDS[:2],
            accepted="approved" if i % 10 == 0 else "",
            type_unknown=i % 7 == 0,
        )
        for i in range(n)
    ]
    return RunSummary(RunRecord(), [], [RiskRecord("big", findings)])


class _Risks(HTMLParser):
    """The rule of each row of the risks table, and each <details> with its state."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[str] = []
        self.details: list[bool] = []  # open?
        self.status: list[str] = []
        self._in_risks = self._cell = 0
        self._code = False
        self._td = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and "risks" in (a.get("class") or ""):
            self._in_risks = 1
        if not self._in_risks:
            return
        if tag == "tr":
            self._td = 0
        if tag == "td":
            self._td += 1
        if tag == "code" and self._td == 1:
            self._code = True
        if tag == "details":
            self.details.append("open" in a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._code = False
        if tag == "section":
            self._in_risks = 0

    def handle_data(self, data: str) -> None:
        if self._code:
            self.rules.append(data)
        if self._in_risks and self._td == 6 and data in ("open", "accepted"):
            self.status.append(data)


def test_fifty_findings_sorted_by_severity_with_feeds_folded(tmp_path: Path) -> None:
    summary = _summary()
    page = tmp_path / "report.html"
    page.write_text(render_html(summary), encoding="utf-8")
    dom = _Risks()
    text = _dump_dom(page)
    dom.feed(text)
    unknown = sum(1 for f in summary.risks[0].findings if f.type_unknown)
    assert text.count("type unknown") == unknown > 0
    catalogue = load_catalogue()
    assert len(dom.rules) == 50
    assert dom.status == ["open"] * 45 + ["accepted"] * 5
    ranks = [SEVERITY_ORDER.index(catalogue[r].symptom.kind) for r in dom.rules]
    assert ranks[:45] == sorted(ranks[:45]) and ranks[45:] == sorted(ranks[45:])
    assert ranks[0] < ranks[44]  # the list really mixes severities
    long_lists = sum(1 for f in summary.risks[0].findings if len(f.feeds) > FEEDS_SHOWN)
    assert dom.details == [False] * long_lists  # folded, closed
    png = tmp_path / "risks.png"
    proc = _run_chromium(f"--screenshot={png}", "--window-size=1280,2400", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
