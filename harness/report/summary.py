"""The run summary: per-worker parts merged into ``summary.json`` and ``report.html``.

Each pytest process (each xdist worker) writes one JSON part per model x dataset; the
controller merges them when the run ends, so the summary is complete whichever worker ran
which model.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0).isoformat()


def merge_parts(parts_dir: Path) -> list[dict[str, Any]]:
    models = []
    for part in sorted(parts_dir.glob("*.json")):
        try:
            models.append(json.loads(part.read_text()))
        except ValueError:
            models.append({"model": part.stem, "status": "error",
                           "error": f"unreadable report part {part.name}", "outputs": []})
    return sorted(models, key=lambda m: (m.get("model", ""), m.get("dataset", "")))


def build_summary(models: list[dict[str, Any]], *, backend: str, datasets: list[str],
                  engine: dict[str, str], started: float, finished: float) -> dict[str, Any]:
    engine = engine or next((m["engine"] for m in models if m.get("engine")), {})
    counts: dict[str, int] = {}
    for m in models:
        for o in m.get("outputs", []):
            counts[o.get("status", "error")] = counts.get(o.get("status", "error"), 0) + 1
    return {"run": {"started": _iso(started), "finished": _iso(finished),
                    "seconds": round(finished - started, 1), "backend": backend,
                    "dataset": ",".join(datasets), "engine": engine, "counts": counts},
            "models": models}


def write_reports(report_dir: Path, *, backend: str, datasets: list[str],
                  engine: dict[str, str], started: float, finished: float) -> dict[str, Path]:
    from harness.report.html import write_html

    report_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(merge_parts(report_dir / ".parts"), backend=backend,
                            datasets=datasets, engine=engine, started=started,
                            finished=finished)
    json_path = report_dir / "summary.json"
    tmp = json_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(json_path)
    html_path = write_html(summary, report_dir / "report.html")
    return {"json": json_path, "html": html_path}
