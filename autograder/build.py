"""`build`: check each source notebook, then generate the student release with nbgrader."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat

from . import nbg
from .job import grade_one, nb_meta
from .sandbox import Limits

SOLUTION_RE = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
HIDDEN_RE = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


def generate_release(course: Path, chapter: str, db_url: str | None) -> Path:
    """nbgrader's generate_assignment, in this process; raises with nbgrader's log when it fails."""
    res = nbg.api(course, db_url).generate_assignment(chapter, force=True)
    if not res["success"]:
        raise SystemExit(f"nbgrader generate_assignment {chapter} failed:\n{res.get('error') or res.get('log')}")
    return course / "release" / chapter


def metadata_problems(nb) -> list[str]:
    """Graded cells without points or id, tests cells without hidden tests, duplicate ids."""
    problems, seen = [], set()
    for i, c in enumerate(nb.cells):
        m = nb_meta(c)
        if not m:
            continue
        gid = m.get("grade_id")
        if not gid:
            problems.append(f"cell {i} has nbgrader metadata but no grade_id")
            continue
        if gid in seen:
            problems.append(f"grade_id {gid} appears twice")
        seen.add(gid)
        if m.get("grade") and not isinstance(m.get("points"), int | float):
            problems.append(f"graded cell {gid} has no points")
        if m.get("grade") and not m.get("solution") and "### BEGIN HIDDEN TESTS" not in c.source:
            problems.append(f"tests cell {gid} has no hidden tests")
        if m.get("solution") and c.cell_type == "code" and "### BEGIN SOLUTION" not in c.source:
            problems.append(f"solution cell {gid} has no ### BEGIN SOLUTION block")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("the kernel is not python3")
    return problems


def leaks(source_nb, release_text: str) -> list[str]:
    """Solution or hidden-test lines of the source that appear in the release."""
    out = []
    # a line that also appears outside the blocks (a visible test, the prose) is public anyway
    public = {ln.strip() for c in source_nb.cells
              for ln in HIDDEN_RE.sub("", SOLUTION_RE.sub("", c.source)).splitlines()}
    release_lines = set()
    for c in json.loads(release_text).get("cells", []):
        src = c.get("source", "")
        release_lines.update(ln.strip() for ln in ("".join(src) if isinstance(src, list) else src).splitlines())
    for c in source_nb.cells:
        for rx, what in ((SOLUTION_RE, "solution"), (HIDDEN_RE, "hidden test")):
            for block in rx.findall(c.source):
                for line in block.splitlines():
                    s = line.strip()
                    if len(s) > 8 and not s.startswith("#") and s not in public and s in release_lines:
                        out.append(f"{what} line in the release: {s[:70]}")
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS"):
        if marker in release_text:
            out.append(f"the release contains '### {marker}'")
    return out


def build(course: Path, chapters: list[str], db_url: str | None, limits: Limits, sandbox: bool) -> bool:
    """Check and release each chapter; prints one line per check, returns True when all pass."""
    ok = True
    for ch in chapters:
        for src_path in sorted((course / "source" / ch).glob("*.ipynb")):
            src = nbformat.read(src_path, as_version=4)
            problems = metadata_problems(src)
            from .batch import chapter_files

            files = chapter_files(course, ch)
            spec = {"assignment": ch, "notebook": src_path.stem, "source": src_path.read_text(),
                    "files": files, "limits": asdict(limits), "sandbox": sandbox}
            full = grade_one({**spec, "student": "solution", "submission": src_path.read_bytes()})["record"]
            if full["score"] != full["max_score"] or full["status"] not in ("graded",):
                failing = [p["cell_id"] + ": " + p["message"].splitlines()[0] for p in full["parts"]
                           if not p["passed"] and p["message"]]
                problems.append(f"the solutions score {full['score']:g}/{full['max_score']:g} "
                                f"({full['status']}: {full['reason']}) {'; '.join(failing)}")
            if not problems:
                rel_dir = generate_release(course, ch, db_url)
                rel_path = rel_dir / src_path.name
                rel_text = rel_path.read_text()
                problems += leaks(src, rel_text)
                zero = grade_one({**spec, "student": "release", "submission": rel_path.read_bytes()})["record"]
                scored = [p["cell_id"] for p in zero["parts"] if p["score"]]
                if scored:
                    problems.append(f"the untouched release scores on {', '.join(scored)}")
            label = f"{ch}/{src_path.name}"
            if problems:
                ok = False
                print(f"FAIL {label}:", file=sys.stderr)
                for p in problems:
                    print(f"  - {p}", file=sys.stderr)
            else:
                print(f"ok   {label}: solutions {full['score']:g}/{full['max_score']:g}, release 0 on "
                      f"{len(full['parts'])} parts, no solution or hidden-test text in the release")
    return ok
