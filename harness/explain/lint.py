"""Lint: the catalogue's constructs in a model's SQL, each with file:line and what it feeds.

One detector per SQL kind of ``catalogue.DETECTORS`` (``DETECTOR_CHECKS`` is keyed by those names,
and a test holds the two lists equal); each takes a statement and a rule's values and
yields the nodes that match. A rule's functions are matched by what sqlglot parses them
into (its node class, for names sqlglot knows, such as percentile_approx ->
ApproxQuantile) and by the name the Hive dialect prints, so spellings and aliases the
parser normalises still match. Hive's ``CAST`` parses as a non-safe ``TryCast``: only an
explicit ``TRY_CAST`` is safe, and never an ANSI risk.

Detectors match syntax; every match is then judged by its rule's ``refine`` properties
(:mod:`harness.explain.refine`) over the statement's types (:mod:`harness.explain.sqltypes`):
an integer sum is no floating-point risk, ``x / 365.25`` no division by zero. A match whose
rule needs a type sqlglot could not infer stays a finding, marked ``type_unknown``.

Each finding names the table its statement creates and the select-list column holding
the construct (None in a clause: WHERE, JOIN, GROUP BY, HAVING, ORDER BY, which shape
every row), and the model outputs' columns it feeds, from :mod:`harness.explain.lineage`.
Python and R steps' own code is matched by the ``python`` and ``r`` detectors
(:mod:`harness.explain.codelint`), and its findings join the same report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from harness.catalogue import CLAUSES, CODE_DETECTORS, DETECTORS, OPERATORS, Rule, load_catalogue
from harness.explain.calls import arity, hive_sql, printed_name
from harness.explain.codelint import code_findings
from harness.explain.findings import Finding, LintReport
from harness.explain.lineage import Lineage, build, statement_target
from harness.explain.refine import judge
from harness.explain.sqlsource import DIALECT, ModelSql, SqlStatement, read_model
from harness.explain.sqltypes import StatementTypes, annotate_model, is_type, type_name
from harness.spec import ModelSpec

Hit = tuple[exp.Expr, str]  # the matching node, and the rule value it matched
Detector = Callable[[SqlStatement, list[str], StatementTypes], Iterator[Hit]]

_EXPRESSION_CHARS = 100
# Select arguments -> the clause a construct sits in (anything else in a SELECT: "select").
_CLAUSE_OF_ARG = {
    "where": "where",
    "qualify": "where",
    "joins": "join",
    "group": "group",
    "having": "having",
    "order": "order",
    "sort": "order",
    "cluster": "order",
    "distribute": "order",
}
_RANKING = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.Ntile,
    exp.Lead,
    exp.Lag,
    exp.PercentRank,
    exp.CumeDist,
    exp.FirstValue,
    exp.LastValue,
    exp.NthValue,
)


# ---------------------------------------------------------------------------- functions


@functools.cache
def _probe(name: str) -> type[exp.Expr] | None:
    """The node class sqlglot parses ``name(...)`` into, if it is not Anonymous."""
    for args in ("x", "x, y", ""):
        try:
            tree = parse_one(f"SELECT {name}({args})", read=DIALECT)
        except (SqlglotError, IndexError, ValueError, TypeError):
            continue  # sqlglot's builders assume their arity (MAP wants pairs)
        call = tree.selects[0] if isinstance(tree, exp.Select) and tree.selects else None
        if isinstance(call, exp.Func) and not isinstance(call, exp.Anonymous):
            return type(call)
    return None


def _functions(statement: SqlStatement, names: list[str], _types: StatementTypes) -> Iterator[Hit]:
    """Calls of ``names``; ``name/n`` matches only calls with at least n arguments (e.g.
    ``to_date/2``: a date parsed with a pattern, not a plain conversion)."""
    wanted: dict[str, tuple[str, int]] = {}
    for value in names:
        fname, _, at_least = value.lower().partition("/")
        wanted[value] = (fname, int(at_least) if at_least.isdigit() else 0)
    classes = {v: _probe(name) for v, (name, _) in wanted.items()}
    for node in statement.tree.walk():
        if not isinstance(node, exp.Func) or isinstance(node, exp.Cast):
            continue
        printed = printed_name(node)
        for value, (name, least) in wanted.items():
            cls = classes[value]
            if (printed == name or (cls is not None and type(node) is cls)) and arity(
                node
            ) >= least:
                yield node, value
                break


# -------------------------------------------------------------------------------- casts


def is_ansi_cast(node: exp.Expr) -> bool:
    """A CAST that Spark's ANSI mode can fail: not an explicit TRY_CAST."""
    if isinstance(node, exp.TryCast):
        return not node.args.get("safe")
    return isinstance(node, exp.Cast)


def _type_name(data_type: exp.Expr | None) -> str:
    return "" if data_type is None else data_type.sql(DIALECT).split("(", 1)[0].strip().lower()


def _casts(statement: SqlStatement, types: list[str], _types: StatementTypes) -> Iterator[Hit]:
    """CAST(... AS t) for t in ``types`` ("any" for every type; "string->t" matches every
    CAST to t: whether its operand is a string is the refinement's question)."""
    for node in statement.tree.find_all(exp.Cast):
        if not is_ansi_cast(node):
            continue
        target = _type_name(node.args.get("to"))
        for value in types:
            _, _, to = value.lower().rpartition("->")
            if to in ("any", target):
                yield node, value
                break


# ---------------------------------------------------------------------------- operators


def _numeric(node: exp.Expr, types: StatementTypes) -> bool | None:
    """True/False when ``node`` is known to be a number / a string; None when unknown."""
    name = type_name(types.of(node))
    if name is None:
        return None
    if is_type(types.of(node), ["numeric"]):
        return True
    return False if name == "string" else None


