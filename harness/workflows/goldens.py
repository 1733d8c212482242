"""Where the nightly's goldens come from: emulated on request (the demo), else real exports only.

A golden captured by legacy emulation is the new platform's own emulation of the old one; a
nightly that captured every missing golden that way would, from its first night in
production, prove Spark 4 against itself and never against what HDInsight really produced.
So the nightly captures only when asked (``CAPTURE_MODES``: ``emulated``, what the local
demo's ``scripts/run-parity.sh`` asks for; ``never``, the default and the Databricks job's),
and in ``never`` mode a missing golden stops the run before anything runs or is written,
with one line naming the import command and the runbook that exports real goldens
(:data:`RUNBOOK`).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import SparkSession

from harness import api
from harness.errors import GoldenError
from harness.golden import GoldenRef, GoldenStore

CAPTURE_MODES = ("never", "emulated")  # the default first: production never emulates
RUNBOOK = 'docs/cluster.md, "Real legacy goldens: export and import"'


class MissingGoldenError(GoldenError):
    """A production run found goldens missing: they must be imported from legacy exports."""


def missing_goldens(project: api.Project, store: GoldenStore, dataset: str) -> list[GoldenRef]:
    """Every golden the project's models need on ``dataset`` that the store does not have."""
    return [
        ref
        for name, spec in sorted(project.models.items())
        if dataset in spec.datasets
        for ref in (GoldenRef(name, dataset, output) for output in spec.outputs)
        if not store.exists(ref)
    ]


def require_goldens(project: api.Project, store: GoldenStore, dataset: str) -> None:
    """Production: every golden is there, or one line saying how to export and import it."""
    missing = missing_goldens(project, store, dataset)
    if not missing:
        return
    first = missing[0]
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    raise MissingGoldenError(
        f"no golden for {first}{more} in {store.root}: production goldens are the legacy "
        f"platform's real outputs, never emulated; export them on HDInsight (harness legacy "
        f"export-script {first.model} --to abfss://...; runbook: {RUNBOOK}) and import each "
        f"with harness golden import {first.model} {first.output} EXPORT_FOLDER --dataset "
        f"{first.dataset}; nothing was run or written (a demo captures emulated goldens "
        "with --capture emulated)"
    )


def capture_missing(
    spark: SparkSession,
    project: api.Project,
    dataset: str,
    *,
    scale: float = 1.0,
    emit: Callable[[str], None] = print,
) -> list[GoldenRef]:
    """The demo: each missing golden captured on the emulated legacy platform (labelled so in
    its provenance and in every report)."""
    captured: list[GoldenRef] = []
    for name, spec in sorted(project.models.items()):
        if dataset not in spec.datasets:
            continue
        done = api.capture(spark, project, spec, dataset, scale=scale)
        captured += [GoldenRef(name, dataset, output) for output in done]
        emit(f"{name}/{dataset}: " + (f"captured {', '.join(done)}" if done else "goldens present"))
    return captured
