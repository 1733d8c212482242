"""The catalogue of Hive-to-Spark differences (harness/catalogue.yaml).

Every rule's demonstration runs on this Spark, under the legacy platform (the catalogue's own
profile, calls rewritten to Hive's UDFs) and under Spark 4 defaults, and gives the results
the rule documents. A malformed catalogue is refused with one line naming the field. The
legacy platform's profile is the catalogue's, and a legacy capture records in its golden's
provenance which rules it emulated.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import api
from harness.catalogue import (
    CATALOGUE_FILE,
    SYMPTOMS,
    CatalogueError,
    Rule,
    emulation,
    legacy_profile,
    load_catalogue,
)
from harness.cli import main as cli_main
from harness.golden import GoldenRef
from harness.runners import HIVE_FUNCTIONS, LEGACY_CONF, Platform
from harness.spec import ModelSpec

RULES = load_catalogue()
REPO = Path(__file__).resolve().parent.parent
REL = 1e-12  # floating results in a demo match within this relative tolerance (NaN matches NaN)


def _spec(**legacy: dict[str, str]) -> ModelSpec:
    return ModelSpec(
        name="m",
        team="t",
        description="d",
        directory=REPO,
        steps=(),
        inputs={},
        outputs={},
        **legacy,
    )


def _plain(value: Any) -> Any:
    """A collected value as the catalogue writes it: ISO text for dates and timestamps,
    numbers for decimals, lists and dicts for arrays, structs and maps."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, float):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return False
        if math.isnan(expected) or math.isinf(expected):
            return (math.isnan(actual) and math.isnan(expected)) or actual == expected
        return actual == pytest.approx(expected, rel=REL)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_same(actual[k], expected[k]) for k in expected)
        )
    return type(actual) is type(expected) and actual == expected


def _run_demo(spark, platform: Platform, demo: dict[str, Any]) -> Any:
    """The demo's rows on ``platform`` (its conf applied, its calls rewritten), or
    ``{"error": <first line>}`` if the statement fails."""
    with platform.active(spark):
        for statement in demo.get("setup") or []:
            spark.sql(platform.sql(statement)).collect()
        try:
            rows = spark.sql(platform.sql(demo["sql"])).collect()
        except Exception as exc:
            return {"error": str(exc).strip().splitlines()[0]}
    return [_plain(list(row)) for row in rows]


def _check(rule: Rule, side: str, actual: Any) -> None:
    expected = rule.demo[side]
    where = f"{rule.id}: demo.{side}"
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an error, got rows {actual}"
        assert expected["error"] in actual["error"], f"{where}: {actual['error']}"
    else:
        assert not isinstance(actual, dict), f"{where}: failed: {actual['error']}"
        assert _same(actual, expected), f"{where}: got {actual}, documented {expected}"


@pytest.fixture(scope="module")
def platforms() -> dict[str, Platform]:
    return {name: Platform(name, _spec()) for name in ("legacy", "spark")}


@pytest.mark.parametrize("rule_id", [r for r in RULES if RULES[r].language == "sql"])
def test_rule_demo(spark, platforms: dict[str, Platform], rule_id: str) -> None:
    """The rule's statement gives its documented results under the legacy profile and under
    Spark 4 defaults; where they are equal, the rule says why (Spark cannot show it)."""
    rule = RULES[rule_id]
    legacy = _run_demo(spark, platforms["legacy"], rule.demo)
    current = _run_demo(spark, platforms["spark"], rule.demo)
    _check(rule, "legacy", legacy)
    _check(rule, "spark", current)
    if rule.demo["legacy"] == rule.demo["spark"]:
        assert rule.demo.get("note"), f"{rule_id}: same results on both: the demo needs a note"


# ------------------------------------------------------------------------------ validation


DATA_RULES = ("calendar-rebase",)  # rules lint cannot find in SQL, by design


def test_catalogue_covers_the_issue() -> None:
    """At least 27 rules, each with its fields filled in, every symptom kind known."""
    assert len(RULES) >= 27
    for rule in RULES.values():
        assert rule.symptom.kind in SYMPTOMS
        assert rule.title and rule.differs and rule.fix and rule.reference
        if not rule.detect:  # a property of the data, which no SQL shows
            assert rule.id in DATA_RULES, f"{rule.id}: nothing to detect"
        assert rule.emulated or rule.legacy_note, f"{rule.id}: say why it is not emulated"


def _write(tmp_path: Path, rules: list[dict[str, Any]]) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}))
    return path


