"""`grade` as a whole under attack (issue 27), through its command line: a grader killed by a signal
leaves no process behind, a second run on the chapter refuses or waits, a zip's bad entries are refused
by name while the rest are graded (and the exit status counts them), a zip is read within its limits,
submissions are streamed, a broken setup cell is the environment's error, and `check` on `{}`."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path

import fixture as F
import hostile
import nbformat
import psutil
import pytest

from autograder import batch
from autograder.cli import EXIT_REFUSED, main

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    env.pop("MPLBACKEND", None)
    return env


def _grade_cmd(course: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "--course", str(course), "grade", F.SLUG, *args]


def _marked(marker: str) -> list[psutil.Process]:
    """Processes whose environment carries ``marker`` (the grader's workers inherit it; the sandbox
    passes NUMBA_* variables through to the kernels)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("NUMBA_AG_TEST_RUN") == marker:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE  # a zombie has ended
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_grader_leaves_no_process_behind(tmp_path, sig):
    course = F.make_course(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):  # each sits in a cell long enough for the kill to land mid-batch
        (flat / f"s{i}.ipynb").write_bytes(F.dumps(F.with_answers(extra={"add": "import time\ntime.sleep(120)\n"})))
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(_grade_cmd(course, str(flat), "--workers", "2", "--timeout", "300"), cwd=REPO,
                            env=_env(NUMBA_AG_TEST_RUN=marker), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while sum("ipykernel_launcher" in " ".join(p.cmdline()) for p in _marked(marker)) < 2:
        assert proc.poll() is None, "the grader ended before it could be killed"
        assert time.monotonic() < deadline, "two kernels did not start in 120 s"
        time.sleep(0.2)
    family = psutil.Process(proc.pid).children(recursive=True)  # pool server, workers, bwrap, kernels
    assert len(family) >= 5
    os.kill(proc.pid, sig)  # the grader alone, not its process group
    proc.wait(30)
    gone_by = time.monotonic() + 15
    while (left := [p for p in family if _alive(p)]) and time.monotonic() < gone_by:
        time.sleep(0.2)
    for p in left + _marked(marker):
        p.kill()
    assert left == [], f"{signal.Signals(sig).name} left {[' '.join(p.cmdline())[:80] for p in left]}"


def test_a_second_grade_of_the_chapter_refuses_or_waits(tmp_path):
    course = F.make_course(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "ann.ipynb").write_bytes(F.dumps(F.with_answers()))
    lock = course / "autograded" / ".autograder" / f"{F.SLUG}.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running `grade` holds it
        held.write("pid 4242, started earlier\n")
        held.flush()
        r = subprocess.run(_grade_cmd(course, str(flat), "--workers", "1"), cwd=REPO, env=_env(),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == EXIT_REFUSED
        assert f"another `grade` of {F.SLUG} on this course is running (pid 4242, started earlier); " \
               "wait for it to finish, or pass --wait" in r.stderr
        err = tmp_path / "err.txt"
        with open(err, "w") as ef:
            waiter = subprocess.Popen(_grade_cmd(course, str(flat), "--workers", "1", "--wait"), cwd=REPO,
                                      env=_env(), stdout=subprocess.DEVNULL, stderr=ef)
        deadline = time.monotonic() + 120
        while "waiting for the other `grade`" not in err.read_text():
            assert waiter.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        time.sleep(1)
        assert waiter.poll() is None  # still waiting while the first run holds the chapter
        fcntl.flock(held, fcntl.LOCK_UN)
    assert waiter.wait(300) == 0, err.read_text()
    assert len((course / "autograded" / ".autograder" / f"{F.SLUG}.jsonl").read_text().splitlines()) == 1


def _zip_with_bad_entries(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("class/ann.ipynb", F.dumps(F.with_answers()))
        z.writestr("class/bob.ipynb", F.dumps(F.with_answers(scale=hostile.WRONG_SCALE)))
        z.writestr("class/../evil.ipynb", F.dumps(F.with_answers()))
        z.writestr("/abs.ipynb", F.dumps(F.with_answers()))
        link = zipfile.ZipInfo("class/link.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "../../source/99_fixture/99_fixture.ipynb")
        z.writestr("class/bomb.ipynb", b" " * (8 << 20) + b"{}")  # 8 MiB that deflate to a few KiB
        z.writestr("class/...ipynb", F.dumps(F.with_answers()))


def test_a_zip_with_bad_entries_refuses_them_by_name_and_grades_the_rest(tmp_path):
    course = F.make_course(tmp_path)
    zpath = tmp_path / "class.zip"
    _zip_with_bad_entries(zpath)
    before = set(os.listdir("/tmp"))
    r = subprocess.run(_grade_cmd(course, str(zpath), "--workers", "2", "--json", str(tmp_path / "r.json")),
                       cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 5, r.stderr[-2000:]  # five entries could not be graded
    assert "5 of 7 submissions could not be graded (refused 5)" in r.stderr
    recs = {x["student"]: x for x in json.loads((tmp_path / "r.json").read_text())}
    assert (recs["ann"]["status"], recs["ann"]["score"]) == ("graded", 5.0)
    assert (recs["bob"]["status"], recs["bob"]["score"]) == ("graded", 2.0)
    reasons = sorted(x["reason"] for x in recs.values() if x["status"] == "refused")
    assert reasons == sorted([
        "the zip entry 'class/../evil.ipynb' points outside the zip (absolute or '..'): not read",
        "the zip entry '/abs.ipynb' points outside the zip (absolute or '..'): not read",
        "the zip entry 'class/link.ipynb' is a symbolic link: links are not followed",
        f"the zip entry 'class/bomb.ipynb' expands more than {batch.MAX_ZIP_RATIO}x: not read",
        "a student name that starts with '.' ('.', '..' and hidden files are not students): not graded"])
    assert "evil" in r.stdout and "link" in r.stdout  # the table names them
    assert not (tmp_path / "evil.ipynb").exists() and not (course / "evil").exists()
    assert not [n for n in set(os.listdir("/tmp")) - before if n.startswith("ag-zip")]  # read in place


def test_a_zip_is_read_within_its_entry_and_size_limits(tmp_path, monkeypatch):
    zpath = tmp_path / "many.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for i in range(6):
            z.writestr(f"s{i}.ipynb", F.dumps(F.with_answers()))
    monkeypatch.setattr(batch, "MAX_ZIP_ENTRIES", 5)
    with zipfile.ZipFile(zpath) as z, pytest.raises(batch.GradeRefusedError, match="6 entries, more than 5"):
        batch.find_submissions(zpath, F.SLUG, z)
    monkeypatch.setattr(batch, "MAX_ZIP_ENTRIES", 100)
    size = len(F.dumps(F.with_answers()))
    monkeypatch.setattr(batch, "MAX_ZIP_TOTAL", 3 * size + 10)
    with zipfile.ZipFile(zpath) as z:
        subs = batch.find_submissions(zpath, F.SLUG, z)
        assert [s.student for s in subs if not s.refused] == ["s0", "s1", "s2"]
        assert [s.refused for s in subs][3:] == [f"the zip entry 's{i}.ipynb' is past the zip's total of 0 MiB: "
                                                 "not read" for i in (3, 4, 5)]
        assert json.loads(subs[0].read())["nbformat"] == 4  # read from the zip when asked, not unpacked


def test_submissions_are_streamed_a_few_at_a_time():
    live, most = [0], [0]
    lock = threading.Lock()

    def read() -> bytes:
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        return b"{}"

    def done(spec, result) -> None:
        with lock:
            live[0] -= 1

    specs = [{"student": f"s{i}", "read": read} for i in range(40)]
    with ThreadPoolExecutor(2) as pool:
        batch._windowed(specs, lambda job: pool.submit(time.sleep, 0.01),
                        lambda pending: wait_futures(pending, return_when=FIRST_COMPLETED).done, 4, done)
    assert live[0] == 0 and most[0] == 4  # never more than the window's bytes held at once


def test_student_names_are_validated_and_normalised():
    nfd = "jose\u0301"
    assert batch.student_name(nfd) == ("jos\u00e9", "")
    assert batch.student_name("Ann") == ("Ann", "")
    for bad, why in ((".", "starts with '.'"), ("..", "starts with '.'"), ("a/b", "separator"),
                     ("a\\b", "separator"), ("a\x00b", "control"), ("a\u202eb", "control"), ("", "empty"),
                     ("x" * 65, "longer than 64"), (" ann", "space")):
        name, problem = batch.student_name(bad)
        assert why in problem, (bad, problem)
    with pytest.raises(batch.GradeRefusedError, match="refusing to write"):
        batch.inside(Path("/tmp/out"), "..")


def test_a_setup_cell_that_fails_is_an_environment_error(tmp_path):
    course = tmp_path / "course"
    (course / "source" / F.SLUG).mkdir(parents=True)
    nb = F.source_notebook()
    nb.cells[1].source = "import numpy as np\nimport numpy.testing as npt\nimport not_installed_dep\n"
    nbformat.write(nb, course / "source" / F.SLUG / f"{F.SLUG}.ipynb")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "ann.ipynb").write_bytes(F.dumps(F.with_answers()))
    r = subprocess.run(_grade_cmd(course, str(flat), "--workers", "1", "--json", str(tmp_path / "r.json")),
                       cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    [rec] = json.loads((tmp_path / "r.json").read_text())
    assert (rec["status"], rec["score"]) == ("environment_error", 0.0)
    assert rec["reason"] == ("the chapter's setup cell (cell 1) failed before any student code ran: "
                             "ModuleNotFoundError: No module named 'not_installed_dep'")


def test_check_on_something_that_is_not_a_notebook_says_so(tmp_path, capsys):
    empty = tmp_path / "empty.ipynb"
    empty.write_text("{}")
    assert main(["check", str(empty)]) == 1
    assert capsys.readouterr().out.strip() == f"{empty}: the file is not a Jupyter notebook in format 4"
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                               "cells": [{"cell_type": "code", "source": "1"}]}))
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{bad}: not a valid Jupyter notebook (") and "Traceback" not in out
    assert len(out.splitlines()) == 1
