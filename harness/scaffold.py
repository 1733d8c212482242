"""A new model's folder, written so that it runs at once: ``harness new MODEL --lang L``.

``new_model`` writes ``suites/<model>/``: ``model.yaml`` (valid; its inputs are the fixture
bundles named, or one marked TODO), a code stub in the chosen language that reads every
input and writes one output (``row_counts``: rows per input table), and ``README.md`` with
the tables section and the commands that run it. The stub's only purpose is a first green
run (``harness capture MODEL``, then ``pytest -k MODEL``); the user replaces it with the
legacy code. An existing folder is never overwritten.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from harness.errors import HarnessError, SpecError
from harness.fixtures import load_bundle
from harness.spec import STEP_KINDS, load_spec

LANGUAGES = STEP_KINDS  # a model's first step is sql, python or r
OUTPUT = "row_counts"  # the stub's one output: rows per input table
OUTPUT_SCHEMA = "input_table STRING, n_rows BIGINT"
TODO_INPUT = ("todo_input", "todo_fixture", "1")
_EXTENSIONS = {"sql": "hql", "python": "py", "r": "R"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_SQL = """\
-- {model}.hql: TODO what this model computes (paste the legacy Hive job here, unchanged).
-- Input tables are read by name; parameters (model.yaml) arrive as ${{hivevar:min_rows}}.
DROP TABLE IF EXISTS {output};

CREATE TABLE {output} AS
SELECT input_table, n_rows
FROM (
{selects}
) counts
WHERE n_rows >= ${{hivevar:min_rows}};
"""

_PYTHON = '''\
"""{model}.py -- TODO what this model computes (paste the legacy PySpark job here).

The harness calls run() with the arguments it names: ``spark``, ``tables`` (a dict of every
input table's DataFrame), ``params`` (model.yaml's parameters) and any input table by name,
e.g. ``def run(spark, params, {first}):``. It returns a DataFrame when the step produces one
table, else a dict {{table name: DataFrame}}.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import functions as F


def run(spark, tables, params):
    counts = [
        df.agg(F.count(F.lit(1)).alias("n_rows")).select(
            F.lit(name).alias("input_table"), "n_rows"
        )
        for name, df in sorted(tables.items())
    ]
    out = reduce(lambda a, b: a.unionByName(b), counts)
    return out.where(F.col("n_rows") >= params["min_rows"])
