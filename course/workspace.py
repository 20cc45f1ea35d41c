"""The learner's workspace: the student release of every chapter, and a JupyterLab set up for learning.

    python course/workspace.py [--no-browser] [--port N] [--setup-only] [-- extra jupyter lab options]

`bash scripts/start` calls this. It
1. generates the student version of each chapter with nbgrader itself (`course/release/`), for the
   chapters whose source changed since the last run;
2. copies it into the workspace (`workspace/` at the repository's root, or `$MINITORCH_EDU_WORKSPACE`):
   a chapter missing there is added whole, a file missing in a chapter is added, and a file that is
   already there is never touched — the learner's notebooks are theirs;
3. writes the workspace's Jupyter configuration (`<workspace>/.jupyter`): nbgrader's Validate button
   stays, its instructor tools (Create Assignment, Formgrader, the course and assignment lists, the
   Nbgrader menu) and JupyterLab's news pop-up go; the notebooks' cells may run 5 minutes;
4. compiles the package's kernels once (saying so: a cold start takes seconds, later ones milliseconds);
5. starts JupyterLab in the workspace and prints its URL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

COURSE = Path(__file__).resolve().parent
ROOT = COURSE.parent
BIN = Path(sys.executable).parent  # nbgrader runs `alembic` by name: the environment's bin/ goes on PATH

INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:menu",
    "@jupyterlab/apputils-extension:announcements",
]
INSTRUCTOR_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",
]


def workspace_dir() -> Path:
    return Path(os.environ.get("MINITORCH_EDU_WORKSPACE", ROOT / "workspace")).resolve()


def chapters() -> list[str]:
    return sorted(p.name for p in (COURSE / "source").iterdir() if (p / f"{p.name}.ipynb").exists())


def _newest(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


def build_release(slugs: list[str]) -> Path:
    """nbgrader's student release of each chapter, regenerated where its source is newer."""
    release = COURSE / "release"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MINITORCH_EDU_COURSE_ROOT", None)
    for slug in slugs:
        target = release / slug
        if target.exists() and _newest(target) >= _newest(COURSE / "source" / slug):
            continue
        print(f"== generating the student version of {slug} (nbgrader generate_assignment)")
        result = subprocess.run(
            [str(BIN / "nbgrader"), "generate_assignment", slug, "--force"],
            cwd=COURSE,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not (target / f"{slug}.ipynb").exists():
            sys.exit(f"nbgrader could not generate {slug}:\n{result.stdout}\n{result.stderr}")
    return release


def sync(release: Path, workspace: Path, slugs: list[str]) -> list[str]:
    """Copy what the workspace lacks; never overwrite. Returns what was added."""
    added = []
    for slug in slugs:
        for path in sorted((release / slug).rglob("*")):
            if not path.is_file() or ".ipynb_checkpoints" in path.parts:
                continue
            target = workspace / slug / path.relative_to(release / slug)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            added.append(str(target.relative_to(workspace)))
    return added


def configure(workspace: Path) -> Path:
    """The learner's Jupyter configuration, inside the workspace (rewritten on every start)."""
    config = workspace / ".jupyter"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in INSTRUCTOR_PLUGINS}}, indent=1)
    )
    server = {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    # nbgrader's Validate button reads this: the same cell timeout as the autograder
    (config / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\nc.Execute.timeout = 300\nc.Validator.validate_all = True\n"
    )
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return config


def warm_kernels() -> None:
    """Compile (or load) the package's CPU kernels now, and say so, instead of on the first cell."""
    start = time.perf_counter()
    print("== loading minitorch_edu's kernels (the first time they are compiled: up to a minute; then cached)")
    code = (
        "import minitorch_edu as mt\n"
        "x = mt.randn(8, 8, requires_grad=True)\n"
        "((x @ x).relu().exp().log().sum() + (x * x).mean()).backward()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    print(f"   ready in {time.perf_counter() - start:.1f} s")


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser (headless machines)")
    parser.add_argument("--port", type=int, default=None, help="JupyterLab's port (default: 8888 or the next free)")
    parser.add_argument("--setup-only", action="store_true", help="make the workspace, do not start JupyterLab")
    args, extra = parser.parse_known_args(argv)
    slugs = chapters()
    workspace = workspace_dir()
    release = build_release(slugs)
    fresh = not workspace.exists()
    workspace.mkdir(parents=True, exist_ok=True)
    added = sync(release, workspace, slugs)
    config = configure(workspace)
    if fresh:
        print(f"== created your workspace {workspace} with {len(slugs)} chapters")
    elif added:
        print(f"== added to your workspace: {', '.join(added)} (nothing of yours was changed)")
    else:
        print(f"== your workspace {workspace} is up to date (your notebooks are never overwritten)")
    if args.setup_only:
        return 0
    warm_kernels()
    command = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={workspace}"]
    if args.no_browser:
        command.append("--no-browser")
    if args.port:
        command += [f"--port={args.port}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # root in a container: JupyterLab refuses without it
    command += [a for a in extra if a != "--"]
    first = slugs[0] if slugs else ""
    then = f", then {first}/{first}.ipynb" if first else ""
    print(f"== starting JupyterLab on {workspace}: open the URL below{then}")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.chdir(workspace)
    os.execve(command[0], command, env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
