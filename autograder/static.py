"""What the submission's solution cells name, read without running them (issue 22).

A solution cell (with the cells the student added after it) that names one of its part's references
in the package (an import, a module attribute path, a setup-cell name bound to one) scores 0 on that
part, and the record's `flags` says `sealed_reference:<part>`. In a part that the chapter marks
`numpy_only`, any other use of the package is flagged `package_use:<part>` for the instructor (the
score stands). The chapter's references and `numpy_only` are read from the `Chapter(...)` call of its
setup cell; names are resolved as `minitorch_edu.course.scan_source` does inside the kernel.
"""

from __future__ import annotations

import ast
from typing import Any

PACKAGE = "minitorch_edu"


def check_solutions(plan: list, parts: list, flags: list[str]) -> None:
    """Fail and flag each part whose solution names its references; flag package use where NumPy only."""
    setup = "\n\n".join(code for kind, _gid, code, _cell in plan if kind == "setup")
    references, numpy_only, aliases = chapter_spec(setup)
    if not references and not numpy_only:
        return
    by_tests = {p.cell_id: p for p in parts}
    for part, source, tests_id in _solutions(plan):
        found = names_of_references(source, references.get(part, []), aliases)
        p = by_tests.get(tests_id)
        if found and p is not None:
            p.passed = False
            p.message = (f"ReferenceSealed: your solution names the package's own `{part}`: {'; '.join(found[:3])}. "
                         "Write it yourself")
            flags.append(f"sealed_reference:{part}")
        elif part in numpy_only and package_uses(source, aliases):
            flags.append(f"package_use:{part}")


def _solutions(plan: list) -> list[tuple[str, str, str | None]]:
    """(part, its answer cell with the free cells after it, the id of the tests cell that follows)."""
    found: list[list] = []
    for kind, gid, code, _cell in plan:
        if kind == "answer":
            found.append([gid, code, None])
        elif kind == "free" and found and found[-1][2] is None:
            found[-1][1] += "\n\n" + code
        elif kind == "tests" and found and found[-1][2] is None:
            found[-1][2] = gid
    return [tuple(f) for f in found]


def chapter_spec(setup: str) -> tuple[dict[str, list[str]], set[str], dict[str, str]]:
    """(references, numpy_only parts, aliases) from the setup cells' `Chapter(...)` call and imports."""
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return {}, set(), {}
    known: dict[str, Any] = {}
    aliases = _aliases(tree)
    references: dict[str, list[str]] = {}
    numpy_only: Any = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, known)
            if value is not None:
                known[node.targets[0].id] = value
            dotted = _dotted(node.value, aliases)
            if dotted and dotted.startswith(PACKAGE):
                aliases[node.targets[0].id] = dotted  # REFERENCE = numba_matmul.matmul
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Chapter":
                for kw in call.keywords:
                    if kw.arg == "references":
                        references = {str(k): [str(n) for n in v] for k, v in (_literal(kw.value, known) or {}).items()}
                    elif kw.arg == "numpy_only":
                        numpy_only = _literal(kw.value, known)
    return references, set(references) if numpy_only is True else set(numpy_only or ()), aliases


def _literal(node: ast.AST, known: dict[str, Any]) -> Any:
    """The value of a literal (dicts, lists, strings, booleans), with names of earlier literals and *starred."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        items: list = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                items += list(_literal(element.value, known) or [])
            else:
                items.append(_literal(element, known))
        return items
    if isinstance(node, ast.Dict):
        return {_literal(k, known): _literal(v, known) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # _OPT + "SGD": a prefix named once
        left, right = _literal(node.left, known), _literal(node.right, known)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                found[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                found[a.asname or a.name] = f"{node.module}.{a.name}"
    return found


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value, aliases)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def names_of_references(source: str, references: list[str], aliases: dict[str, str]) -> list[str]:
    """Where `source` names one of `references` (resolved by importing the package, as in the kernel)."""
    if not references:
        return []
    try:
        from minitorch_edu import course
    except ImportError:  # a grader without the package: nothing to resolve names against
        return []
    return course.scan_source(source, course._reference_set("", references), aliases=aliases)


def package_uses(source: str, aliases: dict[str, str]) -> list[str]:
    """Each line of `source` that imports or names the package."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    local = {**aliases, **_aliases(tree)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == PACKAGE for a in node.names):
            found.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE:
            found.append(node.lineno)
        elif isinstance(node, ast.Name) and local.get(node.id, "").split(".")[0] == PACKAGE:
            found.append(node.lineno)
    return [f"line {n}" for n in sorted(set(found))]
