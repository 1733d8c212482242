"""The catalogue of Hive-to-Spark semantic differences, loaded from ``catalogue.yaml``.

A rule is data: what differs and since when, how to find it in a statement (``detect``:
detector names from ``DETECTORS`` with their arguments; ``lint`` maps each name to a
check on parsed SQL), the symptom it leaves in a comparison (a kind from ``SYMPTOMS``,
with a relative band for drifts), the Spark setting or Hive UDF that restores the legacy
behaviour where one exists, the fix, a reference, and a demonstration (``demo``: a
statement with its legacy and Spark 4 results, which ``tests/test_catalogue.py`` runs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.fields import check_choice, check_fields, problem

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")

# How a rule is found in SQL; lint has one check per name (its registry is keyed by these).
DETECTORS = (
    "functions",  # calls of these functions (names, case-insensitive)
    "casts",  # CAST(... AS t) to these types ("any" for every type)
    "operators",  # one of OPERATORS
    "clauses",  # one of CLAUSES
)
OPERATORS = (
    "divide",  # a / b
    "int-divide",  # a DIV b
    "modulo",  # a % b
    "arithmetic",  # + - * on numbers (overflow)
    "compare-string-number",  # a comparison of a string with a number
)
CLAUSES = (
    "window-ranking",  # row_number/rank/dense_rank/ntile/lead/lag over an ordered window
    "limit-without-order",  # LIMIT with no ORDER BY
)
# What a rule's difference looks like in a comparison of the two platforms' outputs.
SYMPTOMS = (
    "relative-drift",  # small relative differences inside [min_rel, max_rel]
    "fp-noise",  # differences at the last digits (rel < 1e-11)
    "null-vs-value",  # NULL on one side, a value on the other
    "error",  # the statement fails on one platform
    "hour-shift",  # timestamps differ by whole hours
    "day-shift",  # dates differ by whole days
    "integral-vs-fraction",  # whole numbers on one side, fractions on the other
    "row-set",  # keys missing or extra: a filter, join or split changed which rows exist
    "order",  # the same elements in another order
    "value-change",  # any other difference in values
    "type-change",  # the output column's type differs
)
_RULE_FIELDS = {
    "id",
    "title",
    "differs",
    "since",
    "detect",
    "symptom",
    "legacy",
    "fix",
    "reference",
    "demo",
}
_REQUIRED = {"id", "title", "differs", "since", "detect", "symptom", "fix", "reference", "demo"}
_SYMPTOM_FIELDS = {"kind", "min_rel", "max_rel"}
_LEGACY_FIELDS = {"conf", "hive_udf", "note"}
_DEMO_FIELDS = {"sql", "legacy", "spark", "note", "setup"}


class CatalogueError(HarnessError):
    """The catalogue file is malformed (a harness bug, never a user's)."""


@dataclass(frozen=True)
class Symptom:
    kind: str
    min_rel: float | None = None
    max_rel: float | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    differs: str
    since: str
    detect: dict[str, list[str]]
    symptom: Symptom
    fix: str
    reference: str
    demo: dict[str, Any]
    legacy_conf: dict[str, str] = field(default_factory=dict)
    hive_udfs: dict[str, str] = field(default_factory=dict)  # function name -> Hive class
    legacy_note: str = ""

    @property
    def emulated(self) -> bool:
        """True when the legacy platform can reproduce Hive's behaviour for this rule."""
        return bool(self.legacy_conf or self.hive_udfs)


def _rule(data: Any, where: str) -> Rule:
    path = CATALOGUE_FILE
    check_fields(CatalogueError, path, where, data, _RULE_FIELDS, _REQUIRED)
    detect = check_fields(CatalogueError, path, f"{where}.detect", data["detect"], DETECTORS)
    for kind, choices in (("operators", OPERATORS), ("clauses", CLAUSES)):
        for value in detect.get(kind, []):
            check_choice(CatalogueError, path, f"{where}.detect.{kind}", value, choices)
    symptom = check_fields(
        CatalogueError, path, f"{where}.symptom", data["symptom"], _SYMPTOM_FIELDS, {"kind"}
    )
    check_choice(CatalogueError, path, f"{where}.symptom.kind", symptom["kind"], SYMPTOMS)
    legacy = check_fields(
        CatalogueError, path, f"{where}.legacy", data.get("legacy") or {}, _LEGACY_FIELDS
    )
    check_fields(CatalogueError, path, f"{where}.demo", data["demo"], _DEMO_FIELDS, {"sql"})
    return Rule(
        id=str(data["id"]),
        title=str(data["title"]).strip(),
        differs=str(data["differs"]).strip(),
        since=str(data["since"]),
        detect={k: [str(v) for v in vs] for k, vs in detect.items()},
        symptom=Symptom(
            symptom["kind"],
            None if symptom.get("min_rel") is None else float(symptom["min_rel"]),
            None if symptom.get("max_rel") is None else float(symptom["max_rel"]),
        ),
        fix=str(data["fix"]).strip(),
        reference=str(data["reference"]).strip(),
        demo=dict(data["demo"]),
        legacy_conf={str(k): str(v) for k, v in (legacy.get("conf") or {}).items()},
        hive_udfs={str(k): str(v) for k, v in (legacy.get("hive_udf") or {}).items()},
        legacy_note=str(legacy.get("note") or "").strip(),
    )


@functools.cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, Rule]:
    """Every rule by id, in the file's order."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise problem(CatalogueError, path, "rules", "expected a list of rules")
    rules: dict[str, Rule] = {}
    for i, item in enumerate(data["rules"]):
        rule = _rule(item, f"rules[{i}]")
        if rule.id in rules:
            raise problem(CatalogueError, path, f"rules[{i}].id", f"duplicate id '{rule.id}'")
        rules[rule.id] = rule
    return rules
