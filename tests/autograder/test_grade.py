"""`grade` on a class of correct, wrong, stub-only and hostile submissions of the fixture chapter:
exact outcomes, nothing escapes the sandbox, the gradebook matches, re-runs change nothing."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from pathlib import Path

import fixture as F
import hostile
import pytest

from autograder.batch import grade
from autograder.nbg import gradebook
from autograder.sandbox import Limits

LIMITS = Limits(cell_timeout=5.0, total_timeout=120.0, memory_bytes=3 << 30)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    course = F.make_course(root)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    cases = hostile.cases(str(course), listener.getsockname()[1])
    subs = root / "submitted"
    for name, (data, *_rest) in cases.items():
        d = subs / name / F.SLUG
        d.mkdir(parents=True)
        (d / f"{F.SLUG}.ipynb").write_bytes(data)
    hashes = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in subs.rglob("*.ipynb")}
    records = grade(course, F.SLUG, root, workers=2, db_url=None, scheduler=None, json_path=root / "r.json",
                    limits=LIMITS, sandbox=True, force=False, quiet=True)
    try:
        conn, _ = listener.accept()
        connected = True
        conn.close()
    except OSError:
        connected = False
    listener.close()
    return {"root": root, "course": course, "cases": cases, "records": {r["student"]: r for r in records},
            "hashes": hashes, "connected": connected}


def test_every_case_has_its_exact_outcome(graded_class):
    wrong = []
    for name, (_data, status, score, flags) in graded_class["cases"].items():
        r = graded_class["records"][name]
        if (r["status"], r["score"]) != (status, score) or not flags <= set(r["flags"]):
            wrong.append(f"{name}: got {r['status']} {r['score']} {r['flags']} ({r['reason']}), "
                         f"expected {status} {score} {sorted(flags)}")
        assert r["max_score"] == F.MAX_SCORE
    assert not wrong, "\n".join(wrong)


def test_reasons_say_what_happened(graded_class):
    rec = graded_class["records"]
    assert rec["infinite_loop"]["reason"] == "timed out in cell 2 after 5 s"
    assert rec["os_exit"]["reason"] == "the kernel process exited with code 0 in cell 2"
    assert rec["segfault"]["reason"].startswith("the kernel was killed by SIGSEGV")
    assert "NUMBA_BOUNDSCHECK=1" in rec["segfault"]["reason"]  # the likely cause and how to find it
    assert rec["empty_file"]["reason"] == "the file is empty"
    assert rec["huge_allocation"]["reason"].startswith("ran out of memory in cell")
    assert rec["partly_wrong"]["reason"] == "1 of 2 parts pass; failing: scale_tests"
    msg = next(p["message"] for p in rec["partly_wrong"]["parts"] if p["cell_id"] == "scale_tests")
    assert "negative factors" in msg  # the hidden test's own message, not its source


def test_nothing_escapes_the_sandbox(graded_class):
    course = graded_class["course"]
    assert not (course / "pwned").exists()
    assert not Path("/tmp/pwned_by_student").exists()
    assert not graded_class["connected"]
    left = subprocess.run(["pgrep", "-f", "sleep 987654"], capture_output=True, text=True).stdout
    assert left == ""
    for p, h in graded_class["hashes"].items():  # submissions are never modified
        assert hashlib.sha256(p.read_bytes()).hexdigest() == h


def test_gradebook_holds_the_records_scores(graded_class):
    with gradebook(graded_class["course"]) as gb:
        for name, r in graded_class["records"].items():
            sub = gb.find_submission(F.SLUG, name)
            assert sub.score == r["score"], name
    written = json.loads((graded_class["root"] / "r.json").read_text())
    assert {w["student"] for w in written} == set(graded_class["cases"])
    assert {"student", "assignment", "score", "max_score", "status", "reason", "flags"} <= set(written[0])


def test_rerun_grades_nothing_again_and_keeps_the_gradebook(graded_class):
    recs = grade(graded_class["course"], F.SLUG, graded_class["root"], workers=2, db_url=None, scheduler=None,
                 json_path=None, limits=LIMITS, sandbox=True, force=False, quiet=True)
    assert {r["student"]: (r["score"], r["status"]) for r in recs} == \
        {n: (r["score"], r["status"]) for n, r in graded_class["records"].items()}


def test_correct_alone_scores_as_in_the_hostile_batch(tmp_path, graded_class):
    course = F.make_course(tmp_path)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "solo.ipynb").write_bytes(graded_class["cases"]["correct"][0])
    [r] = grade(course, F.SLUG, tmp_path / "flat", workers=1, db_url=None, scheduler=None, json_path=None,
                limits=LIMITS, sandbox=True, force=False, quiet=True)
    assert (r["student"], r["score"], r["status"]) == ("solo", 5.0, "graded")
