"""The plugin's options: all under ``--harness-``, the old spellings still working with one
warning, the ini option and ``HARNESS_BACKEND`` as before. No Spark starts here."""

from __future__ import annotations

import pytest

SHOW = """
from harness.pytest_options import chosen_backend, opt

def test_show(pytestconfig):
    names = ("backend", "remote", "scale", "rtol", "dataset", "reason", "update-golden",
             "golden-root", "report-dir", "databricks-profile")
    print("OPTS", {n: opt(pytestconfig, n) for n in names}, chosen_backend(pytestconfig), "|")
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HARNESS_BACKEND", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    pytester.makepyfile(test_show=SHOW)

    def run(args: str = "") -> pytest.RunResult:
        """pytest with the harness plugin and ``args`` (split on spaces)."""
        return pytester.runpytest_inprocess(
            "-p",
            "harness.plugin",
            "-s",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *args.split(),
        )

    return run


def opts_line(result: pytest.RunResult) -> str:
    line = next(line for line in result.outlines if "OPTS {" in line)
    return line[line.index("OPTS {") :]


def test_prefixed_options_and_no_warning(run) -> None:
    result = run(
        "--harness-backend databricks --harness-remote sc://h:1 --harness-scale 2 "
        "--harness-rtol 0 --harness-dataset full --harness-report-dir out"
    )
    result.assert_outcomes(passed=1)
    line = opts_line(result)
    assert "'backend': 'databricks'" in line and "'remote': 'sc://h:1'" in line
    assert "'scale': 2.0" in line and "'rtol': 0.0" in line and "'dataset': ['full']" in line
    assert "deprecated" not in result.stdout.str()


def test_old_spellings_still_work_and_warn_once(run) -> None:
    result = run(
        "--backend databricks --remote sc://h:1 --scale 2 --rtol 0 --dataset full --reason CR-1 "
        "--update-golden --golden-root g --report-dir out --databricks-profile dev"
    )
    result.assert_outcomes(passed=1)
    line = opts_line(result)
    assert "'backend': 'databricks'" in line and "'remote': 'sc://h:1'" in line
    assert "'scale': 2.0" in line and "'rtol': 0.0" in line and "'dataset': ['full']" in line
    assert "'reason': 'CR-1'" in line and "'update-golden': True" in line
    assert "'golden-root': 'g'" in line and "'report-dir': 'out'" in line
    assert "'databricks-profile': 'dev'" in line and line.endswith(" databricks |")
    warnings = [ln for ln in result.outlines if "deprecated option spellings" in ln]
    assert len(warnings) == 1, result.stdout.str()
    assert "HarnessDeprecationWarning: deprecated option spellings --dataset, --rtol" in warnings[0]
    assert "use --harness-dataset, --harness-rtol, --harness-golden-root," in warnings[0]
    assert warnings[0].endswith("--harness-databricks-profile (the old ones will be removed)")


def test_new_spelling_wins_and_datasets_add_up(run) -> None:
    result = run(
        "--harness-backend local --backend databricks --harness-dataset sample --dataset full"
    )
    line = opts_line(result)
    assert line.endswith(" local |") and "'dataset': ['sample', 'full']" in line


def test_update_golden_without_reason_names_the_new_spelling(run) -> None:
    result = run("--update-golden")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--harness-update-golden needs --harness-reason*"])


def test_ini_and_environment_choose_the_backend(run, pytester, monkeypatch) -> None:
    pytester.makeini("[pytest]\nharness_backend = databricks\n")
    assert opts_line(run()).endswith(" databricks |")
    monkeypatch.setenv("HARNESS_BACKEND", "local")
    assert opts_line(run()).endswith(" local |")


SHOW_GOLDEN = """
from harness.pytest_options import golden_root

def test_shown_root(pytestconfig):
    print("GOLDEN", golden_root(pytestconfig), "|")
"""


def test_golden_root_from_the_option_then_the_environment_then_the_ini(
    run, pytester, monkeypatch
) -> None:
    monkeypatch.delenv("HARNESS_GOLDEN_ROOT", raising=False)
    # not test_golden.py: in-process, that name is tests/test_golden.py's module already
    pytester.makepyfile(test_shown_golden_root=SHOW_GOLDEN)

    def shown(args: str = "") -> str:
        line = next(ln for ln in run(f"-k shown_root {args}").outlines if "GOLDEN " in ln)
        return line[line.index("GOLDEN ") + len("GOLDEN ") :].removesuffix(" |")

    assert shown() == "None"  # the project's golden/
    pytester.makeini("[pytest]\nharness_golden_root = shared/golden\n")
    assert shown() == str(pytester.path / "shared" / "golden")  # relative to the rootdir
    pytester.makeini("[pytest]\nharness_golden_root = abfss://g@acct.dfs.core.windows.net/p\n")
    assert shown() == "abfss://g@acct.dfs.core.windows.net/p"  # a URI as it is
    monkeypatch.setenv("HARNESS_GOLDEN_ROOT", "file:/env/golden")
    assert shown() == "file:/env/golden"
    assert shown("--harness-golden-root /opt/g") == "/opt/g"
