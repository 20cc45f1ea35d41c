"""One submission, graded: the job that runs on a process-pool worker or a Dask worker.

`grade_one(spec)` takes plain data (the source notebook, the submission's bytes, limits) and returns
plain data (the outcome record and the autograded notebook), so it runs anywhere the package is
installed. The score is decided here, outside the sandbox, from the kernel's replies to the test cells.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from .guard import preamble, verify
from .kernel import Kernel, KernelStartError
from .sandbox import Limits, Sandbox
from .static import check_solutions

#: every status a record can have, most severe first (a record's status is the most severe event)
STATUSES = (
    "refused",  # the file was not read: a link, a name that is not a valid student name, a zip entry over limits
    "environment_error",  # the grading environment failed (no kernel, a setup cell failed before any student
    #                      code ran, the grader itself): not the submission's doing, score 0, grade it again
    "invalid_notebook",  # not a readable notebook (empty, not JSON, not nbformat 4): nothing ran, score 0
    "kernel_died",  # the kernel process ended (os._exit, exit(), a segfault, a resource limit): score 0
    "timed_out",  # a cell ran past its time limit and was interrupted; the rest still ran and was scored
    "out_of_memory",  # a cell hit the memory limit (MemoryError); the rest still ran and was scored
    "tampered",  # locked cells or points edited, graded cells duplicated, test helpers patched: restored, flagged
    "cells_missing",  # graded cells deleted: tests restored from the source, missing answers score 0
    "graded",  # ran to the end; every part scored
)

#: statuses of submissions that could not be graded (`grade`'s exit status counts them)
NOT_GRADED = ("refused", "environment_error", "invalid_notebook")
#: a notebook with more code cells than this is not run (20,000 cells of `pass` held a worker 78 s)
MAX_CODE_CELLS = 1000
#: what a message or output that quoted a hidden test shows instead
WITHHELD = "[withheld: this text quoted the hidden tests]"

HIDDEN_RE = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.M | re.S)


@dataclass
class Part:
    """One graded tests cell of the chapter."""

    cell_id: str
    points: float
    score: float = 0.0
    passed: bool = False
    message: str = ""  #: first lines of the failure (what failed and why), "" when passed


@dataclass
class Record:
    """The outcome of grading one submission (``--json`` writes these)."""

    student: str
    assignment: str
    notebook: str
    score: float
    max_score: float
    status: str
    reason: str
    flags: list[str] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)
    seconds: float = 0.0  #: wall time of the whole job
    exec_seconds: float = 0.0  #: of which executing cells
    sha256: str = ""  #: of the submission's bytes


def nb_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def strip_hidden(source: str) -> str:
    return HIDDEN_RE.sub("", source)


def _squash(text: str) -> str:
    """Text without whitespace and with the escapes of repr/JSON undone: a quote survives re-indenting,
    re-wrapping, repr() and json.dumps()."""
    for esc, ch in (("\\n", "\n"), ("\\t", "\t"), ("\\'", "'"), ('\\"', '"'), ("\\\\", "\\")):
        text = text.replace(esc, ch)
    return re.sub(r"\s+", "", text)


def hidden_lines(source: str | dict) -> list[str]:
    """Every line of the hidden tests of a source notebook (JSON text or dict), squashed (`_squash`),
    the BEGIN/END markers included; lines shorter than 8 characters (``else:``) are too common to tell."""
    nb = json.loads(source) if isinstance(source, str) else source
    lines = set()
    for c in nb.get("cells", []):
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        for block in HIDDEN_RE.findall(src if src.endswith("\n") else src + "\n"):
            for ln in block.splitlines():
                sq = _squash(ln)
                if len(sq) >= 8:
                    lines.add(sq)
    return sorted(lines)


def quotes_hidden(text: str, lines: list[str]) -> bool:
    """True when ``text`` holds a whole line of the hidden tests (whitespace and escapes aside)."""
    if not text or not lines:
        return False
    sq = _squash(text)
    return any(ln in sq for ln in lines)


def scrub(text: str, lines: list[str]) -> str:
    """``text``, or `WITHHELD` when it quotes a hidden test."""
    return WITHHELD if quotes_hidden(text, lines) else text


def scrub_notebook(nb: dict, lines: list[str]) -> bool:
    """Withhold every output of ``nb`` that quotes a hidden test (in place); True when one did."""
    found = False
    for c in nb.get("cells", []):
        for o in c.get("outputs", []) or []:
            for key in ("text", "evalue", "ename"):
                if isinstance(o.get(key), str | list) and quotes_hidden("".join(o[key]), lines):
                    o[key], found = WITHHELD, True
            if isinstance(o.get("traceback"), list) and quotes_hidden("\n".join(map(str, o["traceback"])), lines):
                o["traceback"], found = [WITHHELD], True
            data = o.get("data")
            if isinstance(data, dict):
                for mime, v in list(data.items()):
                    if quotes_hidden(v if isinstance(v, str) else json.dumps(v), lines):
                        data[mime], found = WITHHELD, True
    return found


def scrub_record(rec: dict, lines: list[str]) -> bool:
    """Withhold the reason and every part message of a record that quote a hidden test (in place)."""
    found = False
    if quotes_hidden(rec.get("reason", ""), lines):
        rec["reason"], found = WITHHELD, True
    for p in rec.get("parts", []):
        if quotes_hidden(p.get("message", ""), lines):
            p["message"], found = WITHHELD, True
    return found


def _first_lines(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[:n])


def grade_one(spec: dict) -> dict:
    """Grade one submission. ``spec``: student, assignment, notebook, source (notebook JSON text),
    submission (bytes), files ({name: bytes} copied next to it), limits (Limits fields), sandbox (bool).

    Returns {"record": Record as dict, "notebook": autograded notebook JSON text or None}. Whatever the
    submission holds, this returns a record: a notebook it cannot plan is ``invalid_notebook``, a failure
    of the grader's own machinery ``environment_error``.
    """
    t0 = time.perf_counter()
    src = _normalize(json.loads(spec["source"]))
    parts = parts_of(spec["source"])
    rec = Record(student=spec["student"], assignment=spec["assignment"], notebook=spec["notebook"],
                 score=0.0, max_score=sum(p.points for p in parts), status="graded", reason="", flags=[],
                 sha256=spec.get("sha256", ""))
    events: dict[str, str] = {}  # status → first reason

    def event(status: str, reason: str) -> None:
        events.setdefault(status, reason)

    out_nb = None
    plan, autograded, why = prepare(src, spec["submission"], rec.flags, event)
    if plan is None:
        event("invalid_notebook", why)
    else:
        limits = Limits(**spec.get("limits", {}))
        try:
            _execute(spec, plan, parts, limits, rec, event)
            check_solutions(plan, parts, rec.flags)  # a solution naming its part's reference scores 0, flagged
        except KernelStartError as e:
            event("environment_error", f"the grading environment failed: {e}")
        except Exception as e:  # noqa: BLE001 - the grader's own failure is not the student's
            event("environment_error", f"the grader failed: {e.__class__.__name__}: {str(e)[:200]}")
        out_nb = _autograded_notebook(autograded, plan, parts)
    if "guard_broken" in rec.flags:  # nothing the kernel reported can be trusted: no part scores
        for p in parts:
            p.passed, p.message = False, "not scored: the grader's guard was replaced by the submission"
    for p in parts:
        p.score = p.points if p.passed else 0.0
    status = next((s for s in STATUSES if s in events), "graded")
    if status in ("invalid_notebook", "kernel_died", "environment_error"):
        for p in parts:
            p.score, p.passed = 0.0, False
    rec.status = status
    failed = [p.cell_id for p in parts if not p.passed]
    rec.reason = events.get(status) or (f"{len(parts) - len(failed)} of {len(parts)} parts pass"
                                        + (f"; failing: {', '.join(failed)}" if failed else ""))
    rec.score = sum(p.score for p in parts)
    rec.parts = [p.__dict__ for p in parts]
    # outside the sandbox, against the hidden tests' text the grader knows: nothing of it leaves here
    hidden = hidden_lines(src)
    record = rec.__dict__
    leaked = scrub_record(record, hidden)
    if out_nb is not None:
        leaked = scrub_notebook(out_nb, hidden) or leaked
    if leaked:
        record["flags"].append("hidden_test_quoted")
        if STATUSES.index(record["status"]) > STATUSES.index("tampered"):
            record["status"] = "tampered"
            record["reason"] = "the submission's output quoted the hidden tests (withheld)"
    record["seconds"] = time.perf_counter() - t0
    return {"record": record, "notebook": json.dumps(out_nb, indent=1) if out_nb is not None else None}


def prepare(src: dict, data: bytes, flags: list[str], event):
    """The parsing and planning of a submission, which never raises: (plan, autograded notebook, "") or
    (None, None, why it is not a notebook that can be graded). ``src``: the normalised source notebook."""
    sub, why = _read_submission(data)
    if sub is None:
        return None, None, why
    try:
        plan, autograded = _plan(src, sub, flags, event)
    except Exception as e:  # noqa: BLE001 - any shape of JSON: that submission's status, never the batch's
        return None, None, f"the notebook is malformed ({e.__class__.__name__}: {str(e)[:80]})"
    return plan, autograded, ""


def parts_of(source: str) -> list[Part]:
    """The graded tests cells of a source notebook (JSON text)."""
    src = _normalize(json.loads(source))
    return [Part(nb_meta(c)["grade_id"], float(nb_meta(c).get("points", 0))) for c in src["cells"]
            if nb_meta(c).get("grade") and not nb_meta(c).get("solution") and c["cell_type"] == "code"]


def unread_record(student: str, assignment: str, notebook: str, source: str, status: str, reason: str) -> dict:
    """The record of a submission that was not graded at all (refused, or the grader failed on it)."""
    parts = parts_of(source)
    return Record(student=student, assignment=assignment, notebook=notebook, score=0.0,
                  max_score=sum(p.points for p in parts), status=status, reason=reason,
                  parts=[p.__dict__ for p in parts]).__dict__


def _read_submission(data: bytes):
    if not data or not data.strip():
        return None, "the file is empty"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        return None, f"the file is not valid JSON ({e.__class__.__name__}: {str(e)[:80]})"
    if not isinstance(raw, dict) or raw.get("nbformat") != 4 or not isinstance(raw.get("cells"), list):
        return None, "the file is not a Jupyter notebook in format 4"
    try:
        nb = _normalize(raw)
    except (TypeError, ValueError, AttributeError, RecursionError) as e:
        return None, f"the notebook is malformed ({str(e)[:80]})"
    code = sum(c["cell_type"] == "code" for c in nb["cells"])
    if code > MAX_CODE_CELLS:
        return None, f"the notebook has {code} code cells; the grader runs at most {MAX_CODE_CELLS}"
    return nb, ""


#: nbgrader's cell metadata and the types its fields must have (a field of another type is dropped)
NBGRADER_FIELDS = {"grade_id": str, "grade": bool, "solution": bool, "locked": bool, "task": bool,
                   "points": (int, float), "schema_version": int, "checksum": str, "cell_type": str}


def _normalize(nb: dict) -> dict:
    """Cells as dicts with string sources and dict metadata (nbformat allows lists of lines); nbgrader's
    fields of the wrong type (a list as ``grade_id``) are dropped, so the cell is an ordinary one."""
    if not isinstance(nb.get("metadata", {}), dict):
        nb["metadata"] = {}
    for c in nb["cells"]:
        if not isinstance(c, dict) or c.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError(f"unknown cell {str(c)[:40]!r}")
        src = c.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            c["source"] = "".join(src)
        elif not isinstance(src, str):
            raise ValueError(f"a cell's source is {type(src).__name__}, not text")
        if not isinstance(c.get("metadata", {}), dict):
            c["metadata"] = {}
        c.setdefault("metadata", {})
        meta = c["metadata"].get("nbgrader", {})
        if not isinstance(meta, dict):
            meta = {}
        c["metadata"]["nbgrader"] = {k: v for k, v in meta.items() if k in NBGRADER_FIELDS
                                     and isinstance(v, NBGRADER_FIELDS[k])
                                     and not (k == "points" and (isinstance(v, bool) or v != v))}
        if c["cell_type"] == "code" and not isinstance(c.get("outputs", []), list):
            c["outputs"] = []
    return nb


def _plan(src, sub, flags: list[str], event):
    """The cells to run, in order: (kind, cell_id, code) with kind in setup/answer/free/tests/markdown.

    Locked cells and tests come from the source (edits are undone); answers are the submission's cells
    with the same id (the first, when duplicated); the student's other cells travel with the graded cell
    before them. Graded cells run in the source's order.
    """
    src_cells = {nb_meta(c)["grade_id"]: c for c in src["cells"] if nb_meta(c).get("grade_id")}
    spec = sub.get("metadata", {}).get("kernelspec")
    kernel = spec.get("name") if isinstance(spec, dict) else None
    if kernel != "python3":
        flags.append("kernel_renamed")  # graded with python3 anyway, as nbgrader does
    attached: dict[str | None, list] = {None: []}
    found: dict[str, object] = {}
    order: list[str] = []
    anchor = None
    for c in sub["cells"]:
        gid = nb_meta(c).get("grade_id")
        if gid in src_cells and gid not in found:
            found[gid] = c
            order.append(gid)
            anchor = gid
            attached[gid] = []
        elif gid in src_cells:
            flags.append(f"duplicate:{gid}")
            event("tampered", f"graded cell {gid} appears twice: only the first copy was used")
        else:
            attached[anchor].append(c)
    src_order = [g for g in src_cells if g in found]
    if order != src_order:
        flags.append("reordered")
    plan = [(_kind(c), None, c["source"], c) for c in attached[None]]
    for gid, sc in src_cells.items():
        m = nb_meta(sc)
        c = found.get(gid)
        if c is None:
            flags.append(f"missing:{gid}")
            event("cells_missing", f"graded cell {gid} was deleted" + (" (its tests were restored)"
                                                                     if m.get("grade") and not m.get("solution")
                                                                     else ""))
        if m.get("solution"):
            if c is not None:
                if nb_meta(c).get("points") != m.get("points") and m.get("grade"):
                    flags.append(f"points_edited:{gid}")
                    event("tampered", f"the points of {gid} were edited (restored from the source)")
                plan.append(("answer", gid, c["source"], c))
        elif m.get("grade"):  # tests: locked, restored from the source
            if c is not None:
                _check_locked(c, sc, gid, flags, event)
            plan.append(("tests", gid, sc["source"], sc))
        else:  # other locked cells (setup, prose)
            if c is not None and sc["cell_type"] == "code":
                _check_locked(c, sc, gid, flags, event)
            plan.append(("setup" if sc["cell_type"] == "code" else sc["cell_type"], gid, sc["source"], sc))
        for fc in attached.get(gid, []) if c is not None else []:
            plan.append((_kind(fc), None, fc["source"], fc))
    autograded = {"nbformat": 4, "nbformat_minor": 5, "metadata": src.get("metadata", {}), "cells": []}
    for kind, gid, code, cell in plan:
        new = json.loads(json.dumps(src_cells[gid] if kind == "tests" else cell))
        new["source"] = code
        if new["cell_type"] == "code":
            new["outputs"], new["execution_count"] = [], None
        autograded["cells"].append(new)
    return plan, autograded


def _kind(c: dict) -> str:
    return "free" if c["cell_type"] == "code" else c["cell_type"]


def _check_locked(c, sc, gid: str, flags: list[str], event) -> None:
    if strip_hidden(c["source"]).strip() != strip_hidden(sc["source"]).strip():
        flags.append(f"locked_edited:{gid}")
        event("tampered", f"the locked cell {gid} was edited (restored from the source)")
    if nb_meta(c).get("points") != nb_meta(sc).get("points"):
        flags.append(f"points_edited:{gid}")
        event("tampered", f"the points of {gid} were edited (restored from the source)")


def _execute(spec: dict, plan: list, parts: list[Part], limits: Limits, rec: Record, event) -> None:
    sandbox = Sandbox(limits=limits, enabled=spec.get("sandbox", True), cache=spec.get("cache"),
                      cache_writable=spec.get("cache_writable", False), uid=spec.get("uid"))
    indir = tempfile.mkdtemp(prefix="ag-in-")
    try:
        for name, data in spec.get("files", {}).items():
            dest = os.path.join(indir, name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(data)
        for root, dirs, files in os.walk(indir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        os.chmod(indir, 0o755)
        env = {"MINITORCH_EDU_GRADING": "1", "NBGRADER_EXECUTION": "autograde"}
        env.update(spec.get("env", {}))
        with Kernel(sandbox, indir, env) as k:
            k.start()
            key = secrets.token_hex(16)  # signs the guard's reports: a replaced guard cannot forge them
            pre = k.run(preamble(spec["source"], key), 60, keep_outputs=False)
            if pre.status != "ok":
                raise KernelStartError(f"the grader's preamble failed: {pre.ename} {pre.evalue}")
            if _run_notebook(k, plan, limits, rec, event, key) and k.alive():
                _run_tests(k, plan, parts, limits, rec, event, key)
            rec.exec_seconds = k.exec_seconds
    finally:
        shutil.rmtree(indir, ignore_errors=True)


def _run_notebook(k: Kernel, plan: list, limits: Limits, rec: Record, event, key: str) -> bool:
    """The notebook's own cells, visible tests only, within its wall-clock limit (`Limits.total_timeout`:
    when it is reached the running cell is interrupted and no later cell runs). Marks each planned cell
    that ran (``ran``); False when the tests cannot run (the kernel is gone, the environment failed)."""
    deadline = time.monotonic() + limits.total_timeout
    student_ran = False  # once student code ran, a failing setup cell may be its doing
    cell_no = 0
    cells = sum(kind not in ("markdown", "raw") for kind, *_r in plan)
    for kind, gid, code, cell in plan:
        if kind in ("markdown", "raw"):
            cell["ran"] = True
            continue
        cell_no += 1
        left = deadline - time.monotonic()
        if left <= 0:
            event("timed_out", _limit_reason(limits, cell_no, cells, interrupted=False))
            return True
        run_code = strip_hidden(code) if kind == "tests" else code
        at_limit = left <= limits.cell_timeout
        # after a setup cell the guard remembers the names it bound: asked in that cell's own reply
        # (evaluated after the cell, as a separate request would be), which saves a round trip
        nonce = secrets.token_hex(8) if kind == "setup" else None
        r = _run_cell(k, run_code, min(limits.cell_timeout, left), rec, event, cell_no, gid,
                      expr={"r": f"_ag_remember({nonce!r})"} if nonce else None,
                      limit_reason=_limit_reason(limits, cell_no, cells, interrupted=True) if at_limit else None)
        cell["outputs_run"] = r
        if r is None:
            return False
        cell["ran"] = not (r.status == "timeout" and at_limit)
        if kind == "setup" and r.status == "error" and not student_ran:
            event("environment_error", f"the chapter's setup cell (cell {cell_no}) failed before any student code "
                                       f"ran: {_first_lines(f'{r.ename}: {r.evalue}', 2)}")
            return False
        if r.status == "timeout" and at_limit:
            return True  # the notebook's limit: the cells after this one do not run
        if kind == "setup":
            got = r
            if r.status != "ok":  # a failed cell's reply carries no user_expressions: ask on its own
                got = k.run("", 30, keep_outputs=False, user_expressions={"r": f"_ag_remember({nonce!r})"})
            if verify(_expression(got, "r"), key, nonce) is None and "guard_broken" not in rec.flags:
                rec.flags.append("guard_broken")
                event("tampered", "the grader's guard in the kernel was replaced by the submission")
        if kind in ("answer", "free"):
            student_ran = True
    return True


def _limit_reason(limits: Limits, cell_no: int, cells: int, interrupted: bool) -> str:
    """Why the notebook stopped at its wall-clock limit, in words."""
    first = cell_no + 1 if interrupted else cell_no
    rest = f"cells {first}–{cells} did not run" if first < cells else (
        f"cell {first} did not run" if first == cells else "no cell after it")
    where = f"in cell {cell_no} (interrupted)" if interrupted else f"before cell {cell_no}"
    return (f"the notebook's time limit ({limits.total_timeout:g} s) was reached {where}; {rest}; "
            "scored on what ran")


def _run_tests(k: Kernel, plan: list, parts: list[Part], limits: Limits, rec: Record, event, key: str) -> None:
    """The audit, then every tests cell with its hidden tests, within the tests' own time limit."""
    # the tests, with the hidden ones, reach the kernel only now
    nonce = secrets.token_hex(8)
    # the verdicts travel in execute_reply's user_expressions, not on stdout (which the submission
    # can flood or fake); the guard's report is signed with the preamble's key
    audit = k.run("", 60, keep_outputs=False, user_expressions={"a": f"_ag_audit({nonce!r})"})
    changed = verify(_expression(audit, "a"), key, nonce)
    if changed is None:
        if "guard_broken" not in rec.flags:
            rec.flags.append("guard_broken")
        event("tampered", "the grader's guard in the kernel was replaced by the submission")
    elif changed:
        rec.flags.extend(f"monkeypatch:{c}" for c in changed)
        event("tampered", f"the submission replaced {', '.join(changed[:3])} (restored before the tests)")
    by_id = {p.cell_id: p for p in parts}
    deadline = time.monotonic() + limits.tests_timeout
    reached = True
    for kind, gid, code, cell in plan:
        reached = reached and bool(cell.get("ran"))
        if kind != "tests":
            continue
        p = by_id[gid]
        left = deadline - time.monotonic()
        if not reached:
            p.message = "not run: the notebook stopped before this part"
            continue
        if left <= 0:
            p.message = f"not run: the tests' time limit ({limits.tests_timeout:g} s) was reached"
            continue
        mark = secrets.token_hex(8)
        r = _run_cell(k, code, min(limits.cell_timeout, left), rec, event, None, gid, keep=False,
                      expr={"m": repr(mark)})
        if r is None:
            return
        p.passed = r.status == "ok" and _expression(r, "m") == mark
        if not p.passed:
            p.message = _first_lines(f"{r.ename}: {r.evalue}" if r.ename else "the tests did not finish")


