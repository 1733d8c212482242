"""The runbook that brings real legacy goldens over: HiveQL for HDInsight, imports for the harness.

Production goldens are what the legacy platform really produced, never an emulation of it
(``harness.workflows.goldens``). This writes the two halves of getting them:

* ``export.hql``, run on the legacy cluster (``beeline -f export.hql``): for every output
  table a model declares, one ``INSERT OVERWRITE DIRECTORY '<to>/<model>/<dataset>/<output>'
  STORED AS PARQUET SELECT * FROM <table>`` (HiveQL that Hive 2.x and Spark with Hive support
  both accept), so each output and dataset gets a folder of its own;
* ``import.sh``, run where the harness runs: the matching ``harness golden import`` of each
  folder, which records the export it came from in the golden's provenance ("imported").

Hive names the columns of a directory export by position (``_col0``, ``_col1`` ...); the
export selects an output's declared ``schema`` columns in their order, and the import gives
them those names back (an output that declares no schema needs ``--schema`` at its import,
in the table's column order, as ``export.hql`` says beside it).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from harness.errors import SpecError
from harness.spec import DATASETS, ModelSpec

HARNESS = "${HARNESS:-harness}"  # the import script's command, word-split: HARNESS='...' overrides


@dataclass(frozen=True)
class Export:
    """One output table of one model exported to a folder of its own."""

    model: str
    output: str
    dataset: str
    table: str  # as the legacy platform names it (database-qualified when one was given)
    location: str  # <to>/<model>/<dataset>/<output>
    keys: tuple[str, ...]
    columns: tuple[str, ...]  # the output's declared schema, in its order; () when none


def plan(
    models: dict[str, ModelSpec],
    names: list[str],
    *,
    to: str,
    dataset: str = "full",
    database: str | None = None,
) -> list[Export]:
    """Every output of the named models (all when none is named) and where it goes."""
    if dataset not in DATASETS:
        raise SpecError(f"unknown dataset '{dataset}' (use {', '.join(DATASETS)})")
    if not to.strip():
        raise SpecError("--to names the folder the legacy cluster exports to (abfss://...)")
    unknown = [n for n in names if n not in models]
    if unknown:
        raise SpecError(
            f"unknown model '{unknown[0]}'; models: {', '.join(sorted(models)) or '(none)'}"
        )
    base = to.rstrip("/")
    return [
        Export(
            spec.name,
            output,
            dataset,
            f"{database}.{output}" if database else output,
            f"{base}/{spec.name}/{dataset}/{output}",
            tuple(out.keys),
            tuple(name for name, _ in out.schema or ()),
        )
        for spec in (models[n] for n in (names or sorted(models)))
        if dataset in spec.datasets
        for output, out in spec.outputs.items()
    ]


def _quote_path(path: str) -> str:
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_table(table: str) -> str:
    return ".".join(f"`{part}`" for part in table.split("."))


def hiveql(exports: list[Export]) -> str:
    """``export.hql``: the statements a team runs on the legacy cluster."""
    lines = [
        "-- Legacy outputs exported as goldens for the parity harness (harness legacy "
        "export-script).",
        '-- Run on the legacy cluster: beeline -u "$HIVE_JDBC_URL" -f export.hql',
        "-- then, where the harness runs: bash import.sh (docs/cluster.md, "
        '"Real legacy goldens: export and import").',
        "",
    ]
    for e in exports:
        lines.append(f"-- {e.model} / {e.output} ({e.dataset}; keys: {', '.join(e.keys)})")
        if not e.columns:
            lines.append(
                f"-- Hive names exported columns _col0, _col1 ...: declare outputs.{e.output}"
                f".schema in suites/{e.model}/model.yaml (or pass --schema to its import, "
                "in the table's column order)"
            )
        select = ", ".join(f"`{c}`" for c in e.columns) or "*"  # the import's order
        lines += [
            f"INSERT OVERWRITE DIRECTORY {_quote_path(e.location)}",
            "STORED AS PARQUET",
            f"SELECT {select} FROM {_quote_table(e.table)};",
            "",
        ]
    return "\n".join(lines)


def import_script(exports: list[Export]) -> str:
    """``import.sh``: one ``harness golden import`` per exported folder."""
    lines = [
        "#!/usr/bin/env bash",
        "# Imports the legacy exports that export.hql wrote as goldens (provenance: imported).",
        "# Run from the project root after the export, with the golden root the nightly uses,",
        "# e.g. HARNESS='harness --golden-root dbfs:/Volumes/parity/nightly/harness/golden'",
        "#      bash import.sh",
        "set -euo pipefail",
    ]
    for e in exports:
        args = [
            "golden",
            "import",
            e.model,
            e.output,
            e.location,
            "--format",
            "parquet",
            "--dataset",
            e.dataset,
            "--reason",
            f"legacy export {e.location} (harness legacy export-script)",
        ]
        lines.append(f"{HARNESS} " + " ".join(shlex.quote(a) for a in args))
    return "\n".join(lines) + "\n"
