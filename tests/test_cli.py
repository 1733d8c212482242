"""The command line's Spark-free commands, in process, on a copy of the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_list_shows_what_a_model_reads_writes_and_how_to_run_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(project), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("adoption_rate  [sql]  team: ")
    assert "customers <- customers@1" in lines[1]
    assert lines[2] == "    writes: adoption_rates (keys: product_name, region, month)"
    assert lines[3].endswith(
        "pytest -k adoption_rate   |   harness run adoption_rate --dataset sample"
    )


def test_a_user_mistake_is_one_line_and_exit_code_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(project), "describe", "adoption_rat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "adoption_rat" in err
    assert "Traceback" not in err


def test_describe_shows_every_field_of_a_column_override_and_its_reason(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = project / "suites" / "adoption_rate" / "model.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    rtol: 1.0e-9\n",
            "    rtol: 1.0e-9\n    columns:\n"
            "      adoption_rate: {atol: 1.0e-6, reason: 'CR-7: R floors at 2.2e-16'}\n"
            "      contacts: {rtol: 0.01, atol: 2}\n",
            1,
        )
    )
    assert main(["--root", str(project), "describe", "adoption_rate"]) == 0
    out = capsys.readouterr().out
    assert "adoption_rates keys ['product_name', 'region', 'month'] rtol=1e-09 atol=0 " in out
    assert (
        "      adoption_rate: rtol=1e-09 (output default), atol=1e-06  "
        "because: CR-7: R floors at 2.2e-16\n"
    ) in out
    assert "      contacts: rtol=0.01, atol=2  (no reason given)\n" in out
    assert "None" not in out
