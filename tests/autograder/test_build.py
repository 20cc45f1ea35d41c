"""`build` on the fixture and on a real chapter: solutions full points, release 0, no leaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import fixture as F
import nbformat

from autograder.build import build, leaks
from autograder.cli import main
from autograder.sandbox import Limits

REPO = Path(__file__).resolve().parents[2]


def test_build_real_chapter_solutions_full_release_zero(tmp_path, capsys):
    slug = "00_why_frameworks"
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "course" / "nbgrader_config.py", course)
    shutil.copytree(REPO / "course" / "source" / slug, course / "source" / slug)
    # the course allows 300 s a cell (a loaded CI machine shares its 2 cores with other tests)
    assert main(["--course", str(course), "build", slug, "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert f"ok   {slug}/{slug}.ipynb: solutions 23/23, release 0 on 8 parts" in out
    assert (course / "release" / slug / f"{slug}.ipynb").exists()


def test_build_fails_on_a_broken_solution_and_on_a_leak(tmp_path):
    course = tmp_path / "course"
    (course / "source" / F.SLUG).mkdir(parents=True)
    nb = F.source_notebook()
    nb.cells[3].source = nb.cells[3].source.replace("x + y", "x - y")  # the solution of `add` is wrong
    nbformat.write(nb, course / "source" / F.SLUG / f"{F.SLUG}.ipynb")
    assert not build(course, [F.SLUG], None, Limits(cell_timeout=10), True)
    src = F.source_notebook()
    leaked = F.release_notebook()
    leaked.cells[3].source = F.source_notebook().cells[3].source  # solution text left in the release
    assert any("solution line in the release" in m for m in leaks(src, nbformat.writes(leaked)))
    assert leaks(src, nbformat.writes(F.release_notebook())) == []
