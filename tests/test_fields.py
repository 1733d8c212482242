"""One validator for specs, fixture bundles and generator recipes: every misspelt field or
choice is one line naming the file and where, with a "did you mean" suggestion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.datagen import load_recipe
from harness.errors import FixtureError, SpecError
from harness.fields import check_choice, check_fields, suggestion
from harness.fixtures import load_bundle

REPO = Path(__file__).resolve().parent.parent


def test_suggestion() -> None:
    assert suggestion("outptus", ["outputs", "inputs"]) == "did you mean 'outputs'?"
    assert suggestion("zzz", ["b", "a"]) == "allowed: a, b"


def test_check_fields_raises_the_callers_error() -> None:
    with pytest.raises(
        FixtureError,
        match=r"^f.yaml: top level: unknown field 'nmae' "
        r"\(did you mean 'name'\?\)$",
    ):
        check_fields(FixtureError, "f.yaml", "top level", {"nmae": 1}, ["name"])
    with pytest.raises(SpecError, match="x: missing required field 'name'"):
        check_fields(SpecError, "s.yaml", "x", {}, ["name"], ["name"])
    with pytest.raises(SpecError, match="expected a mapping, got list"):
        check_fields(SpecError, "s.yaml", "x", [], ["name"])


def test_check_choice() -> None:
    assert check_choice(SpecError, "s", "w", "full", ("sample", "full")) == "full"
    with pytest.raises(SpecError, match=r"s: w: unknown dataset 'ful' \(did you mean 'full'\?\)"):
        check_choice(SpecError, "s", "w", "ful", ("sample", "full"), "dataset")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """An unreleased copy of products@1 to edit."""
    target = tmp_path / "products" / "1"
    shutil.copytree(REPO / "fixtures" / "products" / "1", target)
    (target / "manifest.json").unlink()
    spec = target / "fixture.yaml"
    spec.write_text(spec.read_text().replace("released: true", "released: false"))
    return target


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda t: t.replace("schema:", "shcema:"),
            "top level: unknown field 'shcema' (did you mean 'schema'?)",
        ),
        (
            lambda t: t.replace("generator:", "generater:"),
            "full: unknown field 'generater' (did you mean 'generator'?)",
        ),
        (
            lambda t: t.replace("- not_null:", "- not_nul:"),
            "checks[0]: unknown field 'not_nul' (did you mean 'not_null'?)",
        ),
        (
            lambda t: t.replace(
                "- unique: [product_id]", "- unique: [product_id]\n    severity: warning"
            ),
            "checks[1].severity: unknown severity 'warning' (did you mean 'warn'?)",
        ),
    ],
)
def test_fixture_mistakes_suggest_the_fix(bundle: Path, edit, message: str) -> None:
    spec = bundle / "fixture.yaml"
    spec.write_text(edit(spec.read_text()))
    with pytest.raises(FixtureError) as info:
        load_bundle(bundle.parent.parent, "products", "1")
    assert message in str(info.value) and str(spec) in str(info.value)


def test_recipe_mistakes_suggest_the_fix(bundle: Path) -> None:
    recipe = bundle / "generator.yaml"
    recipe.write_text(recipe.read_text().replace("seed:", "sead:"))
    with pytest.raises(
        FixtureError,
        match=r"generator.yaml: recipe: unknown field 'sead' "
        r"\(did you mean 'seed'\?\)",
    ):
        load_recipe(recipe)
    recipe.write_text("rows: 10\n")
    with pytest.raises(FixtureError, match="recipe: missing required field 'columns'"):
        load_recipe(recipe)
