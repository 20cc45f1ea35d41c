"""Where one submission's grading time goes, stage by stage (the companion of bench_autograder.py).

    .venv/bin/python -W ignore scripts/profile_autograder.py [N] [--cprofile]

Grades N submissions of the fixture chapter (half right, half with a wrong `scale`) one after another in
this process, as one pool worker does, and prints per submission: the wall time and this process's CPU
time of each stage (kernel start, the guard's preamble, cells, the guard's own requests, shutdown, the
job's parsing, planning, static check and scrubbing), then the kernel's CPU time spent in each step, read
inside the kernel with ``getrusage`` (one extra request per step, left out of the stages). Process CPU
time is the figure to compare on a loaded machine; wall time there mostly measures the other processes.
"""

from __future__ import annotations

import ast
import cProfile
import json
import pstats
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)  # see autograder.cli
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "autograder"))

import fixture as F  # noqa: E402

from autograder import job as J  # noqa: E402
from autograder import kernel as K  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402

STAGES: dict[str, list[float]] = {}  # stage -> [wall, cpu, calls] summed over the submissions
KERNEL_CPU: dict[str, list[float]] = {}  # "NN step" -> the kernel's CPU in that step, one value per submission


def _add(stage: str, wall: float, cpu: float) -> None:
    s = STAGES.setdefault(stage, [0.0, 0.0, 0])
    s[0], s[1], s[2] = s[0] + wall, s[1] + cpu, s[2] + 1


def _timed(fn, stage: str):
    def wrapper(*a, **kw):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            _add(stage, time.perf_counter() - w0, time.process_time() - c0)
    return wrapper


def _kernel_cpu(k) -> float | None:
    r = RUN(k, "", 10, keep_outputs=False, user_expressions={"u": "__import__('resource').getrusage(0)[:2]"})
    text = r.user_expressions.get("u", {}).get("data", {}).get("text/plain")
    return sum(ast.literal_eval(text)) if text else None


def _step(k, label: str) -> None:
    now = _kernel_cpu(k)
    if now is None:
        return
    k._prof_step = getattr(k, "_prof_step", 0) + 1
    KERNEL_CPU.setdefault(f"{k._prof_step:02d} {label}", []).append(now - getattr(k, "_prof_cpu", 0.0))
    k._prof_cpu = now


def _kind(code: str, exprs: dict | None) -> str:
    text = str(exprs or "")
    if "_ag_install" in code:
        return "guard: preamble"
    if "_ag_audit" in text:
        return "guard: audit"
    if "_ag_remember" in text and not code:
        return "guard: remember"
    first = (code.strip().splitlines() or [""])[0][:40]
    return ("tests (hidden): " if "HIDDEN" in code else "cell: ") + first


START, RUN, SHUTDOWN = K.Kernel.start, K.Kernel.run, K.Kernel.shutdown


def start(self, *a, **kw):
    t = _timed(START, "kernel start")(self, *a, **kw)
    _step(self, "kernel start")
    return t


def run(self, code, timeout, **kw):
    kind = _kind(code, kw.get("user_expressions"))
    r = _timed(RUN, "run: " + kind.split(":")[0])(self, code, timeout, **kw)
    if self.alive():
        _step(self, kind)
    return r


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 6))
    K.Kernel.start, K.Kernel.run = start, run
    K.Kernel.shutdown = _timed(SHUTDOWN, "kernel shutdown")
    for name in ("prepare", "check_solutions", "hidden_lines", "scrub_record", "scrub_notebook",
                 "_autograded_notebook"):
        setattr(J, name, _timed(getattr(J, name), "job: " + name.strip("_")))
    source = json.dumps(F.source_notebook())
    specs = [{"student": f"s{i}", "assignment": F.SLUG, "notebook": F.SLUG, "source": source,
              "submission": F.dumps(F.with_answers() if i % 2 == 0 else
                                    F.with_answers(scale="def scale(a, k):\n    return a\n")),
              "files": {}, "limits": asdict(Limits(threads=1)), "sandbox": True, "sha256": ""} for i in range(n)]
    J.grade_one(specs[0])  # this process's own first-time costs are not a submission's
    STAGES.clear()
    KERNEL_CPU.clear()
    profile = cProfile.Profile() if "--cprofile" in sys.argv else None
    w0, c0 = time.perf_counter(), time.process_time()
    records = []
    for spec in specs:
        if profile:
            profile.enable()
        records.append(J.grade_one(spec)["record"])
        if profile:
            profile.disable()
    wall, cpu = (time.perf_counter() - w0) / n, (time.process_time() - c0) / n
    over = statistics.mean(r["seconds"] - r["exec_seconds"] for r in records)
    kernel = sum(statistics.mean(v) for v in KERNEL_CPU.values())
    print(f"{n} submissions: per submission {wall:.3f} s wall (overhead as the record counts it {over:.3f} s), "
          f"grader CPU {cpu:.3f} s, kernel CPU {kernel:.3f} s (without the probes' own requests)")
    print(f"{'stage':32s} {'calls':>5s} {'wall s':>7s} {'grader CPU s':>12s}   (per submission)")
    for stage, (w, c, calls) in sorted(STAGES.items(), key=lambda kv: -kv[1][0]):
        print(f"{stage:32s} {calls / n:5.1f} {w / n:7.3f} {c / n:12.4f}")
    print(f"{'kernel step':56s} {'kernel CPU s (median)':>21s}")
    for step, values in sorted(KERNEL_CPU.items()):
        print(f"{step:56s} {statistics.median(values):21.4f}")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
