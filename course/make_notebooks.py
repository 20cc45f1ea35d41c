"""Turn the chapters' percent-format sources into nbgrader notebooks.

    python course/make_notebooks.py            every chapter in course/chapters/
    python course/make_notebooks.py 02_tensors one chapter
    python course/make_notebooks.py --check    exit 1 when a committed notebook is out of date

A chapter is authored as `course/chapters/<slug>.py` (readable diffs) and generated into
`course/source/<slug>/<slug>.ipynb`, the file nbgrader and instructors use. Cell headers:

    # %% [markdown]                         prose (each line starts with "# ")
    # %%                                    free code the learner may edit
    # %% [setup]                            read-only code (restored from the source when graded)
    # %% [solution] id=PART                 an autograded answer: BEGIN/END SOLUTION inside
    # %% [tests] id=PART_tests points=N     graded tests: visible checks, then BEGIN/END HIDDEN TESTS
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

COURSE = Path(__file__).resolve().parent
HEADER = re.compile(r"^# %%(?:\s+\[(?P<kind>\w+)\])?(?P<options>.*)$")
KINDS = {None, "markdown", "setup", "solution", "tests"}


@dataclass
class Cell:
    """One cell of a chapter source: its kind, options (id, points) and text."""

    kind: str | None
    options: dict[str, str]
    lines: list[str] = field(default_factory=list)
    line_number: int = 0

    @property
    def source(self) -> str:
        lines = list(self.lines)
        while lines and not lines[-1].strip():
            lines.pop()
        if self.kind == "markdown":
            lines = [_uncomment(line, self.line_number) for line in lines]
        return "\n".join(lines)

    @property
    def grade_id(self) -> str | None:
        return self.options.get("id")


def _uncomment(line: str, where: int) -> str:
    if line == "#":
        return ""
    if not line.startswith("# "):
        raise ValueError(f"markdown cell at line {where}: every line must start with '# ' (got {line!r})")
    return line[2:]


def parse(text: str, name: str = "<chapter>") -> list[Cell]:
    """The cells of a percent-format chapter source, checked for the rules of the format."""
    cells: list[Cell] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = HEADER.match(line)
        if match:
            kind = match.group("kind")
            if kind not in KINDS:
                raise ValueError(
                    f"{name}:{number}: unknown cell kind [{kind}] (one of markdown, setup, solution, tests)"
                )
            options = dict(opt.split("=", 1) for opt in match.group("options").split())
            cells.append(Cell(kind, options, line_number=number))
        elif cells:
            cells[-1].lines.append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"{name}:{number}: code before the first '# %%' cell header")
    for cell in cells:
        _check(cell, name)
    ids = [c.grade_id for c in cells if c.grade_id]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"{name}: cell ids used twice: {duplicated}")
    return [c for c in cells if c.source.strip()]


def _check(cell: Cell, name: str) -> None:
    where = f"{name}:{cell.line_number}"
    text = "\n".join(cell.lines)
    if cell.kind == "solution":
        if not cell.grade_id:
            raise ValueError(f"{where}: a [solution] cell needs id=PART")
        if "### BEGIN SOLUTION" not in text or "### END SOLUTION" not in text:
            raise ValueError(f"{where}: solution {cell.grade_id} has no ### BEGIN SOLUTION / ### END SOLUTION")
    if cell.kind == "tests":
        if not cell.grade_id or not cell.options.get("points", "").isdigit():
            raise ValueError(f"{where}: a [tests] cell needs id=PART_tests and points=N")
        if "### BEGIN HIDDEN TESTS" not in text or "### END HIDDEN TESTS" not in text:
            raise ValueError(f"{where}: tests {cell.grade_id} have no ### BEGIN HIDDEN TESTS block")


def _nbgrader(cell: Cell, index: int) -> dict:
    base = {"schema_version": 3, "grade": False, "solution": False, "locked": False, "task": False}
    if cell.kind == "setup":
        return {**base, "locked": True, "grade_id": cell.grade_id or f"setup_{index}"}
    if cell.kind == "solution":
        return {**base, "solution": True, "grade_id": cell.grade_id}
    if cell.kind == "tests":
        return {**base, "grade": True, "locked": True, "grade_id": cell.grade_id, "points": int(cell.options["points"])}
    raise AssertionError(cell.kind)


def to_notebook(cells: list[Cell]) -> dict:
    """An nbformat-4 notebook dict with nbgrader metadata; no outputs, kernel python3."""
    out = []
    for index, cell in enumerate(cells):
        source = cell.source.splitlines(keepends=True)
        metadata: dict = {}
        if cell.kind in ("setup", "solution", "tests"):
            metadata["nbgrader"] = _nbgrader(cell, index)
            if cell.kind != "solution":
                metadata["deletable"] = False
                metadata["editable"] = False
        if cell.kind == "markdown":
            out.append({"cell_type": "markdown", "metadata": metadata, "source": source})
        else:
            out.append(
                {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [], "source": source}
            )
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(slug: str) -> str:
    source = COURSE / "chapters" / f"{slug}.py"
    cells = parse(source.read_text(), str(source.relative_to(COURSE.parent)))
    return json.dumps(to_notebook(cells), indent=1, ensure_ascii=False) + "\n"


def target(slug: str) -> Path:
    return COURSE / "source" / slug / f"{slug}.ipynb"


def slugs() -> list[str]:
    return sorted(p.stem for p in (COURSE / "chapters").glob("[0-9][0-9]_*.py"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("-")] or slugs()
    stale = []
    for slug in names:
        text = notebook_text(slug)
        path = target(slug)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(slug)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(COURSE.parent)}")
    if stale:
        print("out of date (run python course/make_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
