import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# jsonschema's optional IRI checker builds a grammar at import (~11 s); notebooks never need it
sys.modules.setdefault("rfc3987_syntax", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_class(tmp_path_factory):
    """Three fixture submissions graded once (correct 5/5, partly wrong 2/5, an empty file), for the
    verbs that read records: export, feedback, report."""
    import fixture as F
    import hostile

    from autograder.batch import grade
    from autograder.sandbox import Limits

    root = tmp_path_factory.mktemp("small")
    course = F.make_course(root)
    flat = root / "flat"
    flat.mkdir()
    (flat / "ann.ipynb").write_bytes(F.dumps(F.with_answers()))
    (flat / "bob.ipynb").write_bytes(F.dumps(F.with_answers(scale=hostile.WRONG_SCALE)))
    (flat / "cy.ipynb").write_bytes(b"")
    records = grade(course, F.SLUG, flat, workers=2, db_url=None, scheduler=None, json_path=root / "r.json",
                    limits=Limits(cell_timeout=10.0, total_timeout=120.0, memory_bytes=3 << 30),
                    sandbox=True, force=False, quiet=True)
    return {"root": root, "course": course, "records": records, "json": root / "r.json"}
