"""The learner's path in a real browser: JupyterLab started as the README says, driven by Chromium.

A fresh workspace is made and JupyterLab started by `bash scripts/start --no-browser --port P` (the
README's first command, minus the browser). Debian's Chromium, driven by Playwright, then does what a
learner does in chapter 01: fills in the first exercise with a correct answer, runs all cells, sees
that exercise's self-check pass and a figure render, presses nbgrader's Validate and reads the
verdict, enters a wrong answer and reads the hint. It also checks that the learner sees none of
nbgrader's instructor tools. Screenshots go to `$MINITORCH_EDU_ARTIFACTS` (default
`test-artifacts/browser/`).

Needs Debian's `chromium` and the `playwright` package (no browser download: the system Chromium is
used); `.ci/run` installs both.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.course.runner import ROOT

CHAPTER = os.environ.get("MINITORCH_EDU_BROWSER_CHAPTER", "01_scalar_autodiff")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MINITORCH_EDU_ARTIFACTS", ROOT / "test-artifacts" / "browser"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_groups_below(pid: int) -> set[int]:
    """Process groups of `pid`'s descendants: kernels start in groups of their own."""
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    groups = set()
    for child in children:
        try:
            groups.add(os.getpgid(child.pid))
        except ProcessLookupError:
            pass
    return groups


