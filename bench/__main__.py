"""Command line: `python -m bench [--device cpu|cuda] [--quick] [--json PATH] [--only SUBSTRING]`,
or `python -m bench --compare python,numba[,NAME...] [--size N]` for backends side by side."""

from __future__ import annotations

import argparse
import sys

from . import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="which table to run")
    parser.add_argument("--quick", action="store_true", help="few repeats: a fast smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    parser.add_argument("--only", metavar="TEXT", help="run only workloads whose name contains TEXT")
    parser.add_argument("--compare", metavar="NAMES", help="time these backends (comma-separated) side by side")
    parser.add_argument("--size", type=int, default=256, help="operand size for --compare (N x N)")
    args = parser.parse_args(argv)

    if args.compare:
        from . import backends

        results = backends.compare(args.compare.split(","), size=args.size, repeats=3 if args.quick else 7)
        print(backends.table(results))
        return 1 if any(r.error for r in results) else 0

    repeats = 5 if args.quick else 15
    if args.device == "cuda":
        from . import gpu

        problem = gpu.unavailable_reason()
        if problem:
            print(f"bench: cannot run the GPU table: {problem}", file=sys.stderr)
            return 2
        env = report.environment(device="cuda")
        rows = gpu.run(repeats=repeats, only=args.only)
    else:
        from . import cpu

        env = report.environment(device="cpu")
        rows = cpu.run(repeats=repeats, only=args.only)
    print(report.header(env))
    print(report.table(rows))
    if args.json:
        report.write_json(args.json, env, rows)
        print(f"numbers written to {args.json}")
    failed = [r for r in rows if r.status == "ERROR"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
