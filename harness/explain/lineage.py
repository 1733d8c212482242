"""Column-level lineage through a model's steps: which output columns a construct reaches.

Attribution may only blame a failing column on a construct it derives from, so this builds
one graph of "depends on" edges over every SQL statement of the model, in step order:

* nodes are ``(table, column)`` for the tables and views statements create and the
  model's inputs, ``(scope, column)`` for each SELECT inside a statement (subqueries,
  CTEs, union branches), and ``(x, None)`` for the *rows* of ``x``;
* a projection depends on the columns its expression reads; every column of a SELECT
  depends on its rows; the rows depend on the rows of every source and on the columns
  its WHERE, JOIN, GROUP BY, HAVING and QUALIFY read (a filter on a column shapes every
  row, and so every column, of the result);
* columns are resolved with sqlglot's ``qualify`` and ``scope`` over the schemas known so
  far (inputs from their fixture bundles, created tables from their SELECTs), so ``*``
  expands and a bare column finds its table.

Python and R steps are opaque: their outputs depend on a stop node for the step. Lineage
does not pretend to know which input column feeds which output column there; upstream of
a stop is reported separately as "beyond a python/r step, unverified".
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from harness.ddl import parse_ddl
from harness.explain.sqlsource import (
    DIALECT,
    ModelSql,
    SqlStatement,
    qualified,
    target_and_query,
)
from harness.spec import ModelSpec

ColumnRef = tuple[str, str]  # (table or output, column): a column of a table or model output
Node = tuple[str, str | None]  # (table, scope or step key; column, or None for its rows)
ANY = "*"  # the column of a python/r output whose columns are not declared
_TAG = "lint_select"  # meta key: the id lineage gives each SELECT of a statement's tree
_STOP = "§step:"  # prefix of a python/r step's stop node

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stop:
    """Where lineage stops: a python or r step, and the tables it reads."""

    kind: str
    step: str
    file: str
    inputs: tuple[str, ...]

    def describe(self) -> str:
        return f"lineage stops at {self.kind} step '{self.step}' ({self.file})"


@dataclass
class Lineage:
    """The model's dependency graph; build it with :func:`build`."""

    outputs: dict[str, list[str]] = field(default_factory=dict)  # output -> known columns
    deps: dict[Node, set[Node]] = field(default_factory=dict)
    stops: dict[str, Stop] = field(default_factory=dict)  # stop node key -> the step
    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> known columns
    unresolved: list[str] = field(default_factory=list)  # statements lineage could not read
    _rdeps: dict[Node, set[Node]] | None = field(default=None, repr=False)

    # -- building
    def add(self, node: Node, *sources: Node) -> None:
        self.deps.setdefault(node, set()).update(sources)
        for source in sources:
            self.deps.setdefault(source, set())
        self._rdeps = None

    def node(self, table: str, column: str | None) -> Node | None:
        """The graph node of ``table.column`` (a python/r output's undeclared column maps to
        its ``*`` node), or None when lineage never met it."""
        table, col = table.lower(), None if column is None else column.lower()
        for candidate in ((table, col), (table, ANY)):
            if candidate in self.deps:
                return candidate
        return None

    @staticmethod
    def scope_node(select: exp.Expr, column: str | None) -> Node | None:
        """The node of a SELECT's projection (or its rows), for a construct found in it."""
        tag = select.meta.get(_TAG)
        return None if tag is None else (tag, None if column is None else column.lower())

    # -- walking
    def upstream(self, node: Node) -> tuple[set[Node], set[Node], list[Stop]]:
        """Everything ``node`` depends on: (verified, beyond a python/r step, the stops)."""
        return self._walk(node, self.deps)

    def downstream(self, node: Node) -> tuple[set[Node], set[Node]]:
        """Everything that depends on ``node``: (verified, only through a python/r step)."""
        if self._rdeps is None:
            self._rdeps = {}
            for dependent, sources in self.deps.items():
                for source in sources:
                    self._rdeps.setdefault(source, set()).add(dependent)
        verified, beyond, _ = self._walk(node, self._rdeps)
        return verified, beyond

    def _walk(
        self, node: Node, edges: dict[Node, set[Node]]
    ) -> tuple[set[Node], set[Node], list[Stop]]:
        """Breadth-first along ``edges`` from ``node``; a step past a table a python/r step
        made leads "beyond" (unverified), and that step is one of the stops."""
        verified: set[Node] = set()
        beyond: set[Node] = set()
        stops: list[Stop] = []
        queue = deque([(node, False)])
        while queue:
            current, past = queue.popleft()
            target = beyond if past else verified
            if current in target:
                continue
            target.add(current)
            crossing = current[0] in self.stops
            if crossing and self.stops[current[0]] not in stops:
                stops.append(self.stops[current[0]])
            for dep in edges.get(current, ()):
                queue.append((dep, past or crossing))
        return verified, beyond - verified, stops

    def output_columns(self, nodes: set[Node]) -> set[ColumnRef]:
        """The model outputs' columns among ``nodes`` (``*`` for undeclared ones)."""
        return {
            (t, c)
            for t, c in nodes
            if t in self.outputs and c is not None and not t.startswith("§")
        }

    def feeds(self, node: Node) -> tuple[set[ColumnRef], set[ColumnRef]]:
        """Output columns ``node`` reaches: (through SQL only, only through a python/r step)."""
        verified, beyond = self.downstream(node)
        return self.output_columns(verified), self.output_columns(beyond)

    def sources(self, output: str, column: str) -> tuple[set[Node], set[Node], list[Stop]]:
        """The (table, column) nodes on a column's path, (table, None) for the row sets that
        shape it, the nodes beyond a python/r step, and where lineage stopped."""
        node = self.node(output, column)
        if node is None:
            return set(), set(), []
        verified, beyond, stops = self.upstream(node)
        real = {n for n in verified if not n[0].startswith("§")}
        return real, {n for n in beyond if not n[0].startswith("§")}, stops


