"""Time `grade` on 40 submissions of the fixture chapter with 1 and 2 workers.

    .venv/bin/python scripts/bench_autograder.py [N]

Prints the wall time of each run, the speed-up, and the per-submission overhead: a job's wall time
minus the time its cells took to execute (kernel start, sandbox, guard, shutdown), averaged.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)  # see autograder.cli
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "autograder"))

import fixture as F  # noqa: E402
import nbformat  # noqa: E402

from autograder.batch import ensure_assignment, grade  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    root = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    subs = root / "subs"
    subs.mkdir()
    for i in range(n):
        nb = F.with_answers() if i % 2 == 0 else F.with_answers(scale="def scale(a, k):\n    return a\n")
        (subs / f"s{i:03d}.ipynb").write_bytes(F.dumps(nb))
    times = {}
    for workers in (1, 2):
        course = root / f"course{workers}"
        (course / "source" / F.SLUG).mkdir(parents=True)
        nbformat.write(F.source_notebook(), course / "source" / F.SLUG / f"{F.SLUG}.ipynb")
        ensure_assignment(course, F.SLUG, None)  # the release is not part of the timing
        t0, cpu0 = time.perf_counter(), time.process_time()
        recs = grade(course, F.SLUG, subs, workers=workers, db_url=None, scheduler=None, json_path=None,
                     limits=Limits(threads=1), sandbox=True, force=True, quiet=True)
        times[workers] = time.perf_counter() - t0
        main_cpu = time.process_time() - cpu0
        over = sum(r["seconds"] - r["exec_seconds"] for r in recs) / len(recs)
        ex = sum(r["exec_seconds"] for r in recs) / len(recs)
        print(f"{workers} worker(s): {n} submissions in {times[workers]:.1f} s; per submission: "
              f"cells {ex:.2f} s, overhead {over:.2f} s; scores {sorted({r['score'] for r in recs})}; "
              f"the coordinating process used {main_cpu:.1f} s of CPU")
    print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
