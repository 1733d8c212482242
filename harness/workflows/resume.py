"""Resume a run: what the last run in a report folder settled, and what is left to do.

As ``dbt retry`` does from its run results: a resumed run reruns only the model x dataset
pairs that did not pass last time (failed, error, partial, not checked, or never reached
because the run was cancelled), and takes over the records of those that passed, so the
new summary covers the whole estate. A pair that passed is rerun anyway when its bundle
fingerprint (spec, code, fixtures, package versions) changed since: the pass no longer
says anything about today's model. The last run is its ``summary.json`` overlaid by the
per-process parts it left behind (``.parts/``, written as each test finishes), so a run
killed before it could write its summary is resumed from what its workers recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness import api
from harness.errors import HarnessError
from harness.report.records import PASSED, ModelRecord, RunSummary
from harness.report.summary import PARTS, merge_parts

Pair = tuple[str, str]  # model, dataset


@dataclass
class ResumePlan:
    """The pairs to take over from the last run (with their records) and why the others run."""

    last_run: str  # when the resumed run started ("" when only parts were left)
    carried: dict[Pair, ModelRecord] = field(default_factory=dict)
    rerun: dict[Pair, str] = field(default_factory=dict)  # pair -> why it runs again

    def summary_lines(self) -> list[str]:
        lines = [
            f"resuming the run of {self.last_run or '(no summary: from its parts)'}: "
            f"{len(self.carried)} passed and are kept, {len(self.rerun)} run again"
        ]
        lines += [f"  {m}/{d}: {why}" for (m, d), why in sorted(self.rerun.items())]
        return lines

    def to_json(self) -> str:
        return json.dumps(
            {
                "last_run": self.last_run,
                "carried": [r.to_dict() for r in self.carried.values()],
                "rerun": [[m, d, why] for (m, d), why in self.rerun.items()],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ResumePlan:
        data = json.loads(text)
        carried = [ModelRecord.from_dict(r) for r in data.get("carried", [])]
        return cls(
            str(data.get("last_run", "")),
            {(r.model, r.dataset): r for r in carried},
            {(m, d): why for m, d, why in data.get("rerun", [])},
        )


def last_run(report_dir: Path) -> tuple[str, dict[Pair, ModelRecord]]:
    """The last run's start and its record per pair: ``summary.json`` with any newer parts
    laid over it (a run that never wrote its summary is known from its parts alone)."""
    report_dir = Path(report_dir)
    summary_path = report_dir / "summary.json"
    records: dict[Pair, ModelRecord] = {}
    started = ""
    if summary_path.exists():
        try:
            summary = RunSummary.from_dict(json.loads(summary_path.read_text()))
        except ValueError as exc:
            raise HarnessError(
                f"{summary_path}: unreadable, cannot resume from it ({exc})"
            ) from None
        started = summary.run.started or ""
        records = {(m.model, m.dataset): m for m in summary.models}
    parts = report_dir / PARTS
    newer = summary_path.stat().st_mtime if summary_path.exists() else 0.0
    if parts.is_dir() and any(p.stat().st_mtime > newer for p in parts.glob("*.json")):
        records.update({(m.model, m.dataset): m for m in merge_parts(parts) if m.model})
    if not records:
        raise HarnessError(
            f"nothing to resume in {report_dir}: no summary.json and no parts of a run there "
            "(run without --resume first, with this report folder)"
        )
    return started, records


def plan(project: api.Project, report_dir: Path, pairs: Iterable[Pair]) -> ResumePlan:
    """Which of ``pairs`` (the pairs this run would run) to take over from the last run."""
    started, records = last_run(report_dir)
    result = ResumePlan(started)
    for pair in sorted(set(pairs)):
        record = records.get(pair)
        if record is None:
            result.rerun[pair] = "not run last time"
        elif record.status != PASSED:
            result.rerun[pair] = f"{record.status} last time"
        elif (why := _changed(project, record)) is not None:
            result.rerun[pair] = why
        else:
            record.carried_over = record.carried_over or started or "an interrupted run"
            result.carried[pair] = record
    return result


def _changed(project: api.Project, record: ModelRecord) -> str | None:
    """Why a pair that passed must run again (its fingerprint moved), or None."""
    then = (record.fingerprint or {}).get("digest")
    try:
        now = api.current_fingerprint(project, project.model(record.model))["digest"]
    except HarnessError as exc:
        return f"cannot fingerprint it now: {exc}"
    if then != now:
        return "its bundle fingerprint changed since it passed"
    return None
