"""A batch of submissions: find them, grade them on a pool (or Dask), record grades as they finish.

Grades go into nbgrader's gradebook from this one process (workers never touch it); each finished
submission is appended to a journal (``autograded/.autograder/<chapter>.jsonl``) right after its
gradebook commit, so a killed run resumes where it stopped and a re-run regrades nothing that is
unchanged (same submission bytes, same source notebook, same limits).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import signal
import stat
import sys
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import nbg
from .job import NOT_GRADED, grade_one, unread_record
from .sandbox import Limits

MAX_NOTEBOOK_BYTES = 64 << 20  # larger files are not read (refused)
#: a zip of submissions is read within these limits (entries over them are refused by name)
MAX_ZIP_ENTRIES = 10_000  #: more entries than this: the whole zip is refused
MAX_ZIP_TOTAL = 1 << 30  #: uncompressed bytes of all the entries read, together
MAX_ZIP_RATIO = 100  #: uncompressed / compressed size of an entry over 1 MiB
#: a student name: Unicode NFC, at most this many characters, no separator, control character or leading "."
MAX_NAME = 64


#: what reading a submission can raise (a file gone or turned into a link, a zip entry whose data lies)
READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError)


class GradeRefusedError(Exception):
    """The whole run cannot go on (another `grade` holds the chapter, a zip over its limits)."""


def student_name(raw: str) -> tuple[str, str]:
    """(the name in Unicode NFC, "") or (raw, why it is not a valid student name)."""
    name = unicodedata.normalize("NFC", raw)
    if not name:
        return raw, "an empty student name"
    if len(name) > MAX_NAME:
        return raw, f"a student name longer than {MAX_NAME} characters"
    if "/" in name or "\\" in name:
        return raw, "a student name with a path separator"
    if name.startswith("."):
        return raw, "a student name that starts with '.' ('.', '..' and hidden files are not students)"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") for ch in name):
        return raw, "a student name with a control or invisible character"
    if name != name.strip():
        return raw, "a student name that starts or ends with a space"
    return name, ""


def _display(raw: str) -> str:
    """A refused name as it can be printed: control and invisible characters escaped."""
    return "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else ch.encode("unicode_escape")
                   .decode() for ch in raw)[:2 * MAX_NAME] or "(empty)"


@dataclass
class Submission:
    """One submission found: ``read()`` gives its bytes (read only then: submissions are streamed)."""

    student: str
    notebook: str
    read: Callable[[], bytes]
    timestamp: str | None = None
    refused: str = ""  #: why it is not graded ("" when it is)
    flags: list[str] = field(default_factory=list)


def find_submissions(path: Path, chapter: str, zf: zipfile.ZipFile | None = None) -> list[Submission]:
    """The submissions under ``path``: nbgrader's ``submitted/<student>/<chapter>/<nb>.ipynb`` (or that
    folder's parent), a flat folder of ``<student>.ipynb``, or a zip of either (``zf``, read in place).

    Nothing is followed: a symbolic link (to a file or a folder) or a hard link is refused with a status,
    as is a name that is not a valid student name, or a zip entry outside the zip's limits."""
    if zf is None and (path / "submitted").is_dir() and not (path / "submitted").is_symlink():
        path = path / "submitted"
    entries = _zip_entries(zf) if zf is not None else _folder_entries(path)
    entries = [e for e in entries if not any((p.startswith(".") and p != "..") or p == "__MACOSX" for p in e[0][:-1])
               and not e[0][-1].startswith("._")]

    def nested(es) -> bool:
        return any(len(p) == 3 and p[1] == chapter for p, *_ in es)

    while True:  # a zip of a folder, or of a course with submitted/ in it (refused entries do not count)
        good = [p for p, _read, why, _real in entries if not why]
        if not good or nested(good):
            break
        tops = {p[0] for p in good if len(p) > 1}
        if "submitted" in tops:
            top = "submitted"
        elif len(tops) == 1 and all(len(p) > 1 for p in good):
            top = tops.pop()
        else:
            break
        entries = [(p[1:] if p[0] == top and len(p) > 1 else p, *rest) for p, *rest in entries
                   if (p[0] == top and len(p) > 1) or rest[1]]
    layout_nested = nested(entries)
    found: list[Submission] = []
    for parts, read, why, real in entries:
        fits = (len(parts) == 3 and parts[1] == chapter) if layout_nested else len(parts) == 1
        if not fits or not parts[-1].endswith(".ipynb"):
            if why:  # a link or a bad entry where a submission could be: said, not skipped silently
                found.append(Submission(_display(parts[-1].removesuffix(".ipynb")), chapter, read, refused=why))
            continue
        fname = parts[-1]
        raw = parts[0] if layout_nested else fname[: -len(".ipynb")]
        nbname = fname[: -len(".ipynb")] if layout_nested else chapter
        name, bad = student_name(raw)
        if bad or why:
            found.append(Submission(_display(raw), nbname, read, refused=why or f"{bad}: not graded"))
            continue
        found.append(Submission(name, nbname, read, timestamp=_timestamp(real) if real else None))
    return found


