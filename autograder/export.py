"""`export`: a chapter's grade records as nbgrader's CSV and as the results files of Gradescope's
autograder and PrairieLearn's external grader, so a course on those platforms can run this grader.

Field names follow the platforms' documented formats:
- nbgrader ``export`` CSV columns (``assignment, duedate, timestamp, student_id, last_name, first_name,
  email, raw_score, late_submission_penalty, score, max_score``), plus ``status`` and ``reason``;
- Gradescope ``results.json``: ``score``, ``output``, ``tests`` of ``{name, score, max_score, status, output}``
  with ``status`` ``passed`` or ``failed``;
- PrairieLearn ``results.json``: ``gradable``, ``score`` (a fraction 0..1), ``message``,
  ``tests`` of ``{name, points, max_points, message, output}``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from .batch import inside, student_name
from .job import scrub_record

CSV_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score", "status", "reason")


def csv_rows(records: list[dict]) -> list[dict]:
    """One row per student and chapter (a chapter's notebooks summed)."""
    by_student: dict[tuple[str, str], dict] = {}
    for r in records:
        row = by_student.setdefault((r["assignment"], r["student"]), {
            "assignment": r["assignment"], "duedate": "", "timestamp": r.get("timestamp") or "",
            "student_id": r["student"], "last_name": "", "first_name": "", "email": "",
            "raw_score": 0.0, "late_submission_penalty": 0.0, "score": 0.0, "max_score": 0.0,
            "status": r["status"], "reason": r["reason"]})
        row["raw_score"] += r["score"]
        row["score"] += r["score"]
        row["max_score"] += r["max_score"]
        if r["status"] != "graded" and row["status"] == "graded":
            row["status"], row["reason"] = r["status"], r["reason"]
    return list(by_student.values())


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _message(part: dict, record: dict) -> str:
    """What a student reads for one part: its failure, or the record's reason when it never ran."""
    return "passed" if part["passed"] else (part["message"] or record["reason"])


def gradescope(record: dict) -> dict:
    """Gradescope autograder ``results.json`` of one record (only fields of its specification)."""
    tests = [{"name": p["cell_id"], "number": str(i), "score": _num(p["score"]), "max_score": _num(p["points"]),
              "status": "passed" if p["passed"] else "failed", "output": _message(p, record),
              "visibility": "visible"}
             for i, p in enumerate(record["parts"], 1)]
    return {"score": _num(record["score"]), "execution_time": round(record.get("seconds", 0.0)),
            "output": f"{record['status']}: {record['reason']}", "visibility": "visible",
            "extra_data": {"status": record["status"], "flags": record["flags"]}, "tests": tests}


def prairielearn(record: dict) -> dict:
    """PrairieLearn external-grader ``results.json`` of one record; an unreadable notebook is not gradable."""
    tests = [{"name": p["cell_id"], "points": _num(p["score"]), "max_points": _num(p["points"]),
              "message": _message(p, record), "output": ""} for p in record["parts"]]
    score = record["score"] / record["max_score"] if record["max_score"] else 0.0
    return {"gradable": record["status"] != "invalid_notebook", "score": round(score, 6),
            "message": f"{record['status']}: {record['reason']}", "tests": tests}


def _valid(student: str) -> bool:
    """A record written before names were checked is left out, with a note."""
    name, bad = student_name(student)
    if bad or name != student:
        print(f"export: skipped the record of {student!r}: {bad or 'not in Unicode NFC'}", file=sys.stderr)
    return not bad and name == student


def export(records: list[dict], dest: Path, hidden: list[str] | None = None) -> list[Path]:
    """Write ``grades.csv``, ``gradescope/<student>/results.json``, ``prairielearn/<student>/results.json``.

    Records of refused submissions are left out (their names may be anything); with ``hidden`` (the
    hidden tests' lines, `job.hidden_lines`) every text that quotes one is withheld first."""
    records = [json.loads(json.dumps(r)) for r in records if r["status"] != "refused" and _valid(r["student"])]
    for r in records:
        scrub_record(r, hidden or [])
    dest.mkdir(parents=True, exist_ok=True)
    written = [dest / "grades.csv"]
    with open(written[0], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for row in csv_rows(records):
            w.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
    for r in records:
        for name, fn in (("gradescope", gradescope), ("prairielearn", prairielearn)):
            p = inside(dest / name, r["student"]) / "results.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(fn(r), indent=1) + "\n")
            written.append(p)
    return written
