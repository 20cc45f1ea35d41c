"""The package's layers, read off its import statements (ast; imports inside functions count too).

Bottom: the op vocabulary (`backends/scalar.py`) and shapes (`backends/shape.py`) import nothing of
the package. The backends import only each other (never core's Tensor or autograd, nor nn, optim,
train). `nn` never imports `train` (train binds the Keras-style methods onto Module), optim and
data import neither nn nor train, and no two sub-packages import each other, directly or around
a loop. An import inside a function is only ever a deliberately lazy part: `mt.jit`'s graph
package, the CUDA kernels, numba's cache directory for generated code, and the matplotlib drawing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minitorch_edu"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import that can run: module level and inside functions, not under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.orelse:
                    visit(stmt)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The package modules an import statement loads (`from X import y`: X.y if it is a module, else X)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.module == "__future__":
            return set()
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)]
        start = ".".join(base + [node.module]) if node.level and node.module else ".".join(base)
        start = start if node.level else (node.module or "")
        names = [f"{start}.{a.name}" if f"{start}.{a.name}" in modules else start for a in node.names]
    return {n for n in names if n in modules and n != module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text())
        edges[module] = set()
        for node in _runtime_imports(tree):
            edges[module] |= _targets(module, path.name == "__init__.py", node, set(files))
    return edges


def _layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _imports_of(graph: dict[str, set[str]], layer: str) -> set[str]:
    return {t for m, targets in graph.items() if _layer(m) == layer for t in targets}


def test_the_graph_sees_imports_inside_functions(graph: dict[str, set[str]]) -> None:
    # graph.codegen imports the numba cache only when it compiles: a function-level import
    assert "minitorch_edu.backends.numba.cache" in graph["minitorch_edu.graph.codegen"]
    assert "minitorch_edu.core.tensor" in graph["minitorch_edu.nn.functional"]


@pytest.mark.parametrize("bottom", ["minitorch_edu.backends.scalar", "minitorch_edu.backends.shape"])
def test_vocabulary_and_shapes_are_the_bottom(graph: dict[str, set[str]], bottom: str) -> None:
    assert graph[bottom] == set(), f"{bottom} imports {sorted(graph[bottom])}"


def test_backends_import_only_backends(graph: dict[str, set[str]]) -> None:
    outside = {t for t in _imports_of(graph, "minitorch_edu.backends") if _layer(t) != "minitorch_edu.backends"}
    assert outside == set(), f"backends import {sorted(outside)}"


def test_nn_does_not_import_train(graph: dict[str, set[str]]) -> None:
    assert not {t for t in _imports_of(graph, "minitorch_edu.nn") if _layer(t) == "minitorch_edu.train"}


@pytest.mark.parametrize("layer", ["minitorch_edu.optim", "minitorch_edu.data"])
def test_optim_and_data_import_neither_nn_nor_train(graph: dict[str, set[str]], layer: str) -> None:
    above = {t for t in _imports_of(graph, layer) if _layer(t) in ("minitorch_edu.nn", "minitorch_edu.train")}
    assert above == set(), f"{layer} imports {sorted(above)}"


def test_no_cycle_between_sub_packages(graph: dict[str, set[str]]) -> None:
    layers: dict[str, set[str]] = {}
    for module, targets in graph.items():
        layers.setdefault(_layer(module), set()).update(_layer(t) for t in targets if _layer(t) != _layer(module))
    # the package's __init__ is the composition root: it imports the sub-packages, none imports it
    importers_of_root = sorted(m for m, t in layers.items() if "minitorch_edu" in t and m != "minitorch_edu.__main__")
    assert importers_of_root == [], f"{importers_of_root} import the package root"

    def reachable(start: str) -> set[str]:
        seen, stack = set(), list(layers.get(start, ()))
        while stack:
            layer = stack.pop()
            if layer not in seen:
                seen.add(layer)
                stack.extend(layers.get(layer, ()))
        return seen

    loops = sorted(layer for layer in layers if layer in reachable(layer))
    assert loops == [], f"sub-packages on an import loop: {loops}"


# (module, the package module it imports lazily): the parts that load on first use only
DELIBERATELY_LAZY = {
    ("minitorch_edu", "minitorch_edu.graph.jit"),  # mt.jit: graph and its code generation on first use
    ("minitorch_edu.backends.cuda.memory", "minitorch_edu.backends.cuda.kernels"),  # CUDA on first use
    ("minitorch_edu.graph.codegen", "minitorch_edu.backends.cuda.kernels"),
    ("minitorch_edu.graph.codegen", "minitorch_edu.backends.numba.cache"),
    ("minitorch_edu.graph.ir", "minitorch_edu.graph.draw"),  # matplotlib, only to draw
}


def test_imports_inside_functions_are_only_the_deliberately_lazy_parts() -> None:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    lazy = set()
    for module, path in files.items():
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in _runtime_imports(tree):
            if id(node) not in top and not _inside_module_level_block(tree, node):
                lazy |= {(module, t) for t in _targets(module, path.name == "__init__.py", node, set(files))}
    assert lazy <= DELIBERATELY_LAZY, f"imports inside functions: {sorted(lazy - DELIBERATELY_LAZY)}"


def _inside_module_level_block(tree: ast.Module, node: ast.AST) -> bool:
    """An import in a module-level try/if (an optional dependency), which runs at import time."""
    return any(isinstance(stmt, (ast.Try, ast.If)) and node in ast.walk(stmt) for stmt in tree.body)
