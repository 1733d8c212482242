"""Model specs: a model is data (``suites/<model>/model.yaml`` plus its code), never a subclass.

The spec says who owns the model, how it runs (a list of steps, each ``sql``, ``python`` or
``r``), its configuration (``parameters`` instead of hard-coded values), which fixture
bundles feed which input tables, which outputs it writes (keys, tolerances, ignored
columns), the packages it depends on and the datasets it runs on. Validation is strict:
a misspelt field is an error that names the file, the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.criteria import Acceptance, parse_acceptance
from harness.ddl import parse_ddl
from harness.errors import HarnessError, SpecError
from harness.fields import check_choice, check_fields, problem
from harness.typerules import TYPE_POLICIES

SPEC_FILE = "model.yaml"
DATASETS = ("sample", "full")
STEP_KINDS = ("sql", "python", "r")
PACKAGE_LANGUAGES = ("python", "r")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOP_FIELDS = {
    "name",
    "team",
    "description",
    "owner",
    "steps",
    "parameters",
    "inputs",
    "outputs",
    "packages",
    "datasets",
    "legacy",
    "notes",
    "accepted",
    "determinism",
}
_REQUIRED_TOP = {"name", "team", "description", "steps", "inputs", "outputs"}
_STEP_FIELDS = {"sql", "python", "r", "inputs", "produces", "group_by", "name", "parameters"}
_INPUT_FIELDS = {"fixture", "version", "description"}
_OUTPUT_FIELDS = {
    "keys",
    "rtol",
    "atol",
    "columns",
    "ignore",
    "description",
    "schema",
    "type_policy",
    "acceptance",
}
_COLUMN_TOL_FIELDS = {"rtol", "atol", "reason"}
_LEGACY_FIELDS = {"functions", "conf", "r"}
_ACCEPTED_FIELDS = {"rule", "reason", "file", "line", "column", "expression"}


@dataclass(frozen=True)
class InputSpec:
    table: str
    fixture: str
    version: str
    description: str = ""


@dataclass(frozen=True)
class ColumnTolerance:
    rtol: float | None = None
    atol: float | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in (("rtol", self.rtol), ("atol", self.atol)) if v is not None}


@dataclass(frozen=True)
class OutputSpec:
    name: str
    keys: tuple[str, ...]
    rtol: float = 1e-9
    atol: float = 0.0
    columns: dict[str, ColumnTolerance] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    description: str = ""
    schema: tuple[tuple[str, str], ...] | None = None  # expected (column, type); None: unchecked
    type_policy: str = "widening"
    acceptance: Acceptance | None = None  # what an approved change must satisfy (criteria)


@dataclass(frozen=True)
class AcceptedFinding:
    """A ``harness lint`` finding the model's owners accepted: ``rule`` (a catalogue id) with
    a ``reason``, narrowed by ``file`` (a step's file), ``line``, ``column`` (the column
    the construct sits in or an output column it feeds, ``name`` or ``output.name``) and
    ``expression`` (the construct as lint prints it: what ``harness lint --accept`` writes,
    so the entry follows the code when lines move and goes stale when the code changes)."""

    rule: str
    reason: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    expression: str | None = None


@dataclass(frozen=True)
class StepSpec:
    kind: str  # sql | python | r
    target: str  # sql: file; python/r: "file:function"
    inputs: tuple[str, ...] | None = None
    produces: dict[str, str | None] = field(default_factory=dict)  # table -> schema DDL
    group_by: tuple[str, ...] = ()
    name: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def function(self) -> str | None:
        return self.target.split(":", 1)[1] if ":" in self.target else None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    team: str
    description: str
    directory: Path
    steps: tuple[StepSpec, ...]
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    parameters: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, dict[str, str]] = field(default_factory=dict)
    datasets: tuple[str, ...] = DATASETS
    legacy_functions: dict[str, str] = field(default_factory=dict)
    legacy_conf: dict[str, str] = field(default_factory=dict)
    # R code run before each R step on the legacy platform, in place of the profile's (the
    # edge node's R version decides: [] when it already had today's sampler); None: the profile
    legacy_r: tuple[str, ...] | None = None
    owner: str = ""
    notes: str = ""
    accepted: tuple[AcceptedFinding, ...] = ()
    determinism: bool = False  # the nightly also runs the determinism check on it

    @property
    def spec_path(self) -> Path:
        return self.directory / SPEC_FILE

    @property
    def code_files(self) -> list[Path]:
        """Every file of the model's folder that can change its results: not caches, not
        documentation (a README edit is not a model change)."""
        return sorted(
            p
            for p in self.directory.rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and not p.name.startswith(".")
            and p.suffix.lower() not in (".pyc", ".md", ".txt", ".rst")
        )

    @property
    def uses_r(self) -> bool:
        return any(s.kind == "r" for s in self.steps)


def _fail(path: Path, where: str, what: str, fix: str = "") -> HarnessError:
    return problem(SpecError, path, where, what, fix)


def _check_fields(
    path: Path, where: str, data: Any, allowed: Collection[str], required: Collection[str] = ()
) -> dict[str, Any]:
    return check_fields(SpecError, path, where, data, allowed, required)


def _number(path: Path, where: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _fail(path, where, f"must be a number, got {value!r}") from None
    if number < 0 or number != number:
        raise _fail(path, where, f"must be a non-negative number, got {value!r}")
    return number


def _names(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, where, f"must be a list of column names, got {value!r}")
    return tuple(value)


def _schema(path: Path, where: str, value: Any) -> tuple[tuple[str, str], ...]:
    """An output's expected schema: a Hive DDL column list, like the fixtures' schemas."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(
            path,
            where,
            f"must be a column list, got {value!r}",
            "e.g. 'customer_id BIGINT, premium DOUBLE'",
        )
    try:
        return tuple(parse_ddl(value))
    except ValueError as exc:
        raise _fail(
            path,
            where,
            f"cannot parse the column list: {exc}",
            "e.g. 'customer_id BIGINT, premium DOUBLE'",
        ) from None