# ------------------------------------------------------------------------------ building


def input_schemas(spec: ModelSpec) -> dict[str, list[tuple[str, str]]]:
    """Each input's columns from its fixture bundle (the project's ``fixtures/`` beside the
    suites); an input whose bundle cannot be read is left out (its stars stay unexpanded)."""
    from harness.fixtures import load_bundle

    root = spec.directory.parent.parent / "fixtures"
    out: dict[str, list[tuple[str, str]]] = {}
    for table, ref in spec.inputs.items():
        try:
            bundle = load_bundle(root, ref.fixture, ref.version, require_sample=False)
        except Exception as exc:  # a lint of a half-built project still runs
            log.debug("no schema for input %s: %s", table, exc)
            continue
        out[table.lower()] = [(n.lower(), t) for n, t in bundle.columns]
    return out


def build(
    spec: ModelSpec, sql: ModelSql, schemas: dict[str, list[tuple[str, str]]] | None = None
) -> Lineage:
    """The lineage of ``spec``'s steps over its parsed SQL (``schemas``: input columns;
    read from the fixture bundles when not given). Tags every SELECT of ``sql``'s trees
    so :meth:`Lineage.scope_node` finds the node of a construct found there."""
    lineage = Lineage(outputs={o.lower(): [] for o in spec.outputs})
    known = {t: list(cols) for t, cols in (schemas or input_schemas(spec)).items()}
    for table, cols in known.items():
        lineage.columns[table] = [c for c, _ in cols]
        for col, _ in cols:
            lineage.add((table, col), (table, None))
        lineage.add((table, None))
    by_step: dict[str, list[tuple[int, SqlStatement]]] = {}
    for i, statement in enumerate(sql.statements):
        by_step.setdefault(statement.step, []).append((i, statement))
    for step in spec.steps:
        name = step.name or step.file
        if step.kind == "sql":
            for i, statement in by_step.get(name, []):
                _statement(lineage, known, i, statement)
        else:
            _opaque_step(lineage, known, step, name, by_step.get(name, []))
    for output in lineage.outputs:
        lineage.outputs[output] = list(lineage.columns.get(output, []))
    return lineage


def _opaque_step(lineage, known, step, name, statements) -> None:
    """A python/r step: its outputs depend on a stop node that depends on all it reads
    (its inputs, and the statements it passes to spark.sql)."""
    key = f"{_STOP}{name}"
    inputs = tuple(t.lower() for t in (step.inputs or known.keys()))
    lineage.stops[key] = Stop(step.kind, name, step.file, inputs)
    stop: Node = (key, None)
    reads: list[Node] = []
    for table in inputs:
        reads.append((table, None))
        reads += [(table, c) for c in lineage.columns.get(table, [])]
    for i, statement in statements:
        made = _statement(lineage, known, i, statement)
        if made is not None:
            reads.append((made, None))
            reads += [(made, c) for c in lineage.columns.get(made, [])]
    lineage.add(stop, *reads)
    for table, ddl in step.produces.items():
        table = table.lower()
        cols = [c.lower() for c, _ in parse_ddl(ddl)] if ddl else []
        lineage.columns[table] = cols
        known[table] = [(c, "") for c in cols]
        for col in [*cols, ANY]:
            lineage.add((table, col), stop)
        lineage.add((table, None), stop)


def statement_target(tree: exp.Expr) -> str | None:
    """The table or view a statement creates or fills (None for a bare query)."""
    return target_and_query(tree)[0]


