"""`export` of a graded class: nbgrader CSV, Gradescope and PrairieLearn results files, exact content."""

from __future__ import annotations

import csv
import json

import fixture as F

from autograder.cli import main


def test_export_writes_every_format_exactly(small_class, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", F.SLUG, "--records", str(small_class["json"]), "--to", str(out)]) == 0
    assert "3 records -> 7 files" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["assignment"], r["student_id"], r["score"], r["max_score"], r["status"]) for r in rows] == [
        (F.SLUG, "ann", "5", "5", "graded"), (F.SLUG, "bob", "2", "5", "graded"),
        (F.SLUG, "cy", "0", "5", "invalid_notebook")]
    assert rows[2]["reason"] == "the file is empty"
    assert list(rows[0])[:11] == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                                  "email", "raw_score", "late_submission_penalty", "score", "max_score"]

    gs = json.loads((out / "gradescope" / "bob" / "results.json").read_text())
    assert gs["score"] == 2 and gs["output"] == "graded: 1 of 2 parts pass; failing: scale_tests"
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in gs["tests"]] == [
        ("add_tests", 2, 2, "passed"), ("scale_tests", 0, 3, "failed")]
    assert "negative factors" in gs["tests"][1]["output"]
    # the names of Gradescope's autograder specification (its results.json "Output format")
    assert set(gs) <= {"score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data",
                       "tests", "leaderboard", "output_format", "test_output_format", "test_name_format"}
    assert isinstance(gs["execution_time"], int)
    assert all(set(t) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"} for t in gs["tests"])
    assert gs["extra_data"] == {"status": "graded", "flags": []}

    pl = json.loads((out / "prairielearn" / "bob" / "results.json").read_text())
    assert (pl["gradable"], pl["score"]) == (True, 0.4)
    assert [(t["name"], t["points"], t["max_points"]) for t in pl["tests"]] == [
        ("add_tests", 2, 2), ("scale_tests", 0, 3)]
    assert "negative factors" in pl["tests"][1]["message"]
    empty = json.loads((out / "prairielearn" / "cy" / "results.json").read_text())
    assert (empty["gradable"], empty["score"]) == (False, 0.0)
    assert [(t["points"], t["message"]) for t in empty["tests"]] == [(0, "the file is empty")] * 2
    assert json.loads((out / "prairielearn" / "ann" / "results.json").read_text())["score"] == 1.0


def test_export_without_records_reads_what_grade_kept(small_class, tmp_path):
    out = tmp_path / "out"
    assert main(["--course", str(small_class["course"]), "export", F.SLUG, "--to", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["student_id"], r["score"]) for r in rows] == [("ann", "5"), ("bob", "2"), ("cy", "0")]
