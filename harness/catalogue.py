"""The catalogue of Hive-to-Spark semantic differences, loaded from ``catalogue.yaml``.

A rule is data: what differs and since when, how to find it in a statement (``detect``:
detector names from ``DETECTORS`` with their arguments; ``lint`` maps each name to a
check on parsed SQL), the symptom it leaves in a comparison (a kind from ``SYMPTOMS``,
with a relative band for drifts), the Spark setting or Hive UDF that restores the legacy
behaviour where one exists, the fix, a reference, and a demonstration (``demo``: a
statement with its legacy and Spark 4 results, which ``tests/test_catalogue.py`` runs).

The rules that Spark can emulate make up the legacy platform's profile (``legacy_profile``):
``runners.Platform`` applies it when goldens are captured, and each golden's provenance says
which rules were emulated and which were not (``emulation``).
"""

from __future__ import annotations

import functools
import re
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
    "python",  # constructs in a Python step's syntax tree: "<kind>:<name>", kinds PYTHON_MATCHES
    "r",  # calls in an R step's parse tree (R's getParseData): "<kind>:<name>", kinds R_MATCHES
)
# The detectors over SQL (lint's statement checks) and over a step's own code.
CODE_DETECTORS = ("python", "r")
# How a ``python`` detector value matches (explain/pysource.py has one check per kind).
PYTHON_MATCHES = (
    "attr",  # x.<name>: any attribute access (spark.sparkContext, df.rdd, df._jdf)
    "call",  # <name>(...) or mod.<name>(...): a call of a class or function
    "method",  # x.<name>(...): a method call on any object
    "pandas-method",  # x.<name>(...) where x is a pandas object, in a file importing pandas
)
# How an ``r`` detector value matches (explain/rsource.py has one check per kind).
R_MATCHES = (
    "seeded",  # <name>(...) called after set.seed() in the same file
    "default",  # "<function>/<argument>": a call that leaves <argument> to its default
    "namespace",  # <name>::f(...) or library(<name>) / require(<name>)
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
# Where a rule's difference can show (``refine:``, docs/catalogue.md): properties of the rule
# that narrow its detector's matches; lint applies each (``explain/refine.py``), so a rule
# about integers, literals or a pattern says so here rather than in code.
REFINEMENTS = (
    "argument_types",  # the operand (a call's first argument, a cast's operand) is of these types
    "result_types",  # the construct's own type, as Spark types it, is one of these
    "safe_divisors",  # divisors of these DIVISOR_KINDS cannot be zero: no finding
    "pattern_letters",  # a datetime pattern (second argument) only with one of these letters
    "round_trips",  # "outer(inner)": a call of inner straight inside outer cancels out
    "unless_inside",  # no finding when the value goes straight into one of these functions
    "unless_argument",  # no finding when the first argument is a call of one of these
    "literal_argument",  # {index, safe: [...]} or {index, only: [...]}: a literal argument
    "narrowing",  # a cast only when the operand's type can hold values the target cannot
    "halves",  # a rounding only where a half can occur (a non-integral operand, a negative scale)
    "non_negative",  # the argument is neither a literal >= 0 nor guarded by x >= 0 / x > 0
    "guards",  # a cast inside CASE WHEN <guard> THEN, of GUARD_KINDS, is proven safe
    "safe_strings",  # target type -> the regex of strings every platform casts alike
)
# Type names of ``argument_types`` / ``result_types``: a class or a Spark type name.
TYPE_CLASSES = {
    "integral": ("tinyint", "smallint", "int", "bigint"),
    "floating": ("float", "double"),
    "numeric": ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal"),
    "datetime": ("date", "timestamp"),
}
TYPE_NAMES = (
    *TYPE_CLASSES,
    *("tinyint", "smallint", "int", "bigint", "float", "double", "decimal", "string"),
    *("boolean", "binary", "date", "timestamp", "array", "map", "struct"),
)
DIVISOR_KINDS = (
    "nonzero-literal",  # x / 4, x / 365.25
    "group-count",  # COUNT(*) of a grouped SELECT or a window: a group has a row
    "nullif-zero",  # x / NULLIF(y, 0)
    "guarded",  # CASE WHEN y <> 0 THEN x / y END, or WHERE y > 0 for the select list
)
GUARD_KINDS = (
    "rlike",  # CASE WHEN s RLIKE '^...$' THEN CAST(s AS t): the pattern within safe_strings[t]
    "try-cast",  # CASE WHEN TRY_CAST(s AS t) IS NOT NULL THEN CAST(s AS t)
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
# The symptoms from the worst for a migration (a failed run, lost rows) to the mildest
# (last-digit noise): the order lint's findings are shown in (``severity``).
SEVERITY_ORDER = (
    "error",
    "row-set",
    "null-vs-value",
    "value-change",
    "day-shift",
    "hour-shift",
    "type-change",
    "integral-vs-fraction",
    "relative-drift",
    "order",
    "fp-noise",
)
assert set(SEVERITY_ORDER) == set(SYMPTOMS), "one rank per symptom"
_RULE_FIELDS = {
    "id",
    "title",
    "differs",
    "since",
    "detect",
    "refine",
    "symptom",
    "legacy",
    "fix",
    "reference",
    "demo",
}
_REQUIRED = {"id", "title", "differs", "since", "detect", "symptom", "fix", "reference", "demo"}
_SYMPTOM_FIELDS = {"kind", "min_rel", "max_rel"}
_LEGACY_FIELDS = {"conf", "hive_udf", "note", "r"}
# A demo is SQL (run under both platforms), Python (run on a classic and a Connect session)
# or R (run as today's R runs it, and after the rule's legacy.r prelude or with legacy_r).
_DEMO_FIELDS = {"sql", "python", "r", "legacy_r", "legacy", "spark", "note", "setup"}
DEMO_LANGUAGES = ("sql", "python", "r")
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


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
    legacy_r: str = ""  # R code the legacy platform runs before an R step (R's emulation)
    refine: dict[str, Any] = field(default_factory=dict)  # REFINEMENTS name -> its value

    @property
    def severity(self) -> int:
        """0 for the worst symptom (``SEVERITY_ORDER``); sorts findings worst first."""
        return SEVERITY_ORDER.index(self.symptom.kind)

    @property
    def emulated(self) -> bool:
        """True when the legacy platform can reproduce the legacy behaviour for this rule
        (Hive's, through settings and UDFs; the edge node's R, through R code)."""
        return bool(self.legacy_conf or self.hive_udfs or self.legacy_r)

    @property
    def language(self) -> str:
        """What the rule is found in: "python", "r" (a step's own code) or "sql"."""
        return next((k for k in CODE_DETECTORS if k in self.detect), "sql")


def _names(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise problem(CatalogueError, path, where, "expected a non-empty list of names")
    return value


def _mapping(path: Path, where: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise problem(CatalogueError, path, where, "expected a mapping of names to strings")
    return {str(k): v for k, v in value.items()}


def _check_result(path: Path, where: str, value: Any) -> None:
    """A demo result: rows (a list of lists) or ``{error: <text>}``."""
    if isinstance(value, dict):
        check_fields(CatalogueError, path, where, value, {"error"}, {"error"})
    elif not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise problem(
            CatalogueError, path, where, "expected rows (a list of lists) or {error: text}"
        )


def _rule(data: Any, where: str, path: Path) -> Rule:
    check_fields(CatalogueError, path, where, data, _RULE_FIELDS, _REQUIRED)
    if not isinstance(data["id"], str) or not _ID.fullmatch(data["id"]):
        raise problem(CatalogueError, path, f"{where}.id", f"{data['id']!r} is not kebab-case")
    detect = check_fields(CatalogueError, path, f"{where}.detect", data["detect"], DETECTORS)
    for kind, values in detect.items():
        _names(path, f"{where}.detect.{kind}", values)
    for kind, choices in (("operators", OPERATORS), ("clauses", CLAUSES)):
        for value in detect.get(kind, []):
            check_choice(CatalogueError, path, f"{where}.detect.{kind}", value, choices)
    for language, matches in (("python", PYTHON_MATCHES), ("r", R_MATCHES)):
        at = f"{where}.detect.{language}"
        for value in detect.get(language, []):
            match, _, name = str(value).partition(":")
            check_choice(CatalogueError, path, at, match, matches, "match")
            if not name:
                raise problem(CatalogueError, path, at, f"{value!r}: no name", "<match>:<name>")
    refine = _refine(path, f"{where}.refine", data.get("refine") or {})
    symptom = check_fields(
        CatalogueError, path, f"{where}.symptom", data["symptom"], _SYMPTOM_FIELDS, {"kind"}
    )
    check_choice(CatalogueError, path, f"{where}.symptom.kind", symptom["kind"], SYMPTOMS)
    if symptom["kind"] == "relative-drift" and not {"min_rel", "max_rel"} <= set(symptom):
        raise problem(
            CatalogueError, path, f"{where}.symptom", "a relative-drift needs min_rel and max_rel"
        )
    legacy = check_fields(
        CatalogueError, path, f"{where}.legacy", data.get("legacy") or {}, _LEGACY_FIELDS
    )
    demo = check_fields(
        CatalogueError,
        path,
        f"{where}.demo",
        data["demo"],
        _DEMO_FIELDS,
        {"legacy", "spark"},
    )
    if sum(lang in demo for lang in DEMO_LANGUAGES) != 1:
        raise problem(
            CatalogueError, path, f"{where}.demo", "expected one of sql, python or r", "sql"
        )
    for side in ("legacy", "spark"):
        _check_result(path, f"{where}.demo.{side}", demo[side])
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
        legacy_conf=_mapping(path, f"{where}.legacy.conf", legacy.get("conf")),
        hive_udfs=_mapping(path, f"{where}.legacy.hive_udf", legacy.get("hive_udf")),
        legacy_note=str(legacy.get("note") or "").strip(),
        legacy_r=str(legacy.get("r") or "").strip(),
        refine=refine,
    )


def _refine(path: Path, where: str, data: Any) -> dict[str, Any]:
    """A rule's ``refine:`` properties, each checked against its shape."""
    refine = check_fields(CatalogueError, path, where, data, REFINEMENTS)
    for key in ("argument_types", "result_types"):
        for value in _names(path, f"{where}.{key}", refine[key]) if key in refine else ():
            check_choice(CatalogueError, path, f"{where}.{key}", value, TYPE_NAMES, "type")
    for key, choices in (("safe_divisors", DIVISOR_KINDS), ("guards", GUARD_KINDS)):
        for value in _names(path, f"{where}.{key}", refine[key]) if key in refine else ():
            check_choice(CatalogueError, path, f"{where}.{key}", value, choices)
    for key in ("unless_inside", "unless_argument"):
        if key in refine:
            refine[key] = [v.lower() for v in _names(path, f"{where}.{key}", refine[key])]
    if "round_trips" in refine:
        pairs = []
        for value in _names(path, f"{where}.round_trips", refine["round_trips"]):
            match = re.fullmatch(r"(\w+)\((\w+)\)", value.strip())
            if match is None:
                raise problem(
                    CatalogueError, path, f"{where}.round_trips", f"{value!r}", "outer(inner)"
                )
            pairs.append((match.group(1).lower(), match.group(2).lower()))
        refine["round_trips"] = pairs
    letters = refine.get("pattern_letters")
    if letters is not None and not (isinstance(letters, str) and letters.isalpha()):
        raise problem(CatalogueError, path, f"{where}.pattern_letters", "expected letters")
    for key in ("narrowing", "halves", "non_negative"):
        if key in refine and not isinstance(refine[key], bool):
            raise problem(CatalogueError, path, f"{where}.{key}", "expected true or false")
    literal = refine.get("literal_argument")
    if literal is not None:
        literal = check_fields(
            CatalogueError, path, f"{where}.literal_argument", literal, {"index", "safe", "only"}
        )
        if not isinstance(literal.get("index"), int) or len(set(literal) - {"index"}) != 1:
            raise problem(
                CatalogueError, path, f"{where}.literal_argument", "expected index and safe or only"
            )
        for key in ("safe", "only"):
            if key in literal:
                names = _names(path, f"{where}.literal_argument.{key}", literal[key])
                literal[key] = [n.lower() for n in names]
    safe = _mapping(path, f"{where}.safe_strings", refine.get("safe_strings"))
    for target, pattern in safe.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise problem(CatalogueError, path, f"{where}.safe_strings.{target}", str(exc)) from exc
    if safe:
        refine["safe_strings"] = {k.lower(): v for k, v in safe.items()}
    return refine


@functools.cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, Rule]:
    """Every rule by id, in the file's order."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise problem(CatalogueError, path, "rules", "expected a list of rules")
    rules: dict[str, Rule] = {}
    conf: dict[str, tuple[str, str]] = {}  # setting -> (value, first rule that sets it)
    udfs: dict[str, tuple[str, str]] = {}
    for i, item in enumerate(data["rules"]):
        rule = _rule(item, f"rules[{i}]", path)
        if rule.id in rules:
            raise problem(CatalogueError, path, f"rules[{i}].id", f"duplicate id '{rule.id}'")
        for kind, settings, seen in (
            ("conf", rule.legacy_conf, conf),
            ("hive_udf", rule.hive_udfs, udfs),
        ):
            for key, value in settings.items():
                if seen.setdefault(key, (value, rule.id))[0] != value:
                    raise problem(
                        CatalogueError,
                        path,
                        f"rules[{i}].legacy.{kind}.{key}",
                        f"'{value}' contradicts '{seen[key][0]}' of rule '{seen[key][1]}'",
                    )
        rules[rule.id] = rule
    return rules


@dataclass(frozen=True)
class LegacyProfile:
    """The legacy platform's settings: every emulatable rule's conf and Hive UDFs, merged."""

    conf: dict[str, str]
    functions: dict[str, str]  # Hive function name -> Hive UDF class
    r: tuple[str, ...] = ()  # R code run before each R step, in catalogue order

    def overridden(
        self, conf: dict[str, str], functions: dict[str, str], r: tuple[str, ...] | None
    ) -> LegacyProfile:
        """This profile with a spec's ``legacy:`` settings on top: its conf and UDFs added
        (one of the same name wins), its R code in place of the profile's (None: keep it)."""
        return LegacyProfile(
            {**self.conf, **conf}, {**self.functions, **functions}, self.r if r is None else r
        )


def legacy_profile(rules: dict[str, Rule] | None = None) -> LegacyProfile:
    """The profile of the catalogue's emulatable rules (``load_catalogue`` checked that no
    two rules ask for different values of one setting)."""
    conf: dict[str, str] = {}
    functions: dict[str, str] = {}
    r: list[str] = []
    for rule in (load_catalogue() if rules is None else rules).values():
        conf.update(rule.legacy_conf)
        functions.update(rule.hive_udfs)
        if rule.legacy_r and rule.legacy_r not in r:
            r.append(rule.legacy_r)
    return LegacyProfile(conf, functions, tuple(r))


def emulation(
    conf: dict[str, str],
    functions: dict[str, str],
    rules: dict[str, Rule] | None = None,
    *,
    r: tuple[str, ...] = (),
) -> tuple[list[str], list[str]]:
    """Rule ids that these settings emulate (every setting, UDF and R prelude the rule names
    is in place, with the rule's value), and the ids of all the others, in catalogue order."""
    emulated: list[str] = []
    not_emulated: list[str] = []
    for rule in (load_catalogue() if rules is None else rules).values():
        ok = (
            rule.emulated
            and all(conf.get(k) == v for k, v in rule.legacy_conf.items())
            and all(functions.get(f) == c for f, c in rule.hive_udfs.items())
            and (not rule.legacy_r or rule.legacy_r in r)
        )
        (emulated if ok else not_emulated).append(rule.id)
    return emulated, not_emulated
