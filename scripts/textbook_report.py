"""How the package reads as a textbook: the numbers issue 9 tracks, measured the same way each time.

    python scripts/textbook_report.py [--json PATH]

- calls made inside the package (and files crossed) by `a + b`, `(x @ w).sum()` and its
  `.backward()` on the python backend, traced with `sys.setprofile`, and the graph nodes recorded;
- the package's import graph: module-level imports between its modules, the cycles among them
  (strongly connected components) and the imports written inside functions;
- how many files name one op (sigmoid), i.e. what adding an op touches;
- uses of Tensor's underscore members outside `core/tensor.py`;
- per-op overhead (2x2 + (2,) add, 32x32 relu) of the default backend against PyTorch in this process.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minitorch_edu"
sys.path.insert(0, str(ROOT))  # measure this checkout's package, whatever is installed


# ---------------------------------------------------------------------------------- call tracing
KERNELS = str(PACKAGE / "backends" / "python.py")  # the python backend's per-element loops


def _in_kernel(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_filename == KERNELS:
            return True
        frame = frame.f_back
    return False


def trace_calls(fn: Callable[[], Any]) -> dict[str, Any]:
    """Python calls inside the package while `fn` runs: count, files, switches between files; and
    the same without the calls made inside the python backend's kernels (the per-element loops,
    whose count grows with the tensors: the framework's own overhead is the rest)."""
    calls: list[tuple[str, bool]] = []
    prefix = str(PACKAGE)

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(prefix):
            calls.append((frame.f_code.co_filename, _in_kernel(frame)))

    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(None)

    def summary(names: list[str]) -> tuple[int, list[str], int]:
        switches = sum(1 for a, b in zip(names, names[1:]) if a != b)
        return len(names), sorted({str(Path(c).relative_to(PACKAGE)) for c in names}), switches

    n, files, switches = summary([c for c, _ in calls])
    fn_n, fn_files, fn_switches = summary([c for c, kernel in calls if not kernel])
    return {"calls": n, "files": len(files), "file_switches": switches, "file_list": files,
            "framework_calls": fn_n, "framework_files": len(fn_files), "framework_file_switches": fn_switches}


def graph_nodes(t: Any) -> list[str]:
    """Names of the graph nodes behind `t` (each once), root first."""
    seen, order, stack = set(), [], [t]
    while stack:
        x = stack.pop()
        node = x.grad_fn
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node.name.replace("Backward", ""))
        stack.extend(node.inputs)
    return order


def call_report() -> dict[str, Any]:
    import numpy as np

    import minitorch_edu as mt

    rng = np.random.default_rng(0)
    a = mt.tensor(rng.standard_normal((2, 2)).astype(np.float32), device="python")
    b = mt.tensor(rng.standard_normal(2).astype(np.float32), device="python")
    x = mt.tensor(rng.standard_normal((4, 3)).astype(np.float32), device="python")
    w = mt.tensor(rng.standard_normal((3, 2)).astype(np.float32), device="python", requires_grad=True)
    for _ in range(2):  # warm every cache (kernels built per function) before tracing
        _ = a + b
        (x @ w).sum().backward()
    w.grad = None
    report = {"a + b": trace_calls(lambda: a + b)}
    holder: dict[str, Any] = {}
    report["(x @ w).sum()"] = trace_calls(lambda: holder.setdefault("loss", (x @ w).sum()))
    report["(x @ w).sum()"]["graph_nodes"] = graph_nodes(holder["loss"])
    report[".backward()"] = trace_calls(lambda: holder["loss"].backward())
    return report


# ---------------------------------------------------------------------------------- import graph
def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import, modules: Any) -> list[str]:
    """Package modules an import statement depends on.

    `from X import y` depends on the module X.y where y is a submodule, else on X itself.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]


def import_graph() -> dict[str, Any]:
    """Module-level import edges between package modules, cycles, and imports inside functions."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f): f for f in files}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    lazy: list[str] = []
    with_lazy: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text())
        is_package = path.name == "__init__.py"
        top_level = _top_level_imports(tree)
        type_only = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(stmt.test) for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in type_only:
                continue  # an import for type checkers never runs
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            targets = [t for t in _resolve(mod, is_package, node, modules) if t in modules and t != mod]
            if not targets:
                continue
            with_lazy[mod].update(targets)
            if id(node) in top_level:
                edges[mod].update(targets)
            else:
                lazy.append(f"{mod}:{node.lineno} -> {', '.join(sorted(set(targets)))}")
    cycles = [sorted(c) for c in _strongly_connected(edges) if len(c) > 1]
    lazy_cycles = [sorted(c) for c in _strongly_connected(with_lazy) if len(c) > 1]
    # the layers: sub-packages (core, backends, nn, ...) and who imports whom, lazy imports included
    layer = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    layers: dict[str, set[str]] = {layer(m): set() for m in modules}
    for m, targets in with_lazy.items():
        layers[layer(m)].update(layer(t) for t in targets if layer(t) != layer(m))
    layer_cycles = [sorted(c) for c in _strongly_connected(layers) if len(c) > 1]
    return {
        "layer_graph": {m: sorted(v) for m, v in layers.items()},
        "layer_cycles": layer_cycles,
        "cycles_counting_imports_inside_functions": lazy_cycles,
        "modules": len(modules),
        "edges": sum(len(v) for v in edges.values()),
        "cycles": cycles,
        "modules_in_cycles": sum(len(c) for c in cycles),
        "imports_inside_functions": len(lazy),
        "lazy_imports": lazy,
        "graph": {m: sorted(v) for m, v in edges.items()},
    }


