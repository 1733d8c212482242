"""The type of every node of a model's SQL statements, as Spark 4 types them.

Lint's rules about integers, decimals, strings or floating point fire only where an
operand's type makes the difference possible (a rule's ``refine`` in the catalogue), so
each statement is annotated with sqlglot's type inference (``annotate_types``) over the
schemas known at that point: the inputs' (their fixture bundles) and the columns and types
of every table or view an earlier statement created; within a statement sqlglot's scopes
carry types through CTEs and subqueries. Spark's own rules replace sqlglot's where they
differ and matter here: a literal with a decimal point is DECIMAL (Hive: DOUBLE), any
arithmetic with a DOUBLE is DOUBLE (sqlglot keeps a DECIMAL(p, s) operand), ``/`` of two
integers is DOUBLE, SUM of integers BIGINT and AVG of integers DOUBLE.

The statements are qualified on a copy (so a finding's expression text stays as written);
each original node is tagged first, and the copy's types are mapped back by the tags. A
type sqlglot cannot infer (a function it does not know, a python step's undeclared output)
is None: a rule then keeps its finding and says "type unknown".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema

from harness.catalogue import TYPE_CLASSES
from harness.ddl import parse_ddl
from harness.explain.sqlsource import (
    DIALECT,
    ModelSql,
    SqlStatement,
    qualified,
    target_and_query,
)
from harness.spec import ModelSpec

_TAG = "lint_type"  # meta key: a node's index in its statement's original walk
_T = exp.DType
_INTEGRAL = (_T.TINYINT, _T.SMALLINT, _T.INT, _T.BIGINT)
_FLOATING = (_T.FLOAT, _T.DOUBLE)
_NAMES: dict[Any, str] = {
    _T.TINYINT: "tinyint",
    _T.SMALLINT: "smallint",
    _T.INT: "int",
    _T.BIGINT: "bigint",
    _T.FLOAT: "float",
    _T.DOUBLE: "double",
    _T.DECIMAL: "decimal",
    _T.BIGDECIMAL: "decimal",
    _T.TEXT: "string",
    _T.VARCHAR: "string",
    _T.CHAR: "string",
    _T.NVARCHAR: "string",
    _T.BOOLEAN: "boolean",
    _T.BINARY: "binary",
    _T.VARBINARY: "binary",
    _T.DATE: "date",
    _T.TIMESTAMP: "timestamp",
    _T.TIMESTAMPLTZ: "timestamp",
    _T.TIMESTAMPNTZ: "timestamp",
    _T.TIMESTAMPTZ: "timestamp",
    _T.DATETIME: "timestamp",
    _T.ARRAY: "array",
    _T.MAP: "map",
    _T.STRUCT: "struct",
}
log = logging.getLogger(__name__)


def type_name(data_type: exp.DataType | None) -> str | None:
    """The Spark type name of ``data_type`` (``decimal`` for any DECIMAL(p, s)); None when
    unknown."""
    return None if data_type is None else _NAMES.get(data_type.this)


def is_type(data_type: exp.DataType | None, names: Iterable[str]) -> bool | None:
    """Whether ``data_type`` is one of ``names`` (type names or ``TYPE_CLASSES``); None
    when the type is unknown."""
    name = type_name(data_type)
    if name is None:
        return None
    wanted: set[str] = set()
    for n in names:
        wanted.update(TYPE_CLASSES.get(n, (n,)))
    return name in wanted


@dataclass
class StatementTypes:
    """The types of one statement's nodes (of its original, unqualified tree)."""

    types: dict[int, exp.DataType] = field(default_factory=dict)  # id(node) -> type

    def of(self, node: exp.Expr | None) -> exp.DataType | None:
        """``node``'s type, or None when unknown (a literal is typed even out of context)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if node is None:
            return None
        found = self.types.get(id(node))
        if found is None and isinstance(node, exp.Literal):
            found = literal_type(node)
        if found is None or found.this in (_T.UNKNOWN, _T.NULL):
            return None
        return found


# ------------------------------------------------------------------ Spark's typing rules


def literal_type(node: exp.Literal) -> exp.DataType:
    """A literal as Spark types it: 1 INT (BIGINT, DECIMAL when larger), 1.5 DECIMAL(2,1),
    1e3 DOUBLE, 'x' STRING."""
    if node.is_string:
        return exp.DataType.build("string")
    text = str(node.this).lower().lstrip("+-")
    if "e" in text:
        return exp.DataType.build("double")
    if "." in text:
        whole, _, frac = text.partition(".")
        digits = len(whole.lstrip("0")) + len(frac)
        return exp.DataType.build(f"decimal({max(digits, len(frac), 1)}, {len(frac)})")
    value = int(text or "0")
    if value < 2**31:
        return exp.DataType.build("int")
    return exp.DataType.build("bigint" if value < 2**63 else f"decimal({len(text)}, 0)")


def _numeric_kind(data_type: exp.DataType | None) -> str | None:
    if data_type is None:
        return None
    if data_type.this in _FLOATING:
        return "floating"
    if data_type.this in (_T.DECIMAL, _T.BIGDECIMAL):
        return "decimal"
    if data_type.this in _INTEGRAL:
        return "integral"
    return None


def arithmetic_type(op: type[exp.Expr], left: exp.DataType, right: exp.DataType) -> Any:
    """Spark's result type of ``left op right`` for numbers (None when not two numbers)."""
    if left.this == _T.NULL:
        left = right
    if right.this == _T.NULL:
        right = left
    kinds = {_numeric_kind(left), _numeric_kind(right)}
    if None in kinds:
        return None
    if op is exp.IntDiv:
        return _T.BIGINT
    if "floating" in kinds:
        return _T.DOUBLE
    if "decimal" in kinds:
        return _T.DECIMAL
    if op is exp.Div:
        return _T.DOUBLE
    return max(left.this, right.this, key=_INTEGRAL.index)


