"""The second round of attacks on the autograder (issue 27), one class graded once as root with
bubblewrap and two workers: hidden tests leaked through the learner's own feedback, tampering with how
cells run, the notebook's time limit, /tmp and disk, names and links in the submissions folder.

Each case: name -> (file name, bytes, expected status, expected score, flags that must be present)."""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid

import fixture as F
import hostile
import pytest

from autograder.batch import grade
from autograder.cli import main
from autograder.job import WITHHELD, _squash, hidden_lines
from autograder.sandbox import Limits

DISK = 32 << 20
LIMITS = Limits(cell_timeout=5.0, total_timeout=6.0, tests_timeout=30.0, memory_bytes=3 << 30, disk_bytes=DISK)
PROBE = f"/tmp/ag_probe_{uuid.uuid4().hex}"

#: the issue's six-line leak: rewrite the next cell that holds hidden tests into an error quoting it
LEAK_TRANSFORMER = '''
def _leak(lines):
    src = "".join(lines)
    return ["raise AssertionError(%r)\\n" % src] if "HIDDEN" in src else lines
get_ipython().input_transformers_cleanup.append(_leak)
'''

#: no tampering at all: the object `add` returns reads the calling test cell's source from linecache
#: (where IPython keeps every cell) and raises it, formatted by ``{fmt}``
LEAK_FRAME = '''
import linecache, sys
def _cell_source():
    return "".join(linecache.getlines(sys._getframe(2).f_code.co_filename))
class _Leaky(list):
    def __eq__(self, other):
        src = _cell_source()
        if "HIDDEN" in src:
            begin, end = "BEGIN HIDDEN" + " TESTS", "END HIDDEN" + " TESTS"
            hidden = src.split(begin)[1].split(end)[0].strip().splitlines()
            raise AssertionError({fmt})
        return list.__eq__(self, other)
def add(a, b):
    return _Leaky(x + y for x, y in zip(a, b))
'''
LEAK_FORMATS = {
    "leak_whole_cell": "src",
    "leak_repr": "repr(src)",
    "leak_reversed_lines": "' | '.join(reversed(hidden))",
    "leak_reindented": "'\\n'.join('>>      ' + h.strip() for h in hidden)",
}

#: the one-line faker of the issue: every cell that holds `assert` becomes `pass`
FAKER = ("get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'] "
         "if any('assert' in ln for ln in lines) else lines)\n")
AST_FAKER = '''
import ast
class _NoChecks(ast.NodeTransformer):
    def visit_Module(self, node):
        checks = any(isinstance(n, ast.Assert) or (isinstance(n, ast.Attribute) and n.attr.startswith("assert"))
                     for n in ast.walk(node))
        node.body = [ast.Pass()] if checks else node.body
        return node
get_ipython().ast_transformers.append(_NoChecks())
'''
EVENT_FAKER = 'get_ipython().events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))\n'
CLASS_FAKER = '''
from IPython.core.interactiveshell import InteractiveShell
_orig = InteractiveShell.transform_cell
InteractiveShell.transform_cell = lambda self, cell: _orig(self, "pass\\n" if "assert" in cell else cell)
'''
INSTANCE_FAKER = '''
_ip = get_ipython()
_run = _ip.run_cell
_ip.run_cell = lambda raw_cell, *a, **k: _run("pass\\n" if "assert" in raw_cell else raw_cell, *a, **k)
_ip.transform_cell = lambda cell: "pass\\n" if "assert" in cell else cell
'''
TRACER = '''
import sys, threading
def _t(frame, event, arg):
    return _t
sys.settrace(_t)
sys.setprofile(lambda *a: None)
threading.settrace(_t)
'''
TMP_AND_DISK = f'''
import errno, os
open("{PROBE}", "w").write("ok")
assert open("{PROBE}").read() == "ok", "/tmp is not writable"
st = os.statvfs("/tmp")
assert st.f_blocks * st.f_frsize <= {DISK}, "/tmp is larger than the disk limit"
for folder in ("/tmp", os.getcwd()):
    written, err = 0, None
    try:
        with open(os.path.join(folder, "fill"), "wb") as f:
            while written < 4 * {DISK}:
                f.write(b"x" * (1 << 20))
                f.flush()
                written += 1 << 20
    except OSError as e:
        err = e.errno
    assert err == errno.ENOSPC and written <= {DISK}, (folder, written, err)
    os.remove(os.path.join(folder, "fill"))
'''


