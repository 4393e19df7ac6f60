"""The package's structure: imports run one way through its layers, with no circle, and no
module grows past a size a reader can hold.

Every import of every module is read from its syntax tree, those inside functions included
(an import moved into a function to dodge a circle is still a dependency). A module belongs
to the first layer whose prefix it starts with; it may import its own layer and the layers
below, never a layer above. The package root ``bayesirt`` is the façade over all of them and
no module may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bayesirt"

#: Lowest first. A module may import from its own layer and from those before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bayesirt._version", "bayesirt._validate", "bayesirt._json", "bayesirt.irt"),
    ("bayesirt.data",),
    ("bayesirt.models",),
    ("bayesirt.inference",),
    ("bayesirt.analysis",),
    ("bayesirt.tinybench",),
    ("bayesirt.reports",),
    ("bayesirt.sweep",),
    ("bayesirt.cli", "bayesirt.__main__"),
    # helpers for testing code built on bayesirt (fake fits, the headless-browser check of the
    # report): alone on top, so that no module of the package imports it
    ("bayesirt.testing",),
)
#: Imports against the order that are part of a public façade: ``bayesirt.analysis`` keeps the
#: tiny-benchmark names importable (they moved up to ``bayesirt.tinybench``) by resolving them
#: lazily, when they are first asked for.
FACADE_EXCEPTIONS = {("bayesirt.analysis", "bayesirt.tinybench")}
MAX_LINES = 900


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, int]]:
    """``(imported module, line)`` for every import of the package in the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from pkg import submodule`` imports the submodule as well as the package.
            targets = [source] + [
                f"{source}.{alias.name}"
                for alias in node.names
                if f"{source}.{alias.name}" in modules
            ]
        else:
            continue
        found.update(
            (target, node.lineno) for target in targets if target in modules and target != name
        )
    return found


def _layer(name: str) -> int:
    for level, prefixes in enumerate(LAYERS):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            return level
    raise AssertionError(f"module {name} is in no layer of tests/test_architecture.py")


def _graph() -> dict[str, set[tuple[str, int]]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_every_module_is_in_a_layer():
    for name in _modules():
        if name != "bayesirt":
            _layer(name)


def test_imports_follow_the_layer_order():
    wrong = []
    for name, imports in _graph().items():
        if name == "bayesirt":
            continue
        for target, line in sorted(imports):
            if target == "bayesirt":
                wrong.append(f"{name}:{line} imports the package root")
            elif _layer(target) > _layer(name) and (name, target) not in FACADE_EXCEPTIONS:
                wrong.append(f"{name}:{line} imports {target}, a higher layer")
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_testing_helpers():
    """``bayesirt.testing`` is the top layer, and not even the façade imports it: ``import
    bayesirt`` does not load the test harness."""
    importers = sorted(
        f"{name}:{line}"
        for name, imports in _graph().items()
        for target, line in imports
        if target == "bayesirt.testing"
    )
    assert not importers, importers


def test_no_import_circle():
    graph = {
        name: {target for target, _ in imports if (name, target) not in FACADE_EXCEPTIONS}
        for name, imports in _graph().items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_size(name):
    lines = len(_modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES})"