def _folder_entries(root: Path):
    """(path parts, reader, why refused) for every file under ``root``, links never followed."""
    if not root.is_dir() or root.is_symlink():
        raise GradeRefusedError(f"{root}: not a folder or a zip of submissions")
    out = []

    def walk(parts: tuple[str, ...]) -> None:
        with os.scandir(root.joinpath(*parts)) as it:
            for e in sorted(it, key=lambda e: e.name):
                here = parts + (e.name,)
                if e.is_symlink():
                    out.append((here, _no_read, f"a symbolic link ({'/'.join(here)}): links are not followed", None))
                elif e.is_dir(follow_symlinks=False):
                    if not e.name.startswith(".") and e.name != "__pycache__" and len(here) < 4:
                        walk(here)
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    why = ""
                    if st.st_nlink > 1:
                        why = f"a hard link ({'/'.join(here)} has {st.st_nlink} names): links are not read"
                    elif st.st_size > MAX_NOTEBOOK_BYTES:
                        why = f"a file over {MAX_NOTEBOOK_BYTES >> 20} MiB"
                    out.append((here, functools.partial(_read_beneath, root, here), why, root.joinpath(*here)))

    walk(())
    return out


def _read_beneath(root: Path, parts: tuple[str, ...]) -> bytes:
    """A file's bytes, opened folder by folder without following any link (a folder swapped for a link
    after it was listed is refused too); only a regular file with one name, within the size limit."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
        f = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(f, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise OSError(f"{'/'.join(parts)} is no longer a plain file")
        return fh.read(MAX_NOTEBOOK_BYTES + 1)[:MAX_NOTEBOOK_BYTES]


def _no_read() -> bytes:
    raise OSError("refused: not read")


def _zip_entries(z: zipfile.ZipFile):
    """(path parts, reader, why refused) for every file entry of a zip, within `MAX_ZIP_*`."""
    infos = z.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise GradeRefusedError(f"the zip has {len(infos)} entries, more than {MAX_ZIP_ENTRIES}: not read")
    out, total = [], 0
    for info in infos:
        name = info.filename
        parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
        if info.is_dir() or not parts:
            continue
        why = ""
        mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or ".." in parts or "\0" in name or (len(name) > 1 and name[1] == ":"):
            why = f"the zip entry {name!r} points outside the zip (absolute or '..'): not read"
        elif stat.S_ISLNK(mode):
            why = f"the zip entry {name!r} is a symbolic link: links are not followed"
        elif info.flag_bits & 1:
            why = f"the zip entry {name!r} is encrypted: not read"
        elif info.file_size > MAX_NOTEBOOK_BYTES:
            why = f"the zip entry {name!r} is over {MAX_NOTEBOOK_BYTES >> 20} MiB: not read"
        elif info.file_size > 1 << 20 and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            why = f"the zip entry {name!r} expands more than {MAX_ZIP_RATIO}x: not read"
        elif total + info.file_size > MAX_ZIP_TOTAL:
            why = f"the zip entry {name!r} is past the zip's total of {MAX_ZIP_TOTAL >> 20} MiB: not read"
        else:
            total += info.file_size
        out.append((parts, functools.partial(_read_zip_entry, z, info), why, None))
    return out


def _read_zip_entry(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """An entry's bytes, at most its declared size (and `MAX_NOTEBOOK_BYTES`) whatever its data says."""
    with z.open(info) as f:
        return f.read(min(info.file_size, MAX_NOTEBOOK_BYTES))


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
    """Run grade_one on every spec (a process pool, or the Dask scheduler at ``scheduler``).

    Submissions are streamed: a spec's bytes are read (``spec["read"]()``) only when it is sent, and at
    most two per worker are in flight. A job that fails (a worker that died) becomes that submission's
    ``environment_error``; the others go on. If this process is stopped (a signal, an exception), the
    pool's workers are killed with it; a worker also kills itself when this process is gone (SIGKILL)."""
    if not specs:
        return
    if scheduler:
        from distributed import Client, wait

        with Client(scheduler) as client:
            _windowed(specs, lambda job: client.submit(grade_one, job, pure=False,
                                                       key=f"grade-{job['student']}-{job['key'][:12]}"),
                      lambda pending: wait(pending, return_when="FIRST_COMPLETED").done, 2 * max(workers, 2), on_done)
        return
    if workers <= 1:
        for s in specs:
            try:
                job = _job(s)
            except READ_ERRORS as e:
                on_done(s, _unread(s, e))
                continue
            on_done(s, _safe_grade(job))
        return
    pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_watch_parent,
                               initargs=(os.getpid(),))
    try:
        _windowed(specs, lambda job: pool.submit(grade_one, job),
                  lambda pending: wait_futures(pending, return_when=FIRST_COMPLETED).done, 2 * workers, on_done)
    except BaseException:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()  # their kernels die with them (each kernel watches a pipe its worker holds)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _pool_context():
    """The pool's multiprocessing context: its workers fork from a server that has imported the job's
    modules once (jupyter_client, zmq)."""
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.job"])
    return context


