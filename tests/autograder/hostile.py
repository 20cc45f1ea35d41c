"""The class the autograder's tests grade: correct, partly wrong, stub-only and every hostile case.

Each case: name → (submission bytes, expected status, expected score, flags that must be present).
``course`` is the absolute path of the course folder on the host (hostile code tries to reach it),
``port`` a host port listening on 127.0.0.1 (hostile code tries to connect).
"""

from __future__ import annotations

import copy
import json

import fixture as F

WRONG_SCALE = "def scale(a, k):\n    return np.abs(np.asarray(a, dtype=float)) * abs(k)\n"
SOL_ADD = "def add(a, b):\n    return [x + y for x, y in zip(a, b)]\n"
SOL_SCALE = "def scale(a, k):\n    return np.asarray(a, dtype=float) * k\n"


def _cells_by_id(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}


def _edit(fn):
    nb = F.with_answers()
    fn(nb)
    return F.dumps(nb)


def _delete(nb):
    ids = _cells_by_id(nb)
    for gid in sorted(("scale", "scale_tests"), key=lambda g: -ids[g]):
        del nb.cells[ids[gid]]


def _duplicate(nb):
    ids = _cells_by_id(nb)
    dup = copy.deepcopy(nb.cells[ids["add"]])
    dup.source = "def add(a, b):\n    return [0]\n"
    nb.cells.insert(ids["add_tests"] + 1, dup)


def _reorder(nb):
    ids = _cells_by_id(nb)
    scale = [nb.cells[ids["scale"]], nb.cells[ids["scale_tests"]]]
    rest = [c for i, c in enumerate(nb.cells) if i not in (ids["scale"], ids["scale_tests"])]
    nb.cells = rest[:2] + scale + rest[2:]


def _edit_locked(nb):
    ids = _cells_by_id(nb)
    nb.cells[ids["scale_tests"]].source = "pass\n"
    nb.cells[ids["scale_tests"]].metadata["nbgrader"]["points"] = 100


def _kernel(nb):
    nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}


def _free(code: str):
    def fn(nb):
        ids = _cells_by_id(nb)
        nb.cells.insert(ids["add"] + 1, F._cell("code", code))
    return fn


def cases(course: str, port: int) -> dict[str, tuple[bytes, str, float, set[str]]]:
    outside = json.dumps([f"{course}/pwned", "/tmp/pwned_by_student", "../../pwned", "~/../pwned"])
    return {
        "correct": (F.dumps(F.with_answers()), "graded", 5.0, set()),
        "partly_wrong": (F.dumps(F.with_answers(scale=WRONG_SCALE)), "graded", 2.0, set()),
        "stub_only": (F.dumps(F.release_notebook()), "graded", 0.0, set()),
        "infinite_loop": (F.dumps(F.with_answers(add="while True:\n    pass\n")), "timed_out", 3.0, set()),
        "ignores_interrupt": (F.dumps(F.with_answers(
            add="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n")),
            "timed_out", 0.0, set()),
        "huge_allocation": (F.dumps(F.with_answers(scale="big = np.ones(20 * 2**30 // 8)\n" + SOL_SCALE)),
                            "out_of_memory", 2.0, set()),
        "os_exit": (F.dumps(F.with_answers(add="import os\nos._exit(0)\n")), "kernel_died", 0.0, set()),
        "sys_exit": (F.dumps(F.with_answers(add="import sys\nsys.exit(1)\n" + SOL_ADD)), "graded", 3.0, set()),
        "segfault": (F.dumps(F.with_answers(add="import ctypes\nctypes.string_at(0)\n")), "kernel_died", 0.0, set()),
        "deleted_cells": (_edit(_delete), "cells_missing", 2.0, {"missing:scale", "missing:scale_tests"}),
        "duplicated_cell": (_edit(_duplicate), "tampered", 5.0, {"duplicate:add"}),
        "reordered_cells": (_edit(_reorder), "graded", 5.0, {"reordered"}),
        "edited_locked_cell": (F.dumps(_edited_locked_wrong()), "tampered", 2.0,
                               {"locked_edited:scale_tests", "points_edited:scale_tests"}),
        "invalid_json": (b'{"cells": [', "invalid_notebook", 0.0, set()),
        "empty_file": (b"", "invalid_notebook", 0.0, set()),
        "wrong_kernel": (_edit(_kernel), "graded", 5.0, {"kernel_renamed"}),
        "huge_output": (_edit(_free("for _ in range(100):\n    print('x' * 1_000_000)\n")), "graded", 5.0,
                        {"output_truncated"}),
        "forks_left_running": (_edit(_free(
            "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        os.execv('/bin/sleep', ['sleep', '987654'])\n")), "graded", 5.0, set()),
        "writes_outside": (_edit(_free(
            f"import os\nfor p in {outside}:\n    try:\n        open(os.path.expanduser(p), 'w').write('x')\n"
            "    except OSError:\n        pass\n")), "graded", 5.0, set()),
        "reads_solutions": (F.dumps(F.with_answers(scale=(
            "import glob, json\nfound = []\n"
            "for p in " + _walk("ipynb") + " + glob.glob('" + course + "/**/*.ipynb', recursive=True):\n"
            "    try:\n        t = open(p).read()\n    except OSError:\n        continue\n"
            "    if 'BEGIN SOLUTION' in t:\n        found.append(p)\n"
            "def scale(a, k):\n    if not found:\n        raise NotImplementedError()\n"
            "    return np.asarray(a, dtype=float) * k\n"))), "graded", 2.0, set()),
        "rewrites_db_files": (_edit(_free(
            "import glob\nfor p in " + _walk("db") + " + glob.glob('" + course + "/*.db'):\n"
            "    try:\n        open(p, 'w').write('')\n    except OSError:\n        pass\n")), "graded", 5.0, set()),
        "network": (_edit(_free(
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')\n"
            "except OSError:\n    pass\n")), "graded", 5.0, set()),
        "patches_allclose": (F.dumps(F.with_answers(
            add="np.allclose = lambda *a, **k: True\n"
                "def add(a, b):\n    return [4, 6] if a == [1, 2] else [0] * len(a)\n")),
            "tampered", 3.0, {"monkeypatch:numpy.allclose"}),
        "patches_numpy_testing": (F.dumps(F.with_answers(
            scale="import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n" + WRONG_SCALE)),
            "tampered", 2.0, {"monkeypatch:numpy.testing.assert_allclose"}),
        "rebinds_test_helper": (F.dumps(F.with_answers(
            scale="class _Fake:\n    def assert_allclose(self, *a, **k):\n        pass\nnpt = _Fake()\n"
                  + WRONG_SCALE)),
            "tampered", 2.0, {"monkeypatch:rebound npt"}),
    }


def _walk(ext: str) -> str:
    """Python source: every *.ext under the places a course, a gradebook or a home could be."""
    roots = ("/work", "/root", "/home", "/srv", "/tmp")
    return f"[q for r in {roots!r} for q in glob.glob(r + '/**/*.{ext}', recursive=True)]"


def _edited_locked_wrong():
    nb = F.with_answers(scale=WRONG_SCALE)
    _edit_locked(nb)
    return nb
