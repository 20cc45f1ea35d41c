"""The wrong-solution catalogue: every plausible mistake scores less than full points on its part.

Each `catalogue/chNN.py` lists, per graded part, wrong implementations learners really write. The
reference solution must pass every part; each wrong one must fail its part's tests (names ending in
`_hidden_only` must pass the visible self-check and fail the hidden tests: proof that the hidden
tests probe more). Grading mode is on, as in the autograder: the package's reference is sealed.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.course.runner import ROOT, ChapterRunner

CATALOGUES = sorted((ROOT / "tests" / "course" / "catalogue").glob("ch[0-9][0-9].py"))
_runners: dict[str, ChapterRunner] = {}


def _load(path):
    spec = importlib.util.spec_from_file_location(f"catalogue_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases():
    for path in CATALOGUES:
        module = _load(path)
        for part, wrongs in module.WRONG.items():
            yield pytest.param(module.SLUG, part, wrongs, id=f"{module.SLUG}-{part}")


def runner(slug: str) -> ChapterRunner:
    if slug not in _runners:
        _runners[slug] = ChapterRunner(slug)
    return _runners[slug]


@pytest.mark.parametrize("slug,part,wrongs", list(_cases()))
def test_wrong_solutions_are_rejected(slug: str, part: str, wrongs: dict[str, str]) -> None:
    chapter = runner(slug)
    assert part in chapter.parts(), f"the catalogue names a part {part!r} that {slug} does not have"
    reference = chapter.check(part)
    assert reference.passed, f"{slug}: the reference solution of {part} fails its tests: {reference.error}"
    assert len(wrongs) >= 3, f"{slug}/{part}: at least 3 wrong solutions are needed, {len(wrongs)} given"
    accepted = []
    for name, code in wrongs.items():
        outcome = chapter.check(part, code)
        if outcome.passed:
            accepted.append(f"{name}: passed every test")
        elif name.endswith("_hidden_only") and not outcome.visible:
            accepted.append(f"{name}: meant to pass the visible checks, but failed them: {outcome.error}")
    assert not accepted, f"{slug}/{part}: wrong solutions not rejected as catalogued:\n" + "\n".join(accepted)


def test_every_part_has_a_catalogue() -> None:
    covered = {}
    for path in CATALOGUES:
        module = _load(path)
        covered[module.SLUG] = set(module.WRONG)
    for slug, parts in covered.items():
        missing = set(runner(slug).parts()) - parts
        assert not missing, f"{slug}: graded parts without wrong solutions in the catalogue: {sorted(missing)}"


@pytest.mark.parametrize("slug", sorted({p.args[0] if hasattr(p, "args") else p.values[0] for p in _cases()}))
def test_solution_notebook_runs_top_to_bottom(slug: str) -> None:
    """Every tests cell passes with the reference solutions, in well under a minute."""
    chapter = ChapterRunner(slug)
    outcomes = chapter.run_all()
    failed = {name: o.error for name, o in outcomes.items() if not o.passed}
    assert outcomes and not failed, f"{slug}: the solution fails {failed}"
    print(f"{slug}: solution cells ran in {chapter.seconds:.1f} s")
    assert chapter.seconds < 90, f"{slug}: the solution took {chapter.seconds:.0f} s (budget: 60 s on 2 cores)"


BYPASSES = sorted((ROOT / "tests" / "course" / "catalogue").glob("bypass_ch[0-9][0-9].py"))
AFTER_SOLUTION = "# after the reference solution"
REFUSALS = ("ReferenceSealed", "sealed while", "your code reached it", "your code called it")


def bypass_source(chapter: ChapterRunner, part: str, code: str) -> str:
    """The solution cell of a bypass: an entry marked `# after the reference solution` follows that solution."""
    if code.lstrip("\n").startswith(AFTER_SOLUTION):
        return chapter.cells[chapter._index(part)].source + "\n\n" + code
    return code


def _bypass_cases():
    for path in BYPASSES:
        module = _load(path)
        for part, entries in module.BYPASS.items():
            yield pytest.param(module.SLUG, part, entries, id=f"{module.SLUG}-{part}")


@pytest.mark.parametrize("slug,part,bypasses", list(_bypass_cases()))
def test_shortcuts_through_the_package_score_zero(slug: str, part: str, bypasses: dict[str, str]) -> None:
    """Every route to the package's reference (saved name, public API, layer, context manager, class
    method, setup-cell object) fails the part, and fails it because it was refused, not by accident."""
    chapter = runner(slug)
    assert part in chapter.parts(), f"the bypass catalogue names a part {part!r} that {slug} does not have"
    accepted = []
    for name, code in bypasses.items():
        outcome = chapter.check(part, bypass_source(chapter, part, code))
        # refused by the seal (its message shows even where the solution caught the error and raised another)
        refused = any(m in outcome.error for m in REFUSALS)
        if outcome.passed or not refused:
            accepted.append(f"{name}: {'passed' if outcome.passed else 'failed, but not refused: ' + outcome.error}")
    assert not accepted, f"{slug}/{part}: shortcuts through the package not refused:\n" + "\n".join(accepted)


def test_08_evaluate_argmax_over_the_batch_axis_is_explained_not_numpys_error() -> None:
    """An `evaluate` that takes the argmax over the batch axis makes NumPy compare arrays of other lengths:
    the check says what was called, the error, what was expected and the likely mistake (the axis)."""
    wrong = _load(ROOT / "tests" / "course" / "catalogue" / "ch08.py").WRONG["evaluate"]["argmax_over_the_batch_axis"]
    outcome = runner("08_data_training").check("evaluate", wrong)
    assert not outcome.passed
    error = outcome.error
    assert error.startswith("CheckFailed"), error  # a failed check, not NumPy's ValueError let through
    for text in ("called:   evaluate(", "raised:   ValueError", "expected: (mean loss per sample, accuracy)",
                 "likely mistake:", "argmax(axis=1)", "not over the batch axis (axis=0"):
        assert text in error, f"{text!r} missing from:\n{error}"
