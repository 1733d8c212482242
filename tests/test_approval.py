"""An approved change on propensity_glm, end to end on the sample data: a retrain fails
strict parity, passes acceptance, and is approved with its record kept in the provenance; a
faulty change (scores shuffled between customers) fails acceptance with the metric and its
threshold named, and its approval is refused until overridden. The review page renders in
a real browser. The same change through the CLI with goldens at a URI. Real local Spark,
real R, real files, on a throwaway copy of the project."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from project_copy import copy_project, run_suites

from harness import api
from harness.cli import main
from harness.golden import GoldenRef, GoldenStore
from harness.workflows.approval import REVIEW_HTML, REVIEW_JSON, ApprovalError, approve, propose

MODEL = "propensity_glm"
SCORES = GoldenRef(MODEL, "sample", "propensity_scores")
COEFS = GoldenRef(MODEL, "sample", "propensity_coefficients")
RETRAIN = ("income_cap_quantile: 0.99", "income_cap_quantile: 0.95")
# Faulty: the scores handed to other rows (the same distribution, the wrong customers). Each
# product's scores shuffled among its customers is too subtle a fault for this model on the
# full data (its customer features hardly matter: rank correlation 0.984, top-N overlap 0.7997).
SHUFFLE = (
    "  rownames(scores) <- NULL\n",
    "  set.seed(7)\n  scores$propensity <- scores$propensity[sample.int(nrow(scores))]\n"
    "  rownames(scores) <- NULL\n",
)

FLIP = (  # the product term with the largest effect, its sign flipped before scoring
    "  s <- summary(fit)$coefficients\n",
    '  k <- grep("^product_name", names(coef(fit)))\n'
    "  k <- k[which.max(abs(coef(fit)[k]))]\n"
    "  fit$coefficients[k] <- -fit$coefficients[k]\n"
    "  s <- summary(fit)$coefficients\n",
)

pytestmark = [pytest.mark.local_only, pytest.mark.xdist_group("approval")]


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project with propensity_glm and its sample goldens, its own scratch."""
    old = os.environ.get("HARNESS_WORKDIR")
    os.environ["HARNESS_WORKDIR"] = str(tmp_path / "proj" / ".harness")
    yield copy_project(tmp_path / "proj", [MODEL])
    if old is None:
        os.environ.pop("HARNESS_WORKDIR", None)
    else:
        os.environ["HARNESS_WORKDIR"] = old


def edit(root: Path, file: str, change: tuple[str, str]) -> None:
    path = root / "suites" / MODEL / file
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1]))


