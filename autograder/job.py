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

from .guard import preamble
from .kernel import Kernel, KernelStartError
from .sandbox import Limits, Sandbox
from .static import check_solutions

#: every status a record can have, most severe first (a record's status is the most severe event)
STATUSES = (
    "invalid_notebook",  # not a readable notebook (empty, not JSON, not nbformat 4): nothing ran, score 0
    "kernel_died",  # the kernel process ended (os._exit, exit(), a segfault, a resource limit): score 0
    "timed_out",  # a cell ran past its time limit and was interrupted; the rest still ran and was scored
    "out_of_memory",  # a cell hit the memory limit (MemoryError); the rest still ran and was scored
    "tampered",  # locked cells or points edited, graded cells duplicated, test helpers patched: restored, flagged
    "cells_missing",  # graded cells deleted: tests restored from the source, missing answers score 0
    "graded",  # ran to the end; every part scored
)

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


def _first_lines(text: str, n: int = 6) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[:n])


def grade_one(spec: dict) -> dict:
    """Grade one submission. ``spec``: student, assignment, notebook, source (notebook JSON text),
    submission (bytes), files ({name: bytes} copied next to it), limits (Limits fields), sandbox (bool).

    Returns {"record": Record as dict, "notebook": autograded notebook JSON text or None}.
    """
    t0 = time.perf_counter()
    src = _normalize(json.loads(spec["source"]))
    parts = [Part(nb_meta(c)["grade_id"], float(nb_meta(c).get("points", 0))) for c in src["cells"]
             if nb_meta(c).get("grade") and not nb_meta(c).get("solution") and c["cell_type"] == "code"]
    rec = Record(student=spec["student"], assignment=spec["assignment"], notebook=spec["notebook"],
                 score=0.0, max_score=sum(p.points for p in parts), status="graded", reason="", flags=[],
                 sha256=spec.get("sha256", ""))
    events: dict[str, str] = {}  # status → first reason

    def event(status: str, reason: str) -> None:
        events.setdefault(status, reason)

    sub, why = _read_submission(spec["submission"])
    out_nb = None
    if sub is None:
        event("invalid_notebook", why)
    else:
        plan, autograded = _plan(src, sub, rec.flags, event)
        limits = Limits(**spec.get("limits", {}))
        try:
            _execute(spec, plan, parts, limits, rec, event)
        except KernelStartError as e:
            event("kernel_died", f"the kernel did not start: {e}")
        check_solutions(plan, parts, rec.flags)  # a solution naming its part's reference scores 0, flagged
        out_nb = _autograded_notebook(autograded, plan, parts)
    for p in parts:
        p.score = p.points if p.passed else 0.0
    status = next((s for s in STATUSES if s in events), "graded")
    if status in ("invalid_notebook", "kernel_died"):
        for p in parts:
            p.score, p.passed = 0.0, False
    rec.status = status
    failed = [p.cell_id for p in parts if not p.passed]
    rec.reason = events.get(status) or (f"{len(parts) - len(failed)} of {len(parts)} parts pass"
                                        + (f"; failing: {', '.join(failed)}" if failed else ""))
    rec.score = sum(p.score for p in parts)
    rec.parts = [p.__dict__ for p in parts]
    rec.seconds = time.perf_counter() - t0
    return {"record": rec.__dict__, "notebook": json.dumps(out_nb, indent=1) if out_nb is not None else None}


def _read_submission(data: bytes):
    if not data or not data.strip():
        return None, "the file is empty"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"the file is not valid JSON ({e.__class__.__name__}: {str(e)[:80]})"
    if not isinstance(raw, dict) or raw.get("nbformat") != 4 or not isinstance(raw.get("cells"), list):
        return None, "the file is not a Jupyter notebook in format 4"
    try:
        nb = _normalize(raw)
    except (TypeError, ValueError, AttributeError) as e:
        return None, f"the notebook is malformed ({str(e)[:80]})"
    return nb, ""


