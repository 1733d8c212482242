"""Each step's output (R's print, message and warning; Python's print, stderr and warnings)
reaches the run's log (``ModelRun.step_output``, ``summary.json``) and the failure report
(pytest's and ``harness run``'s), on a scratch model in a copy of the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from project_copy import run_suites

from harness import api
from harness.backends import get_spark
from harness.cli import main
from harness.errors import ModelRunError
from harness.pytest_options import chosen_backend

MODEL = """\
name: chatty
team: t
description: A model whose steps talk.
steps:
  - name: score
    r: score.R:score
    inputs: [products]
    produces: {doubled: "product_id INT, premium DOUBLE"}
  - name: post
    python: post.py:run
    produces: [chatty_out]
inputs:
  products: products@1
outputs:
  chatty_out: {keys: [product_id]}
datasets: [sample]
"""

R_SCRIPT = """\
score <- function(tables, params) {
  p <- tables$products
  print(paste("R saw", nrow(p), "products"))
  cat("cat from R\\n")
  message("a message from R")
  warning("R warns about premiums")
  if (params$fail) stop("R gives up")
  data.frame(product_id = p$product_id, premium = p$base_premium * 2)
}
"""

PY_SCRIPT = """\
import sys
import warnings


def run(doubled, params):
    print("python saw the doubled premiums")
    print("python on stderr", file=sys.stderr)
    warnings.warn("python warns too")
    return doubled.selectExpr("product_id", f"premium * {params['factor']} AS premium")
"""

SAID = [
    '[1] "R saw 8 products"',
    "cat from R",
    "a message from R",
    "Warning in score(tables, params): R warns about premiums",
    "python saw the doubled premiums",
    "python on stderr",
    "UserWarning: python warns too",
]


def _chatty(project: Path, *, factor: float = 1.0, fail: bool = False) -> None:
    folder = project / "suites" / "chatty"
    folder.mkdir(exist_ok=True)
    params = f"parameters: {{factor: {factor}, fail: {str(fail).lower()}}}\n"
    (folder / "model.yaml").write_text(MODEL + params)
    (folder / "score.R").write_text(R_SCRIPT)
    (folder / "post.py").write_text(PY_SCRIPT)


def test_step_output_reaches_the_run_log_and_the_failure_reports(
    pytester: pytest.Pytester, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _chatty(project)
    proj = api.Project.find(project)
    spark = get_spark(chosen_backend(pytester._request.config))
    run = api.run_model(spark, proj, proj.model("chatty"), "sample")
    assert list(run.step_output) == ["score", "post"]
    log = "\n".join(run.step_output.values())
    for line in SAID:
        assert line in log, log
    assert main(["--root", str(project), "capture", "chatty"]) == 0
    _chatty(project, factor=1.5)  # now the output differs from the golden

    assert main(["--root", str(project), "run", "chatty"]) == 1
    printed = capsys.readouterr().out
    assert '  output of step score:\n    | [1] "R saw 8 products"' in printed
    assert "  output of step post:\n    | python saw the doubled premiums" in printed

    reports = project / "reports"
    result = run_suites(pytester, project, "-k", "chatty", f"--harness-report-dir={reports}")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    for line in SAID:
        assert f"    | {line}" in out or line in out, line
    assert "chatty/sample/chatty_out: values differ from the golden" in out
    summary = json.loads((reports / "summary.json").read_text())
    (model,) = [m for m in summary["models"] if m["model"] == "chatty"]
    assert "R saw 8 products" in model["step_output"]["score"]
    assert "python warns too" in model["step_output"]["post"]


def test_a_failing_step_shows_what_it_printed_before_it_failed(project: Path, spark) -> None:
    _chatty(project, fail=True)
    proj = api.Project.find(project)
    with pytest.raises(ModelRunError) as info:
        api.run_model(spark, proj, proj.model("chatty"), "sample")
    message = str(info.value)
    assert message.splitlines()[0].startswith(f"{proj.suites / 'chatty' / 'score.R'}: score()")
    assert "R gives up" in message.splitlines()[0]
    assert "  output of step score:" in message and "a message from R" in message
