"""A batch of submissions: find them, grade them on a pool (or Dask), record grades as they finish.

Grades go into nbgrader's gradebook from this one process (workers never touch it); each finished
submission is appended to a journal (``autograded/.autograder/<chapter>.jsonl``) right after its
gradebook commit, so a killed run resumes where it stopped and a re-run regrades nothing that is
unchanged (same submission bytes, same source notebook, same limits).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from . import nbg
from .job import grade_one
from .sandbox import Limits

MAX_NOTEBOOK_BYTES = 64 << 20  # larger files are not read (recorded as invalid_notebook)


def find_submissions(path: Path, chapter: str, tmp: Path) -> list[tuple[str, str, Path]]:
    """(student, notebook name, file) for each submission under ``path``: nbgrader's
    ``submitted/<student>/<chapter>/<nb>.ipynb`` (or that folder's parent), a flat folder of
    ``<student>.ipynb``, or a zip of either (unpacked into ``tmp``, names checked)."""
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = Path(info.filename)
                if name.is_absolute() or ".." in name.parts or info.file_size > MAX_NOTEBOOK_BYTES:
                    raise SystemExit(f"refusing the zip entry {info.filename!r} (absolute, '..' or too big)")
            z.extractall(tmp)
        path = tmp
        entries = [p for p in path.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(entries) == 1 and entries[0].is_dir():
            path = entries[0]
    if not path.is_dir():
        raise SystemExit(f"{path}: not a folder or a zip of submissions")
    if (path / "submitted").is_dir():
        path = path / "submitted"
    found = []
    nested = sorted(p for p in path.glob(f"*/{chapter}/*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if nested:
        for p in nested:
            found.append((p.parent.parent.name, p.stem, p))
    else:
        for p in sorted(path.glob("*.ipynb")):
            found.append((p.stem, chapter, p))
    return found


def source_notebooks(course: Path, chapter: str) -> dict[str, Path]:
    d = course / "source" / chapter
    nbs = {p.stem: p for p in sorted(d.glob("*.ipynb"))}
    if not nbs:
        raise SystemExit(f"no source notebook in {d}")
    return nbs


def chapter_files(course: Path, chapter: str) -> dict[str, bytes]:
    """The chapter's data files (everything in source/<chapter>/ but notebooks), copied next to each run."""
    d = course / "source" / chapter
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts \
                and "__pycache__" not in p.parts:
            out[str(p.relative_to(d))] = p.read_bytes()
    return out


def job_key(spec: dict) -> str:
    h = hashlib.sha256()
    for part in (spec["sha256"], hashlib.sha256(spec["source"].encode()).hexdigest(),
                 json.dumps(spec["limits"], sort_keys=True), str(spec["sandbox"])):
        h.update(part.encode())
    return h.hexdigest()


def run_jobs(specs: list[dict], workers: int, scheduler: str | None, on_done) -> None:
    """Run grade_one on every spec (a process pool, or the Dask scheduler at ``scheduler``)."""
    if not specs:
        return
    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {client.submit(grade_one, s, pure=False, key=f"grade-{s['student']}-{s['key'][:12]}"): s
                       for s in specs}
            for fut in dask_completed(futures):
                on_done(futures[fut], fut.result())
        return
    if workers <= 1:
        for s in specs:
            on_done(s, grade_one(s))
        return
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    # the workers fork from a server that has imported the job's modules once (jupyter_client, zmq)
    context.set_forkserver_preload(["autograder.job"])
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(grade_one, s): s for s in specs}
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())


def grade(course: Path, chapter: str, submissions: Path, *, workers: int, db_url: str | None,
          scheduler: str | None, json_path: Path | None, limits: Limits, sandbox: bool, force: bool,
          quiet: bool = False, kernel_cache: bool = True) -> list[dict]:
    """Grade a chapter's submissions; returns the records (one per submission, in student order).
    With ``kernel_cache`` (and no Dask scheduler) the chapter's kernels are compiled once for the
    batch (`warm_cache`)."""
    from tqdm import tqdm

    sources = source_notebooks(course, chapter)
    files = chapter_files(course, chapter)
    ensure_assignment(course, chapter, db_url)
    tmp = Path(tempfile.mkdtemp(prefix="ag-zip-"))
    try:
        subs = find_submissions(submissions, chapter, tmp)
        specs = []
        for student, nbname, path in subs:
            if nbname not in sources:
                nbname = next(iter(sources))  # an LMS renamed the file: the chapter has one notebook
            size = path.stat().st_size
            data = path.read_bytes() if size <= MAX_NOTEBOOK_BYTES else b"\0too big"
            spec = {"student": student, "assignment": chapter, "notebook": nbname,
                    "source": sources[nbname].read_text(), "submission": data, "files": files,
                    "limits": asdict(limits), "sandbox": sandbox, "sha256": hashlib.sha256(data).hexdigest(),
                    "timestamp": _timestamp(path)}
            spec["key"] = job_key(spec)
            specs.append(spec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    journal = course / "autograded" / ".autograder" / f"{chapter}.jsonl"
    done = {} if force else read_journal(journal)
    todo = [s for s in specs if done.get((s["student"], s["notebook"]), {}).get("key") != s["key"]]
    if todo and kernel_cache and not scheduler:  # Dask workers may be other machines: they keep their own caches
        cache = warm_cache(course, chapter, sources, files, limits, sandbox, quiet)
        for s in todo:
            s["cache"] = cache
    records = {(s["student"], s["notebook"]): done[(s["student"], s["notebook"])]["record"]
               for s in specs if s not in todo}
    if not quiet:
        print(f"grading {chapter}: {len(specs)} submissions, {len(specs) - len(todo)} already graded, "
              f"{len(todo)} to grade on {'dask ' + scheduler if scheduler else f'{workers} worker(s)'}",
              file=sys.stderr)
    journal.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(todo), unit="nb", disable=quiet or not todo, file=sys.stderr)
    with nbg.gradebook(course, db_url) as gb, open(journal, "a") as jf:
        def on_done(spec: dict, result: dict) -> None:
            rec = result["record"]
            write_grades(gb, course, spec, result)
            jf.write(json.dumps({"key": spec["key"], "record": rec}) + "\n")
            jf.flush()
            os.fsync(jf.fileno())
            records[(spec["student"], spec["notebook"])] = rec
            bar.update(1)

        run_jobs(todo, workers, scheduler, on_done)
    bar.close()
    out = [records[k] for k in sorted(records)]
    if json_path is not None:
        json_path.write_text(json.dumps(out, indent=1) + "\n")
    return out


