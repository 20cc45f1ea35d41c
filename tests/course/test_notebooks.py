"""Every chapter through nbgrader's real pipeline, as an instructor runs it.

For each chapter, in a temporary course folder: `nbgrader generate_assignment` builds the student
release; the release must hold no solution line and no hidden test; the solution notebook and the
untouched release are submitted as two students and graded by `nbgrader autograde` (a real kernel
per notebook); the solution gets full points, the untouched release zero on every graded part.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.course.runner import ROOT, make_notebooks

SLUGS = make_notebooks.slugs()
BIN = Path(sys.executable).parent  # nbgrader calls `alembic` by name: the venv's bin/ goes on PATH


def _nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MINITORCH_EDU_COURSE_ROOT": str(cwd),
    }
    env.pop("MINITORCH_EDU_GRADING", None)  # nbgrader's own NBGRADER_EXECUTION turns grading on
    env.pop("MPLBACKEND", None)  # the kernel draws inline, so figures land in the outputs
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _marked_lines(nb: dict, begin: str, end: str) -> set[str]:
    lines, inside = set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


def _lines_outside_markers(nb: dict) -> set[str]:
    """Lines the student release may show: everything outside solution and hidden-test blocks."""
    lines, inside = set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif not inside:
                lines.add(line.strip())
    return lines


@pytest.fixture(scope="module", params=SLUGS)
def graded(request, tmp_path_factory) -> dict:
    slug = request.param
    course = tmp_path_factory.mktemp(f"course_{slug}")
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "course" / "source" / slug, course / "source" / slug)
    _nbgrader(["generate_assignment", slug, "--force"], course)
    release = course / "release" / slug / f"{slug}.ipynb"
    for student, notebook in (("solution", course / "source" / slug / f"{slug}.ipynb"), ("untouched", release)):
        target = course / "submitted" / student / slug
        target.mkdir(parents=True)
        shutil.copy(notebook, target / f"{slug}.ipynb")
    start = time.perf_counter()
    _nbgrader(["autograde", slug, "--force"], course)
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {
            student: {
                g.name: (g.score, g.max_score) for g in gradebook.find_submission_notebook(slug, slug, student).grades
            }
            for student in ("solution", "untouched")
        }
    return {"slug": slug, "course": course, "release": release, "scores": scores, "autograde_s": seconds}


def test_notebook_is_generated_from_its_chapter_source() -> None:
    stale = [s for s in SLUGS if make_notebooks.target(s).read_text() != make_notebooks.notebook_text(s)]
    assert not stale, f"run `python course/make_notebooks.py`: out of date: {stale}"


def test_release_has_no_solution_and_no_hidden_tests(graded) -> None:
    source = json.loads((ROOT / "course" / "source" / graded["slug"] / f"{graded['slug']}.ipynb").read_text())
    release_text = graded["release"].read_text()
    release = json.loads(release_text)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in release_text, f"{graded['slug']}: the release still has '{marker}'"
    secret = (
        _marked_lines(source, "### BEGIN SOLUTION", "### END SOLUTION")
        | _marked_lines(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    ) - _lines_outside_markers(source)
    shown = {line.strip() for cell in release["cells"] for line in "".join(cell["source"]).splitlines()}
    leaked = sorted(secret & shown)
    assert not leaked, f"{graded['slug']}: solution or hidden-test lines in the student release: {leaked[:10]}"
    assert all(not c.get("outputs") for c in release["cells"] if c["cell_type"] == "code")


def test_solution_scores_full_points(graded) -> None:
    scores = graded["scores"]["solution"]
    lost = {name: s for name, s in scores.items() if s[0] != s[1]}
    assert scores and not lost, f"{graded['slug']}: the solution notebook lost points on {lost}"


def test_untouched_release_scores_zero_on_every_part(graded) -> None:
    scores = graded["scores"]["untouched"]
    earned = {name: s for name, s in scores.items() if s[0] != 0}
    assert scores and not earned, f"{graded['slug']}: the untouched release earned points on {earned}"


def test_chapter_depth(graded) -> None:
    """At least 4 graded parts, 20 points and 2 figures (counted in the solution's autograded output)."""
    scores = graded["scores"]["solution"]
    assert len(scores) >= 4, f"{graded['slug']}: {len(scores)} graded parts, at least 4 expected"
    assert sum(s[1] for s in scores.values()) >= 20, f"{graded['slug']}: fewer than 20 points"
    autograded = graded["course"] / "autograded" / "solution" / graded["slug"] / f"{graded['slug']}.ipynb"
    nb = json.loads(autograded.read_text())
    figures = sum(
        1
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    )
    assert figures >= 2, f"{graded['slug']}: {figures} figures in the executed solution, at least 2 expected"
    print(f"{graded['slug']}: autograde of 2 submissions took {graded['autograde_s']:.1f} s")
