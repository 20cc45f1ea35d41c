"""Run a chapter's cells in this process, fast: what the wrong-solution catalogue needs.

nbgrader's real pipeline (a kernel per notebook) is tested in `test_notebooks.py`; here a chapter's
cells are `exec`uted as plain Python, as a kernel would run them, so that dozens of wrong solutions
can each be checked in well under a second: the cells before a part's solution run once, and each
variant of the solution runs on a copy of that namespace, followed by the part's tests cell.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import linecache
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("MPLBACKEND", "Agg")


def _load_converter():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "course" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_notebooks"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


make_notebooks = _load_converter()


@dataclass
class Outcome:
    """How a part's tests cell went: its visible block, its hidden block, and the first error."""

    visible: bool
    hidden: bool
    error: str = ""
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.visible and self.hidden


def split_tests(source: str) -> tuple[str, str]:
    """(visible, hidden) code of a tests cell."""
    before, _, rest = source.partition("### BEGIN HIDDEN TESTS")
    hidden, _, after = rest.partition("### END HIDDEN TESTS")
    return before, hidden + "\n" + after


@contextlib.contextmanager
def grading_env(on: bool = True):
    previous = os.environ.get("MINITORCH_EDU_GRADING")
    os.environ["MINITORCH_EDU_GRADING"] = "1" if on else "0"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MINITORCH_EDU_GRADING", None)
        else:
            os.environ["MINITORCH_EDU_GRADING"] = previous


_runs = itertools.count()


def _cell_file(label: str, source: str) -> str:
    """A file name of its own for a cell (`<notebook cell …>`, which the course's sealing recognises
    as notebook code), with its text in `linecache` (which the sealing reads), as IPython does."""
    label = f"<notebook cell {label.strip('<>')} #{next(_runs)}>"
    linecache.cache[label] = (len(source), None, source.splitlines(keepends=True), label)
    return label


def _exec(source: str, namespace: dict, label: str, file: str | None = None) -> tuple[str, str]:
    """Run one cell (as the file `file`, else one of its own); (error text or "", captured output)."""
    import matplotlib.pyplot as plt

    label = file or _cell_file(label, source)
    out = io.StringIO()
    error = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            exec(compile(source, label, "exec"), namespace)
        except BaseException as err:  # a cell's failure is data here (SystemExit included)
            error = f"{type(err).__name__}: {err}"
        finally:
            plt.close("all")
    return error, out.getvalue()


def _register(namespace: dict) -> None:
    """Make this namespace's chapter the one whose references are sealed (one chapter per kernel)."""
    from minitorch_edu import course

    chapter = namespace.get("chapter")
    if isinstance(chapter, course.Chapter):
        course._references.clear()
        course._references.update(chapter.references)
        course._trusted["chapter"] = chapter._cell  # its setup cell is the trusted one (one chapter per kernel)


class ChapterRunner:
    """A chapter's cells, runnable with any part's solution replaced."""

    def __init__(self, slug: str, grading: bool = True) -> None:
        self.slug = slug
        self.grading = grading
        path = ROOT / "course" / "chapters" / f"{slug}.py"
        self.cells = [c for c in make_notebooks.parse(path.read_text(), str(path)) if c.kind != "markdown"]
        self._prefix: dict[str, dict] = {}
        self.seconds: float | None = None
        self._threads: int | None = None  # numba's thread count as the chapter's cells left it

    @contextlib.contextmanager
    def _kernel(self):
        """Grading mode, and numba's thread count as this chapter's kernel has it: a chapter that pins
        one thread (09, 12) keeps it for its own cells and leaves the rest of the process as it was."""
        import numba

        outside = numba.get_num_threads()
        if self._threads is not None:
            numba.set_num_threads(self._threads)
        try:
            with grading_env(self.grading):
                yield
        finally:
            self._threads = numba.get_num_threads()
            numba.set_num_threads(outside)

    def _index(self, grade_id: str) -> int:
        for i, cell in enumerate(self.cells):
            if cell.grade_id == grade_id:
                return i
        raise KeyError(f"{self.slug} has no cell with id {grade_id!r}")

    def parts(self) -> list[str]:
        return [c.grade_id for c in self.cells if c.kind == "solution"]

    def run_all(self) -> dict[str, Outcome]:
        """Every cell with the reference solutions: the outcome of each tests cell (and the run time)."""
        namespace: dict = {"__name__": "__main__"}
        outcomes: dict[str, Outcome] = {}
        start = time.perf_counter()
        with self._kernel():
            for i, cell in enumerate(self.cells):
                if cell.kind == "tests":
                    outcomes[cell.grade_id] = self._tests(cell.source, namespace, i)
                else:
                    error, output = _exec(cell.source, namespace, f"<{self.slug} cell {i}>")
                    _register(namespace)
                    if error:
                        raise AssertionError(f"{self.slug} cell {i} ({cell.kind or 'code'}) failed: {error}\n{output}")
        self.seconds = time.perf_counter() - start
        return outcomes

    def _tests(self, source: str, namespace: dict, i: int) -> Outcome:
        visible, hidden = split_tests(source)
        # one cell, run in two steps: both are the same file (the tests cell), lines numbered as in it
        file = _cell_file(f"{self.slug} tests {i}", source)
        error, out = _exec(visible, namespace, "", file)
        if error:
            return Outcome(False, False, error, out)
        hidden = "\n" * visible.count("\n") + hidden
        hidden_error, hidden_out = _exec(hidden, namespace, "", file)
        return Outcome(True, not hidden_error, hidden_error, out + hidden_out)

    def _namespace_before(self, part: str) -> dict:
        if part not in self._prefix:
            stop = self._index(part)
            namespace: dict = {"__name__": "__main__"}
            with self._kernel():
                for i, cell in enumerate(self.cells[:stop]):
                    source = cell.source if cell.kind != "tests" else split_tests(cell.source)[0]
                    error, output = _exec(source, namespace, f"<{self.slug} cell {i}>")
                    _register(namespace)
                    if error:
                        raise AssertionError(f"{self.slug} cell {i} failed before part {part}: {error}\n{output}")
            self._prefix[part] = namespace
        return self._prefix[part]

    def check(self, part: str, code: str | None = None) -> Outcome:
        """The outcome of `part`'s tests when its solution cell is `code` (None: the reference solution)."""
        start, tests = self._index(part), self._index(f"{part}_tests")
        # one namespace, restored after each variant: functions of earlier cells look their globals
        # up in it, so a copy would leave them calling the names of the copy's original
        namespace = self._namespace_before(part)
        _register(namespace)
        saved = dict(namespace)
        try:
            with self._kernel():
                error, output = _exec(code if code is not None else self.cells[start].source, namespace, f"<{part}>")
                if error:
                    return Outcome(False, False, f"the solution cell itself failed: {error}", output)
                for i in range(start + 1, tests):
                    _exec(self.cells[i].source, namespace, f"<{self.slug} cell {i}>")
                return self._tests(self.cells[tests].source, namespace, tests)
        finally:
            namespace.clear()
            namespace.update(saved)
