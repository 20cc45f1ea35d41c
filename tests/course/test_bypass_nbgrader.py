"""Shortcuts through the package score 0 in nbgrader's real autograde and in the autograder's job.

Per chapter, the catalogue's bypasses (`catalogue/bypass_chNN.py`) are put into as few submissions as
the part with the most bypasses needs: submission k is the solution notebook with the solution cell of
every part replaced by that part's k-th bypass (or left as it is). `nbgrader autograde` grades them all
in one run (a real kernel per notebook); every bypassed part must score 0, refused by the seal (its
tests cell shows `ReferenceSealed`), and the parts before the first bypass keep their points. The
autograder's job grades the first submission: the same parts score 0, and each part whose solution
names its reference is flagged `sealed_reference:<part>`.
"""

from __future__ import annotations

import json
import shutil

import pytest

from autograder.job import grade_one
from tests.course.test_catalogue import BYPASSES, REFUSALS, _load, bypass_source, runner
from tests.course.test_notebooks import ROOT, _nbgrader


def _submissions(slug: str, bypass: dict[str, dict[str, str]]) -> list[tuple[dict, dict[str, str]]]:
    """(notebook, {part: bypass name}) for each submission of the chapter."""
    chapter = runner(slug)
    source = json.loads((ROOT / "course" / "source" / slug / f"{slug}.ipynb").read_text())
    found = []
    for k in range(max(len(entries) for entries in bypass.values())):
        nb = json.loads(json.dumps(source))
        used = {}
        for cell in nb["cells"]:
            part = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            entries = list(bypass.get(part, {}).items())
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and k < len(entries):
                name, code = entries[k]
                cell["source"] = bypass_source(chapter, part, code)
                used[part] = name
        found.append((nb, used))
    return found


@pytest.fixture(scope="module", params=[_load(p) for p in BYPASSES], ids=lambda m: m.SLUG)
def autograded(request, tmp_path_factory) -> dict:
    slug, bypass = request.param.SLUG, request.param.BYPASS
    course = tmp_path_factory.mktemp(f"bypass_{slug}")
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "course" / "source" / slug, course / "source" / slug)
    _nbgrader(["generate_assignment", slug, "--force"], course)
    submissions = _submissions(slug, bypass)
    for k, (nb, _used) in enumerate(submissions):
        target = course / "submitted" / f"bypass{k}" / slug
        target.mkdir(parents=True)
        (target / f"{slug}.ipynb").write_text(json.dumps(nb))
    _nbgrader(["autograde", slug, "--force"], course)
    from nbgrader.api import Gradebook

    scores, outputs = {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for k in range(len(submissions)):
            student = f"bypass{k}"
            scores[student] = {g.name: (g.score, g.max_score)
                               for g in gradebook.find_submission_notebook(slug, slug, student).grades}
            graded = json.loads((course / "autograded" / student / slug / f"{slug}.ipynb").read_text())
            outputs[student] = {
                c["metadata"]["nbgrader"]["grade_id"]: json.dumps(c.get("outputs", []))
                for c in graded["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            }
    return {"slug": slug, "course": course, "submissions": submissions, "scores": scores, "outputs": outputs}


def test_every_bypass_scores_zero_in_nbgrader(autograded) -> None:
    slug = autograded["slug"]
    earned, unrefused = [], []
    for k, (_nb, used) in enumerate(autograded["submissions"]):
        student = f"bypass{k}"
        for part, name in used.items():
            score, _max = autograded["scores"][student][f"{part}_tests"]
            if score != 0:
                earned.append(f"{part}/{name}: {score} points")
            if not any(m in autograded["outputs"][student][f"{part}_tests"] for m in REFUSALS):
                unrefused.append(f"{part}/{name}: {autograded['outputs'][student][f'{part}_tests'][:300]}")
    assert not earned, f"{slug}: bypasses earned points in nbgrader's autograde: {earned}"
    assert not unrefused, f"{slug}: bypasses failed, but not refused by the seal: {unrefused}"


def test_parts_before_the_first_bypass_keep_their_points(autograded) -> None:
    """The seal refuses the shortcut, not the chapter: untouched parts before it still score."""
    slug = autograded["slug"]
    _nb, used = autograded["submissions"][0]
    order = [p for p in runner(slug).parts()]
    first = min(order.index(p) for p in used)
    lost = {p: s for p in order[:first] if (s := autograded["scores"]["bypass0"][f"{p}_tests"])[0] != s[1]}
    assert not lost, f"{slug}: parts without a bypass lost points: {lost}"


def test_the_autograder_scores_zero_and_flags_the_named_reference(autograded) -> None:
    """`python -m autograder grade` runs this job: bypassed parts score 0; named references are flagged."""
    slug = autograded["slug"]
    nb, used = autograded["submissions"][0]
    source = (autograded["course"] / "source" / slug / f"{slug}.ipynb").read_text()
    record = grade_one({"student": "bypass0", "assignment": slug, "notebook": slug, "source": source,
                        "submission": json.dumps(nb).encode(), "files": {}, "sandbox": False,
                        "env": {"PYTHONPATH": str(ROOT)},  # this checkout's package, as nbgrader's kernels get
                        "limits": {"cell_timeout": 120.0, "total_timeout": 600.0}})["record"]
    parts = {p["cell_id"]: p for p in record["parts"]}
    earned = {part: parts[f"{part}_tests"]["score"] for part in used if parts[f"{part}_tests"]["score"]}
    assert not earned, f"{slug}: bypasses earned points in the autograder: {earned}\n{record['reason']}"
    flagged = {f.split(":", 1)[1] for f in record["flags"] if f.startswith("sealed_reference:")}
    named = {part for part, name in used.items() if name.startswith(("saved", "is_the_reference"))}
    assert named <= flagged, f"{slug}: naming their reference, not flagged: {named - flagged} {record['flags']}"
    for part in flagged:
        assert "names the package's own" in parts[f"{part}_tests"]["message"], parts[f"{part}_tests"]