_OPERATOR_NODES: dict[str, tuple[type[exp.Expr], ...]] = {
    "divide": (exp.Div,),
    "int-divide": (exp.IntDiv,),
    "modulo": (exp.Mod,),
    "arithmetic": (exp.Add, exp.Sub, exp.Mul),
    "compare-string-number": (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE),
}
assert set(_OPERATOR_NODES) == set(OPERATORS), "one node set per catalogue operator"


def _operators(statement: SqlStatement, names: list[str], types: StatementTypes) -> Iterator[Hit]:
    for name in names:
        for node in statement.tree.find_all(*_OPERATOR_NODES[name]):
            left, right = node.args.get("this"), node.args.get("expression")
            if left is None or right is None:
                continue
            if (
                name == "arithmetic"
                and isinstance(left, exp.Literal)
                and isinstance(right, exp.Literal)
            ):
                continue  # constant folding, no data
            if name == "compare-string-number":
                kinds = {_numeric(left, types), _numeric(right, types)}
                if kinds != {True, False}:
                    continue
            yield node, name


# ------------------------------------------------------------------------------ clauses


def _clauses(statement: SqlStatement, names: list[str], _types: StatementTypes) -> Iterator[Hit]:
    for name in names:
        if name == "window-ranking":
            for window in statement.tree.find_all(exp.Window):
                if isinstance(window.this, _RANKING) and window.args.get("order"):
                    yield window, name
        elif name == "limit-without-order":
            for select in statement.tree.find_all(exp.Select):
                if select.args.get("limit") and not select.args.get("order"):
                    yield select.args["limit"], name


assert {"window-ranking", "limit-without-order"} == set(CLAUSES), "one check per clause"


# ----------------------------------------------------------------------------- registry


DETECTOR_CHECKS: dict[str, Detector] = {
    "functions": _functions,
    "casts": _casts,
    "operators": _operators,
    "clauses": _clauses,
}
DETECTOR_KINDS = tuple(DETECTOR_CHECKS)
assert DETECTOR_KINDS + CODE_DETECTORS == DETECTORS, (
    "one check per catalogue SQL detector, in its order; python and r: explain/codelint.py"
)


def place(node: exp.Expr) -> tuple[exp.Expr | None, str | None, str]:
    """Where ``node`` sits: its innermost SELECT, the select-list column holding it (None in
    a clause) and the clause (select, where, join, group, having, order, window)."""
    in_window = isinstance(node, exp.Window)
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.Window) and child.arg_key in ("partition_by", "order"):
            in_window = True
        if isinstance(parent, exp.Select):
            key = child.arg_key
            if key == "expressions":
                column = child.alias_or_name or None
                return parent, column, "window" if in_window else "select"
            if key in _CLAUSE_OF_ARG:
                return parent, None, _CLAUSE_OF_ARG[key]
            if key == "limit":
                return parent, None, "order"
            return parent, None, "select"
        child, parent = parent, parent.parent
    return None, None, "select"


def _short(node: exp.Expr) -> str:
    text = " ".join(hive_sql(node).split())
    return text if len(text) <= _EXPRESSION_CHARS else text[: _EXPRESSION_CHARS - 3] + "..."


def find(
    spec: ModelSpec,
    sql: ModelSql | None = None,
    catalogue: dict[str, Rule] | None = None,
    *,
    schemas: dict[str, list[tuple[str, str]]] | None = None,
) -> LintReport:
    """Every catalogue construct in ``spec``'s SQL, with the output columns it feeds, and
    what could not be analysed. ``schemas`` (input -> columns) defaults to the fixtures'."""
    from harness.explain.lineage import input_schemas

    sql = sql if sql is not None else read_model(spec)
    rules = catalogue if catalogue is not None else load_catalogue()
    schemas = schemas if schemas is not None else input_schemas(spec)
    lineage = build(spec, sql, schemas)
    typed = annotate_model(spec, sql, schemas)
    report = LintReport(spec.name, not_analysed=list(sql.not_analysed), lineage=lineage)
    for statement in sql.statements:
        table = statement_target(statement.tree)
        types = typed.get(id(statement)) or StatementTypes()
        seen: set[tuple[str, int]] = set()
        for rule in rules.values():
            for kind, values in rule.detect.items():
                if kind in CODE_DETECTORS:
                    continue  # a step's own code, not its SQL: code_findings below
                for node, value in DETECTOR_CHECKS[kind](statement, list(values), types):
                    if (rule.id, id(node)) in seen:
                        continue
                    verdict = judge(rule, node, value, types)
                    if not verdict.keep:
                        continue
                    seen.add((rule.id, id(node)))
                    finding = _finding(rule, statement, table, node, lineage)
                    if verdict.type_unknown:
                        finding = replace(finding, type_unknown=True)
                    report.findings.append(finding)
    in_code, unread = code_findings(spec, rules, lineage)
    report.findings += in_code
    report.not_analysed += unread
    report.findings.sort(key=lambda f: (str(f.file), f.line, f.rule, f.expression))
    return report


def _finding(
    rule: Rule, statement: SqlStatement, table: str | None, node: exp.Expr, lineage: Lineage
) -> Finding:
    select, column, clause = place(node)
    feeds: set[tuple[str, str]] = set()
    beyond: set[tuple[str, str]] = set()
    graph_node = Lineage.scope_node(select, column) if select is not None else None
    if graph_node is not None:
        feeds, beyond = lineage.feeds(graph_node)
    return Finding(
        rule=rule.id,
        step=statement.step,
        file=statement.file,
        line=statement.line_of(node),
        expression=_short(node),
        table=table,
        column=column.lower() if column else None,
        clause=clause,
        feeds=tuple(sorted(feeds)),
        feeds_beyond=tuple(sorted(beyond)),
    )
