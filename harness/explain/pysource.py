"""The catalogue's Python constructs found in a Python step's syntax tree.

A ``python`` detector value is ``<kind>:<name>`` with a kind from
``catalogue.PYTHON_MATCHES``; this module has one check per kind over the standard ``ast``
of the step's file (the file Python itself would compile: no regex over text, so comments,
strings, dict keys and look-alike names never match). Each hit carries its file line and
the source text of the construct. It reads code and runs nothing.

``pandas-method`` matches only where the receiver is a pandas object as far as the file
shows: a name bound to a call of the pandas module (``pd.DataFrame(...)``,
``pd.read_csv(...)``), to ``.toPandas()``, to a parameter annotated with a pandas type, or
to a method of such a name (``df.copy()``). A list's ``append`` is never a pandas one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.catalogue import PYTHON_MATCHES

_TEXT_CHARS = 100


@dataclass(frozen=True)
class CodeHit:
    line: int
    value: str  # the detector value it matched ("attr:rdd")
    text: str  # the construct's source text, shortened


@dataclass(frozen=True)
class PyFile:
    source: str
    tree: ast.Module
    pandas_aliases: frozenset[str]  # names the pandas module is imported as
    pandas_names: frozenset[str]  # local names bound to pandas objects


def parse_python(source: str, filename: str = "<step>") -> PyFile:
    """``source`` parsed, with what it knows of pandas; ``SyntaxError`` if it cannot be."""
    tree = ast.parse(source, filename=filename)
    aliases = _pandas_aliases(tree)
    return PyFile(source, tree, aliases, _pandas_names(tree, aliases))


def _pandas_aliases(tree: ast.Module) -> frozenset[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.asname or a.name for a in node.names if a.name == "pandas"}
    return frozenset(out)


def _is_pandas_expr(node: ast.AST, aliases: frozenset[str], names: set[str]) -> bool:
    """A call on the pandas module, ``.toPandas()``, or a method of a known pandas name."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        if func.attr == "toPandas":
            return True
        root = func.value
        while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
            root = root.func if isinstance(root, ast.Call) else root.value
        return isinstance(root, ast.Name) and (root.id in aliases or root.id in names)
    return False


def _annotated_pandas(annotation: ast.AST | None, aliases: frozenset[str]) -> bool:
    return (
        isinstance(annotation, ast.Attribute)
        and isinstance(annotation.value, ast.Name)
        and annotation.value.id in aliases
    )


def _pandas_names(tree: ast.Module, aliases: frozenset[str]) -> frozenset[str]:
    """Names bound to pandas objects, to a fixed point (``b = a.copy()`` after ``a = pd...``)."""
    if not aliases:
        return frozenset()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and _annotated_pandas(node.annotation, aliases):
            names.add(node.arg)
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)]
    while True:
        before = len(names)
        for node in assigns:
            value = node.value
            if value is None or not _is_pandas_expr(value, aliases, names):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        if len(names) == before:
            return frozenset(names)


def _text(file: PyFile, node: ast.AST) -> str:
    text = " ".join((ast.get_source_segment(file.source, node) or "").split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 3] + "..."


def _attr(file: PyFile, name: str) -> Iterator[ast.AST]:
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Attribute) and node.attr == name:
            yield node


def _call(file: PyFile, name: str) -> Iterator[ast.AST]:
    for node in ast.walk(file.tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name) or (
                isinstance(func, ast.Attribute) and func.attr == name
            ):
                yield node


def _method(file: PyFile, name: str) -> Iterator[ast.AST]:
    for node in ast.walk(file.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == name
        ):
            yield node


def _pandas_method(file: PyFile, name: str) -> Iterator[ast.AST]:
    if not file.pandas_aliases:
        return
    for node in _method(file, name):
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        receiver = node.func.value
        if (isinstance(receiver, ast.Name) and receiver.id in file.pandas_names) or (
            _is_pandas_expr(receiver, file.pandas_aliases, set(file.pandas_names))
        ):
            yield node


MATCHES: dict[str, Callable[[PyFile, str], Iterator[ast.AST]]] = {
    "attr": _attr,
    "call": _call,
    "method": _method,
    "pandas-method": _pandas_method,
}
assert tuple(MATCHES) == PYTHON_MATCHES, "one check per catalogue python match kind"


def python_hits(file: PyFile, values: list[str]) -> list[CodeHit]:
    """Every construct of ``values`` in ``file``, once per node, in line order."""
    hits: dict[int, CodeHit] = {}
    for value in values:
        kind, _, name = value.partition(":")
        for node in MATCHES[kind](file, name):
            if id(node) not in hits:
                line = getattr(node, "lineno", 0)
                hits[id(node)] = CodeHit(line, value, _text(file, node))
    return sorted(hits.values(), key=lambda h: (h.line, h.text))
