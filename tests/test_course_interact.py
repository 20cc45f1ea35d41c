"""`minitorch_edu.course.interact`: the one way chapters show a control, and never one while a program runs them."""

from __future__ import annotations

import pathlib

import pytest

from minitorch_edu import course

CHAPTERS = pathlib.Path(__file__).resolve().parents[1] / "course" / "chapters"


def test_headless_draws_the_default_picture_once(monkeypatch) -> None:
    monkeypatch.delenv("MINITORCH_EDU_GRADING", raising=False)
    calls = []
    course.interact(lambda n, lr, order: calls.append((n, lr, order)),
                    n=("int", 3, 1, 9), lr=("log", 0.5, -2, 1, 0.1), order=("choice", "b", ["a", "b"]))
    assert calls == [(3, 0.5, "b")]  # outside Jupyter: no widget, one picture with the defaults


@pytest.mark.parametrize(("name", "value"), [("MINITORCH_EDU_GRADING", "1"), ("NBGRADER_EXECUTION", "autograde"),
                                             ("MINITORCH_EDU_HEADLESS", "1")])
def test_a_program_running_the_notebook_never_gets_widgets(monkeypatch, name, value) -> None:
    class ZMQInteractiveShell:  # what a Jupyter kernel's get_ipython() returns
        pass

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    for var in ("MINITORCH_EDU_GRADING", "NBGRADER_EXECUTION", "MINITORCH_EDU_HEADLESS"):
        monkeypatch.delenv(var, raising=False)
    assert course.widgets_live()  # a live kernel with ipywidgets installed
    monkeypatch.setenv(name, value)
    assert not course.widgets_live()


def test_live_controls_are_made_from_the_specs() -> None:
    pytest.importorskip("ipywidgets")
    steps = course._control("largest", ("steps", 128, [64, 128, 256]))
    assert (type(steps).__name__, steps.value, list(steps.options)) == ("SelectionSlider", 128, [64, 128, 256])
    log = course._control("lr", ("log", 0.5, -2, 1.2, 0.05))
    assert (type(log).__name__, log.value, log.min, log.max) == ("FloatLogSlider", 0.5, -2, 1.2)
    with pytest.raises(ValueError, match="unknown kind 'knob'"):
        course._control("x", ("knob", 1))


def test_chapters_show_controls_only_through_interact() -> None:
    uses = ("import ipywidgets", "ipywidgets.")
    direct = [p.name for p in CHAPTERS.glob("*.py") if any(use in p.read_text() for use in uses)]
    assert not direct, f"these chapters use ipywidgets directly (a graded run may stall on it): {direct}"
