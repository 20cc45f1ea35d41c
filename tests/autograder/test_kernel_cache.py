"""A batch compiles the package's numba kernels once (its release notebook, sandboxed) and every
submission loads them from a private copy of that cache: numba reports cache hits and no misses in
the submission's kernel; without the warm cache the same check fails; a submission cannot plant
anything in the cache the next one starts from. (In a chapter that uses the package, the guard also
covers the course's test helpers.)"""

from __future__ import annotations

import fixture as F
import nbformat

from autograder.batch import grade
from autograder.sandbox import Limits

SLUG = "98_kernels"
SETUP = """import os
import minitorch_edu as mt
warm = mt.tensor([1.0, 2.0], device="numba")
warm = warm + warm  # the chapter's own use of a package kernel (a reference fallback does the same)
"""
SOLUTION = '''def double(x):
    """x + x, on x's backend."""
    ### BEGIN SOLUTION
    return x + x
    ### END SOLUTION
'''
TESTS = '''assert double(mt.tensor([1.0, 2.0], device="numba")).tolist() == [2.0, 4.0], "double([1, 2])"
### BEGIN HIDDEN TESTS
import gc
from numba.core.dispatcher import Dispatcher
stats = [o.stats for o in gc.get_objects() if isinstance(o, Dispatcher)]  # every numba function here
hits = sum(sum(s.cache_hits.values()) for s in stats)
misses = sum(sum(s.cache_misses.values()) for s in stats)
assert hits > 0 and misses == 0, f"kernel cache: {hits} hits, {misses} misses"
### END HIDDEN TESTS
'''
PATCH = "import minitorch_edu.testing as T\nT.assert_close = lambda *a, **k: None\n"
PLANT = 'open(os.path.join(os.environ["MINITORCH_EDU_CACHE"], "planted.py"), "w").write("x = 1")\n'


def _course(root):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [F._cell("setup", SETUP, "setup"), F._cell("solution", SOLUTION, "double"),
                F._cell("tests", TESTS, "double_tests", 1)]
    course = root / "course"
    (course / "source" / SLUG).mkdir(parents=True)
    nbformat.write(nb, course / "source" / SLUG / f"{SLUG}.ipynb")
    answer = nbformat.from_dict(nb)
    answer.cells[1].source = "def double(x):\n    return x + x\n"
    planter = nbformat.from_dict(nb)
    planter.cells[1].source = answer.cells[1].source + PLANT
    flat = root / "flat"
    flat.mkdir()
    (flat / "ann.ipynb").write_bytes(F.dumps(answer))
    (flat / "bob.ipynb").write_bytes(F.dumps(planter))
    patcher = nbformat.from_dict(nb)  # the course's helpers are guarded in a chapter that uses the package
    patcher.cells[1].source = answer.cells[1].source + PATCH
    (flat / "cy.ipynb").write_bytes(F.dumps(patcher))
    return course, flat


def _grade(root, **kw):
    course, flat = _course(root)
    recs = grade(course, SLUG, flat, workers=2, db_url=None, scheduler=None, json_path=None,
                 limits=Limits(cell_timeout=120.0, total_timeout=300.0, memory_bytes=4 << 30), sandbox=True,
                 force=False, quiet=True, **kw)
    return course, {r["student"]: r for r in recs}


def test_submissions_load_the_batchs_compiled_kernels(tmp_path):
    course, recs = _grade(tmp_path)
    for name in ("ann", "bob"):
        assert (recs[name]["status"], recs[name]["score"]) == ("graded", 1.0), recs[name]["parts"]
    cache = course / "autograded" / ".autograder" / "kernel-cache"
    assert any(cache.rglob("*.nbi")), "the warm-up filled the batch's cache"
    assert not list(cache.rglob("planted.py")), "a submission wrote into the shared cache"
    assert (recs["cy"]["status"], recs["cy"]["score"]) == ("tampered", 1.0)
    assert "monkeypatch:minitorch_edu.testing.assert_close" in recs["cy"]["flags"]


def test_without_the_warm_cache_the_check_sees_compilation(tmp_path):
    _course_dir, recs = _grade(tmp_path, kernel_cache=False)
    message = recs["ann"]["parts"][0]["message"]
    assert recs["ann"]["score"] == 0.0 and "kernel cache: 0 hits" in message, message
