"""``python -m autograder VERB``: one verb per step of an instructor's pipeline (and `check` for learners)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from .sandbox import Limits


def _course(args) -> Path:
    return Path(args.course).resolve()


def _limits(args) -> Limits:
    workers = max(1, getattr(args, "workers", 1) or 1)
    return Limits(cell_timeout=args.timeout, memory_bytes=int(args.memory * (1 << 30)),
                  total_timeout=getattr(args, "notebook_timeout", 600.0),
                  threads=max(1, (os.cpu_count() or 1) // workers))


#: `grade`'s exit status when the run itself did not happen (the chapter is being graded, a zip over limits)
EXIT_REFUSED = 125


def _stop(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: the pool's workers and their kernels are killed on the way out


def cmd_grade(args) -> int:
    """Exit status: how many submissions could not be graded (refused, invalid_notebook,
    environment_error; at most 100), 0 when every one was; `EXIT_REFUSED` when nothing was graded."""
    from .batch import GradeRefusedError, grade, not_graded, table

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    try:
        records = grade(_course(args), args.chapter, Path(args.submissions), workers=args.workers,
                        db_url=args.gradebook, scheduler=args.scheduler,
                        json_path=Path(args.json) if args.json else None, limits=_limits(args),
                        sandbox=not args.no_sandbox, force=args.force, kernel_cache=not args.no_kernel_cache,
                        wait=args.wait)
    except GradeRefusedError as e:
        print(f"grade: {e}", file=sys.stderr)
        return EXIT_REFUSED
    print(table(records))
    bad = not_graded(records)
    if bad:
        counts = Counter(r["status"] for r in bad)
        print(f"{len(bad)} of {len(records)} submissions could not be graded ("
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")", file=sys.stderr)
    return min(len(bad), 100)


def cmd_build(args) -> int:
    from .build import build

    course = _course(args)
    chapters = args.chapters or sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
    return 0 if build(course, chapters, args.gradebook, _limits(args), not args.no_sandbox) else 1


def cmd_export(args) -> int:
    from .export import export
    from .feedback import chapter_hidden_lines, chapter_records

    records = chapter_records(_course(args), args.chapter, Path(args.records) if args.records else None)
    written = export(records, Path(args.to), chapter_hidden_lines(_course(args), args.chapter))
    print(f"export {args.chapter}: {len(records)} records -> {len(written)} files under {args.to}")
    return 0


def cmd_check(args) -> int:
    from .check import check

    ok, lines = check(Path(args.notebook), timeout=args.timeout)
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_feedback(args) -> int:
    from .feedback import feedback

    written = feedback(_course(args), args.chapter, Path(args.records) if args.records else None)
    print(f"feedback {args.chapter}: {len(written)} pages under {_course(args) / 'feedback'}")
    return 0


def cmd_report(args) -> int:
    from .feedback import chapter_records
    from .report import page

    records = chapter_records(_course(args), args.chapter, Path(args.records) if args.records else None)
    out = Path(args.to or _course(args) / "reports" / f"{args.chapter}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(args.chapter, records))
    print(f"report {args.chapter}: {len(records)} submissions -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # jsonschema (under nbformat and nbgrader) imports rfc3987_syntax, which builds a grammar at import:
    # about 11 s here, for a format check notebooks never use; without it jsonschema skips that check
    sys.modules.setdefault("rfc3987_syntax", None)
    p = argparse.ArgumentParser(prog="autograder", description=__doc__)
    p.add_argument("--course", default=os.environ.get("AUTOGRADER_COURSE", "course"),
                   help="the nbgrader course folder (default: ./course)")
    sub = p.add_subparsers(dest="verb", required=True)

    def common(sp, workers: bool = False):
        sp.add_argument("--gradebook", help="nbgrader database URL (default sqlite:///COURSE/gradebook.db)")
        sp.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
        sp.add_argument("--memory", type=float, default=6.0, help="GiB of address space per kernel (default 6)")
        sp.add_argument("--no-sandbox", action="store_true", help="run kernels without bubblewrap (trusted code)")
        if workers:
            sp.add_argument("--workers", type=int, default=os.cpu_count() or 1)

    b = sub.add_parser("build", help="check the source notebooks, then generate the student release")
    b.add_argument("chapters", nargs="*")
    common(b)
    b.set_defaults(fn=cmd_build)

    g = sub.add_parser("grade", help="grade a chapter's submissions (sandboxed, in parallel)")
    g.add_argument("chapter")
    g.add_argument("submissions", help="submitted/<student>/<chapter>/*.ipynb, a folder of <student>.ipynb, or a zip")
    g.add_argument("--json", help="write one record per submission to this file")
    g.add_argument("--scheduler", help="a Dask scheduler address: run the jobs on its workers")
    g.add_argument("--force", action="store_true", help="regrade submissions already graded")
    g.add_argument("--wait", action="store_true",
                   help="wait for another `grade` of this chapter to finish (default: refuse to start)")
    g.add_argument("--notebook-timeout", type=float, default=600.0,
                   help="wall seconds for a notebook's own cells (default 600); its tests get 120 more")
    g.add_argument("--no-kernel-cache", action="store_true",
                   help="compile kernels in every submission (default: once per batch, from the release)")
    common(g, workers=True)
    g.set_defaults(fn=cmd_grade)

    e = sub.add_parser("export", help="grades as nbgrader CSV, Gradescope and PrairieLearn results.json")
    e.add_argument("chapter")
    e.add_argument("--records", help="a `grade --json` file (default: what `grade` recorded in the course)")
    e.add_argument("--to", default="export", help="output folder (default ./export)")
    e.set_defaults(fn=cmd_export)

    c = sub.add_parser("check", help="(learners) run a notebook and show its visible tests' results and hints")
    c.add_argument("notebook")
    c.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    c.set_defaults(fn=cmd_check)

    f = sub.add_parser("feedback", help="per-student HTML feedback (what failed and why; no hidden tests)")
    f.add_argument("chapter")
    f.add_argument("--records", help="a `grade --json` file (default: what `grade` recorded in the course)")
    f.set_defaults(fn=cmd_feedback)

    r = sub.add_parser("report", help="class report: score distribution, pass rate per part, common failures")
    r.add_argument("chapter")
    r.add_argument("--records", help="a `grade --json` file (default: what `grade` recorded in the course)")
    r.add_argument("--to", help="the HTML file (default COURSE/reports/CHAPTER.html)")
    r.set_defaults(fn=cmd_report)

    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
