"""`feedback` pages of a graded class: what failed and why, never a hidden test's source."""

from __future__ import annotations

import fixture as F

from autograder.cli import main


def test_feedback_shows_failures_not_hidden_tests(small_class, capsys):
    course = small_class["course"]
    assert main(["--course", str(course), "feedback", F.SLUG]) == 0
    assert "feedback 99_fixture: 3 pages" in capsys.readouterr().out
    bob = (course / "feedback" / "bob" / F.SLUG / f"{F.SLUG}.html").read_text()
    assert "score 2 / 5 · graded: 1 of 2 parts pass; failing: scale_tests" in bob
    assert "<td>add_tests</td><td>2/2</td><td class=pass>passed</td><td></td>" in bob
    assert "<td>scale_tests</td><td>0/3</td><td class=fail>failed</td>" in bob
    assert "negative factors" in bob  # the hidden test's message says why
    assert "np.abs(np.asarray(a, dtype=float))" in bob  # the student's own code, as graded
    for page in (course / "feedback").rglob("*.html"):
        html = page.read_text()
        for hidden in ("HIDDEN TESTS", "npt.assert_allclose(scale([1.5, -2], -2)", "add([], []) == []"):
            assert hidden not in html, (page, hidden)
    cy = (course / "feedback" / "cy" / F.SLUG / f"{F.SLUG}.html").read_text()
    assert "invalid_notebook: the file is empty" in cy
