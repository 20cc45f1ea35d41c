"""nbgrader's configuration for the minitorch_edu course (the course root is this folder).

nbgrader finds this file when it runs in `course/` (or is given `--config`). What is set here
and why:
- the course root is this file's folder, so commands work from anywhere with `--config`;
- the exchange folder exists (formgrader's release/collect need it);
- one cell may run 5 minutes (nbgrader's default, 30 s, is shorter than a closing training run
  on a slow grading machine), and a timed-out cell is an error, not a stalled batch;
- the stub that replaces every solution says what to do;
- feedback never shows the hidden tests (nbgrader's default feedback does).
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (nbgrader's config loader defines get_config)

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = os.environ.get("MINITORCH_EDU_COURSE_ROOT", here)
c.CourseDirectory.course_id = "minitorch_edu"
c.CourseDirectory.db_url = os.environ.get(
    "MINITORCH_EDU_GRADEBOOK", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
)
c.Exchange.root = os.environ.get("MINITORCH_EDU_EXCHANGE", os.path.join(c.CourseDirectory.root, "exchange"))
# nbgrader's release/collect need the exchange to exist and be writable by every student account;
# formgrader warns and disables them otherwise, so the folder is made here
try:
    os.makedirs(c.Exchange.root, exist_ok=True)
    os.chmod(c.Exchange.root, 0o777)
except OSError:  # a shared exchange owned by someone else: nbgrader says what is wrong
    pass

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