def start_fork_server() -> None:
    """Start the pool's fork server now, so that its imports (a third of a second of CPU) overlap the
    batch's own set-up instead of delaying the first submissions. It exits when this process does."""
    from multiprocessing import forkserver

    _pool_context()
    forkserver.ensure_running()


def _job(spec: dict) -> dict:
    """What a worker gets: the spec with the submission's bytes, read now (the reader stays here)."""
    job = {k: v for k, v in spec.items() if k != "read"}
    job["submission"] = spec["read"]()
    return job


def _safe_grade(job: dict) -> dict:
    try:
        return grade_one(job)
    except Exception as e:  # noqa: BLE001 - one submission's failure is that submission's status
        return _failed(job, e)


def _failed(spec: dict, e: BaseException) -> dict:
    return {"record": unread_record(spec["student"], spec["assignment"], spec["notebook"], spec["source"],
                                    "environment_error", f"the grader failed: {e.__class__.__name__}: {str(e)[:200]}"),
            "notebook": None}


def _unread(spec: dict, e: BaseException) -> dict:
    return {"record": unread_record(spec["student"], spec["assignment"], spec["notebook"], spec["source"],
                                    "refused", f"not read: {e}"), "notebook": None}


def _windowed(specs: list[dict], submit, wait_some, window: int, on_done) -> None:
    pending: dict = {}
    it = iter(specs)

    def fill() -> None:
        while len(pending) < window:
            s = next(it, None)
            if s is None:
                return
            try:
                pending[submit(_job(s))] = s
            except READ_ERRORS as e:  # the file went away or became a link since it was listed
                on_done(s, _unread(s, e))
            except Exception as e:  # noqa: BLE001 - a broken pool: every submission left says so
                on_done(s, _failed(s, e))

    fill()
    while pending:
        for fut in wait_some(list(pending)):
            s = pending.pop(fut)
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001
                result = _failed(s, e)
            on_done(s, result)
        fill()


