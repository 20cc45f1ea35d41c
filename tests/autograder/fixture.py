"""A small chapter in the course's nbgrader format (setup, two graded parts with hidden tests), and
submissions built from it: correct, partly wrong, stub-only and hostile."""

from __future__ import annotations

import json
import textwrap

import nbformat

SLUG = "99_fixture"

SETUP = "import numpy as np\nimport numpy.testing as npt\n"

ADD_SOLUTION = '''def add(a, b):
    """Elementwise sum of two lists."""
    ### BEGIN SOLUTION
    return [x + y for x, y in zip(a, b)]
    ### END SOLUTION
'''

ADD_TESTS = '''assert add([1, 2], [3, 4]) == [4, 6], "add([1, 2], [3, 4]) gave the wrong result"
print("ok add")
### BEGIN HIDDEN TESTS
assert np.allclose(add([0.5], [0.25]), [0.75]), "add([0.5], [0.25]) gave the wrong result"
assert add([], []) == [], "add([], []) should be []"
### END HIDDEN TESTS
'''

SCALE_SOLUTION = '''def scale(a, k):
    """Every element of `a` times `k`."""
    ### BEGIN SOLUTION
    return np.asarray(a, dtype=float) * k
    ### END SOLUTION
'''

SCALE_TESTS = '''npt.assert_allclose(scale([1, 2], 3), [3, 6], err_msg="scale([1, 2], 3)")
### BEGIN HIDDEN TESTS
npt.assert_allclose(scale([1.5, -2], -2), [-3, 4], err_msg="scale([1.5, -2], -2): negative factors")
### END HIDDEN TESTS
'''

POINTS = {"add_tests": 2, "scale_tests": 3}
MAX_SCORE = 5.0


def _cell(kind: str, source: str, grade_id: str | None = None, points: int | None = None):
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    cell = nbformat.v4.new_code_cell(source)
    if kind == "setup":
        cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                     "grade_id": grade_id, "schema_version": 3}
    elif kind == "solution":
        cell.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                     "grade_id": grade_id, "schema_version": 3}
    elif kind == "tests":
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                     "grade_id": grade_id, "points": points, "schema_version": 3}
    return cell


def source_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        _cell("markdown", "# 99 · Fixture\nTwo small parts."),
        _cell("setup", SETUP, "setup"),
        _cell("markdown", "Write `add`."),
        _cell("solution", ADD_SOLUTION, "add"),
        _cell("tests", ADD_TESTS, "add_tests", POINTS["add_tests"]),
        _cell("code", "# explore here\nx = 1\n"),
        _cell("markdown", "Write `scale`."),
        _cell("solution", SCALE_SOLUTION, "scale"),
        _cell("tests", SCALE_TESTS, "scale_tests", POINTS["scale_tests"]),
    ]
    return nb


def release_notebook() -> nbformat.NotebookNode:
    """What nbgrader's release gives a student (solutions cleared, hidden tests removed)."""
    nb = source_notebook()
    for c in nb.cells:
        if c.cell_type == "code":
            c.source = _clear(c.source)
    return nb


def _clear(src: str) -> str:
    import re
    src = re.sub(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[ \t]*\n?",
                 lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", src,
                 flags=re.M | re.S)
    return re.sub(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", "", src, flags=re.M | re.S)


def with_answers(add: str | None = None, scale: str | None = None, extra: dict | None = None):
    """A student's notebook: the release with these answer cells (None: the solution)."""
    nb = release_notebook()
    src = source_notebook()
    for c, s in zip(nb.cells, src.cells):
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "add":
            c.source = textwrap.dedent(add) if add is not None else _strip_markers(s.source)
        elif gid == "scale":
            c.source = textwrap.dedent(scale) if scale is not None else _strip_markers(s.source)
    for gid, code in (extra or {}).items():
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") == gid:
                c.source = c.source + "\n" + textwrap.dedent(code)
    return nb


def _strip_markers(src: str) -> str:
    return "\n".join(ln for ln in src.splitlines() if "### " not in ln) + "\n"


def dumps(nb) -> bytes:
    return json.dumps(nb, indent=1).encode()


def make_course(root):
    """A course folder under ``root`` holding the fixture chapter's source notebook."""
    course = root / "course"
    (course / "source" / SLUG).mkdir(parents=True)
    nbformat.write(source_notebook(), course / "source" / SLUG / f"{SLUG}.ipynb")
    return course
