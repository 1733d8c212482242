"""Fixture bundles: a released bundle is immutable, and a missing file or version is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import FixtureError
from harness.fixtures import load_bundle


def test_changed_released_fixture_is_refused(project: Path) -> None:
    bundle = load_bundle(project / "fixtures", "customers", "1")
    assert bundle.released and bundle.manifest_digest
    sample = project / "fixtures" / "customers" / "1" / "sample.csv"
    sample.write_text(sample.read_text().replace("north", "nord", 1))
    with pytest.raises(FixtureError) as info:
        load_bundle(project / "fixtures", "customers", "1")
    assert "sample.csv: changed after customers@1 was released" in str(info.value)
    assert "new version" in str(info.value)


def test_missing_fixture_file_and_version_are_named(project: Path) -> None:
    (project / "fixtures" / "products" / "1" / "generator.yaml").unlink()
    with pytest.raises(FixtureError, match=r"generator.yaml.*missing"):
        load_bundle(project / "fixtures", "products", "1")
    with pytest.raises(FixtureError, match=r"customers@9 not found .versions present: 1"):
        load_bundle(project / "fixtures", "customers", "9")
