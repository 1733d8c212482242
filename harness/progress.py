"""A per-model progress display for long runs (the nightly job): started, done, verdict.

Loaded with ``-p harness.progress``. Works with and without pytest-xdist: the controller
learns each model's test count from collection and prints a line as each model starts
and when its last test reports.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

_total: dict[str, int] = defaultdict(int)
_done: dict[str, int] = defaultdict(int)
_failed: dict[str, int] = defaultdict(int)
_started: dict[str, float] = {}
_seen_ids: set[str] = set()


def _model(nodeid: str) -> str | None:
    parts = nodeid.split("::")
    return parts[1] if len(parts) >= 3 and parts[0].endswith("model.yaml") else None


def _count(nodeids) -> None:
    for nodeid in nodeids:
        model = _model(nodeid)
        if model and nodeid not in _seen_ids:
            _seen_ids.add(nodeid)
            _total[model] += 1


def _say(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(f"[progress {time.strftime('%H:%M:%S')}] {text}", flush=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items) -> None:
    _count(item.nodeid for item in items)


def pytest_xdist_node_collection_finished(node, ids) -> None:
    if not _seen_ids or all(i in _seen_ids for i in ids):
        _count(ids)


def pytest_runtest_logstart(nodeid: str, location) -> None:
    model = _model(nodeid)
    if model and model not in _started:
        _started[model] = time.perf_counter()
        _say(_config, f"{model}: started ({_total.get(model, '?')} tests)")


def pytest_runtest_logreport(report) -> None:
    model = _model(report.nodeid)
    if not model or not (report.when == "call" or (report.when == "setup" and report.failed)):
        return
    _done[model] += 1
    _failed[model] += report.failed
    if _done[model] == _total.get(model):
        verdict = "FAILED" if _failed[model] else "passed"
        _say(
            _config,
            f"{model}: done, {verdict} ({_done[model] - _failed[model]}/"
            f"{_done[model]} tests ok, {time.perf_counter() - _started[model]:.0f}s)",
        )
    elif _done[model] == 1:
        _say(_config, f"{model}: running")


_config: pytest.Config


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config