def _parse_step(path: Path, index: int, raw: Any) -> StepSpec:
    where = f"steps[{index}]"
    data = _check_fields(path, where, raw, _STEP_FIELDS)
    kinds = [k for k in STEP_KINDS if k in data]
    if len(kinds) != 1:
        raise _fail(
            path,
            where,
            "needs exactly one of 'sql', 'python' or 'r'",
            "e.g. 'sql: model.sql' or 'r: score.R:score'",
        )
    kind = kinds[0]
    target = data[kind]
    if not isinstance(target, str) or not target:
        raise _fail(path, f"{where}.{kind}", "must be a file name (and ':function' for python/r)")
    if kind in ("python", "r") and ":" not in target:
        raise _fail(
            path,
            f"{where}.{kind}",
            f"'{target}' names no function",
            f"write it as '{target}:function_name'",
        )
    code = path.parent / target.split(":", 1)[0]
    if not code.is_file():
        raise _fail(
            path, f"{where}.{kind}", f"code file '{code.name}' does not exist in {path.parent}"
        )
    produces_raw = data.get("produces", {})
    if isinstance(produces_raw, list):
        produces_raw = {name: None for name in produces_raw}
    if not isinstance(produces_raw, dict):
        raise _fail(path, f"{where}.produces", "must map table names to schema DDL (or list names)")
    if kind == "r" and not all(produces_raw.values()):
        raise _fail(
            path,
            f"{where}.produces",
            "an r step must declare each table's schema",
            "e.g. 'scores: customer_id BIGINT, propensity DOUBLE'",
        )
    group_by = _names(path, f"{where}.group_by", data["group_by"]) if "group_by" in data else ()
    if group_by and kind == "sql":
        raise _fail(path, f"{where}.group_by", "only python and r steps run per group")
    inputs = _names(path, f"{where}.inputs", data["inputs"]) if "inputs" in data else None
    params = data.get("parameters", {}) or {}
    if not isinstance(params, dict):
        raise _fail(path, f"{where}.parameters", "must be a mapping")
    return StepSpec(
        kind,
        target,
        inputs,
        dict(produces_raw),
        group_by,
        str(data.get("name", f"{kind}:{target}")),
        params,
    )


