"""The house's layering, drawn from every import of ``harness`` (TYPE_CHECKING-only and
function-level imports included): no import runs up a floor, no circle, every module on a
floor. The floors are the import-linter contract in pyproject.toml (one source); grimp,
import-linter's own graph builder, reads the imports."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "harness"


def _layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=False)


def _unit(module: str) -> str:
    """The floor unit a module belongs to: ``harness.X`` for a module or package X."""
    return module.split(".")[1] if module.count(".") else ""


def climbs(graph: grimp.ImportGraph, layers: list[set[str]]) -> list[str]:
    """Every import from a unit to one on its own floor or above, as ``a -> b``."""
    floor = {unit: i for i, layer in enumerate(layers) for unit in layer}  # 0 = top
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            a, b = _unit(importer), _unit(imported)
            if a and b and a != b and floor.get(b, -1) <= floor.get(a, -1):
                found.append(f"{importer} -> {imported}")
    return found


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import circles between modules (strongly connected components of two or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_every_module_stands_on_a_floor(graph):
    placed = set().union(*_layers())
    units = {_unit(m) for m in graph.modules} - {""}
    assert units - placed == set(), "add these to a layer in pyproject.toml [tool.importlinter]"


def test_no_import_runs_up_a_floor(graph):
    assert climbs(graph, _layers()) == []


def test_no_circle(graph):
    assert circles(graph) == []


def test_the_analysis_sits_below_the_api(graph):
    floor = {unit: i for i, layer in enumerate(_layers()) for unit in layer}
    assert floor["explain"] > floor["api"] > floor["workflows"]
    assert floor["catalogue"] > max(floor["runners"], floor["spec"], floor["explain"])
    assert not graph.chain_exists("harness.explain", "harness.api", as_packages=True)


def test_the_checks_catch_a_climb_and_a_circle():
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=False)  # one to spoil
    graph.add_import(importer="harness.report.records", imported="harness.api")
    assert "harness.report.records -> harness.api" in climbs(graph, _layers())
    assert not any("harness.api" in c for c in circles(graph))  # a climb, not yet a circle
    graph.add_import(importer="harness.outcomes", imported="harness.report.records")
    assert any("harness.report.records" in c and "harness.api" in c for c in circles(graph))