def _arithmetic(self: Any, node: exp.Binary) -> exp.Expr:
    left, right = node.left, node.right
    if left is not None and right is not None and left.type and right.type:
        result = arithmetic_type(type(node), left.type, right.type)
        if result is not None:
            return self._set_type(node, result)
    return self._annotate_binary(node)


def _aggregate(average: bool) -> Any:
    def annotate(self: Any, node: exp.Expr) -> exp.Expr:
        kind = _numeric_kind(node.this.type if isinstance(node.this, exp.Expr) else None)
        result = {
            "integral": _T.DOUBLE if average else _T.BIGINT,
            "decimal": _T.DECIMAL,
            "floating": _T.DOUBLE,
        }.get(kind or "", _T.UNKNOWN)
        return self._set_type(node, result)

    return annotate


def _spark_metadata() -> dict[Any, Any]:
    metadata = dict(Dialect.get_or_raise("spark").EXPRESSION_METADATA)
    metadata[exp.Literal] = {"annotator": lambda self, e: self._set_type(e, literal_type(e))}
    for op in (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv):
        metadata[op] = {"annotator": _arithmetic}
    metadata[exp.Sum] = {"annotator": _aggregate(average=False)}
    metadata[exp.Avg] = {"annotator": _aggregate(average=True)}
    return metadata


_METADATA = _spark_metadata()


# ------------------------------------------------------------------------- the model


def _declared(tree: exp.Expr) -> tuple[str, dict[str, str]] | None:
    """``CREATE TABLE t (a INT, ...)``: the table and its declared columns."""
    if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Schema):
        table = tree.this.this
        cols = {
            c.name.lower(): c.args["kind"].sql(DIALECT)
            for c in tree.this.expressions
            if isinstance(c, exp.ColumnDef) and c.args.get("kind") is not None
        }
        if isinstance(table, exp.Table) and cols:
            return table.name.lower(), cols
    return None


def annotate_statement(
    statement: SqlStatement, known: dict[str, dict[str, str]]
) -> tuple[StatementTypes, dict[str, str] | None]:
    """One statement's types over the ``known`` tables (name -> column -> type), and the
    columns of the table it creates (None when it creates none or they are unknown)."""
    nodes = list(statement.tree.walk())
    for i, node in enumerate(nodes):
        node.meta[_TAG] = i
    types = StatementTypes()
    declared = _declared(statement.tree)
    if declared is not None:
        return types, declared[1]
    _, query = target_and_query(statement.tree)
    if query is None:
        return types, None
    try:
        schema = MappingSchema({t: cols for t, cols in known.items() if cols}, dialect=DIALECT)
        copy = qualified(query, schema)
        typed = annotate_types(copy, schema=schema, expression_metadata=_METADATA)
    except (SqlglotError, KeyError, ValueError, TypeError, AttributeError) as exc:
        log.debug("no types for %s:%s: %s", statement.file, statement.line, exc)
        return types, None
    for node in typed.walk():
        tag = node.meta.get(_TAG)
        if isinstance(tag, int) and node.type is not None and 0 <= tag < len(nodes):
            types.types.setdefault(id(nodes[tag]), node.type)
    selects = typed.selects if isinstance(typed, exp.Query) else []
    columns = {
        s.alias_or_name.lower(): (
            s.type.sql(DIALECT) if s.type and type_name(s.type) else "unknown"
        )
        for s in selects
        if s.alias_or_name and not s.is_star
    }
    return types, columns or None


def annotate_model(
    spec: ModelSpec, sql: ModelSql, schemas: dict[str, list[tuple[str, str]]]
) -> dict[int, StatementTypes]:
    """The types of every statement of ``sql`` (keyed by ``id(statement)``), in step order,
    each over the inputs' ``schemas`` and the tables earlier statements created."""
    known = {t: {c: ty or "unknown" for c, ty in cols} for t, cols in schemas.items()}
    out: dict[int, StatementTypes] = {}
    by_step: dict[str, list[SqlStatement]] = {}
    for statement in sql.statements:
        by_step.setdefault(statement.step, []).append(statement)
    for step in spec.steps:
        for statement in by_step.pop(step.name or step.file, []):
            out[id(statement)] = _one(statement, known)
        if step.kind != "sql":
            for table, ddl in step.produces.items():
                cols = {c.lower(): t for c, t in parse_ddl(ddl)} if ddl else {}
                known[table.lower()] = cols  # undeclared columns: unknown
    for statements in by_step.values():  # a step the spec does not list (never in practice)
        for statement in statements:
            out[id(statement)] = _one(statement, known)
    return out


def _one(statement: SqlStatement, known: dict[str, dict[str, str]]) -> StatementTypes:
    types, columns = annotate_statement(statement, known)
    table, _ = target_and_query(statement.tree)
    declared = _declared(statement.tree)
    table = declared[0] if declared else table
    if table and columns and not isinstance(statement.tree, exp.Insert):
        known[table] = columns
    return types
