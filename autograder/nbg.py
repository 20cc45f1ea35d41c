"""nbgrader's machinery, loaded once per command: the course's config, its API, the gradebook."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def ensure_path() -> None:
    """nbgrader runs the ``alembic`` executable by name when it creates a gradebook: put this
    environment's bin/ on PATH (a venv that is not activated would fail there and still exit 0)."""
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def default_url(course: Path) -> str:
    return f"sqlite:///{(course / 'gradebook.db').resolve()}"


def config(course: Path, db_url: str | None = None):
    """The course's nbgrader_config.py (if any), with the course root and the gradebook URL set."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    ensure_path()
    cfg = Config()
    path = course / "nbgrader_config.py"
    if path.exists():
        cfg.merge(PyFileConfigLoader(path.name, str(course)).load_config())
    cfg.CourseDirectory.root = str(course.resolve())
    cfg.CourseDirectory.db_url = db_url or default_url(course)
    # nbgrader's empty default course id makes no course row: sqlite ignores the missing foreign key,
    # PostgreSQL refuses the first assignment
    if not cfg.CourseDirectory.get("course_id"):
        cfg.CourseDirectory.course_id = "default_course"
    if "root" not in cfg.get("Exchange", {}):
        cfg.Exchange.root = str((course / "exchange").resolve())
    # the feedback never shows hidden tests (nbgrader's default would)
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    cfg.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
    return cfg


def api(course: Path, db_url: str | None = None):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = config(course, db_url)
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def gradebook(course: Path, db_url: str | None = None):
    """nbgrader's Gradebook for the course (its course_id from the config, as nbgrader's own commands use)."""
    from nbgrader.api import Gradebook

    cfg = config(course, db_url)
    return Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id)
