"""`check` (for learners) on the fixture chapter's release (fails, with the messages) and on its
solutions (passes), run in a real kernel."""

from __future__ import annotations

import fixture as F
import nbformat

from autograder.cli import main

ADDS_K = "def scale(a, k):\n    return np.asarray(a, dtype=float) + k\n"  # wrong on the visible test too


def _run(tmp_path, nb, capsys) -> tuple[int, str]:
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    rc = main(["check", str(path), "--timeout", "60"])
    return rc, capsys.readouterr().out


def test_check_release_fails_and_says_why(tmp_path, capsys):
    rc, out = _run(tmp_path, F.release_notebook(), capsys)
    assert rc == 1
    assert out.splitlines() == ["FAIL  add_tests: NotImplementedError", "FAIL  scale_tests: NotImplementedError",
                                "0 of 2 tests cells pass"]


def test_check_partly_wrong_shows_the_visible_message(tmp_path, capsys):
    rc, out = _run(tmp_path, F.with_answers(scale=ADDS_K), capsys)
    assert rc == 1
    assert out.splitlines()[0] == "pass  add_tests"
    assert out.splitlines()[1].startswith("FAIL  scale_tests: AssertionError")
    assert "scale([1, 2], 3)" in out and "negative factors" not in out  # visible tests only
    assert out.splitlines()[-1] == "1 of 2 tests cells pass"


def test_check_solutions_pass(tmp_path, capsys):
    rc, out = _run(tmp_path, F.with_answers(), capsys)
    assert (rc, out.splitlines()) == (0, ["pass  add_tests", "pass  scale_tests", "2 of 2 tests cells pass"])
