"""The learner's workspace: made from nbgrader's release, completed on later runs, never overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.course.runner import ROOT, make_notebooks

SLUGS = make_notebooks.slugs()
pytestmark = pytest.mark.skipif(not SLUGS, reason="no chapter in course/chapters yet")


def setup_workspace(workspace) -> str:
    env = {**os.environ, "MINITORCH_EDU_WORKSPACE": str(workspace)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "course" / "workspace.py"), "--setup-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_workspace_is_made_completed_and_never_overwritten(tmp_path) -> None:
    workspace = tmp_path / "ws"
    out = setup_workspace(workspace)
    assert f"created your workspace {workspace}" in out
    notebooks = {slug: workspace / slug / f"{slug}.ipynb" for slug in SLUGS}
    for slug, path in notebooks.items():
        nb = json.loads(path.read_text())
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, (
            f"{slug}: the workspace got the source"
        )
        assert any("raise NotImplementedError()" in "".join(c["source"]) for c in nb["cells"]), slug

    first = notebooks[SLUGS[0]]
    edited = first.read_text().replace("raise NotImplementedError()", "return 42  # my answer", 1)
    first.write_text(edited)
    (workspace / SLUGS[0] / "my_notes.txt").write_text("mine")
    removed = workspace / SLUGS[0] / "gone.txt"  # stands for a file added to a chapter later
    if len(SLUGS) > 1:
        removed = notebooks[SLUGS[-1]]
        shutil.rmtree(removed.parent)  # a chapter the learner never had (a new one)

    out = setup_workspace(workspace)
    assert first.read_text() == edited, "the learner's edited notebook was overwritten"
    assert (workspace / SLUGS[0] / "my_notes.txt").read_text() == "mine"
    if len(SLUGS) > 1:
        assert removed.exists(), "a chapter missing from the workspace was not added"
        assert "added to your workspace" in out and "nothing of yours was changed" in out


def test_learner_jupyter_hides_instructor_tools(tmp_path) -> None:
    workspace = tmp_path / "ws"
    setup_workspace(workspace)
    config = workspace / ".jupyter"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}
    # the server's own way of deciding which extensions load (config files, then the .d folders)
    code = (
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp(); app.load_config_file(); app.find_server_extensions()\n"
        "import json; print(json.dumps(app.jpserver_extensions))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    extensions = json.loads(result.stdout.strip().splitlines()[-1])
    assert extensions["nbgrader.server_extensions.validate_assignment"] is True
    for name in ("formgrader", "course_list", "assignment_list"):
        assert extensions[f"nbgrader.server_extensions.{name}"] is False, extensions
    page = json.loads((config / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert page["@jupyter/nbgrader:create-assignment"] and page["@jupyter/nbgrader:formgrader"]
    assert "@jupyter/nbgrader:validate-assignment" not in page
