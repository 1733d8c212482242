"""Whether a detector's match can show its rule's difference: the catalogue's ``refine``.

A detector matches syntax (a call of ``sum``, a ``/``, a CAST to INT); a rule's ``refine``
properties (``catalogue.REFINEMENTS``, data beside the rule) say where its difference can
actually show, and this module applies them to one match with the statement's types
(:mod:`harness.explain.sqltypes`). Each property answers yes (the difference can show),
no (it cannot: no finding) or unknown (a type sqlglot could not infer: the finding stays,
marked "type unknown"). A match is dropped when any property says no.

The proofs are deliberately narrow: a divisor that is a non-zero literal, ``COUNT(*)`` of a
grouped SELECT or a window, ``NULLIF(y, 0)``, or a division guarded by ``y <> 0`` in its
CASE branch or (in the select list) its SELECT's WHERE; a datetime pattern literal without
a changed letter; a parse/format round trip; a square root of a literal >= 0, of a call that
is never negative or under ``x >= 0``; a rounding of a whole number; a cast guarded by an
anchored ``RLIKE`` whose every match (after the ``regexp_replace`` that deletes characters
before the cast) is in the rule's ``safe_strings`` for the target type, which greenery
decides by comparing the two regular languages, or by ``TRY_CAST(s AS t) IS NOT NULL``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from greenery import Charclass, Multiplier, Pattern, parse
from greenery.bound import Bound
from greenery.rxelems import Conc, Mult
from sqlglot import exp

from harness.catalogue import REFINEMENTS, Rule
from harness.explain.calls import (
    argument_texts,
    arguments,
    hive_sql,
    printed_name,
    string_literal,
    unwrap,
)
from harness.explain.sqlsource import DIALECT
from harness.explain.sqltypes import StatementTypes, is_type, type_name

Answer = bool | None  # True: can show; False: cannot; None: type unknown
ONE = Multiplier(Bound(1), Bound(1))


@dataclass(frozen=True)
class Verdict:
    keep: bool
    type_unknown: bool = False


def judge(rule: Rule, node: exp.Expr, value: str, types: StatementTypes) -> Verdict:
    """Whether ``node`` (matched by ``rule``'s detector value ``value``) can show the rule's
    difference, by every ``refine`` property of the rule and the cast's source type."""
    answers: list[Answer] = []
    source, _, _ = value.lower().rpartition("->")
    if source and isinstance(node, exp.Cast):
        answers.append(is_type(types.of(node.this), [source]))
    for key, setting in rule.refine.items():
        check = _CHECKS.get(key)
        if check is not None:
            answers.append(check(node, setting, types, rule))
    if False in answers:
        return Verdict(False)
    return Verdict(True, type_unknown=None in answers)


# ------------------------------------------------------------------------------- types


def _operand(node: exp.Expr) -> exp.Expr | None:
    if isinstance(node, exp.Cast):
        return node.this
    args = arguments(node)
    return args[0] if args else None


def _argument_types(node: exp.Expr, names: list[str], types: StatementTypes, _: Rule) -> Answer:
    return is_type(types.of(_operand(node)), names)


def _result_types(node: exp.Expr, names: list[str], types: StatementTypes, _: Rule) -> Answer:
    return is_type(types.of(node), names)


# ---------------------------------------------------------------------------- divisors


def _number(node: exp.Expr | None) -> Decimal | None:
    """The value of a numeric literal (through parentheses, a sign and a cast)."""
    node = unwrap(node)
    sign = 1
    while isinstance(node, (exp.Neg, exp.Cast)):
        sign = -sign if isinstance(node, exp.Neg) else sign
        node = unwrap(node.this)
    if isinstance(node, exp.Literal):
        try:
            return sign * Decimal(str(node.this))
        except InvalidOperation:
            return None
    return None


def _select_of(node: exp.Expr) -> exp.Select | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


Proof = Callable[[type[exp.Expr], Decimal], bool]  # (comparison, literal): proves it?


def _nonzero(op: type[exp.Expr], bound: Decimal) -> bool:
    """``subject <op> bound`` rules out a zero subject."""
    return (
        (op is exp.NEQ and bound == 0)
        or (op is exp.GT and bound >= 0)
        or (op is exp.GTE and bound > 0)
        or (op is exp.LT and bound <= 0)
        or (op is exp.LTE and bound < 0)
    )


def _nonnegative(op: type[exp.Expr], bound: Decimal) -> bool:
    """``subject <op> bound`` rules out a negative subject."""
    return op in (exp.GT, exp.GTE) and bound >= 0


def _bounds(condition: exp.Expr, subject: str, proves: Proof) -> bool:
    """Whether ``condition`` (a conjunction) holds only when ``subject`` is as ``proves``
    wants it (compared with a literal)."""
    for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        part = unwrap(conjunct)
        if not isinstance(part, (exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            continue
        left, right = unwrap(part.left), unwrap(part.right)
        for side, other, flipped in ((left, right, False), (right, left, True)):
            if side is None or hive_sql(side) != subject:
                continue
            bound = _number(other)
            if bound is None:
                continue
            flip: dict[type[exp.Expr], type[exp.Expr]] = {
                exp.GT: exp.LT,
                exp.LT: exp.GT,
                exp.GTE: exp.LTE,
                exp.LTE: exp.GTE,
            }
            op: type[exp.Expr] = flip.get(type(part), type(part)) if flipped else type(part)
            if proves(op, bound):
                return True
    return False


def _guarded(node: exp.Expr, subject: str, proves: Proof) -> bool:
    """Whether ``node`` is computed only where ``subject`` is as ``proves`` wants it: in a
    CASE branch whose condition says so or, in the select list, under such a WHERE."""
    child, parent = node, node.parent
    while parent is not None:
        if (
            isinstance(parent, exp.If)
            and child.arg_key == "true"
            and _bounds(parent.this, subject, proves)
        ):
            return True
        if isinstance(parent, exp.Select):
            # A WHERE filters the rows before the select list is computed; a condition in the
            # WHERE itself may be evaluated in any order, and a HAVING filters groups after
            # their select list (aggregates included) is computed: neither guards.
            where = parent.args.get("where")
            return (
                child.arg_key == "expressions"
                and where is not None
                and _bounds(where.this, subject, proves)
            )
        child, parent = parent, parent.parent
    return False


def _safe_divisors(node: exp.Expr, kinds: list[str], _t: StatementTypes, _r: Rule) -> Answer:
    if isinstance(node, exp.Binary):
        divisor = unwrap(node.right)
    else:
        args = arguments(node)
        divisor = unwrap(args[1]) if len(args) > 1 else None
    if divisor is None:
        return True
    if "nonzero-literal" in kinds:
        value = _number(divisor)
        if value is not None and value != 0:
            return False
    if "group-count" in kinds:
        window = isinstance(divisor, exp.Window) and isinstance(divisor.this, exp.Count)
        count = divisor if isinstance(divisor, exp.Count) else None
        if window and isinstance(divisor.this.this, (exp.Star, exp.Literal)):
            return False
        if count is not None and isinstance(count.this, (exp.Star, exp.Literal)):
            select = _select_of(node)
            if select is not None and select.args.get("group"):
                return False
    if (
        "nullif-zero" in kinds
        and isinstance(divisor, exp.Nullif)
        and _number(divisor.expression) == 0
    ):
        return False
    return not ("guarded" in kinds and _guarded(node, hive_sql(divisor), _nonzero))


def _non_negative(node: exp.Expr, on: bool, _t: StatementTypes, _r: Rule) -> Answer:
    """Whether the argument can be negative: not when it is a literal >= 0 or guarded by
    ``x >= 0`` / ``x > 0`` (calls never negative, abs or exp, are ``unless_argument``)."""
    argument = unwrap(_operand(node))
    if not on or argument is None:
        return True
    value = _number(argument)
    if value is not None:
        return value < 0
    return not _guarded(node, hive_sql(argument), _nonnegative)


def _halves(node: exp.Expr, on: bool, types: StatementTypes, _r: Rule) -> Answer:
    """Whether a rounding can meet a half: an integral operand rounded to a scale >= 0 is
    already whole; a scale computed at run time may be negative."""
    args = arguments(node)
    if not on or not args:
        return True
    scale = _number(args[1]) if len(args) > 1 else Decimal(0)
    if scale is None or scale < 0:
        return True
    integral = is_type(types.of(args[0]), ["integral"])
    return None if integral is None else not integral


# ------------------------------------------------------------------- calls and literals


def _pattern_letters(node: exp.Expr, letters: str, _t: StatementTypes, _r: Rule) -> Answer:
    args = argument_texts(node)
    if len(args) < 2:
        return False  # the default pattern, yyyy-MM-dd HH:mm:ss
    pattern = string_literal(args[1])
    if pattern is None:
        return True  # a pattern computed at run time: any letter
    outside = re.sub(r"'[^']*'", "", pattern)  # quoted text is literal, not letters
    return any(ch in letters for ch in outside)


def _parent_call(node: exp.Expr) -> exp.Expr | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return parent


def _round_trips(
    node: exp.Expr, pairs: list[tuple[str, str]], _t: StatementTypes, _r: Rule
) -> Answer:
    name = printed_name(node)
    parent = _parent_call(node)
    outer = printed_name(parent) if parent is not None else ""
    args = arguments(node)
    inner = printed_name(unwrap(args[0]) or node) if args else ""
    for out, inn in pairs:
        if (name == inn and outer == out) or (name == out and inner == inn):
            return False
    return True


def _unless_inside(node: exp.Expr, names: list[str], _t: StatementTypes, _r: Rule) -> Answer:
    parent = _parent_call(node)
    return parent is None or printed_name(parent) not in names


def _unless_argument(node: exp.Expr, names: list[str], _t: StatementTypes, _r: Rule) -> Answer:
    first = unwrap(_operand(node))
    return first is None or printed_name(first) not in names


def _literal_argument(
    node: exp.Expr, setting: dict[str, Any], _t: StatementTypes, _r: Rule
) -> Answer:
    args = arguments(node)
    index = setting["index"]
    arg = unwrap(args[index]) if index < len(args) else None
    if not isinstance(arg, (exp.Literal, exp.Var)):
        return True
    value = str(arg.name).lower()
    if "safe" in setting:
        return value not in setting["safe"]
    return value in setting["only"]


# --------------------------------------------------------------------------------- casts

_DIGITS = {"tinyint": 2, "smallint": 4, "int": 9, "bigint": 18}  # digits that always fit
_NEEDS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}  # digits the type may hold


def _digits_of(data_type: exp.DataType) -> tuple[int, int] | None:
    """(integer digits, scale) of a DECIMAL(p, s); None for another type."""
    if type_name(data_type) != "decimal":
        return None
    params = [int(p.name) for p in data_type.expressions if p.name.isdigit()]
    precision = params[0] if params else 10
    scale = params[1] if len(params) > 1 else 0
    return precision - scale, scale


def _narrowing(node: exp.Expr, on: bool, types: StatementTypes, _r: Rule) -> Answer:
    if not on or not isinstance(node, exp.Cast):
        return True
    target = node.args.get("to")
    if not isinstance(target, exp.DataType):
        return True
    to_name, to_decimal = type_name(target), _digits_of(target)
    fits = _DIGITS.get(to_name or "") if to_decimal is None else to_decimal[0]
    if fits is None:
        return True
    value = _number(node.this)
    literal = unwrap(node.this)
    if value is None and isinstance(literal, exp.Literal):
        try:
            value = Decimal(str(literal.name))  # a string literal: its number
        except InvalidOperation:
            return True
    if value is not None:
        return len(str(abs(int(value)))) > fits
    source = types.of(node.this)
    name = type_name(source)
    if name is None:
        return None
    if name in _NEEDS:
        return _NEEDS[name] > fits
    decimal = _digits_of(source) if source is not None else None
    if decimal is not None:
        if to_decimal is not None:  # a shorter scale may round up into one more digit
            return not (decimal[0] < fits or (decimal[0] <= fits and to_decimal[1] >= decimal[1]))
        return decimal[0] > fits
    return name != "boolean"


@functools.cache
def _language(regex: str, deleted: str = "") -> Pattern | None:
    """The regular language of ``regex`` (greenery), with the characters ``deleted``
    removed from every string; None when greenery cannot read the regex."""
    try:
        pattern = parse(regex)
    except Exception:  # greenery raises its own NoMatch and others on unsupported syntax
        return None
    if not deleted:
        return pattern
    gone = Charclass(deleted)
    return _delete(pattern, gone)


def _delete(node: Any, gone: Charclass) -> Any:
    if isinstance(node, Pattern):
        return Pattern(*(_delete(c, gone) for c in node.concs))
    if isinstance(node, Conc):
        return Conc(*(_delete(m, gone) for m in node.mults))
    if isinstance(node, Mult):
        return Mult(_delete(node.multiplicand, gone), node.multiplier)
    if isinstance(node, Charclass) and not node.intersection(gone).empty():
        rest = node.intersection(gone.negate())
        return Pattern(Conc(), Conc(Mult(rest, ONE))) if not rest.empty() else Pattern(Conc())
    return node


def _proves(regex: str, deleted: str, safe: str) -> bool:
    """Whether every string an anchored ``regex`` matches, less ``deleted`` characters, is
    in the language of ``safe``."""
    if not (regex.startswith("^") and regex.endswith("$") and not regex.endswith("\\$")):
        return False  # RLIKE finds the pattern anywhere: only a whole-string match proves
    if _top_level_alternation(regex[1:-1]):
        return False  # ^a|b$ is "starts with a or ends with b", not a whole-string match
    guard, allowed = _language(regex[1:-1], deleted), _language(safe)
    if guard is None or allowed is None:
        return False
    try:
        return bool((guard - allowed).empty())
    except Exception:  # an FSM greenery cannot build: no proof
        return False


def _top_level_alternation(regex: str) -> bool:
    depth, in_class, escaped = 0, False, False
    for ch in regex:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


def _deleted_from(operand: exp.Expr, subject: exp.Expr) -> str | None:
    """The characters the cast operand removes from the guarded subject (``""`` when it is
    the subject itself); None when it is something else."""
    operand = unwrap(operand) or operand
    text = hive_sql(subject)
    if hive_sql(operand) == text:
        return ""
    if isinstance(operand, exp.RegexpReplace) and hive_sql(operand.this) == text:
        pattern, replacement = operand.expression, operand.args.get("replacement")
        if (
            isinstance(pattern, exp.Literal)
            and isinstance(replacement, exp.Literal)
            and replacement.this == ""
        ):
            chars = str(pattern.this)
            if len(chars) == 1 and chars.isprintable() and chars not in ".^$*+?()[]{}|\\":
                return chars
            match = re.fullmatch(r"\[([^\]\\^-]+)\]", chars)
            if match:
                return match.group(1)
    return None


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    flat = condition.flatten() if isinstance(condition, exp.And) else [condition]
    return [unwrap(p) or p for p in flat]


def _guards(node: exp.Expr, kinds: list[str], _t: StatementTypes, rule: Rule) -> Answer:
    if not isinstance(node, exp.Cast):
        return True
    target = type_name(node.args.get("to"))
    safe = rule.refine.get("safe_strings", {}).get(target or "")
    literal = unwrap(node.this)
    if safe and isinstance(literal, exp.Literal) and literal.is_string:
        return re.fullmatch(safe, str(literal.this)) is None
    child: exp.Expr = node
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        if isinstance(parent, exp.If) and child.arg_key == "true":
            for part in _conjuncts(parent.this):
                if "rlike" in kinds and safe and isinstance(part, exp.RegexpLike):
                    regex = part.expression
                    deleted = _deleted_from(node.this, part.this)
                    if (
                        deleted is not None
                        and isinstance(regex, exp.Literal)
                        and _proves(str(regex.this), deleted, safe)
                    ):
                        return False
                if "try-cast" in kinds and _try_cast_guard(part, node):
                    return False
        child, parent = parent, parent.parent
    return True


def _try_cast_guard(part: exp.Expr, cast: exp.Expr) -> bool:
    """``TRY_CAST(s AS t) IS NOT NULL`` for the same ``s`` and ``t`` as ``cast``."""
    if not isinstance(part, exp.Not):
        return False
    inner = unwrap(part.this)
    if not (isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null)):
        return False
    probe = unwrap(inner.this)
    return (
        isinstance(probe, exp.TryCast)
        and bool(probe.args.get("safe"))
        and hive_sql(probe.this) == hive_sql(cast.this)
        and probe.args["to"].sql(DIALECT) == cast.args["to"].sql(DIALECT)
    )


_CHECKS: dict[str, Callable[[exp.Expr, Any, StatementTypes, Rule], Answer]] = {
    "argument_types": _argument_types,
    "result_types": _result_types,
    "safe_divisors": _safe_divisors,
    "pattern_letters": _pattern_letters,
    "round_trips": _round_trips,
    "unless_inside": _unless_inside,
    "unless_argument": _unless_argument,
    "literal_argument": _literal_argument,
    "narrowing": _narrowing,
    "halves": _halves,
    "non_negative": _non_negative,
    "guards": _guards,
}
assert set(_CHECKS) | {"safe_strings"} == set(REFINEMENTS), "one check per refinement"