class Lab:
    """JupyterLab on a fresh workspace, started by scripts/start in its own process group."""

    def __init__(self, workspace: Path, command: list[str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MINITORCH_EDU_WORKSPACE": str(workspace)}
        env.pop("MINITORCH_EDU_GRADING", None)
        self.log = log
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), f"--IdentityProvider.token={self.token}"],
            cwd=cwd,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one at the end
        )
        deadline = time.time() + 240
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"JupyterLab exited early:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not answer in 240 s:\n{log.read_text()}")

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=10) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def stop(self) -> None:
        """Shut the kernels down through the server, then kill every process group it started."""
        try:
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        groups = _process_groups_below(self.process.pid) | {os.getpgid(self.process.pid)}
        for group in groups:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for group in groups:
                try:
                    os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def solution_and_wrong_answer() -> tuple[str, str, str]:
    """(part, the reference solution cell of the chapter's first part, a wrong one from the catalogue)."""
    import importlib.util

    from tests.course.runner import ChapterRunner

    runner = ChapterRunner(CHAPTER)
    part = runner.parts()[0]
    solution = next(c.source for c in runner.cells if c.grade_id == part)
    path = ROOT / "tests" / "course" / "catalogue" / f"ch{CHAPTER[:2]}.py"
    spec = importlib.util.spec_from_file_location("catalogue", path)
    catalogue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(catalogue)
    wrong = next(code for name, code in catalogue.WRONG[part].items() if not name.endswith("_hidden_only"))
    return part, solution, wrong


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: `apt-get install chromium` (.ci/run does it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workspace = tmp_path_factory.mktemp("learner") / "workspace"
    server = Lab(workspace, ["bash", "scripts/start", "--no-browser"], ROOT, ARTIFACTS / "jupyterlab.log")
    yield server, workspace
    server.stop()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        yield page
        browser.close()


def cell_with(page, text: str):
    return page.locator(".jp-Notebook .jp-Cell", has_text=text).first


def set_cell_text(page, cell, text: str) -> None:
    """Replace a code cell's text as a learner would: click in, select all, type (no auto-indent)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()


def wait_idle(page, timeout: float = 180_000) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout)


def test_learner_opens_fills_runs_validates_and_reads_hints(lab, page) -> None:
    server, workspace = lab
    part, solution, wrong = solution_and_wrong_answer()
    notebook = f"{CHAPTER}/{CHAPTER}.ipynb"
    assert (workspace / notebook).exists(), "scripts/start did not put the chapter into the workspace"
    page.goto(f"{server.url}/lab/tree/{notebook}?token={server.token}")
    n_cells = len(json.loads((workspace / notebook).read_text())["cells"])
    page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length >= {n_cells}", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    page.screenshot(path=ARTIFACTS / "01_opened.png")

    # no news pop-up, no instructor tools: only the learner's Validate button
    assert page.locator(".jp-toast-message", has_text="news").count() == 0
    assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
    assert page.locator("text=Create Assignment").count() == 0
    assert page.locator("text=Formgrader").count() == 0
    assert page.locator("jp-button.validate-button, button.validate-button").count() == 1

    cells = page.locator(".jp-Notebook .jp-Cell")
    texts = cells.evaluate_all("cells => cells.map(c => c.textContent)")
    index = next(i for i, text in enumerate(texts) if "# YOUR CODE HERE" in text)  # the first part's stub
    answer = cells.nth(index)
    set_cell_text(page, answer, solution)
    page.screenshot(path=ARTIFACTS / "02_answer_typed.png")
    run_all(page)
    wait_idle(page)
    check = page.locator(".jp-OutputArea-output", has_text=f"✓ {part}: all visible checks pass")
    check.first.wait_for(timeout=60_000)
    check.first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "03_self_check_passes.png")
    figures = page.locator(".jp-OutputArea-output img")
    assert figures.count() >= 1, "no figure rendered"
    figures.first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "04_figure.png")

    page.keyboard.press("Control+s")  # Validate grades the saved file, as the autograder would
    page.wait_for_selector(".jp-mod-dirty", state="detached", timeout=30_000)
    page.locator("jp-button.validate-button, button.validate-button").first.click()
    verdict = page.locator("#validation-message")
    verdict.wait_for(timeout=240_000)
    text = verdict.inner_text()
    page.screenshot(path=ARTIFACTS / "05_validate_verdict.png")
    assert "validation-failed" in (verdict.get_attribute("class") or "") or "failed" in text.lower(), text
    assert f"✓ {part}" not in text and "NotImplementedError" in text, text  # the other parts are unwritten
    page.keyboard.press("Escape")
    page.locator(".jp-Dialog").first.wait_for(state="detached", timeout=10_000)

    set_cell_text(page, answer, wrong)
    answer.click()
    page.keyboard.press("Shift+Enter")  # the answer cell, then its self-check
    page.keyboard.press("Shift+Enter")
    wait_idle(page)
    hint = page.locator(".jp-OutputArea-output", has_text="likely mistake").first
    try:
        hint.wait_for(timeout=60_000)
    finally:
        page.screenshot(path=ARTIFACTS / "06_wrong_answer_hint.png")
    text = hint.inner_text()
    assert "called:" in text and "returned:" in text and "expected:" in text, text


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    """JupyterLab as an instructor starts it on a copy of course/ (nbgrader's own defaults)."""
    from tests.course.test_notebooks import _nbgrader

    course = tmp_path_factory.mktemp("instructor") / "course"
    course.mkdir()
    shutil.copy(ROOT / "course" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "course" / "source", course / "source")
    slug = sorted(p.name for p in (course / "source").iterdir())[0]
    _nbgrader(["generate_assignment", slug, "--force"], course)
    config = tmp_path_factory.mktemp("instructor_jupyter_config")  # none of a learner's switches
    jupyter = str(Path(os.sys.executable).parent / "jupyter")
    command = [jupyter, "lab", "--no-browser", f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    old = {k: os.environ.get(k) for k in ("JUPYTER_CONFIG_DIR", "MINITORCH_EDU_COURSE_ROOT")}
    os.environ.update(JUPYTER_CONFIG_DIR=str(config), MINITORCH_EDU_COURSE_ROOT=str(course))
    try:
        server = Lab(course, command, course, ARTIFACTS / "instructor_jupyterlab.log")
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield server, slug
    server.stop()


def test_instructor_formgrader_lists_the_course_and_an_assignment(instructor_lab, page) -> None:
    server, slug = instructor_lab
    courses = json.loads(urllib.request.urlopen(f"{server.url}/formgraders?token={server.token}", timeout=30).read())
    assert "minitorch_edu" in json.dumps(courses), courses
    page.goto(f"{server.url}/formgrader/manage_assignments?token={server.token}")
    page.get_by_text(slug).first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "07_formgrader_assignments.png")
    assert page.get_by_text("could not be created").count() == 0, "formgrader cannot use the exchange folder"
    page.goto(f"{server.url}/lab?token={server.token}")
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Nbgrader", exact=True).wait_for(timeout=120_000)
    page.locator(".jp-DirListing-itemText", has_text="source").first.wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "08_instructor_lab_has_nbgrader_menu.png")


def test_class_report_opens_as_a_page_with_its_figure(page, tmp_path) -> None:
    """`python -m autograder report` on a graded class (real sandboxed grading of two submissions)."""
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "autograder"))
    import fixture as F  # the autograder tests' small nbgrader chapter

    from autograder.batch import grade
    from autograder.sandbox import Limits

    course = F.make_course(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "ann.ipynb").write_bytes(F.dumps(F.with_answers()))
    (flat / "cy.ipynb").write_bytes(b"")
    grade(
        course,
        F.SLUG,
        flat,
        workers=1,
        db_url=None,
        scheduler=None,
        json_path=tmp_path / "r.json",
        limits=Limits(cell_timeout=30.0, total_timeout=240.0, memory_bytes=3 << 30),
        sandbox=True,
        force=False,
        quiet=True,
    )
    out = tmp_path / "report.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "--course",
            str(course),
            "report",
            F.SLUG,
            "--records",
            str(tmp_path / "r.json"),
            "--to",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page.goto(out.as_uri())
    image = page.locator("img").first
    image.wait_for(timeout=30_000)
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) > 100, "the figure did not load"
    assert page.get_by_text("ann").count() + page.get_by_text("invalid_notebook").count() >= 1
    page.screenshot(path=ARTIFACTS / "09_class_report.png", full_page=True)