def _release_with(code: str) -> bytes:
    """The untouched release with ``code`` in a cell of its own after the first answer."""
    nb = F.release_notebook()
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    nb.cells.insert(at + 1, F._cell("code", code))
    return F.dumps(nb)


def _with_free_cells(after: str, code: str, n: int) -> bytes:
    nb = F.with_answers()
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    for _ in range(n):
        nb.cells.insert(at + 1, F._cell("code", code))
    return F.dumps(nb)


def cases() -> dict[str, tuple[str, bytes, str, float, set[str]]]:
    correct = F.dumps(F.with_answers())
    sol_add = hostile.SOL_ADD
    out = {
        "correct": ("correct.ipynb", correct, "graded", 5.0, set()),
        "partly_wrong": ("partly_wrong.ipynb", F.dumps(F.with_answers(scale=hostile.WRONG_SCALE)), "graded", 2.0,
                         set()),
        # 1. the leak of the issue: undone before the tests, flagged; the answers are right
        "leak_transformer": ("leak_transformer.ipynb", F.dumps(F.with_answers(add=LEAK_TRANSFORMER + sol_add)),
                             "tampered", 5.0, {"monkeypatch:transformers.cleanup_transforms"}),
        # 2. fakers: undone, so each scores what the untouched release deserves
        "faker_one_line": ("faker_one_line.ipynb", _release_with(FAKER), "tampered", 0.0,
                           {"monkeypatch:transformers.cleanup_transforms"}),
        "faker_ast": ("faker_ast.ipynb", _release_with(AST_FAKER), "tampered", 0.0,
                      {"monkeypatch:shell.ast_transformers"}),
        "faker_event": ("faker_event.ipynb", _release_with(EVENT_FAKER), "tampered", 0.0,
                        {"monkeypatch:events.post_run_cell"}),
        "faker_class": ("faker_class.ipynb", _release_with(CLASS_FAKER), "tampered", 0.0, set()),
        "faker_instance": ("faker_instance.ipynb", _release_with(INSTANCE_FAKER), "tampered", 0.0,
                           {"monkeypatch:shell.run_cell", "monkeypatch:shell.transform_cell"}),
        "faker_guard": ("faker_guard.ipynb", F.dumps(F.with_answers(
            add="np.allclose = lambda *a, **k: True\n_ag_audit = lambda nonce: nonce + ' 0\\n'\n" + sol_add)),
            "tampered", 0.0, {"guard_broken"}),
        "tracer": ("tracer.ipynb", F.dumps(F.with_answers(add=TRACER + sol_add)), "tampered", 5.0,
                   {"monkeypatch:sys.settrace", "monkeypatch:sys.setprofile", "monkeypatch:threading.trace"}),
        "audit_hook": ("audit_hook.ipynb", F.dumps(F.with_answers(
            add="import sys\nsys.addaudithook(lambda event, args: None)\n" + sol_add)),
            "tampered", 5.0, {"monkeypatch:sys.addaudithook"}),
        # 4. the notebook's wall-clock limit (6 s): 15 cells of 1.5 s
        "slow_after_the_tests": ("slow_after_the_tests.ipynb",
                                 _with_free_cells("scale_tests", "import time\ntime.sleep(1.5)\n", 15),
                                 "timed_out", 5.0, set()),
        "slow_before_the_tests": ("slow_before_the_tests.ipynb",
                                  _with_free_cells("add", "import time\ntime.sleep(1.5)\n", 15),
                                  "timed_out", 0.0, set()),
        "many_cells": ("many_cells.ipynb", _with_free_cells("add", "pass\n", 20_000), "invalid_notebook", 0.0, set()),
        # 9. /tmp private and writable; /tmp and the work folder full at the disk limit
        "tmp_and_disk": ("tmp_and_disk.ipynb", F.dumps(F.with_answers(add=TMP_AND_DISK + sol_add)), "graded", 5.0,
                         set()),
        # 5. names
        "dots": ("...ipynb", correct, "refused", 0.0, set()),
        "bell": ("bell\x07.ipynb", correct, "refused", 0.0, set()),
        "long": ("x" * 65 + ".ipynb", correct, "refused", 0.0, set()),
        "josé_nfc": (unicodedata.normalize("NFC", "josé") + ".ipynb", correct, "refused", 0.0, set()),
        "josé_nfd": (unicodedata.normalize("NFD", "josé") + ".ipynb", correct, "refused", 0.0, set()),
        "Ann": ("Ann.ipynb", correct, "graded", 5.0, {"name_case_collision"}),
        "ann": ("ann.ipynb", correct, "graded", 5.0, {"name_case_collision"}),
    }
    for name, fmt in LEAK_FORMATS.items():  # 1. a leak that tampers with nothing: withheld, flagged
        out[name] = (f"{name}.ipynb", F.dumps(F.with_answers(add=LEAK_FRAME.replace("{fmt}", fmt))), "tampered",
                     3.0, {"hidden_test_quoted"})
    return out


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacked")
    course = F.make_course(root)
    flat = root / "flat"
    flat.mkdir()
    the_cases = cases()
    for fname, data, *_ in the_cases.values():
        (flat / fname).write_bytes(data)
    # 6. links: to the solutions, as a symbolic and as a hard link, and a linked folder
    solutions = course / "source" / F.SLUG / f"{F.SLUG}.ipynb"
    os.symlink(solutions, flat / "symlinked.ipynb")
    os.link(solutions, flat / "hardlinked.ipynb")
    os.symlink(course / "source", flat / "linked_folder")
    records = grade(course, F.SLUG, flat, workers=2, db_url=None, scheduler=None, json_path=root / "r.json",
                    limits=LIMITS, sandbox=True, force=False, quiet=True)
    assert main(["--course", str(course), "feedback", F.SLUG]) == 0
    assert main(["--course", str(course), "export", F.SLUG, "--to", str(root / "export")]) == 0
    return {"root": root, "course": course, "cases": the_cases, "records": records}