def _run_cell(k: Kernel, code: str, timeout: float, rec: Record, event, cell_no, gid, keep: bool = True,
              expr: dict | None = None, limit_reason: str | None = None):
    """Run one cell and turn what happened into events; None when the kernel is gone. ``limit_reason``:
    the timeout is the notebook's limit, and that is the reason a timeout gives."""
    r = k.run(code, timeout, keep_outputs=keep, user_expressions=expr)
    k.exec_seconds = getattr(k, "exec_seconds", 0.0) + r.seconds
    where = f"cell {cell_no}" if cell_no else f"the tests of {gid}"
    if r.truncated and "output_truncated" not in rec.flags:
        rec.flags.append("output_truncated")
    if r.status == "died":
        event("kernel_died", f"{k.death()} in {where}")
        return None
    if r.status == "timeout":
        if limit_reason:
            event("timed_out", limit_reason)
        else:
            event("timed_out", f"timed out in {where} after {timeout:.0f} s")
        if r.ename != "TimeoutError":  # it ignored the interrupt: no more cells can run
            return None
    if r.ename == "MemoryError":
        event("out_of_memory", f"ran out of memory in {where} (limit {k.sandbox.limits.memory_bytes >> 20} MiB)")
    return r


def _expression(r, name: str):
    """The value of a user expression (a str literal's repr, evaluated safely), or None."""
    import ast

    e = r.user_expressions.get(name) if r is not None else None
    if not isinstance(e, dict) or e.get("status") != "ok":
        return None
    try:
        v = ast.literal_eval(str(e.get("data", {}).get("text/plain", "")))
    except (ValueError, SyntaxError):
        return None
    return v if isinstance(v, str) else None


def _autograded_notebook(nb, plan: list, parts: list[Part]):
    """The notebook nbgrader's feedback reads: the cells as run, with their outputs; a tests cell shows
    its visible run and the verdict of the full tests (the exception's message only, never source)."""
    by_id = {p.cell_id: p for p in parts}
    for cell, (kind, gid, _code, planned) in zip(nb["cells"], plan):
        r = planned.pop("outputs_run", None)
        if cell["cell_type"] != "code":
            continue
        cell["outputs"] = list(r.outputs) if r is not None else []
        if kind == "tests":
            p = by_id[gid]
            cell["outputs"] = [o for o in cell["outputs"] if o["output_type"] != "error"]
            if not p.passed:
                ename, _, evalue = (p.message or "the tests did not pass").partition(": ")
                cell["outputs"].append({"output_type": "error", "ename": ename if evalue else "AssertionError",
                                        "evalue": evalue or ename, "traceback": [p.message]})
    return nb
