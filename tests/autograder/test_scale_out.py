"""The autograder beyond one process, through its command line: a local Dask cluster of two workers,
the gradebook in a real PostgreSQL server, nbgrader's exchange round trip with two students, and a
batch killed mid-run that resumes without losing or redoing finished grades."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import fixture as F
import hostile
import psutil
import pytest
import services

from autograder.nbg import gradebook

REPO = Path(__file__).resolve().parents[2]
NBGRADER = [sys.executable, "-m", "nbgrader"]
#: the cases every scale-out run grades: right, wrong, unwritten, endless, crashing, unreadable
CASES = ("correct", "partly_wrong", "stub_only", "infinite_loop", "os_exit", "empty_file")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
    env.pop("MPLBACKEND", None)
    return env


def autograder(course: Path, *args: str, env: dict | None = None, check: bool = True,
               expect: int = 0) -> subprocess.CompletedProcess:
    """``python -m autograder --course COURSE ARGS`` as an instructor types it; ``expect``: its exit status
    (for `grade`, how many submissions could not be graded)."""
    r = subprocess.run([sys.executable, "-m", "autograder", "--course", str(course), *args], cwd=REPO,
                       env=env or _env(), capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == expect, f"autograder {' '.join(args)} exited {r.returncode}:\n{r.stderr[-3000:]}"
    return r


def flat_class(root: Path, names=CASES) -> tuple[Path, dict]:
    """A flat folder of `<student>.ipynb` with the named hostile/ordinary cases; returns (folder, cases)."""
    cases = {k: v for k, v in hostile.cases(str(root / "course"), 9).items() if k in names}
    flat = root / "flat"
    flat.mkdir()
    for name, (data, *_rest) in cases.items():
        (flat / f"{name}.ipynb").write_bytes(data)
    return flat, cases


def gradebook_scores(course: Path, db_url: str | None = None) -> dict[str, float]:
    with gradebook(course, db_url) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(F.SLUG)}


def assert_outcomes(records: list[dict], cases: dict) -> None:
    got = {r["student"]: (r["status"], r["score"]) for r in records}
    assert got == {n: (status, score) for n, (_d, status, score, _f) in cases.items()}


def _records(path: Path) -> list[dict]:
    """A `--json` file's records without their timings."""
    return [{k: v for k, v in rec.items() if k not in ("seconds", "exec_seconds")}
            for rec in json.loads(path.read_text())]


