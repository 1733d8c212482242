"""The run summary: per-worker parts merged into ``summary.json`` and ``report.html``.

Each pytest process (each xdist worker) writes one JSON part per model x dataset (a
``ModelRecord``); the controller merges them when the run ends, so the summary is complete
whichever worker ran which model. ``harness run --report-dir`` writes the same two files.
The migration risks (``harness lint``, per model) are computed once, by the controller, for
the models the merged records name: lint reads files, so no worker needs to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from harness.report.records import (
    ERROR,
    FAILED,
    NOT_CHECKED,
    ModelRecord,
    RiskRecord,
    RunRecord,
    RunSummary,
    run_engine,
)

PARTS = ".parts"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0).isoformat()


def write_part(report_dir: Path, record: ModelRecord, worker: str) -> Path:
    """One process's record of one model x dataset, for the controller to merge."""
    parts = Path(report_dir) / PARTS
    parts.mkdir(parents=True, exist_ok=True)
    path = parts / f"{record.model}-{record.dataset}-{worker}.json"
    path.write_text(json.dumps(record.to_dict(), default=str))
    return path


def clear_parts(report_dir: Path) -> None:
    """Drop the parts an earlier run left, so they never leak into this run's summary."""
    for old in (Path(report_dir) / PARTS).glob("*.json"):
        old.unlink()


def merge_parts(parts_dir: Path) -> list[ModelRecord]:
    models = []
    for part in sorted(parts_dir.glob("*.json")):
        try:
            models.append(ModelRecord.from_dict(json.loads(part.read_text())))
        except ValueError:
            models.append(ModelRecord(part.stem, "", error=f"unreadable report part {part.name}"))
    return sorted(models, key=lambda m: (m.model, m.dataset))


def reconcile(
    models: list[ModelRecord],
    carried: Iterable[ModelRecord],
    pytest_failures: Mapping[tuple[str, str], str],
) -> list[ModelRecord]:
    """The run's records, with the carried-over ones it did not run itself, and an error on
    every record pytest failed but the record does not (a worker that crashed while running
    the model: another worker may have run it again and recorded a pass)."""
    merged: dict[tuple[str, str], ModelRecord] = {}
    for record in models:  # two processes' parts of one pair (one crashed): the fuller
        pair = (record.model, record.dataset)
        if pair not in merged or _checked(record) >= _checked(merged[pair]):
            merged[pair] = record
    for record in carried:
        merged.setdefault((record.model, record.dataset), record)
    for (model, dataset), line in pytest_failures.items():
        record = merged.setdefault((model, dataset), ModelRecord(model, dataset))
        if record.status not in (FAILED, ERROR):
            record.error = f"pytest reported {line}"
    return sorted(merged.values(), key=lambda m: (m.model, m.dataset))


def _checked(record: ModelRecord) -> int:
    return sum(o.status != NOT_CHECKED for o in record.outputs)


def build_summary(
    models: Iterable[ModelRecord],
    *,
    backend: str,
    datasets: list[str],
    engine: Mapping[str, str] | None,
    started: float,
    finished: float,
    risks: Iterable[RiskRecord] = (),
) -> RunSummary:
    models = list(models)
    return RunSummary(
        RunRecord(
            _iso(started),
            _iso(finished),
            round(finished - started, 1),
            backend,
            list(datasets),
            run_engine(models, engine),
        ),
        models,
        list(risks),
    )


def write_summary(report_dir: Path, summary: RunSummary) -> dict[str, Path]:
    """``summary.json`` (atomically replaced) and ``report.html`` in ``report_dir``."""
    from harness.report.html import write_html

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = report_dir / "summary.json"
    tmp = json_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    tmp.replace(json_path)
    return {"json": json_path, "html": write_html(summary, report_dir / "report.html")}


def write_reports(
    report_dir: Path,
    *,
    backend: str,
    datasets: list[str],
    engine: Mapping[str, str] | None,
    started: float,
    finished: float,
    risks: Callable[[list[str]], list[RiskRecord]] | None = None,
    carried: Iterable[ModelRecord] = (),
    pytest_failures: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Path]:
    """Merge the run's parts into ``summary.json`` and ``report.html``; ``risks`` gives the
    migration risks of the models the parts name. ``carried``: records a resumed run takes
    over from the run it resumes. ``pytest_failures``: what pytest reported failed per model
    x dataset, so the summary never calls passed what pytest did not (see ``reconcile``)."""
    models = reconcile(merge_parts(Path(report_dir) / PARTS), carried, pytest_failures or {})
    names = sorted({m.model for m in models if m.model})
    summary = build_summary(
        models,
        backend=backend,
        datasets=datasets,
        engine=engine,
        started=started,
        finished=finished,
        risks=risks(names) if risks else (),
    )
    return write_summary(report_dir, summary)
