"""The catalogue's Python and R rules: found in a step's own code, shown on this machine.

Each Python rule's demo runs on a classic session (the legacy platform's kind: it has a
SparkContext, RDDs and py4j) and on a Spark Connect session of the same Spark from a server
this module starts (what Databricks shared and serverless compute are); each R rule's demo
runs in the R the harness runs, as today's R and after the rule's legacy emulation (or the
demo's legacy spelling). A Spark 2-style model runs on the classic session and, run by
``run_model`` on the Connect session, fails naming its construct. Then lint on whole models:
a Spark 2-style Python step and an R step that samples after set.seed are flagged with
file:line and the outputs they shape, in text, JSON and SARIF; a file R cannot parse is "not
analysed" with R's reason. (tests/test_r_legacy_sampler.py: the R rule through a golden.)
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from project_copy import copy_project

from harness.api import Project, drop_scratch_database, run_model
from harness.backends import ConnectServer, get_spark, stop_spark
from harness.catalogue import Rule, load_catalogue
from harness.cli import main
from harness.errors import HarnessError, first_line
from harness.explain.attribute import with_error_causes
from harness.explain.lint import find
from harness.spec import InputSpec, ModelSpec, OutputSpec, StepSpec

RULES = load_catalogue()
PY_RULES = [r for r in RULES.values() if r.language == "python"]
R_RULES = [r for r in RULES.values() if r.language == "r"]


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


def _run_python(spark: Any, code: str) -> Any:
    """The demo's ``result`` rows, or ``{"error": <its message>}``."""
    scope: dict[str, Any] = {"spark": spark}
    try:
        exec(code, scope)  # the catalogue's own demo code, not user input
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return _plain(scope["result"])


def _check(rule: Rule, side: str, actual: Any) -> None:
    expected = rule.demo[side]
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{rule.id}: {side}: expected an error, got {actual}"
        assert expected["error"] in actual["error"], f"{rule.id}: {side}: {actual['error']}"
    else:
        assert actual == expected, f"{rule.id}: {side}: got {actual}, documented {expected}"


@pytest.fixture(scope="module")
def python_demos(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, Any]]]:
    """Every Python rule's demo on a classic session, then on a Spark Connect session; on
    Connect also the Spark 2-style step alone and as a model run by ``run_model``."""
    project = _spark2_project(tmp_path_factory.mktemp("spark2") / "proj")
    stop_spark()
    classic = get_spark("local")
    legacy = {r.id: _run_python(classic, r.demo["python"]) for r in PY_RULES}
    legacy["run_model"] = _run_model(classic, project)
    stop_spark()  # a process is classic or Connect, one at a time
    server = ConnectServer(driver_memory="1g")
    server.start()
    try:
        client = get_spark("connect", remote=server.url)
        current = {r.id: _run_python(client, r.demo["python"]) for r in PY_RULES}
        current["spark2-step"] = _run_spark2_step(client)
        current["run_model"] = _run_model(client, project)
    finally:
        stop_spark()
        server.stop()
    yield {"legacy": legacy, "spark": current}


def _spark2_project(root: Path) -> Project:
    """A project whose one model is SPARK2_STEP over the customers fixture."""
    copy_project(root, models=())
    _write_spark2_model(root)
    return Project.find(root)


def _run_model(spark: Any, project: Project) -> str:
    """``run_model``'s error on this session ("" when the model runs)."""
    spec = project.model("legacy_job")
    try:
        run = run_model(spark, project, spec, "sample", materialize=False)
        run.outputs["counts"].collect()
    except HarnessError as exc:
        return str(exc)
    finally:
        drop_scratch_database(spark)
    return ""


def _run_spark2_step(spark: Any) -> str:
    """What SPARK2_STEP's run() raises on this session: the exception as runners report it."""
    scope: dict[str, Any] = {}
    exec(SPARK2_STEP, scope)
    try:
        scope["run"](spark, spark.createDataFrame([(1, "north")], ["id", "region"]))
    except Exception as exc:
        return f"{type(exc).__name__}: {first_line(exc)}"
    return ""