def test_a_local_dask_cluster_and_a_pool_grade_as_a_serial_run_does(tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    flat, cases = flat_class(tmp_path)
    runs = {}
    for workers in ("1", "2"):
        runs[workers] = F.make_course(tmp_path / f"pool{workers}")
        autograder(runs[workers], "grade", F.SLUG, str(flat), "--workers", workers, "--timeout", "5",
                   "--json", str(tmp_path / f"pool{workers}.json"), expect=1)
    assert _records(tmp_path / "pool1.json") == _records(tmp_path / "pool2.json")
    assert gradebook_scores(runs["1"]) == gradebook_scores(runs["2"])
    pool_course = runs["2"]
    dask_course = F.make_course(tmp_path / "dask")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        r = autograder(dask_course, "grade", F.SLUG, str(flat), "--scheduler", cluster.scheduler_address,
                       "--timeout", "5", "--json", str(tmp_path / "dask.json"), expect=1)
    assert f"on dask {cluster.scheduler_address}" in r.stderr
    tasks = [t for t in stream.data if str(t["key"]).startswith("grade-")]
    assert len(tasks) == len(cases), "every submission is one task on the cluster"
    assert len({t["worker"] for t in tasks}) == 2, "both Dask workers graded"
    assert_outcomes(json.loads((tmp_path / "dask.json").read_text()), cases)
    # the same records, part by part, except the timings
    assert _records(tmp_path / "dask.json") == _records(tmp_path / "pool1.json")
    assert gradebook_scores(dask_course) == gradebook_scores(pool_course) == \
        {n: score for n, (_d, _s, score, _f) in cases.items()}


def test_the_gradebook_lives_in_a_real_postgresql_server(tmp_path):
    import psycopg

    flat, cases = flat_class(tmp_path)
    course = F.make_course(tmp_path)
    with services.postgres_server() as url:
        r = autograder(course, "grade", F.SLUG, str(flat), "--gradebook", url, "--workers", "2",
                       "--timeout", "5", "--json", str(tmp_path / "r.json"), expect=1)
        assert_outcomes(json.loads((tmp_path / "r.json").read_text()), cases)
        assert not (course / "gradebook.db").exists(), "nothing went to a local sqlite file"
        expected = {n: score for n, (_d, _s, score, _f) in cases.items()}
        assert gradebook_scores(course, url) == expected
        with psycopg.connect(url) as conn, conn.cursor() as cur:  # nbgrader's own tables, in the server
            cur.execute("SELECT count(*) FROM submitted_assignment")
            assert cur.fetchone()[0] == len(cases)
            cur.execute("SELECT s.student_id, sum(g.auto_score) FROM grade g "
                        "JOIN submitted_notebook n ON g.notebook_id = n.id "
                        "JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY s.student_id")
            assert {k: float(v) for k, v in cur.fetchall()} == expected
        again = autograder(course, "grade", F.SLUG, str(flat), "--gradebook", url, "--timeout", "5", expect=1)
        assert f"{len(cases)} already graded, 0 to grade" in again.stderr
        assert gradebook_scores(course, url) == expected
        assert "correct" in r.stdout and "kernel_died" in r.stdout


def _answer(path: Path, nb) -> None:
    """The student's edit: their answers into the fetched notebook (same cells, same metadata)."""
    fetched = json.loads(path.read_text())
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    for c in fetched["cells"]:
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if c.get("metadata", {}).get("nbgrader", {}).get("solution"):
            c["source"] = answers[gid]
    path.write_text(json.dumps(fetched, indent=1))


def test_nbgrader_exchange_round_trip_with_two_students(tmp_path):
    """release → fetch → submit (two students, each their own OS account) → collect → grade."""
    shared = Path(tempfile.mkdtemp(prefix="ag-exchange-"))  # outside pytest's 0700 tmp: students reach it
    try:
        shared.chmod(0o755)
        exchange = shared / "exchange"
        course = F.make_course(tmp_path)
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = 'fixture'\nc.Exchange.root = {str(exchange)!r}\n")
        autograder(course, "build", F.SLUG)  # checks the chapter, then nbgrader generate_assignment
        subprocess.run([*NBGRADER, "release_assignment", F.SLUG], cwd=course, env=_env(),
                       check=True, capture_output=True, timeout=120)
        answers = {"mtstudent1": F.with_answers(), "mtstudent2": F.with_answers(scale=hostile.WRONG_SCALE)}
        for student, nb in answers.items():
            acct = services.ensure_account(student)
            home = shared / student
            home.mkdir()
            os.chown(home, acct.pw_uid, acct.pw_gid)
            run = [*services.as_user(student), *NBGRADER]
            env = _env(HOME=str(home), USER=student)
            for verb in ("fetch_assignment", "submit"):
                if verb == "submit":  # the student's work, in the notebook they fetched
                    fetched = home / F.SLUG / f"{F.SLUG}.ipynb"
                    assert fetched.exists(), f"fetch_assignment gave {student} no notebook"
                    _answer(fetched, nb)
                r = subprocess.run([*run, verb, F.SLUG, "--course=fixture", f"--Exchange.root={exchange}"],
                                   cwd=home, env=env, capture_output=True, text=True, timeout=120)
                assert r.returncode == 0, f"{student}: nbgrader {verb} failed:\n{r.stderr[-2000:]}"
        subprocess.run([*NBGRADER, "collect", F.SLUG], cwd=course, env=_env(), check=True,
                       capture_output=True, timeout=120)
        for student in answers:
            assert (course / "submitted" / student / F.SLUG / "timestamp.txt").exists()
        autograder(course, "grade", F.SLUG, str(course / "submitted"), "--timeout", "10",
                   "--json", str(tmp_path / "r.json"))
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    recs = {r["student"]: r for r in json.loads((tmp_path / "r.json").read_text())}
    assert {s: (r["status"], r["score"]) for s, r in recs.items()} == \
        {"mtstudent1": ("graded", 5.0), "mtstudent2": ("graded", 2.0)}
    with gradebook(course) as gb:
        for student in answers:  # the submission time from the exchange reached the gradebook
            sub = gb.find_submission(F.SLUG, student)
            assert sub.timestamp is not None


def _marked(marker: str) -> list[psutil.Process]:
    """Processes whose environment carries ``marker`` (the kernels of one run: the sandbox passes
    NUMBA_* variables through)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("NUMBA_AG_TEST_RUN") == marker:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return found


_DIES_WHILE_STARTING = """
import os, sys, tempfile, threading, time
from autograder.kernel import Kernel
from autograder.sandbox import Sandbox
kernel = Kernel(Sandbox(enabled=sys.argv[2] == "1"), tempfile.mkdtemp(), {})
threading.Thread(target=kernel.start, daemon=True).start()
time.sleep(float(sys.argv[1]))
os._exit(0)  # the grader dies as SIGKILL leaves it: no clean-up
"""


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_grader_killed_while_a_kernel_starts_leaves_no_kernel(sandboxed):
    # bwrap arms --die-with-parent only after its set-up; the kernel's watcher covers the first milliseconds
    for delay in (0.0, 0.001, 0.002, 0.005, 0.01, 0.05, 0.5, 2.0):
        marker = uuid.uuid4().hex
        subprocess.run([sys.executable, "-c", _DIES_WHILE_STARTING, str(delay), "01"[sandboxed]], cwd=REPO,
                       env=_env(NUMBA_AG_TEST_RUN=marker), check=True, timeout=60)
        gone_by = time.monotonic() + 10
        while (left := _marked(marker)) and time.monotonic() < gone_by:
            time.sleep(0.1)
        for p in left:
            p.kill()
        assert left == [], f"the grader died {delay} s into a kernel's start and left {[p.name() for p in left]}"


def test_a_batch_killed_mid_run_resumes_without_losing_finished_grades(tmp_path):
    n = 8
    course = F.make_course(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(n):  # each takes a second in its cell, so the kill lands mid-batch
        nb = F.with_answers(extra={"add": "import time\ntime.sleep(1.0)\n"})
        (flat / f"s{i}.ipynb").write_bytes(F.dumps(nb))
    journal = course / "autograded" / ".autograder" / f"{F.SLUG}.jsonl"
    marker = uuid.uuid4().hex
    env = _env(NUMBA_AG_TEST_RUN=marker)
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "--course", str(course), "grade", F.SLUG,
                             str(flat), "--workers", "1", "--timeout", "10"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (journal.exists() and len(journal.read_text().splitlines()) >= 3):
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline, "no grades recorded in 300 s"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    gone_by = time.monotonic() + 10  # bubblewrap's --die-with-parent kills the kernel, unless it is loaded
    while (left := _marked(marker)) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert left == [], f"a kernel outlived the killed batch by 10 s: {[p.cmdline() for p in left]}"
    finished = len(journal.read_text().splitlines())
    assert 3 <= finished < n
    r = autograder(course, "grade", F.SLUG, str(flat), "--workers", "1", "--timeout", "10",
                   "--json", str(tmp_path / "r.json"))
    assert f"{finished} already graded, {n - finished} to grade" in r.stderr
    recs = json.loads((tmp_path / "r.json").read_text())
    assert [(x["student"], x["status"], x["score"]) for x in recs] == \
        [(f"s{i}", "graded", 5.0) for i in range(n)]
    assert len(journal.read_text().splitlines()) == n, "each submission graded once over both runs"
    assert gradebook_scores(course) == {f"s{i}": 5.0 for i in range(n)}