def _watch_parent(pid: int) -> None:
    """In each pool worker: die when the grading process does, whatever killed it (SIGKILL included).

    The worker's parent is the fork server, which exits when the grading process goes: PR_SET_PDEATHSIG
    turns that into a SIGKILL here; a thread that checks the grading process twice a second covers the
    rest. The worker's kernels die with it (their lifeline pipe closes)."""
    import ctypes
    import threading

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="watch-grader").start()


@contextlib.contextmanager
def chapter_lock(course: Path, chapter: str, wait_for_it: bool):
    """One `grade` per course and chapter at a time: an fcntl lock on ``autograded/.autograder/<chapter>.lock``
    (released by the kernel when the holder dies, however it dies)."""
    path = course / "autograded" / ".autograder" / f"{chapter}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            if not wait_for_it:
                raise GradeRefusedError(f"another `grade` of {chapter} on this course is running ({holder}); "
                                   "wait for it to finish, or pass --wait") from None
            print(f"waiting for the other `grade` of {chapter} on this course ({holder}) to finish", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def grade(course: Path, chapter: str, submissions: Path, *, workers: int, db_url: str | None,
          scheduler: str | None, json_path: Path | None, limits: Limits, sandbox: bool, force: bool,
          quiet: bool = False, kernel_cache: bool = True, wait: bool = False) -> list[dict]:
    """Grade a chapter's submissions; returns the records (one per submission, in student order; those
    refused are in it too, with status ``refused``). With ``kernel_cache`` (and no Dask scheduler) the
    chapter's kernels are compiled once for the batch (`warm_cache`). One run per course and chapter at
    a time (`chapter_lock`: a second one refuses, or with ``wait`` waits)."""
    name, bad = student_name(chapter)
    if bad or name != chapter:
        raise GradeRefusedError(f"{chapter!r} is not a chapter name ({bad or 'not in Unicode NFC'})")
    with chapter_lock(course, chapter, wait), contextlib.ExitStack() as stack:
        zf = None
        if submissions.is_file() and not submissions.is_symlink() and zipfile.is_zipfile(submissions):
            zf = stack.enter_context(zipfile.ZipFile(submissions))
        return _grade(course, chapter, submissions, zf, workers=workers, db_url=db_url, scheduler=scheduler,
                      json_path=json_path, limits=limits, sandbox=sandbox, force=force, quiet=quiet,
                      kernel_cache=kernel_cache)


def _grade(course: Path, chapter: str, submissions: Path, zf, *, workers: int, db_url: str | None,
           scheduler: str | None, json_path: Path | None, limits: Limits, sandbox: bool, force: bool,
           quiet: bool, kernel_cache: bool) -> list[dict]:
    from tqdm import tqdm

    if workers > 1 and not scheduler:
        start_fork_server()
    sources = source_notebooks(course, chapter)
    texts = {k: p.read_text() for k, p in sources.items()}
    files = chapter_files(course, chapter)
    ensure_assignment(course, chapter, db_url)
    subs = find_submissions(submissions, chapter, zf)
    refused: list[dict] = []
    specs = []
    for sub in subs:
        nbname = sub.notebook if sub.notebook in sources else next(iter(sources))  # an LMS renamed the file
        if sub.refused:
            refused.append(unread_record(sub.student, chapter, nbname, texts[nbname], "refused", sub.refused))
            continue
        try:
            digest = hashlib.sha256(sub.read()).hexdigest()  # read once to know it, not kept
        except READ_ERRORS as e:
            refused.append(unread_record(sub.student, chapter, nbname, texts[nbname], "refused", f"not read: {e}"))
            continue
        spec = {"student": sub.student, "assignment": chapter, "notebook": nbname, "source": texts[nbname],
                "read": sub.read, "files": files, "limits": asdict(limits), "sandbox": sandbox, "sha256": digest,
                "timestamp": sub.timestamp}
        spec["key"] = job_key(spec)
        specs.append(spec)
    specs, refused = _one_per_student(specs, refused)
    folded: dict[str, set[str]] = {}
    for s in specs:
        folded.setdefault(s["student"].casefold(), set()).add(s["student"])
    clashes = {n for names in folded.values() if len(names) > 1 for n in names}
    if clashes and not quiet:
        print(f"warning: student names that differ only in case: {', '.join(sorted(clashes))} "
              "(graded apart; flagged name_case_collision)", file=sys.stderr)
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
              f"{len(todo)} to grade on {'dask ' + scheduler if scheduler else f'{workers} worker(s)'}"
              + (f"; {len(refused)} refused" if refused else ""), file=sys.stderr)
    journal.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(todo), unit="nb", disable=quiet or not todo, file=sys.stderr)
    with nbg.gradebook(course, db_url) as gb, open(journal, "a") as jf:
        def on_done(spec: dict, result: dict) -> None:
            rec = result["record"]
            if spec["student"] in clashes and "name_case_collision" not in rec["flags"]:
                rec["flags"].append("name_case_collision")
            if rec["status"] == "refused":
                refused.append(rec)
            else:
                write_grades(gb, course, spec, result)
                jf.write(json.dumps({"key": spec["key"], "record": rec}) + "\n")
                jf.flush()
                os.fsync(jf.fileno())
                records[(spec["student"], spec["notebook"])] = rec
            bar.update(1)

        run_jobs(todo, workers, scheduler, on_done)
    bar.close()
    out = [records[k] for k in sorted(records)] + sorted(refused, key=lambda r: (r["student"], r["notebook"]))
    if json_path is not None:
        json_path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def _one_per_student(specs: list[dict], refused: list[dict]) -> tuple[list[dict], list[dict]]:
    """Two files that are one student's one notebook (names equal once normalised: ``josé`` in NFC
    and NFD) are both refused: which one is the student's cannot be told."""
    seen: dict[tuple[str, str], list[dict]] = {}
    for s in specs:
        seen.setdefault((s["student"], s["notebook"]), []).append(s)
    keep = []
    for (student, nb), group in seen.items():
        if len(group) == 1:
            keep.append(group[0])
            continue
        for s in group:
            refused.append(unread_record(student, s["assignment"], nb, s["source"], "refused",
                                         f"{len(group)} files are {student}'s {nb} (their names differ only in "
                                         "Unicode normalisation or folder): none graded"))
    return keep, refused


def inside(base: Path, *names: str) -> Path:
    """``base/names...``, checked: every name a valid student or chapter name, the result under ``base``
    (nothing is ever written outside the course's output folders, whatever a record says)."""
    for n in names:
        ok, bad = student_name(n)
        if bad or ok != n:
            raise GradeRefusedError(f"refusing to write under {base}: {n!r} is {bad or 'not in Unicode NFC'}")
    dest = base.joinpath(*names)
    if not dest.resolve().is_relative_to(base.resolve()):
        raise GradeRefusedError(f"refusing to write {dest}: it resolves outside {base}")
    return dest


def not_graded(records: list[dict]) -> list[dict]:
    """The records of submissions that could not be graded (`job.NOT_GRADED`)."""
    return [r for r in records if r["status"] in NOT_GRADED]


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
    """nbgrader's timestamp.txt next to a submission (a plain small file, not a link), or None."""
    ts = path.parent / "timestamp.txt"
    if ts.is_symlink() or not ts.is_file() or ts.stat().st_size > 200:
        return None
    return ts.read_text(errors="replace").strip()


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
    dest = inside(course / "autograded", student, chapter)
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