@pytest.mark.local_only
def test_a_spark2_step_failing_on_connect_names_its_construct(
    python_demos: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The step's real error on Spark Connect, in the runner's words, gets lint's likely
    cause: the sparkContext line (the rdd line never runs: the first failure wins)."""
    raised = python_demos["spark"]["spark2-step"]
    assert "JVM_ATTRIBUTE_NOT_SUPPORTED" in raised
    spec = _model(tmp_path, "python", SPARK2_STEP)
    message = f"{tmp_path / 'legacy.py'}: run() failed: {raised}"
    explained = with_error_causes(spec, message)
    assert explained.startswith(message)
    assert "likely cause: spark-context at legacy.py:2 `spark.sparkContext`" in explained


@pytest.mark.local_only
def test_a_spark2_model_run_on_connect_fails_naming_its_construct(
    python_demos: dict[str, dict[str, Any]],
) -> None:
    """The same model through ``run_model``: it runs on a classic session and fails on the
    Connect backend with Spark's error and the construct lint names as its likely cause."""
    assert python_demos["legacy"]["run_model"] == ""
    message = python_demos["spark"]["run_model"]
    first = message.splitlines()[0]
    assert "legacy.py: run() failed" in first and "JVM_ATTRIBUTE_NOT_SUPPORTED" in first
    assert "likely cause: spark-context at legacy.py:2 `spark.sparkContext`" in message


@pytest.mark.local_only
@pytest.mark.parametrize("rule_id", [r.id for r in PY_RULES])
def test_python_rule_demo(python_demos: dict[str, dict[str, Any]], rule_id: str) -> None:
    rule = RULES[rule_id]
    _check(rule, "legacy", python_demos["legacy"][rule_id])
    _check(rule, "spark", python_demos["spark"][rule_id])
    if rule.demo["legacy"] == rule.demo["spark"]:
        assert rule.demo.get("note"), f"{rule_id}: same results on both: the demo needs a note"


def _run_r(code: str) -> Any:
    """The R expression's value as one row (NA as None), or ``{"error": ...}``."""
    from harness.rsession import r

    ri = r()
    wrapped = (
        f"tryCatch({{ {code} }}, error = function(e) structure(conditionMessage(e), class = 'err'))"
    )
    value = ri.evalr(wrapped)
    classes = list(ri.baseenv["class"](value))
    if "err" in classes:
        return {"error": str(value[0])}
    na = ri.baseenv["is.na"](value)
    out: list[Any] = []
    for i in range(len(value)):
        out.append(None if bool(na[i]) else value[i])
    return [out]


@pytest.mark.parametrize("rule_id", [r.id for r in R_RULES])
def test_r_rule_demo(rule_id: str) -> None:
    """Today's R gives the demo's ``spark`` value; the legacy emulation (the rule's
    ``legacy.r`` before the code, or the demo's ``legacy_r`` spelling) its ``legacy`` one."""
    rule = RULES[rule_id]
    current = _run_r(rule.demo["r"])
    legacy_code = rule.demo.get("legacy_r") or rule.demo["r"]
    legacy = _run_r(f"{rule.legacy_r}; {legacy_code}" if rule.legacy_r else legacy_code)
    if rule.legacy_r:  # the emulation is a global RNG setting: put today's back
        _run_r('RNGkind(sample.kind = "Rejection")')
    _check(rule, "spark", current)
    _check(rule, "legacy", legacy)
    if rule.demo["legacy"] == rule.demo["spark"]:
        assert rule.demo.get("note"), f"{rule_id}: same results on both: the demo needs a note"


# ------------------------------------------------------------------------------ lint


SPARK2_STEP = textwrap.dedent(
    """\
    def run(spark, customers):
        sc = spark.sparkContext
        customers.registerTempTable("customers_tmp")
        counts = (
            customers.rdd.map(lambda r: (r.region, 1))
            .reduceByKey(lambda a, b: a + b)
        )
        return spark.createDataFrame(counts, ["region", "n"])
    """
)
SEEDED_R_STEP = textwrap.dedent(
    """\
    score <- function(tables, params) {
      set.seed(params$seed)
      d <- tables$customers
      d$fold <- sample(1:5, nrow(d), replace = TRUE)
      d[, c("customer_id", "fold")]
    }
    """
)


def _write_spark2_model(root: Path) -> None:
    """suites/legacy_job: SPARK2_STEP as a model reading the customers fixture."""
    model = root / "suites" / "legacy_job"
    model.mkdir(parents=True)
    (model / "legacy.py").write_text(SPARK2_STEP)
    (model / "model.yaml").write_text(
        textwrap.dedent(
            """\
            name: legacy_job
            team: t
            owner: t@example.com
            description: a Spark 2-style job
            steps:
              - python: legacy.py:run
                produces: [counts]
            inputs: {customers: customers@1}
            outputs:
              counts: {keys: [region]}
            """
        )
    )


def _model(tmp_path: Path, kind: str, code: str) -> ModelSpec:
    name = "legacy.py" if kind == "python" else "legacy.R"
    (tmp_path / name).write_text(code)
    target = f"{name}:run" if kind == "python" else f"{name}:score"
    step = StepSpec(kind, target, ("customers",), {"counts": None}, name="legacy")
    return ModelSpec(
        "legacy_job",
        "t",
        "d",
        tmp_path,
        (step,),
        {"customers": InputSpec("customers", "customers", "1")},
        {"counts": OutputSpec("counts", ("region",))},
    )


def test_a_spark2_python_step_is_flagged_with_file_line_and_its_output(tmp_path: Path) -> None:
    report = find(_model(tmp_path, "python", SPARK2_STEP), schemas={})
    found = {(f.rule, f.file.name, f.line) for f in report.findings}
    assert found == {
        ("spark-context", "legacy.py", 2),
        ("register-temp-table", "legacy.py", 3),
        ("rdd-api", "legacy.py", 5),
    }
    for finding in report.findings:
        assert finding.table == "counts" and ("counts", "*") in finding.feeds_beyond
    (rdd,) = [f for f in report.findings if f.rule == "rdd-api"]
    assert rdd.expression == "customers.rdd"
    assert report.not_analysed == []


def test_a_seeded_r_sample_is_flagged_and_a_broken_file_is_not_analysed(tmp_path: Path) -> None:
    report = find(_model(tmp_path, "r", SEEDED_R_STEP), schemas={})
    assert [(f.rule, f.line, f.expression) for f in report.findings] == [
        ("r-sample-kind", 4, "sample(1:5, nrow(d), replace=TRUE)")
    ]
    broken_code = "score <- function(tables, params) {\n  d <- (\n}\n"
    broken = find(_model(tmp_path, "r", broken_code), schemas={})
    assert broken.findings == []
    (na,) = broken.not_analysed
    assert na.file.name == "legacy.R" and na.why.startswith("cannot parse: ")


def test_lint_reports_python_findings_in_text_json_and_sarif(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``harness lint`` over a project whose one model is the Spark 2-style Python step."""
    _write_spark2_model(tmp_path)
    root = ["--root", str(tmp_path), "lint"]
    assert main([*root, "legacy_job"]) == 0
    text = capsys.readouterr().out
    assert "rdd-api  suites/legacy_job/legacy.py:5  customers.rdd" in text
    assert "in python step" in text and "feeds counts.*" in text
    out = tmp_path / "lint.json"
    assert main([*root, "--format", "json", "--output", str(out), "legacy_job"]) == 0
    (doc,) = json.loads(out.read_text())["models"]
    assert {(f["rule"], f["line"]) for f in doc["findings"]} == {
        ("spark-context", 2),
        ("register-temp-table", 3),
        ("rdd-api", 5),
    }
    sarif = tmp_path / "lint.sarif"
    assert main([*root, "--format", "sarif", "--output", str(sarif), "legacy_job"]) == 0
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    lines = sorted(
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results
    )
    assert lines == [("rdd-api", 5), ("register-temp-table", 3), ("spark-context", 2)]
