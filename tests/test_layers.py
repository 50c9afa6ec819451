"""Imports only go down: the product's layers, read from the source with ``ast``.

Every import counts, also one inside a function (a lazy import hides a dependency, it does
not remove it). Layers, lowest first (docs/layout.md states the same):

0. leaves: ``utils.errors`` (the error tree), ``utils.io`` (the atomic writer, file hashes),
   ``utils.items`` (the item every model reads), ``utils.na`` (n/a with a reason),
   ``utils.retry`` (HTTP retry waits), ``utils.labels`` (the label set, the neutral band)
1. contracts: ``utils.answers`` (the answer contract), ``utils.result_file`` (the result-file
   format), ``utils.rule_book`` (the boilerplate rules-file format), ``utils.stats`` (the
   significance tests and Holm), ``utils.strict_config`` (the strict YAML-config base)
2. configuration and the command-line edge: ``utils.config``, ``utils.cli``
3. sources and backends: ``utils.news``, ``utils.labelled``, ``utils.backends``
4. the run and the reports: ``utils.run``, ``utils.reports``
5. fine-tuning: ``training``
6. entry points: the top-level scripts, ``benchmarks`` and ``tools``

A module may import its own unit (package) and any lower layer, never a higher layer nor
another unit of its own layer; nothing imports ``tests``; and no two modules import each
other, directly or round a longer circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

LAYERS: list[set[str]] = [
    {"utils.errors", "utils.io", "utils.items", "utils.labels", "utils.na", "utils.retry"},
    {"utils.answers", "utils.result_file", "utils.rule_book", "utils.stats", "utils.strict_config"},
    {"utils.config", "utils.cli"},
    {"utils.news", "utils.labelled", "utils.backends"},
    {"utils.run", "utils.reports"},
    {"training"},
    {"scripts", "benchmarks", "tools"},
]

# Known upward imports that other branches remove. Delete an entry when its branch lands:
# the test fails on an entry that no longer occurs, so none outlives its reason.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

SCRIPTS = sorted(p.stem for p in PROJECT.glob("*.py"))
PRODUCT_ROOTS = ("utils", "training", "benchmarks", "tools", "tests", *SCRIPTS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    files = [*PROJECT.glob("*.py")]
    for folder in ("utils", "training", "benchmarks", "tools"):
        files += (PROJECT / folder).rglob("*.py")
    return {module_name(path): path for path in files}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (a from-import of a name
    that is itself a module counts as that module)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known}
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name defined in ``base`` itself
                found.add(base)
    return {module for module in found if module.split(".")[0] in PRODUCT_ROOTS and module != name}


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] in SCRIPTS:
        return "scripts"
    if parts[0] == "utils":
        return ".".join(parts[:2])
    return parts[0]


def layer_of(module: str) -> int | None:
    unit = unit_of(module)
    return next((index for index, units in enumerate(LAYERS) if unit in units), None)


def graph() -> dict[str, set[str]]:
    modules = product_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def violations(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    found = set()
    for source, targets in edges.items():
        for target in targets:
            if target.split(".")[0] == "tests":
                found.add((source, target))
                continue
            if unit_of(source) == unit_of(target):
                continue
            low, high = layer_of(target), layer_of(source)
            if low is None or high is None or low >= high:
                found.add((source, target))
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of imports, each once (found by depth-first search)."""
    found, state = [], {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_product_module_has_a_layer() -> None:
    unplaced = sorted(name for name in product_modules() if layer_of(name) is None and name != "utils")
    assert unplaced == [], "give these a layer in LAYERS (and in docs/layout.md)"


def test_imports_only_go_down() -> None:
    found = violations(graph())
    assert sorted(found - KNOWN_VIOLATIONS) == []
    assert sorted(KNOWN_VIOLATIONS - found) == [], "these are gone: delete them from KNOWN_VIOLATIONS"


def test_no_circle_of_imports() -> None:
    assert cycles(graph()) == []


def test_the_checks_can_fail() -> None:
    """The rules catch what they are for, on a made-up graph."""
    edges = {"utils.errors": {"utils.config"}, "utils.config": {"utils.errors"},
             "utils.news.feed": {"utils.backends.base"}, "utils.run.work": {"tests.helpers"},
             "utils.run.work.x": set(), "utils.backends.base": set(), "tests.helpers": set()}
    assert violations(edges) == {("utils.errors", "utils.config"), ("utils.news.feed", "utils.backends.base"),
                                 ("utils.run.work", "tests.helpers")}
    assert cycles(edges) == [["utils.config", "utils.errors", "utils.config"]]