#: the uid of the warm-up kernel (as root), which alone writes the batch's kernel cache
WARM_UID = 199999


def warm_cache(course: Path, chapter: str, sources: dict[str, Path], files: dict[str, bytes], limits: Limits,
               sandbox: bool, quiet: bool) -> str | None:
    """Compile the kernels the chapter uses once per batch: run its release notebook (what students
    start from: no solution, no hidden test) in the sandbox with the batch's kernel cache writable.
    Returns the cache folder that every submission then starts from a private copy of."""
    import numba

    import minitorch_edu

    release = course / "release" / chapter
    nbs = {p.stem: p for p in sorted(release.glob("*.ipynb"))}
    cache = course / "autograded" / ".autograder" / "kernel-cache"
    cache.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(cache, WARM_UID, WARM_UID)
    package = Path(minitorch_edu.__file__).parent
    stamp = hashlib.sha256()
    for part in (numba.__version__, sys.version, str(limits.threads),
                 str(max(p.stat().st_mtime_ns for p in package.rglob("*.py")))):
        stamp.update(part.encode())
    for name in sorted(nbs):
        stamp.update(nbs[name].read_bytes())
    stamp_file = course / "autograded" / ".autograder" / f"kernel-cache-{chapter}.stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp.hexdigest():
        return str(cache)
    if not quiet:
        print(f"compiling {chapter}'s kernels once for the batch (its release notebook, sandboxed)", file=sys.stderr)
    for name, nb in nbs.items():
        data = nb.read_bytes()
        if name not in sources or not any(word in data for word in (b"minitorch_edu", b"numba")):
            continue  # nothing of the package's kernels to compile
        grade_one({"student": "(warm-up)", "assignment": chapter, "notebook": name,
                   "source": sources[name].read_text(), "submission": data, "files": files,
                   "limits": asdict(limits), "sandbox": sandbox, "sha256": hashlib.sha256(data).hexdigest(),
                   "cache": str(cache), "cache_writable": True, "uid": WARM_UID})
    stamp_file.write_text(stamp.hexdigest())
    return str(cache)


def _timestamp(path: Path):
    ts = path.parent / "timestamp.txt"
    return ts.read_text().strip() if ts.exists() else None


def read_journal(journal: Path) -> dict:
    done = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            rec = entry["record"]
            done[(rec["student"], rec["notebook"])] = entry
    return done


def ensure_assignment(course: Path, chapter: str, db_url: str | None) -> None:
    """The chapter's cells must be in the gradebook: if they are not, nbgrader's generate_assignment
    (in this process) puts them there and writes the release."""
    from nbgrader.api import MissingEntry

    with nbg.gradebook(course, db_url) as gb:
        try:
            a = gb.find_assignment(chapter)
            if a.notebooks:
                return
        except MissingEntry:
            pass
    from .build import generate_release

    generate_release(course, chapter, db_url)


def write_grades(gb, course: Path, spec: dict, result: dict) -> None:
    """The record's part scores into the gradebook, and the autograded notebook where feedback reads it."""
    rec = result["record"]
    student, chapter, nbname = rec["student"], rec["assignment"], rec["notebook"]
    gb.update_or_create_student(student)
    kwargs = {"timestamp": spec["timestamp"]} if spec.get("timestamp") else {}
    gb.update_or_create_submission(chapter, student, **kwargs)
    nb = gb.find_submission_notebook(nbname, chapter, student)
    nb.flagged = bool(rec["flags"])
    scores = {p["cell_id"]: p["score"] for p in rec["parts"]}
    for grade in nb.grades:
        grade.auto_score = scores.get(grade.cell.name, 0.0)
    gb.db.commit()
    dest = course / "autograded" / student / chapter
    dest.mkdir(parents=True, exist_ok=True)
    if result["notebook"] is not None:
        (dest / f"{nbname}.ipynb").write_text(result["notebook"])
    if spec.get("timestamp"):
        (dest / "timestamp.txt").write_text(spec["timestamp"])


def table(records: list[dict]) -> str:
    """The per-student table `grade` prints."""
    rows = [("student", "score", "status", "reason")]
    for r in records:
        rows.append((r["student"], f"{r['score']:g}/{r['max_score']:g}", r["status"], r["reason"]))
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows)