def _by_student(records: list[dict]) -> dict[str, dict]:
    return {r["student"]: r for r in records}


def test_every_attack_has_its_exact_outcome(attacked):
    recs = _by_student(attacked["records"])
    wrong = []
    for name, (fname, _data, status, score, flags) in attacked["cases"].items():
        if name == "josé_nfd":
            continue  # the same student as josé_nfc once normalised: below
        student = fname[: -len(".ipynb")]
        student = unicodedata.normalize("NFC", student) if status != "refused" else student
        r = recs.get(student) or recs.get(student.encode("unicode_escape").decode())
        if r is None:
            wrong.append(f"{name}: no record (students: {sorted(recs)})")
        elif (r["status"], r["score"]) != (status, score) or not flags <= set(r["flags"]):
            wrong.append(f"{name}: got {r['status']} {r['score']} {r['flags']} ({r['reason']}), "
                         f"expected {status} {score} {sorted(flags)}")
    assert not wrong, "\n".join(wrong)
    assert [r["status"] for r in attacked["records"] if r["student"] == "josé"] == ["refused", "refused"]
    assert any("transform_cell" in f for f in recs["faker_class"]["flags"]), recs["faker_class"]["flags"]


def test_links_are_refused_never_followed(attacked):
    recs = _by_student(attacked["records"])
    for name in ("symlinked", "hardlinked", "linked_folder"):
        assert recs[name]["status"] == "refused" and recs[name]["score"] == 0.0, recs[name]
        assert "link" in recs[name]["reason"], recs[name]["reason"]
        assert not (attacked["course"] / "autograded" / name).exists()