def _normalize(nb: dict) -> dict:
    """Cells as dicts with string sources and dict metadata (nbformat allows lists of lines)."""
    if not isinstance(nb.get("metadata", {}), dict):
        nb["metadata"] = {}
    for c in nb["cells"]:
        if not isinstance(c, dict) or c.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError(f"unknown cell {str(c)[:40]!r}")
        src = c.get("source", "")
        c["source"] = "".join(map(str, src)) if isinstance(src, list) else str(src)
        if not isinstance(c.get("metadata", {}), dict):
            c["metadata"] = {}
        c.setdefault("metadata", {})
        if not isinstance(c["metadata"].get("nbgrader", {}), dict):
            c["metadata"]["nbgrader"] = {}
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
            deadline = time.monotonic() + limits.total_timeout
            pre = k.run(preamble(spec["source"]), 60, keep_outputs=False)
            if pre.status != "ok":
                raise KernelStartError(f"the grader's preamble failed: {pre.ename} {pre.evalue}")
            seen_free = False
            cell_no = 0
            for kind, gid, code, cell in plan:
                if kind in ("markdown", "raw"):
                    continue
                cell_no += 1
                run_code = strip_hidden(code) if kind == "tests" else code
                left = deadline - time.monotonic()
                r = _run_cell(k, run_code, min(limits.cell_timeout, max(left, 1)), rec, event, cell_no, gid)
                cell["outputs_run"] = r
                if r is None:
                    return
                if kind == "setup" and not seen_free:
                    k.run("_ag_remember()", 30, keep_outputs=False)
                if kind in ("answer", "free"):
                    seen_free = True
            # the tests, with the hidden ones, reach the kernel only now
            nonce = secrets.token_hex(8)
            # the verdicts travel in execute_reply's user_expressions, not on stdout (which the submission
            # can flood or fake)
            audit = k.run("", 60, keep_outputs=False, user_expressions={"a": f"_ag_audit({nonce!r})"})
            report = _audit_report(_expression(audit, "a"), nonce)
            if report is None:
                rec.flags.append("guard_broken")
                event("tampered", "the grader's guard in the kernel was replaced by the submission")
            elif report["changed"]:
                rec.flags.extend(f"monkeypatch:{c}" for c in report["changed"])
                event("tampered", f"the submission replaced {', '.join(report['changed'][:3])} "
                                  "(restored before the tests)")
            by_id = {p.cell_id: p for p in parts}
            for kind, gid, code, _cell in plan:
                if kind != "tests":
                    continue
                cell_no += 1
                mark = secrets.token_hex(8)
                left = deadline - time.monotonic()
                r = _run_cell(k, code, min(limits.cell_timeout, max(left, 1)), rec, event, None, gid, keep=False,
                              expr={"m": repr(mark)})
                if r is None:
                    return
                p = by_id[gid]
                p.passed = r.status == "ok" and _expression(r, "m") == mark
                if not p.passed:
                    p.message = _first_lines(f"{r.ename}: {r.evalue}" if r.ename else "the tests did not finish")
            rec.exec_seconds = k.exec_seconds
    finally:
        shutil.rmtree(indir, ignore_errors=True)


def _run_cell(k: Kernel, code: str, timeout: float, rec: Record, event, cell_no, gid, keep: bool = True,
              expr: dict | None = None):
    """Run one cell and turn what happened into events; None when the kernel is gone."""
    r = k.run(code, timeout, keep_outputs=keep, user_expressions=expr)
    k.exec_seconds = getattr(k, "exec_seconds", 0.0) + r.seconds
    where = f"cell {cell_no}" if cell_no else f"the tests of {gid}"
    if r.truncated and "output_truncated" not in rec.flags:
        rec.flags.append("output_truncated")
    if r.status == "died":
        event("kernel_died", f"{k.death()} in {where}")
        return None
    if r.status == "timeout":
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


def _audit_report(text, nonce: str):
    try:
        rep = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    if isinstance(rep, dict) and rep.get("nonce") == nonce and isinstance(rep.get("changed"), list):
        return {"changed": [str(c) for c in rep["changed"]]}
    return None


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