def _parse_output(path: Path, name: str, raw: Any, tables: Collection[str]) -> OutputSpec:
    where = f"outputs.{name}"
    data = _check_fields(path, where, raw, _OUTPUT_FIELDS, {"keys"})
    keys = _names(path, f"{where}.keys", data["keys"])
    columns = {}
    for col, tol in (data.get("columns") or {}).items():
        tol = _check_fields(path, f"{where}.columns.{col}", tol, _COLUMN_TOL_FIELDS)
        if "rtol" not in tol and "atol" not in tol:
            raise _fail(path, f"{where}.columns.{col}", "set rtol and/or atol")
        columns[col] = ColumnTolerance(
            _number(path, f"{where}.columns.{col}.rtol", tol["rtol"]) if "rtol" in tol else None,
            _number(path, f"{where}.columns.{col}.atol", tol["atol"]) if "atol" in tol else None,
            str(tol.get("reason", "")),
        )
    policy = check_choice(
        SpecError,
        path,
        f"{where}.type_policy",
        data.get("type_policy", "widening"),
        TYPE_POLICIES,
        "type policy",
    )
    return OutputSpec(
        name=name,
        keys=keys,
        rtol=_number(path, f"{where}.rtol", data.get("rtol", 1e-9)),
        atol=_number(path, f"{where}.atol", data.get("atol", 0.0)),
        columns=columns,
        ignore=_names(path, f"{where}.ignore", data["ignore"]) if data.get("ignore") else (),
        description=str(data.get("description", "")),
        schema=_schema(path, f"{where}.schema", data["schema"]) if "schema" in data else None,
        type_policy=policy,
        acceptance=(
            parse_acceptance(path, f"{where}.acceptance", data["acceptance"], tables)
            if "acceptance" in data
            else None
        ),
    )


def _parse_accepted(
    path: Path, raw: Any, steps: tuple[StepSpec, ...]
) -> tuple[AcceptedFinding, ...]:
    """The ``accepted:`` list; each rule must be in the catalogue, each file a step's."""
    # Imported here: harness.explain reads specs, so a top-level import could be circular.
    from harness.catalogue import load_catalogue

    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(
            path,
            "accepted",
            "must be a list of accepted findings",
            "e.g. '- {rule: percentile-approx, reason: \"CR-2024-017\"}'",
        )
    rules = load_catalogue()
    files = sorted({step.file for step in steps})
    entries = []
    for i, item in enumerate(raw):
        where = f"accepted[{i}]"
        data = _check_fields(path, where, item, _ACCEPTED_FIELDS, {"rule", "reason"})
        rule = check_choice(SpecError, path, f"{where}.rule", data["rule"], rules, "rule")
        reason = data["reason"]
        if not isinstance(reason, str) or not reason.strip():
            raise _fail(path, f"{where}.reason", "must say why the finding is accepted")
        file = data.get("file")
        if file is not None:
            file = check_choice(SpecError, path, f"{where}.file", file, files, "step file")
        line = data.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise _fail(path, f"{where}.line", f"must be a line number, got {line!r}")
        if line is not None and file is None and len(files) > 1:
            raise _fail(path, f"{where}.line", "a line needs its 'file'", f"one of {files}")
        column = data.get("column")
        if column is not None and (not isinstance(column, str) or not column):
            raise _fail(path, f"{where}.column", f"must be a column name, got {column!r}")
        expression = data.get("expression")
        if expression is not None and (not isinstance(expression, str) or not expression.strip()):
            raise _fail(
                path, f"{where}.expression", f"must be lint's expression, got {expression!r}"
            )
        entries.append(AcceptedFinding(rule, reason.strip(), file, line, column, expression))
    return tuple(entries)


