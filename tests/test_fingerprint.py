"""Fingerprints without Spark: what goes into one (and what does not), and how the
differences between a golden's fingerprint and the current one read."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import REPO

from harness import fingerprint
from harness.fixtures import load_bundle
from harness.spec import ModelSpec


@pytest.fixture
def spec(tmp_path: Path) -> ModelSpec:
    """A model folder: its spec, a SQL file, a README and a cache file (neither is code)."""
    (tmp_path / "model.yaml").write_text("name: m\n")
    (tmp_path / "m.sql").write_text("SELECT 1 AS id")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return ModelSpec(
        "m",
        "t",
        "d",
        tmp_path,
        steps=(),
        inputs={},
        outputs={},
        packages={"python": {"pyyaml": ">=6", "no-such-package-xyz": "1"}},
    )


def test_compute_records_code_fixtures_and_packages(spec: ModelSpec) -> None:
    bundle = load_bundle(REPO / "fixtures", "customers", "1")
    fp = fingerprint.compute(spec, {"customers": bundle})
    parts = fp["parts"]
    assert set(parts) == {
        "spec",
        "code:m.sql",
        "fixture:customers",
        "python:pyyaml",
        "python:no-such-package-xyz",
        *(f"python:{p}" for p in fingerprint.ALWAYS_PYTHON),
    }
    assert parts["fixture:customers"] == f"{bundle.ref} {bundle.manifest_digest[-16:]}"
    assert parts["python:pyyaml"] == fingerprint.python_version_of("pyyaml") != "not installed"
    assert parts["python:no-such-package-xyz"] == "not installed"
    assert fp["digest"].startswith("sha256:") and len(fp["digest"]) == len("sha256:") + 32


def test_a_code_edit_changes_the_digest_and_is_named(spec: ModelSpec) -> None:
    before = fingerprint.compute(spec, {})
    (spec.directory / "README.md").write_text("a documentation edit is not a model change")
    assert fingerprint.compute(spec, {}) == before
    (spec.directory / "m.sql").write_text("SELECT 2 AS id")
    after = fingerprint.compute(spec, {})
    assert after["digest"] != before["digest"]
    assert fingerprint.changes(before, after) == ["model code m.sql: changed"]
    assert fingerprint.changes(after, after) == []


@pytest.mark.parametrize("old", [None, {}, {"digest": "sha256:ab"}])
def test_a_golden_without_fingerprint_says_so(old) -> None:
    assert fingerprint.changes(old, {"parts": {"spec": "x"}}) == [
        "the golden records no fingerprint (an imported golden)"
    ]


def test_changes_name_each_part_readably() -> None:
    old = {
        "parts": {
            "spec": "aaa",
            "code:m.sql": "111",
            "code:helpers/gone.py": "222",
            "fixture:customers": "customers@1 abcd",
            "python:pandas": "2.1.0",
            "r:stats": "4.3.0",
            "R": "4.3.1",
        }
    }
    new = {
        "parts": {
            "spec": "bbb",
            "code:m.sql": "333",
            "fixture:customers": "customers@2 ef01",
            "python:pandas": "2.2.0",
            "python:scipy": "1.11",
            "r:stats": "4.3.0",
            "R": "4.4.0",
        }
    }
    assert fingerprint.changes(old, new) == [
        "R: 4.3.1 -> 4.4.0",
        "model code helpers/gone.py: removed (was 222)",
        "model code m.sql: changed",
        "fixture customers: customers@1 abcd -> customers@2 ef01",
        "python package pandas: 2.1.0 -> 2.2.0",
        "python package scipy: added (1.11)",
        "spec: changed",
    ]
