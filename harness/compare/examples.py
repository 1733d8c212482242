"""Examples of every failure, found on first use.

The verdict, counts and statistics never wait for examples: a passing comparison pays
nothing here. The first report (or ``.sample``, or ``.null_mismatches``) pays for them:
failing value columns by one filtered pass over the keyed join, which also counts their
NULL-vs-value mismatches; missing, extra and duplicated keys, already located by key hash
in the key pass, by one filtered scan of each input's keys.
"""

from __future__ import annotations

import math
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from harness.compare import sql
from harness.compare.join import Sides, joined, sides
from harness.compare.plan import Plan
from harness.errors import CompareError, first_line

Pair = tuple[Any, Any]  # (expected row, actual row); either may be None


class Examples:
    """Fetches, once, every example a comparison's report can ask for."""

    def __init__(
        self,
        hashes: dict[str, list[int]],
        plan: Plan,
        expected: DataFrame,
        actual: DataFrame,
        sample_size: int,
        failing: list[int],
        windowed: bool,
    ) -> None:
        self._hashes, self._plan, self._sample_size = hashes, plan, sample_size
        self._frames = (expected, actual)
        self._failing, self._windowed = failing, windowed
        self._located: dict[str, list[Pair]] | None = None
        self._null_counts: dict[int, int] = {}

    def get(self, name: str) -> list[Pair]:
        """The example pairs of one failure: ``s{j}`` for column ``j``, ``s_<key failure>``."""
        return self._fetch().get(name, [])

    def null_mismatches(self, j: int) -> int:
        self._fetch()
        return self._null_counts.get(j, 0)

    def _fetch(self) -> dict[str, list[Pair]]:
        if self._located is None:
            try:
                s = sides(self._plan, *self._frames, columns=self._failing)
                located = _fetch_located(self._hashes, s, self._sample_size)
                examples, self._null_counts = _value_examples(
                    self._plan, s, self._windowed, self._failing, self._sample_size
                )
                self._located = located | examples
            except Exception as exc:
                raise CompareError(
                    f"could not fetch the examples of the failures: {first_line(exc, 300)} "
                    "(examples are read from the inputs on first use; keep their Spark "
                    "session open until the report is made)"
                ) from None
        return self._located


def _value_examples(
    plan: Plan, s: Sides, windowed: bool, failing: list[int], sample_size: int
) -> tuple[dict[str, list[Pair]], dict[int, int]]:
    """Examples of the failing value columns, and how many of each column's mismatches
    are NULL on one side only: the keyed join again, filtered to the failing pairs before
    anything is aggregated, so ``min_by(row, key hash, k)`` picks a deterministic sample
    per column cheaply, values included (no further scan)."""
    if not failing:
        return {}, {}
    keys_sql = ", ".join(f"'ek{i}', ek{i}, 'ak{i}', ak{i}" for i in range(s.n_keys))
    flags = {j: sql.fails(j, plan.columns[j]) for j in failing}
    aggs = []
    for j, flag in flags.items():
        e, a = sql.value("e", j), sql.value("a", j)
        aggs.append(f"{sql.count(f'{sql.PAIR} AND ({e} IS NULL) != ({a} IS NULL)')} AS n{j}")
        if sample_size:
            aggs.append(
                f"min_by(named_struct({keys_sql}, 'e', {e}, 'a', {a}), "
                f"CASE WHEN {flag} THEN {sql.key_hash(s.n_keys)} END, {int(sample_size)}) AS x{j}"
            )
    found = joined(s, windowed).where(" OR ".join(flags.values())).selectExpr(*aggs).collect()[0]
    out: dict[str, list[Pair]] = {}
    for j in failing:
        pairs = []
        for r in (found[f"x{j}"] if sample_size else None) or []:
            e_row = {f"ek{i}": r[f"ek{i}"] for i in range(s.n_keys)} | {f"e{j}": r["e"]}
            a_row = {f"ak{i}": r[f"ak{i}"] for i in range(s.n_keys)} | {f"a{j}": r["a"]}
            pairs.append((e_row, a_row))
        out[f"s{j}"] = pairs
    return out, {j: int(found[f"n{j}"]) for j in failing}


def _fetch_located(
    hashes: dict[str, list[int]], s: Sides, sample_size: int
) -> dict[str, list[Pair]]:
    """Fetch the rows whose key hash the key pass located (examples of key failures) from
    each input, reading only the key columns; pair them up per failure name."""
    wanted = sorted({h for found in hashes.values() for h in found})
    if not wanted:
        return {}
    by_side: dict[str, dict[int, Any]] = {}
    for side, base in (("e", s.e), ("a", s.a)):
        keys = [f"{side}k{i}" for i in range(s.n_keys)]
        found = (
            base.selectExpr(*keys, f"{sql.key_hash(s.n_keys, side)} AS _h")
            .where(F.col("_h").isin(wanted))
            .limit(10_000)
            .collect()
        )
        by_side[side] = {}
        for r in found:
            by_side[side].setdefault(r["_h"], r)
    out: dict[str, list[Pair]] = {}
    for name, located in hashes.items():
        pairs, seen = [], set()
        for h in located:
            if h not in seen:
                seen.add(h)
                pairs.append((by_side["e"].get(h), by_side["a"].get(h)))
        out[name] = pairs[:sample_size]
    return out


def key_frame(plan: Plan, expected: DataFrame, actual: DataFrame, name: str) -> DataFrame:
    """Every key of one kind of key failure, as a lazily evaluated DataFrame."""
    s = sides(plan, expected, actual, columns=[])
    n = s.n_keys
    key_sql = (
        "CASE WHEN _en IS NOT NULL THEN named_struct("
        + ", ".join(f"'k{i}', ek{i}" for i in range(n))
        + ") ELSE named_struct("
        + ", ".join(f"'k{i}', ak{i}" for i in range(n))
        + ") END"
    )
    return (
        joined(s, windowed=True)
        .where(F.expr(sql.KEY_FAILURES[name]))
        .select(F.expr(key_sql).alias("k"))
        .select(*[F.col(f"k.k{i}").alias(kp.expected) for i, kp in enumerate(plan.keys)])
    )


def mismatch(key: dict[str, Any], expected: Any, actual: Any, kind: str) -> dict[str, Any]:
    """One mismatch example: key, both values and, for numbers, their differences."""
    out = {"key": key, "expected": plain(expected), "actual": plain(actual)}
    if kind == "numeric":
        abs_diff = rel_diff = None
        try:
            e, a = float(expected), float(actual)
            if math.isfinite(e) and math.isfinite(a):
                abs_diff = abs(a - e)
                rel_diff = abs_diff / abs(e) if e != 0 else (0.0 if abs_diff == 0 else math.inf)
        except (TypeError, ValueError):
            pass
        out["abs_diff"], out["rel_diff"] = abs_diff, rel_diff
    return out


def plain(value: Any) -> Any:
    return value.asDict(recursive=True) if hasattr(value, "asDict") else value