def load_spec(path: Path | str) -> ModelSpec:
    """Read and validate one ``model.yaml``; every problem names the file and field."""
    path = Path(path)
    if path.is_dir():
        path = path / SPEC_FILE
    if not path.is_file():
        raise SpecError(f"{path}: no model spec here (each model needs suites/<model>/{SPEC_FILE})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}" if mark else "YAML"
        raise _fail(path, at, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    data = _check_fields(path, "top level", raw, _TOP_FIELDS, _REQUIRED_TOP)
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(path, "name", f"{name!r} is not a valid model name", "letters, digits, _")
    if name != path.parent.name:
        raise _fail(
            path,
            "name",
            f"'{name}' differs from its folder '{path.parent.name}'",
            "rename one so they match",
        )
    for text_field in ("team", "description"):
        if not isinstance(data[text_field], str) or not data[text_field].strip():
            raise _fail(path, text_field, "must be a non-empty string")

    if not isinstance(data["steps"], list) or not data["steps"]:
        raise _fail(path, "steps", "must be a non-empty list of steps")
    steps = tuple(_parse_step(path, i, s) for i, s in enumerate(data["steps"]))

    inputs = {}
    if not isinstance(data["inputs"], dict) or not data["inputs"]:
        raise _fail(path, "inputs", "must map input table names to fixture bundles")
    for table, ref in data["inputs"].items():
        if isinstance(ref, str) and "@" in ref:  # shorthand: customers@1
            fixture, version = ref.split("@", 1)
            ref = {"fixture": fixture, "version": version}
        ref = _check_fields(path, f"inputs.{table}", ref, _INPUT_FIELDS, {"fixture", "version"})
        inputs[table] = InputSpec(
            table, str(ref["fixture"]), str(ref["version"]), str(ref.get("description", ""))
        )

    if not isinstance(data["outputs"], dict) or not data["outputs"]:
        raise _fail(path, "outputs", "must map output table names to keys and tolerances")
    tables = {*inputs, *data["outputs"]}  # what an acceptance label may read
    outputs = {n: _parse_output(path, n, o, tables) for n, o in data["outputs"].items()}

    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail(path, "parameters", "must be a mapping of name: value")
    packages = data.get("packages") or {}
    _check_fields(path, "packages", packages, PACKAGE_LANGUAGES)
    packages = {
        lang: {str(k): str(v) for k, v in (pkgs or {}).items()} for lang, pkgs in packages.items()
    }
    wanted = data.get("datasets", list(DATASETS))
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted, list) or not wanted:
        raise _fail(
            path,
            "datasets",
            f"must be a list of datasets, got {wanted!r}",
            f"e.g. [{', '.join(DATASETS)}]",
        )
    datasets = tuple(
        check_choice(SpecError, path, "datasets", ds, DATASETS, "dataset") for ds in wanted
    )
    legacy = _check_fields(path, "legacy", data.get("legacy") or {}, _LEGACY_FIELDS)
    determinism = data.get("determinism", False)
    if not isinstance(determinism, bool):
        raise _fail(path, "determinism", f"must be true or false, got {determinism!r}")

    known = set(inputs)
    for step in steps:
        for table in step.inputs or ():
            if table not in known:
                raise _fail(
                    path,
                    f"step '{step.name}'",
                    f"reads '{table}', which no input or earlier step provides",
                )
        known |= set(step.produces)
    return ModelSpec(
        name=name,
        team=data["team"],
        description=data["description"].strip(),
        directory=path.parent.resolve(),
        steps=steps,
        inputs=inputs,
        outputs=outputs,
        parameters=params,
        packages=packages,
        datasets=datasets,
        legacy_functions={str(k): str(v) for k, v in (legacy.get("functions") or {}).items()},
        legacy_conf={str(k): str(v) for k, v in (legacy.get("conf") or {}).items()},
        legacy_r=_legacy_r(path, legacy.get("r", None)),
        owner=str(data.get("owner", "")),
        notes=str(data.get("notes", "")),
        accepted=_parse_accepted(path, data.get("accepted"), steps),
        determinism=determinism,
    )


def _legacy_r(path: Path, value: Any) -> tuple[str, ...] | None:
    """``legacy.r``: R expressions (a list, possibly empty) replacing the profile's."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(
            path,
            "legacy.r",
            f"must be a list of R expressions, got {value!r}",
            "e.g. ['RNGkind(sample.kind = \"Rounding\")'], or [] when the edge node ran R >= 3.6",
        )
    return tuple(v.strip() for v in value)


def discover(suites_root: Path | str) -> dict[str, ModelSpec]:
    """All models under ``suites_root`` (each ``<model>/model.yaml``), by name."""
    root = Path(suites_root)
    if not root.is_dir():
        raise SpecError(f"{root}: the suites folder does not exist")
    return {spec.name: spec for spec in (load_spec(p) for p in sorted(root.glob(f"*/{SPEC_FILE}")))}