def check_in_browser(page: Path, reason: str) -> None:
    """The review page in headless Chromium: it renders, logs nothing to the console, and
    has its charts, its metrics table and the reason (escaped)."""
    from test_report_html import _run_chromium

    proc = _run_chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    dom = proc.stdout
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    for chart in ("chart-distribution", "chart-lift", "chart-calibration"):
        assert f'class="{chart}"' in dom
    assert dom.count("<polyline") >= 4 and dom.count('class="bar-candidate"') == 10
    assert 'class="metrics"' in dom and "<script" not in dom
    assert html.escape(reason, quote=False) in dom
    png = page.with_suffix(".png")
    shot = _run_chromium(f"--screenshot={png}", "--window-size=1280,2400", page.resolve().as_uri())
    assert shot.returncode == 0 and png.stat().st_size > 10_000
    keep = os.environ.get("HARNESS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(png, keep)


def test_an_approved_retrain_fails_parity_passes_acceptance_and_is_approved(
    spark, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = GoldenStore(root / "golden")
    before = {r: store.current_version(r) for r in (SCORES, COEFS)}
    edit(root, "model.yaml", RETRAIN)
    reason = "CR-2024-031: retrain, incomes capped at the 95th percentile <b>&</b>"
    code = main(["--root", str(root), "propose", MODEL, "--reason", reason])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "propensity_scores: strict parity fails" in out and "acceptance passes" in out
    version = re.search(r"--candidate (v\d{4})", out).group(1)  # type: ignore[union-attr]
    assert {r: store.current_version(r) for r in (SCORES, COEFS)} == before  # nothing in force
    assert store.candidates(SCORES) == [version] == store.candidates(COEFS)

    review = json.loads(
        (root / "reports/review" / MODEL / "sample" / version / REVIEW_JSON).read_text()
    )
    scores = review["outputs"]["propensity_scores"]
    assert not scores["parity"]["passed"] and "propensity" in scores["parity"]["failing_columns"]
    acc = scores["acceptance"]
    assert acc["passed"] and {m["metric"] for m in acc["metrics"]} >= {"psi", "auc_drop"}
    assert all(m["passed"] and m["value"] is not None for m in acc["metrics"])
    assert scores["changes"]["columns"]["propensity"]["changed"] > 0  # every score may move
    assert review["outputs"]["propensity_coefficients"]["acceptance"]["passed"]
    check_in_browser(root / "reports/review" / MODEL / "sample" / version / REVIEW_HTML, reason)

    code = main(["--root", str(root), "golden", "history", MODEL, "propensity_scores"])
    listing = capsys.readouterr().out
    assert code == 0 and re.search(rf"  {version}  candidate ", listing), listing

    assert (
        main(["--root", str(root), "approve", MODEL, "--candidate", version, "--by", "J. Modeler"])
        == 0
    )
    assert (
        f"CURRENT {before[SCORES]} -> {version}, approved by J. Modeler" in capsys.readouterr().out
    )
    assert store.current_version(SCORES) == version == store.current_version(COEFS)
    prov = store.manifest(SCORES)["provenance"]
    assert prov["source"] == "proposal" and prov["reason"] == reason
    approval = prov["approval"]
    assert approval["by"] == "J. Modeler" and approval["reason"] == reason
    assert approval["replaced"] == before[SCORES] and approval["override"] is None
    assert approval["verdicts"] == {m["metric"]: True for m in acc["metrics"]}
    assert prov["acceptance"]["metrics"] == acc["metrics"]  # the metrics, with the golden

    assert main(["--root", str(root), "approve", MODEL, "--candidate", version, "--by", "x"]) == 2
    assert "is already current" in capsys.readouterr().err
    assert main(["--root", str(root), "approve", MODEL, "--candidate", "v0099", "--by", "x"]) == 2
    err = capsys.readouterr().err
    assert "has no candidate v0099" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("file", "change", "fails", "holds"),
    [
        # The same scores handed to other customers: the distribution is untouched, only
        # the ranking shows it.
        ("propensity.R", SHUFFLE, {"rank_correlation", "top_n_overlap"}, {"psi", "ks"}),
        # A product's coefficient with its sign flipped: everything moves.
        ("propensity.R", FLIP, {"psi", "ks", "auc_drop", "rank_correlation"}, set()),
    ],
    ids=["shuffled-scores", "flipped-sign"],
)
def test_a_faulty_change_fails_acceptance_and_its_approval_is_refused(
    spark, root: Path, file: str, change: tuple[str, str], fails: set[str], holds: set[str]
) -> None:
    store = GoldenStore(root / "golden")
    before = store.current_version(SCORES)
    manifest_before = store.verify(SCORES)
    edit(root, file, change)
    project = api.Project.find(root)
    proposal = propose(spark, project, project.model(MODEL), "sample", reason="CR-2024-032: faulty")
    assert not proposal.accepted
    acc = proposal.review["outputs"]["propensity_scores"]["acceptance"]
    failed = {m["metric"]: m for m in acc["metrics"] if not m["passed"]}
    assert fails <= set(failed) and not holds & set(failed), failed
    lines = "\n".join(proposal.lines())
    corr = failed["rank_correlation"]
    assert f"rank_correlation = {corr['value']:.4g}, needs at least 0.95" in lines
    coefficients = proposal.review["outputs"]["propensity_coefficients"]["acceptance"]
    if change is FLIP:  # the flipped term moves by twice its size: the bound names it
        assert not coefficients["passed"]
        assert re.search(r"column estimate: max_abs_change = 1\.\d+, needs at most 0\.5", lines)

    with pytest.raises(ApprovalError) as refused:
        approve(project, project.model(MODEL), "sample", proposal.version, by="J. Modeler")
    message = str(refused.value)
    assert "acceptance failed" in message and "rank_correlation" in message
    assert "nothing changed" in message and "\n" not in message
    assert store.current_version(SCORES) == before and store.verify(SCORES) == manifest_before
    assert store.candidates(SCORES) == [proposal.version]

    records = approve(
        project,
        project.model(MODEL),
        "sample",
        proposal.version,
        by="Head of Modelling",
        override="CR-2024-032: scores deliberately randomised for a holdout test",
    )
    assert store.current_version(SCORES) == proposal.version
    approval = store.manifest(SCORES)["provenance"]["approval"]
    assert approval["override"].startswith("CR-2024-032")
    assert approval == records["propensity_scores"]
    assert approval["verdicts"]["rank_correlation"] is False


def test_update_golden_refuses_an_output_that_declares_acceptance(
    pytester: pytest.Pytester, root: Path
) -> None:
    store = GoldenStore(root / "golden")
    before = store.current_version(SCORES)
    result = run_suites(
        pytester,
        root,
        "-k",
        "propensity_scores and values",
        "--harness-update-golden",
        "--harness-reason",
        "CR-1",
    )
    out = result.stdout.str()
    assert "declares acceptance criteria" in out and "harness propose propensity_glm" in out
    assert store.current_version(SCORES) == before


def test_propose_review_approve_with_goldens_at_a_uri(
    spark, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole change through the CLI with ``--golden-root`` a URI (the cluster store, as
    a Volume in production): the golden in force, a candidate beside it, the approval."""
    uri = (root / "golden-at-uri").as_uri()
    args = ["--root", str(root), "--golden-root", uri]
    folder = GoldenStore(root / "golden")
    untouched = {r: folder.versions(r) for r in (SCORES, COEFS)}
    assert main([*args, "capture", MODEL, "--dataset", "sample"]) == 0
    store = GoldenStore(uri, lambda: spark)
    before = store.current_version(SCORES)
    assert before is not None
    edit(root, "model.yaml", RETRAIN)
    assert main([*args, "propose", MODEL, "--reason", "CR-2024-031: retrain"]) == 0
    out = capsys.readouterr().out
    version = re.search(r"--candidate (v\d{4})", out).group(1)  # type: ignore[union-attr]
    assert store.current_version(SCORES) == before and store.candidates(SCORES) == [version]
    assert (root / "reports/review" / MODEL / "sample" / version / REVIEW_JSON).is_file()
    assert main([*args, "approve", MODEL, "--candidate", version, "--by", "J. Modeler"]) == 0
    assert store.current_version(SCORES) == version == store.current_version(COEFS)
    assert store.candidates(SCORES) == []
    approval = store.manifest(SCORES)["provenance"]["approval"]
    assert approval["by"] == "J. Modeler" and approval["replaced"] == before
    assert {r: folder.versions(r) for r in (SCORES, COEFS)} == untouched  # only the URI


@pytest.mark.slow
def test_both_changes_on_the_full_data(spark, root: Path) -> None:
    """The retrain is approved and the shuffled scores refused on the full data (7.9M scores;
    minutes: the golden is captured first). Timings are in the review's ``timings``."""
    project = api.Project.find(root)
    api.capture(spark, project, project.model(MODEL), "full")
    full = GoldenRef(MODEL, "full", "propensity_scores")
    store = GoldenStore(root / "golden")
    before = store.current_version(full)
    spec_file = root / "suites" / MODEL / "model.yaml"
    spec_text = spec_file.read_text()
    # The faulty code in a file of its own: the retrain below runs the original.
    code = (root / "suites" / MODEL / "propensity.R").read_text()
    (root / "suites" / MODEL / "propensity_faulty.R").write_text(code.replace(*SHUFFLE))
    spec_file.write_text(spec_text.replace("r: propensity.R:score", "r: propensity_faulty.R:score"))
    project = api.Project.find(root)
    faulty = propose(spark, project, project.model(MODEL), "full", reason="CR-2024-032: faulty")
    assert not faulty.accepted
    with pytest.raises(ApprovalError, match="rank_correlation"):
        approve(project, project.model(MODEL), "full", faulty.version, by="J. Modeler")
    assert store.current_version(full) == before
    spec_file.write_text(spec_text.replace(*RETRAIN))
    project = api.Project.find(root)
    retrain = propose(spark, project, project.model(MODEL), "full", reason="CR-2024-031")
    assert retrain.accepted
    assert not retrain.review["outputs"]["propensity_scores"]["parity"]["passed"]
    approve(project, project.model(MODEL), "full", retrain.version, by="J. Modeler")
    assert store.current_version(full) == retrain.version
