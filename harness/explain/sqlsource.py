"""A model's SQL as parsed statements that know their file and line.

SQL steps are split and substituted as the runners run them (``harness.sqltext``), then
parsed with sqlglot's Hive dialect. Python steps contribute the literal strings they pass
to ``<session>.sql(...)``; a Python step's DataFrame code and R steps are read on their own
syntax trees by :mod:`harness.explain.codelint`. What nobody can read (SQL built at run
time, statements sqlglot cannot parse, files that do not parse) is listed in
``not_analysed``: the tools that read this never pass code silently.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp, parse_one
from sqlglot.errors import ParseError

from harness.errors import HarnessError
from harness.spec import ModelSpec
from harness.sqltext import statements, substitute

DIALECT = "hive"  # the legacy code's dialect


@dataclass(frozen=True)
class SqlStatement:
    step: str  # the step's name
    file: Path
    line: int  # the file line the statement starts on
    text: str  # after variable substitution
    tree: exp.Expr

    def line_of(self, node: exp.Expr) -> int:
        """The file line of ``node``: the first line of a token under it that sqlglot placed
        (identifiers, literals, some calls), else its nearest ancestor's."""
        current: exp.Expr | None = node
        while current is not None:
            lines = [n.meta["line"] for n in current.walk() if "line" in n.meta]
            if lines:
                return self.line + min(lines) - 1
            current = current.parent
        return self.line


@dataclass(frozen=True)
class NotAnalysed:
    step: str
    file: Path
    line: int | None
    why: str


@dataclass
class ModelSql:
    statements: list[SqlStatement] = field(default_factory=list)
    not_analysed: list[NotAnalysed] = field(default_factory=list)


def read_model(spec: ModelSpec) -> ModelSql:
    """Every statement of ``spec``'s steps that can be parsed, and what could not."""
    out = ModelSql()
    for step in spec.steps:
        path = spec.directory / step.file
        name = step.name or step.file
        try:
            source = path.read_text()
        except OSError as exc:
            out.not_analysed.append(NotAnalysed(name, path, None, f"cannot read: {exc}"))
            continue
        params = {**spec.parameters, **step.parameters}
        if step.kind == "sql":
            _sql_step(out, name, path, source, params)
        elif step.kind == "python":
            _python_step(out, name, path, source, params)
        # R code: read on R's parse tree by explain/codelint.py
    return out


def _add(out: ModelSql, step: str, path: Path, line: int, text: str, params: dict) -> None:
    try:
        text = substitute(text, params, str(path))
        tree = parse_one(text, read=DIALECT)
    except (ParseError, HarnessError) as exc:
        why = f"cannot parse: {str(exc).splitlines()[0][:160]}"
        out.not_analysed.append(NotAnalysed(step, path, line, why))
        return
    if tree is not None:
        out.statements.append(SqlStatement(step, path, line, text, tree))


def _sql_step(out: ModelSql, step: str, path: Path, source: str, params: dict) -> None:
    for statement in statements(source):
        if statement.text.split(None, 1)[0].upper() == "SET":
            continue  # settings: the platform's business, not the model's semantics
        _add(out, step, path, statement.line, statement.text, params)


def _python_step(out: ModelSql, step: str, path: Path, source: str, params: dict) -> None:
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        out.not_analysed.append(NotAnalysed(step, path, exc.lineno, f"cannot parse: {exc.msg}"))
        return
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sql"
            and node.args
        ):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            for statement in statements(arg.value):
                _add(out, step, path, arg.lineno + statement.line - 1, statement.text, params)
        else:
            why = "SQL built at run time (not a string literal): not analysed"
            out.not_analysed.append(NotAnalysed(step, path, node.lineno, why))


def target_and_query(tree: exp.Expr) -> tuple[str | None, exp.Expr | None]:
    """The table a statement creates or fills (None for a bare query) and the query that
    fills it (None for a statement that runs none): what lineage and typing both follow."""
    if isinstance(tree, (exp.Create, exp.Insert)):
        target = tree.this
        table = target.this if isinstance(target, exp.Schema) else target
        name = table.name.lower() if isinstance(table, exp.Table) else None
        query = tree.expression
        return name, query if isinstance(query, exp.Query) else None
    if isinstance(tree, exp.Query):
        return None, tree
    return None, None


def qualified(query: exp.Expr, schema: Any) -> exp.Expr:
    """A copy of ``query`` with its columns qualified by table over ``schema`` (Hive
    dialect, names as written): the one way lineage and typing resolve a query."""
    from sqlglot.optimizer.qualify import qualify

    return qualify(
        query.copy(),
        schema=schema,
        dialect=DIALECT,
        validate_qualify_columns=False,
        quote_identifiers=False,
        identify=False,
    )
