"""Time each chapter's solution notebook top to bottom in a real kernel, as the course's budget is stated.

    .venv/bin/python scripts/time_notebooks.py [slug ...]

Each notebook runs on a copy in a temporary folder (a chapter may write files beside itself), with
nbclient, kernel start and the comparison cells' JAX / PyTorch imports included. Run it on a quiet
machine: the budget is 60 s per chapter (90 s for 12) on 2 cores.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SOURCE = Path(__file__).resolve().parents[1] / "course" / "source"


def wall_seconds(slug: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(shutil.copytree(SOURCE / slug, Path(tmp) / slug))
        nb = nbformat.read(folder / f"{slug}.ipynb", as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        return time.perf_counter() - start


if __name__ == "__main__":
    for slug in sys.argv[1:] or sorted(p.name for p in SOURCE.iterdir() if p.is_dir()):
        print(f"{slug:24s} {wall_seconds(slug):6.1f} s", flush=True)