'''

_R = """\
# {model}.R -- TODO what this model computes (paste the legacy R script here).
#
# The harness calls run(tables, params): tables is a named list of data.frames (one per
# input table, e.g. tables${first}), params a named list (model.yaml's parameters). It
# returns a data.frame when the step produces one table, else a named list of them; each
# table's columns and types are declared under produces: in model.yaml.

run <- function(tables, params) {{
  counts <- data.frame(input_table = names(tables),
                       n_rows = vapply(tables, nrow, integer(1)),
                       stringsAsFactors = FALSE)
  counts[counts$n_rows >= params$min_rows, ]
}}
"""

_SPEC = """\
name: {model}
team: TODO                    # the team that owns the model
owner: TODO@example.com
description: >
  TODO: what the model computes, for whom, and where it ran on the legacy platform.
steps:                        # run in order, sharing one namespace of tables
{step}
parameters:                   # configuration instead of hard-coded values
  min_rows: 0                 # {param_use}
inputs:                       # input table name -> fixture bundle@version
{inputs}
outputs:                      # TODO: the model's real outputs, their keys and tolerances
  {output}:
    description: one row per input table
    keys: [input_table]
    rtol: 1.0e-9
packages:                     # versions recorded in every golden's fingerprint
  {packages}
datasets: [{datasets}]
"""

_README = """\
# {model}

TODO: what the model computes, for whom, and where it ran on the legacy platform. Made by
`harness new {model} --lang {lang}`: the code in `{code}` is a stub (rows per input table)
to replace with the legacy {language} code.

| reads (fixture) | writes (keys) |
|---|---|
{rows}

Run it:

```bash
.venv/bin/harness capture {model}                     # goldens from the emulated legacy platform
.venv/bin/pytest -k {model}                           # sample data, against the goldens
{full}.venv/bin/harness run {model} --dataset sample  # without pytest, prints the comparison
.venv/bin/harness describe {model}
```

Tolerance: rtol 1e-9 on every numeric column.
"""

_PARAM_USE = {
    "sql": "${hivevar:min_rows} in the SQL",
    "python": 'params["min_rows"] in Python',
    "r": "params$min_rows in R",
}
_PACKAGES = {
    "sql": 'python: {pyspark: ">=4.3"}',
    "python": 'python: {pyspark: ">=4.3"}',
    "r": 'r: {stats: "*"}',
}
_LANGUAGE = {"sql": "Hive SQL", "python": "Python", "r": "R"}


def parse_inputs(refs: list[str]) -> list[tuple[str, str, str]]:
    """``NAME@VERSION`` (the table is named after its fixture) or ``TABLE=NAME@VERSION``."""
    out = []
    for ref in refs:
        table, _, bundle = ref.rpartition("=")
        name, at, version = bundle.partition("@")
        if not at or not name or not version or not _NAME.match(table or name):
            raise SpecError(f"--inputs {ref!r}: write NAME@VERSION or TABLE=NAME@VERSION")
        out.append((table or name, name, version))
    return out


def new_model(
    suites: Path, fixtures: Path, model: str, lang: str, inputs: list[str] | None = None
) -> list[Path]:
    """Write ``suites/<model>/`` (see the module doc); returns the files written."""
    if lang not in LANGUAGES:
        raise SpecError(f"--lang {lang!r}: use one of {', '.join(LANGUAGES)}")
    if not _NAME.match(model):
        raise SpecError(f"{model!r} is not a valid model name (letters, digits and _)")
    directory = suites / model
    if directory.exists():
        raise SpecError(f"{directory} exists: harness new never overwrites a model")
    tables = parse_inputs(inputs or [])
    bundles = [load_bundle(fixtures, name, version) for _, name, version in tables]
    full = all(b.recipe is not None or b.location is not None for b in bundles) and bundles
    if not tables:
        tables = [TODO_INPUT]
    code = f"{model}.{_EXTENSIONS[lang]}"
    names = [t for t, _, _ in tables]
    files = {
        "model.yaml": _spec(model, lang, code, tables, bool(full)),
        code: _code(model, lang, names),
        "README.md": _readme(model, lang, code, tables, bool(full)),
    }
    directory.mkdir(parents=True)
    written = []
    try:
        for name, text in files.items():
            (directory / name).write_text(text)
            written.append(directory / name)
        load_spec(directory)  # what harness new writes is valid, or nothing is left behind
    except (HarnessError, OSError):
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return written


def _spec(model: str, lang: str, code: str, tables: list[tuple[str, str, str]], full: bool) -> str:
    target = code if lang == "sql" else f"{code}:run"
    step = [f"  - {lang}: {target}"]
    if lang == "r":
        step += [
            f"    inputs: [{', '.join(t for t, _, _ in tables)}]",
            "    produces:                # an r step declares each table's columns",
            f'      {OUTPUT}: "{OUTPUT_SCHEMA}"',
        ]
    else:
        step.append(f"    produces: [{OUTPUT}]")
    if tables == [TODO_INPUT]:
        table, name, version = TODO_INPUT
        inputs = (
            "  # TODO: the fixture bundles the model reads (harness fixtures import makes one)\n"
            f"  {table}: {name}@{version}"
        )
    else:
        inputs = "\n".join(f"  {t}: {n}@{v}" for t, n, v in tables)
    return _SPEC.format(
        model=model,
        step="\n".join(step),
        param_use=_PARAM_USE[lang],
        inputs=inputs,
        output=OUTPUT,
        packages=_PACKAGES[lang],
        datasets="sample, full" if full else "sample",
    )


def _code(model: str, lang: str, tables: list[str]) -> str:
    if lang == "sql":
        selects = "\n  UNION ALL\n".join(
            f"  SELECT '{t}' AS input_table, COUNT(*) AS n_rows FROM {t}" for t in tables
        )
        return _SQL.format(model=model, output=OUTPUT, selects=selects)
    return (_PYTHON if lang == "python" else _R).format(model=model, first=tables[0])


def _readme(
    model: str, lang: str, code: str, tables: list[tuple[str, str, str]], full: bool
) -> str:
    rows = [f"| `{t}` ({n}@{v}) | |" for t, n, v in tables]
    rows[0] = rows[0][: -len(" |")] + f" `{OUTPUT}` (input_table) |"
    full_line = (
        f".venv/bin/pytest -k {model} --harness-dataset full   # full data\n" if full else ""
    )
    return _README.format(
        model=model,
        lang=lang,
        code=code,
        language=_LANGUAGE[lang],
        rows="\n".join(rows),
        full=full_line,
    )