def _top_level_imports(tree: ast.Module) -> set[int]:
    """Imports that run when the module is imported (not inside a def; TYPE_CHECKING blocks excluded)."""
    found: set[int] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                found.add(id(stmt))
            elif isinstance(stmt, ast.If):
                if "TYPE_CHECKING" in ast.unparse(stmt.test):
                    continue
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body)
                for h in stmt.handlers:
                    visit(h.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body)

    visit(tree.body)
    return found


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                out.append(component)
    return out


# ---------------------------------------------------------------------------------- source facts
def files_naming(op: str) -> list[str]:
    """Package files (outside nn/, which uses ops rather than defining them) that name `op`."""
    pattern = re.compile(rf"\b({op}|{op.capitalize()})\b")
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("nn", "optim", "train", "data"):
            continue
        if pattern.search(path.read_text()):
            hits.append(str(rel))
    return hits


PRIVATE = re.compile(
    r"\.(_storage|_strides|_map|_zip|_reduce|_matmul|_full|_empty|_lift|_cast_raw|_view_raw|_node"
    r"|_requires_grad|_retains_grad)\b"
)


def private_uses() -> dict[str, int]:
    uses = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "tensor.py" and path.parent.name == "core":
            continue
        n = len(PRIVATE.findall(path.read_text()))
        if n:
            uses[str(path.relative_to(PACKAGE))] = n
    return uses


# ---------------------------------------------------------------------------------- overhead
def per_op_overhead(calls: int = 2000, rounds: int = 7) -> dict[str, Any]:
    import numpy as np

    import minitorch_edu as mt

    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((2, 2), dtype=np.float32), rng.standard_normal(2, dtype=np.float32)
    R = rng.standard_normal((32, 32), dtype=np.float32)
    a, b, r = mt.tensor(A), mt.tensor(B), mt.tensor(R)
    cases: dict[str, dict[str, Callable[[], Any]]] = {
        "(2,2) + (2,) add": {"ours": lambda: a + b},
        "32x32 relu": {"ours": lambda: r.relu()},
    }
    if torch is not None:
        tA, tB, tR = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(R)
        cases["(2,2) + (2,) add"]["torch"] = lambda: tA + tB
        cases["32x32 relu"]["torch"] = lambda: torch.relu(tR)
    out: dict[str, Any] = {}
    for label, fns in cases.items():
        best: dict[str, float] = {}
        for _ in range(rounds):  # interleaved, best round: the least disturbed by other processes
            for who, fn in fns.items():
                fn()
                t = time.perf_counter()
                for _ in range(calls):
                    fn()
                us = (time.perf_counter() - t) / calls * 1e6
                best[who] = min(best.get(who, us), us)
        row = {f"{who}_us": round(us, 2) for who, us in best.items()}
        if "torch" in best:
            row["ratio"] = round(best["ours"] / best["torch"], 1)
        out[label] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write everything as JSON")
    args = parser.parse_args(argv)
    calls = call_report()
    graph = import_graph()
    report = {
        "calls": calls,
        "import_graph": graph,
        "files_naming_sigmoid": files_naming("sigmoid"),
        "tensor_private_uses_outside_tensor_py": private_uses(),
        "per_op_overhead": per_op_overhead(),
    }
    for what, r in calls.items():
        extra = f", graph nodes {r['graph_nodes']}" if "graph_nodes" in r else ""
        print(f"{what:16s} {r['calls']:4d} calls in {r['files']:2d} files ({r['file_switches']} switches){extra}")
        print(f"{'':16s} {r['framework_calls']:4d} outside the python backend's kernels, "
              f"in {r['framework_files']:2d} files ({r['framework_file_switches']} switches)")
    print(f"import graph: {graph['modules']} modules, {graph['edges']} module-level edges")
    print(f"  cycles: {len(graph['cycles'])} ({graph['modules_in_cycles']} modules)")
    for c in graph["cycles"]:
        print("    " + " <-> ".join(c))
    print(f"  imports inside functions: {graph['imports_inside_functions']}")
    lazy_cycles = graph["cycles_counting_imports_inside_functions"]
    print(f"  cycles counting imports inside functions: {len(lazy_cycles)} ({sum(map(len, lazy_cycles))} modules)")
    for c in lazy_cycles:
        print("    " + " <-> ".join(c))
    print(f"  cycles between sub-packages (lazy imports included): {len(graph['layer_cycles'])}")
    for c in graph["layer_cycles"]:
        print("    " + " <-> ".join(c))
    sig = report["files_naming_sigmoid"]
    print(f"files naming sigmoid (what adding an op touches): {len(sig)}: {', '.join(sig)}")
    priv = report["tensor_private_uses_outside_tensor_py"]
    print(f"Tensor underscore members used outside core/tensor.py: {sum(priv.values())} in {len(priv)} files")
    for label, row in report["per_op_overhead"].items():
        print(f"per-op overhead {label}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