def _statement(lineage: Lineage, known, index: int, statement: SqlStatement) -> str | None:
    """Add one statement's edges; returns the node name its result is known by."""
    table, query = target_and_query(statement.tree)
    if query is None:
        return None
    for n, select in enumerate(query.find_all(exp.Select, exp.SetOperation)):
        select.meta[_TAG] = f"§{index}:{n}"
    result = table or f"§{index}:result"
    try:
        schema = MappingSchema(
            {t: {c: (ty or "string") for c, ty in cols} for t, cols in known.items() if cols},
            dialect=DIALECT,
        )
        resolved = qualified(query, schema)
        scopes = traverse_scope(resolved)
    except (SqlglotError, KeyError, ValueError, TypeError) as exc:
        lineage.unresolved.append(f"{statement.file.name}:{statement.line}: {exc}")
        return None
    if not scopes:
        return None
    for scope in scopes:
        _scope(lineage, scope)
    root = scopes[-1]
    root_key = root.expression.meta.get(_TAG)
    if root_key is None:
        return None
    cols = _projections(root)
    if isinstance(statement.tree, exp.Insert) and lineage.columns.get(result):
        cols_out = lineage.columns[result]  # INSERT fills the table's columns by position
    else:
        cols_out = cols
        lineage.columns[result] = cols
        known[result] = [(c, "") for c in cols]
    lineage.add((result, None), (root_key, None))
    for out, col in zip(cols_out, cols, strict=False):
        lineage.add((result, out), (root_key, col), (result, None))
    return result


def _projections(scope: Scope) -> list[str]:
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        expression = expression.find(exp.Select) or expression
    selects = expression.selects if isinstance(expression, exp.Select) else []
    return [s.alias_or_name.lower() for s in selects]


def _source_key(scope: Scope, name: str) -> str | None:
    source = scope.sources.get(name)
    if isinstance(source, exp.Table):
        return source.name.lower()
    if isinstance(source, Scope):
        return source.expression.meta.get(_TAG)
    return None


def _column_sources(scope: Scope, column: exp.Column, lineage: Lineage) -> list[Node]:
    name = column.name.lower()
    if column.table:
        key = _source_key(scope, column.table)
        return [_resolve(lineage, key, name)] if key else []
    # Unqualified (its table unknown to qualify): every source that has such a column, or
    # every source when none is known to (conservative: lineage never loses a path).
    keys = [k for k in (_source_key(scope, s) for s in scope.sources) if k]
    having = [k for k in keys if name in lineage.columns.get(k, []) or _has(lineage, k, name)]
    return [_resolve(lineage, k, name) for k in (having or keys)]


def _has(lineage: Lineage, key: str, name: str) -> bool:
    return (key, name) in lineage.deps


def _resolve(lineage: Lineage, key: str, name: str) -> Node:
    """``key.name``, or ``key``'s pass-through node when ``key`` is an unexpanded star."""
    if (key, name) not in lineage.deps and (key, ANY) in lineage.deps:
        return (key, ANY)
    return (key, name)


def _own_columns(node: exp.Expr, scope: Scope) -> list[exp.Column]:
    own = {id(c) for c in scope.columns}
    return [c for c in node.find_all(exp.Column) if id(c) in own]


def _scope(lineage: Lineage, scope: Scope) -> None:
    key = scope.expression.meta.get(_TAG)
    if key is None:
        return
    rows: Node = (key, None)
    if isinstance(scope.expression, exp.SetOperation):
        branches = [s for s in scope.set_operation_scopes if s.expression.meta.get(_TAG)]
        names = _projections(scope)
        for branch in branches:
            bkey = branch.expression.meta[_TAG]
            lineage.add(rows, (bkey, None))
            for name, bname in zip(names, _projections(branch), strict=False):
                lineage.add((key, name), (bkey, bname), rows)
        lineage.columns[key] = names
        return
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    sources: list[Node] = []
    for alias in scope.sources:
        source_key = _source_key(scope, alias)
        if source_key:
            sources.append((source_key, None))
    for sub in scope.subquery_scopes:
        sub_key = sub.expression.meta.get(_TAG)
        if sub_key:
            sources.append((sub_key, None))
            sources += [(sub_key, c) for c in _projections(sub)]
    lineage.add(rows, *sources)
    for clause in ("where", "joins", "group", "having", "qualify"):
        value = select.args.get(clause)
        for part in value if isinstance(value, list) else [value] if value else []:
            for column in _own_columns(part, scope):
                lineage.add(rows, *_column_sources(scope, column, lineage))
    names = []
    for projection in select.selects:
        name = projection.alias_or_name.lower()
        names.append(name)
        reads: list[Node] = [rows]
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            continue  # an unexpanded star (schema unknown): see below
        for column in _own_columns(projection, scope):
            reads += _column_sources(scope, column, lineage)
        lineage.add((key, name), *reads)
    if any(isinstance(p, exp.Star) or p.is_star for p in select.selects):
        # SELECT * over a source whose columns are unknown: each column passes through.
        for read in sources:
            lineage.add((key, ANY), read)
    lineage.columns[key] = names
