"""Malformed notebooks (issue 27): a thousand random mutations of a valid submission's JSON and every
nbgrader metadata field with a value of every wrong type. The parsing and planning layer (`job.prepare`,
what ran before a kernel starts and what crashed a whole class on a list as ``grade_id``) is fuzzed in
this process; a handful of the mutants are then graded end to end with the class around them."""

from __future__ import annotations

import copy
import json
import random

import fixture as F
import pytest

from autograder.batch import grade
from autograder.job import STATUSES, _normalize, prepare
from autograder.sandbox import Limits

#: a value of every JSON type (and NaN, which Python's json writes), for "wrong type in a field"
WRONG = [None, True, 0, -1, 1.5, float("nan"), 10**30, "", "add", [], ["add"], {}, {"a": 1}, [[["x"]]]]
NBGRADER_FIELDS = ("grade_id", "grade", "solution", "locked", "points", "schema_version", "task", "checksum")
CELL_FIELDS = ("cell_type", "source", "metadata", "outputs", "execution_count", "id", "attachments")
KINDS = {"setup", "answer", "free", "tests", "markdown", "raw"}


def _paths(node, prefix=()):
    """Every path into a JSON tree (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(tree, path, value):
    node = tree
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _delete(tree, path):
    node = tree
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]


def mutant(rng: random.Random, base: dict) -> bytes:
    """One random mutation of ``base``: a value replaced, a key or element deleted or duplicated, a list
    shuffled, or the bytes cut, flipped or nested too deep."""
    op = rng.randrange(8)
    if op == 6:  # bytes: cut or flip
        data = bytearray(json.dumps(base).encode())
        if rng.random() < 0.5:
            return bytes(data[: rng.randrange(len(data))])
        i = rng.randrange(len(data))
        data[i] = rng.randrange(256)
        return bytes(data)
    if op == 7:  # deep nesting in a field (json's recursion limit)
        tree = copy.deepcopy(base)
        tree["cells"][rng.randrange(len(tree["cells"]))]["metadata"] = "@"
        return json.dumps(tree).replace('"@"', "[" * 5000 + "]" * 5000).encode()
    tree = copy.deepcopy(base)
    paths = [p for p in _paths(tree) if p]
    path = rng.choice(paths)
    if op <= 2:
        _set(tree, path, copy.deepcopy(rng.choice(WRONG)))
    elif op == 3:
        _delete(tree, path)
    else:
        parent = tree
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, list):
            if op == 4:
                parent.insert(rng.randrange(len(parent) + 1), copy.deepcopy(rng.choice(parent)))
            else:
                rng.shuffle(parent)
        else:
            _set(tree, path, copy.deepcopy(rng.choice(WRONG)))
    return json.dumps(tree).encode()


def wrong_types(base: dict):
    """(label, bytes): every nbgrader field of every cell, every cell field, the notebook's metadata,
    each with every wrong value."""
    for i, _c in enumerate(base["cells"]):
        for field in NBGRADER_FIELDS:
            for v in WRONG:
                tree = copy.deepcopy(base)
                tree["cells"][i]["metadata"].setdefault("nbgrader", {})[field] = v
                yield f"cell {i} nbgrader.{field}={v!r}", json.dumps(tree).encode()
        for field in CELL_FIELDS:
            for v in WRONG:
                tree = copy.deepcopy(base)
                tree["cells"][i][field] = v
                yield f"cell {i} {field}={v!r}", json.dumps(tree).encode()
    for field in ("kernelspec", "language_info", "nbgrader"):
        for v in WRONG:
            tree = copy.deepcopy(base)
            tree["metadata"][field] = v
            yield f"metadata.{field}={v!r}", json.dumps(tree).encode()
    for field in ("metadata", "nbformat", "nbformat_minor", "cells"):
        for v in WRONG:
            tree = copy.deepcopy(base)
            tree[field] = v
            yield f"{field}={v!r}", json.dumps(tree).encode()


def _outcome(src: dict, data: bytes) -> str:
    """What grading would start from: "invalid_notebook" or "planned" (never an exception)."""
    flags: list[str] = []
    events: dict[str, str] = {}
    plan, autograded, why = prepare(copy.deepcopy(src), data, flags, lambda s, r: events.setdefault(s, r))
    if plan is None:
        assert why, "an invalid notebook needs a reason"
        return "invalid_notebook"
    assert set(events) <= set(STATUSES), events
    assert all(kind in KINDS and isinstance(code, str) for kind, _gid, code, _c in plan)
    assert len(autograded["cells"]) == len(plan)
    json.dumps(autograded)  # what the grader writes is plain JSON
    return "planned"


@pytest.fixture(scope="module")
def base():
    return json.loads(F.dumps(F.with_answers()))


@pytest.fixture(scope="module")
def src():
    return _normalize(json.loads(json.dumps(F.source_notebook())))


def test_a_thousand_random_mutations_each_get_a_status(src, base):
    rng = random.Random(27)
    counts = {"invalid_notebook": 0, "planned": 0}
    for _ in range(1000):
        counts[_outcome(src, mutant(rng, base))] += 1
    print(f"random mutations: {counts}")
    assert sum(counts.values()) == 1000 and min(counts.values()) > 50  # both outcomes are exercised


def test_every_field_with_every_wrong_type_gets_a_status(src, base):
    counts = {"invalid_notebook": 0, "planned": 0}
    for _label, data in wrong_types(base):
        counts[_outcome(src, data)] += 1
    print(f"wrong types: {counts}")
    assert sum(counts.values()) > 1000 and min(counts.values()) > 50


def test_the_issues_list_grade_id_is_an_ordinary_cell(src, base):
    tree = copy.deepcopy(base)
    [cell] = [c for c in tree["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "add"]
    cell["metadata"]["nbgrader"]["grade_id"] = ["add"]
    flags: list[str] = []
    plan, _nb, why = prepare(copy.deepcopy(src), json.dumps(tree).encode(), flags, lambda s, r: None)
    assert why == "" and "missing:add" in flags
    assert any(kind == "free" and "def add" in code for kind, _g, code, _c in plan)  # still runs, as a free cell


def test_mutants_graded_end_to_end_with_the_class(tmp_path, src, base):
    rng = random.Random(2027)
    picked: dict[str, bytes] = {}
    while len(picked) < 4:  # two that plan and two that do not, all different
        data = mutant(rng, base)
        kind = _outcome(src, data)
        if sum(k.startswith(kind) for k in picked) < 2:
            picked[f"{kind}_{len(picked)}"] = data
    tree = copy.deepcopy(base)
    next(c for c in tree["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "add")[
        "metadata"]["nbgrader"]["grade_id"] = ["add"]
    picked["list_grade_id"] = json.dumps(tree).encode()
    picked["correct"] = F.dumps(F.with_answers())
    course = F.make_course(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, data in picked.items():
        (flat / f"{name}.ipynb").write_bytes(data)
    records = {r["student"]: r for r in grade(course, F.SLUG, flat, workers=2, db_url=None, scheduler=None,
                                               json_path=None, limits=Limits(cell_timeout=10.0, total_timeout=60.0),
                                               sandbox=True, force=False, quiet=True)}
    assert set(records) == set(picked)
    assert (records["correct"]["status"], records["correct"]["score"]) == ("graded", 5.0)
    assert (records["list_grade_id"]["status"], records["list_grade_id"]["score"]) == ("cells_missing", 5.0)
    for name, r in records.items():
        if name.startswith("invalid"):
            assert r["status"] == "invalid_notebook", (name, r)
        else:
            assert r["status"] in STATUSES[STATUSES.index("invalid_notebook") + 1:], (name, r)
