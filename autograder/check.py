"""`check NOTEBOOK` for learners: run the notebook as it is, then say per graded tests cell whether its
visible checks pass, with the failure message and its hint (the same text the in-notebook self-check
prints; the messages come from ``minitorch_edu.testing``).

It runs on the learner's own machine and code, so a plain kernel (nbclient) is enough: no sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path

from .job import _read_submission, nb_meta
from .kernel import SEGFAULT_HINT


def _failure(cell) -> str | None:
    """The error a cell's run ended with, as ``Name: message`` (no traceback: the message says it all)."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out['ename']}: {out['evalue']}".rstrip(": ")
    return None


def check(path: Path, timeout: float = 60.0) -> tuple[bool, list[str]]:
    """Run the notebook in a fresh kernel in its own folder; returns (every visible test passes, lines)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return False, [f"{path}: cannot be read ({e.strerror or e})"]
    sub, why = _read_submission(data)
    if sub is None:
        return False, [f"{path}: {why}"]
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # noqa: BLE001 - jsonschema's errors are pages long: one line says enough
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        return False, [f"{path}: not a valid Jupyter notebook ({first[:160]}); "
                       "open it in Jupyter and save it again, or fetch a fresh copy"]
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    stopped = None
    # a program runs this notebook: its widget cells draw the default picture, since nbclient can stall
    # after a widget cell until the cell timeout (minitorch_edu.course.widgets_live)
    headless = os.environ.get("MINITORCH_EDU_HEADLESS")
    os.environ["MINITORCH_EDU_HEADLESS"] = "1"  # the kernel inherits this process's environment
    try:
        client.execute()
    except CellTimeoutError:
        stopped = f"a cell ran longer than {timeout:g} s; the cells after it did not run"
    except DeadKernelError:
        stopped = f"the kernel died; the cells after it did not run (if it crashed: {SEGFAULT_HINT})"
    finally:
        if headless is None:
            os.environ.pop("MINITORCH_EDU_HEADLESS", None)
        else:
            os.environ["MINITORCH_EDU_HEADLESS"] = headless
    lines, ok = [], True
    for c in nb.cells:
        m = nb_meta(c)
        if c.cell_type != "code" or not m.get("grade") or m.get("solution"):
            continue
        gid, ran = m.get("grade_id", "?"), c.get("execution_count") is not None
        msg = _failure(c) if ran else (stopped or "not run")
        if ran and msg is None:
            lines.append(f"pass  {gid}")
        else:
            ok = False
            lines.append(f"FAIL  {gid}: " + msg.replace("\n", "\n      "))
    if not lines:
        return False, [f"{path}: no graded tests cells (is this a course notebook?)"]
    passed = sum(ln.startswith("pass") for ln in lines)
    lines.append(f"{passed} of {len(lines)} tests cells pass" + (f" ({stopped})" if stopped else ""))
    return ok, lines