def test_names_are_validated_and_nothing_is_written_outside_the_output_folders(attacked):
    course, recs = attacked["course"], _by_student(attacked["records"])
    assert "starts with '.'" in recs[".."]["reason"]
    assert "control" in recs["bell\\x07"]["reason"]
    assert "longer than 64" in recs["x" * 65]["reason"]
    assert "differ only in Unicode normalisation" in recs["josé"]["reason"]
    assert not (course / F.SLUG).exists()  # issue 5: `..` wrote into course/<chapter>/
    for out in ("autograded", "feedback"):
        names = {p.name for p in (course / out).iterdir() if not p.name.startswith(".")}
        assert names == {r["student"] for r in attacked["records"] if r["status"] != "refused"}, out
    for folder in ("gradescope", "prairielearn"):
        names = {p.name for p in (attacked["root"] / "export" / folder).iterdir()}
        assert ".." not in names and "Ann" in names and "ann" in names
    assert {p.name for p in course.iterdir()} <= {"source", "release", "autograded", "feedback", "gradebook.db",
                                                  "nbgrader_config.py"}


def test_the_wall_clock_limit_stops_the_notebook(attacked):
    recs = _by_student(attacked["records"])
    late, early = recs["slow_after_the_tests"], recs["slow_before_the_tests"]
    assert re.fullmatch(r"the notebook's time limit \(6 s\) was reached in cell \d+ \(interrupted\); "
                        r"cells \d+–\d+ did not run; scored on what ran", late["reason"]), late["reason"]
    for r in (late, early):
        assert r["exec_seconds"] < LIMITS.total_timeout + 3, r  # not 15 x 1.5 s, nor a second per cell after
    assert [p["message"] for p in early["parts"]] == ["not run: the notebook stopped before this part"] * 2
    many = recs["many_cells"]
    assert re.fullmatch(r"the notebook has 200\d\d code cells; the grader runs at most 1000", many["reason"])
    assert many["seconds"] < 5


def test_tmp_is_private(attacked):
    assert _by_student(attacked["records"])["tmp_and_disk"]["score"] == 5.0
    assert not os.path.exists(PROBE)  # written inside the sandbox's own /tmp only


def test_no_hidden_test_reaches_a_student_by_any_route(attacked):
    """Every record, feedback page, export file and autograded notebook, grepped outside the sandbox
    for every line of the hidden tests (verbatim and with whitespace and escapes undone)."""
    source = (attacked["course"] / "source" / F.SLUG / f"{F.SLUG}.ipynb").read_text()
    squashed = hidden_lines(source)
    verbatim = {ln.strip() for ln in re.findall(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", F.ADD_TESTS +
                                                F.SCALE_TESTS, re.S)[0].splitlines() if len(ln.strip()) > 8}
    assert len(squashed) >= 4 and verbatim
    root, course = attacked["root"], attacked["course"]
    outputs = [root / "r.json", *(course / "feedback").rglob("*.html"), *(root / "export").rglob("*.json"),
               root / "export" / "grades.csv", course / "autograded" / ".autograder" / f"{F.SLUG}.jsonl"]
    texts = {p: p.read_text() for p in outputs}
    # the autograded notebooks are the instructor's (their tests cells hold the hidden tests, as nbgrader's
    # do); what the kernel sent back, their outputs, is checked
    for p in (course / "autograded").glob(f"*/{F.SLUG}/*.ipynb"):
        texts[p] = json.dumps([c.get("outputs", []) for c in json.loads(p.read_text())["cells"]])
    assert len(texts) > 60
    for path, text in texts.items():
        flat = _squash(text.replace("&quot;", '"').replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">")
                       .replace("&amp;", "&"))
        for line in verbatim:
            assert line not in text, (path, line)
        for line in squashed:
            assert line not in flat, (path, line)
    recs = _by_student(attacked["records"])
    for name in LEAK_FORMATS:
        assert WITHHELD in [p["message"] for p in recs[name]["parts"]], recs[name]
    # the scrub withholds quotes only: a hidden test's own failure message still says why
    msg = next(p["message"] for p in recs["partly_wrong"]["parts"] if p["cell_id"] == "scale_tests")
    assert "negative factors" in msg