def _good() -> dict[str, Any]:
    with CATALOGUE_FILE.open() as f:
        return json.loads(json.dumps(yaml.safe_load(f)["rules"][0]))  # a deep copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.update(titel=r.pop("title")),
            r"rules\[0\]: unknown field 'titel' \(did you mean 'title'\?\)",
        ),
        (
            lambda r: r["symptom"].update(kind="drift"),
            r"rules\[0\]\.symptom\.kind: unknown value 'drift'",
        ),
        (
            lambda r: r["detect"].update(operators=["divides"]),
            r"rules\[0\]\.detect\.operators: unknown value 'divides' \(did you mean 'divide'\?\)",
        ),
        (lambda r: r["detect"].update(function=["hash"]), r"rules\[0\]\.detect: unknown field"),
        (lambda r: r.update(id="Percentile_Approx"), r"rules\[0\]\.id: .* is not kebab-case"),
        (lambda r: r["demo"].pop("spark"), r"rules\[0\]\.demo: missing required field 'spark'"),
        (
            lambda r: r["demo"].update(legacy={"errors": "x"}),
            r"rules\[0\]\.demo\.legacy: unknown field 'errors'",
        ),
        (
            lambda r: r["symptom"].pop("max_rel"),
            r"rules\[0\]\.symptom: a relative-drift needs min_rel and max_rel",
        ),
        (
            lambda r: r.update(refine={"argument_type": ["int"]}),
            r"rules\[0\]\.refine: unknown field 'argument_type' "
            r"\(did you mean 'argument_types'\?\)",
        ),
        (
            lambda r: r.update(refine={"result_types": ["integer"]}),
            r"rules\[0\]\.refine\.result_types: unknown type 'integer'",
        ),
        (
            lambda r: r.update(refine={"round_trips": ["from_unixtime"]}),
            r"rules\[0\]\.refine\.round_trips: 'from_unixtime' \(outer\(inner\)\)",
        ),
        (
            lambda r: r.update(refine={"halves": "yes"}),
            r"rules\[0\]\.refine\.halves: expected true or false",
        ),
    ],
)
def test_malformed_rule_names_the_field(tmp_path: Path, change, message: str) -> None:
    rule = _good()
    change(rule)
    path = _write(tmp_path, [rule])
    with pytest.raises(CatalogueError, match=rf"^{path}: {message}"):
        load_catalogue(path)


def test_rules_must_agree_on_a_setting(tmp_path: Path) -> None:
    first, second = _good(), _good()
    first["legacy"] = {"conf": {"spark.sql.ansi.enabled": "false"}}
    second.update(id="other", legacy={"conf": {"spark.sql.ansi.enabled": "true"}})
    path = _write(tmp_path, [first, second])
    with pytest.raises(
        CatalogueError,
        match=r"rules\[1\]\.legacy\.conf\.spark\.sql\.ansi\.enabled: 'true' contradicts "
        r"'false' of rule 'percentile-approx'",
    ):
        load_catalogue(path)


# ------------------------------------------------------------------------- legacy profile


def test_legacy_platform_is_the_catalogues_profile() -> None:
    """The legacy platform applies every emulatable rule's settings and Hive UDFs; a spec's
    own legacy settings win, and a rule whose setting a spec overrides is not emulated."""
    profile = legacy_profile()
    assert profile.conf == LEGACY_CONF and profile.functions == HIVE_FUNCTIONS
    legacy = Platform("legacy", _spec())
    for rule in RULES.values():
        assert rule.legacy_conf.items() <= legacy.conf.items()
        for function, cls in rule.hive_udfs.items():
            assert legacy.classes[f"hive_{function}"] == cls
    assert legacy.emulated_rules == [r.id for r in RULES.values() if r.emulated]
    assert set(legacy.not_emulated_rules) == {r.id for r in RULES.values() if not r.emulated}
    assert {"hash-function", "add-months-month-end", "session-time-zone"} <= set(
        legacy.emulated_rules
    )
    assert legacy.conf["spark.sql.session.timeZone"] == "UTC"  # the legacy cluster's zone

    spec = _spec(
        legacy_conf={"spark.sql.ansi.enabled": "true", "spark.sql.session.timeZone": "CET"}
    )
    overridden = Platform("legacy", spec)
    assert overridden.conf["spark.sql.session.timeZone"] == "CET"
    for rule_id in ("cast-invalid-string", "divide-by-zero", "session-time-zone"):
        assert rule_id in overridden.not_emulated_rules
    assert "hash-function" in overridden.emulated_rules
    spark = Platform("spark", _spec())
    assert spark.emulated_rules == [] and len(spark.not_emulated_rules) == len(RULES)
    assert emulation({}, {}) == ([], list(RULES))


def test_capture_records_the_emulated_rules(spark, tmp_path: Path, capsys) -> None:
    """A golden captured on the legacy platform lists in its provenance the catalogue rules
    emulated and those not; ``harness golden history`` shows the count."""
    project = api.Project.find(REPO, golden=tmp_path / "golden")
    spec = project.model("adoption_rate")
    assert api.capture(spark, project, spec, "sample") == ["adoption_rates"]
    ref = GoldenRef("adoption_rate", "sample", "adoption_rates")
    provenance = project.store().manifest(ref)["provenance"]
    legacy = Platform("legacy", spec)
    assert provenance["source"] == "legacy-emulation"
    assert provenance["emulated_rules"] == legacy.emulated_rules
    assert provenance["not_emulated_rules"] == legacy.not_emulated_rules
    assert "rand-seed" in provenance["not_emulated_rules"]
    assert "percentile-approx" in provenance["emulated_rules"]

    argv = ["--root", str(REPO), "--golden-root", str(tmp_path / "golden"), "golden", "history"]
    assert cli_main([*argv, "adoption_rate", "adoption_rates"]) == 0
    out = capsys.readouterr().out
    assert "legacy-emulation" in out
    assert f"[{len(legacy.emulated_rules)}/{len(RULES)} catalogue rules emulated]" in out


def test_docs_list_every_rule() -> None:
    """docs/catalogue.md's table has a row for every rule."""
    text = (REPO / "docs" / "catalogue.md").read_text()
    assert [r for r in RULES if f"| `{r}` |" not in text] == []
