"""What a course chapter needs from the package: its references, sealing, fallback, grading mode.

Each chapter's first cell says which of the package's functions are the reference for each graded
part:

    chapter = Chapter(
        "02_tensors", references={"index_to_position": ["minitorch_edu.backends.shape.index_to_position"]}
    )

- While a part's checks run (`testing.part(name)`), its references are *sealed*: a call from notebook
  code raises `ReferenceSealed`, so a solution that hands the work to the package scores nothing
  and is told why. The package's own code still calls them (the caller's module decides). Every
  module of the package that holds the same object is sealed, so re-exports are covered too.
- `chapter.fallback(part, yours, probe)` lets a learner stuck on one part go on: an unwritten part
  (it raises NotImplementedError) is replaced by the reference for the rest of the chapter, and the
  notebook says so. While grading there is no fallback: the learner's own code is what runs.
- Grading is on when the autograder sets `MINITORCH_EDU_GRADING=1` or nbgrader runs the notebook
  (`NBGRADER_EXECUTION` is "autograde" or "validate").

What sealing does not stop: a reference captured into a variable *before* the checks start and
called later. The autograder flags imports of sealed names in solution cells for that reason.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Chapter", "ReferenceSealed", "grading", "interact", "sealed", "widgets_live"]

_PACKAGE = __name__.split(".")[0]
_references: dict[str, list[str]] = {}  # part -> dotted names, from the chapter in this kernel
_seal_depth: dict[str, int] = {}


class ReferenceSealed(AssertionError):  # noqa: N818 (the name says what happened)
    """Notebook code called the package's reference for a part while that part is graded."""


def grading() -> bool:
    """True when the notebook is being graded (by the autograder, or by nbgrader's autograde/validate)."""
    return os.environ.get("MINITORCH_EDU_GRADING") == "1" or os.environ.get("NBGRADER_EXECUTION") in (
        "autograde",
        "validate",
    )


def widgets_live() -> bool:
    """True when an ipywidgets control can be shown: a Jupyter kernel, ipywidgets installed, and the
    notebook not run by a program (grading, `python -m autograder check`, `MINITORCH_EDU_HEADLESS=1`).

    A notebook run by a program gets the picture without the knob: nbclient can stall after a widget
    cell until its cell timeout (jupyter/nbclient#312; seen here as a 300 s pause in one of ~12
    nbgrader runs of chapter 05), and a graded run needs the picture, not the control.
    """
    if grading() or os.environ.get("MINITORCH_EDU_HEADLESS") == "1":
        return False
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _control(name: str, spec: tuple) -> Any:
    """An ipywidgets control from a plain spec, so chapters need not import ipywidgets."""
    import ipywidgets

    kind, value, *options = spec
    if kind == "int":
        low, high, *step = options
        return ipywidgets.IntSlider(value=value, min=low, max=high, step=step[0] if step else 1, description=name,
                                    continuous_update=False)
    if kind in ("float", "log"):
        low, high, step = options
        slider = ipywidgets.FloatLogSlider if kind == "log" else ipywidgets.FloatSlider
        extra = {"base": 10} if kind == "log" else {}
        return slider(value=value, min=low, max=high, step=step, description=name, continuous_update=False, **extra)
    if kind == "choice":
        return ipywidgets.Dropdown(options=options[0], value=value, description=name)
    if kind == "steps":
        return ipywidgets.SelectionSlider(options=options[0], value=value, description=name)
    raise ValueError(f"control {name!r}: unknown kind {kind!r}; use int, float, log, choice or steps")


def interact(draw: Callable[..., Any], *, manual: bool = False, **controls: tuple) -> None:
    """Draw `draw(**defaults)`; in a live notebook, with a control per keyword that redraws it.

    Each control is a plain tuple: ("int", default, min, max[, step]), ("float", default, min, max,
    step), ("log", default, min, max, step) (a base-10 exponent range), ("choice", default, options)
    or ("steps", default, options) (a slider over the options). `manual=True` adds a button instead
    of redrawing on every move (for slow pictures). Headless (see `widgets_live`), only the default
    picture is drawn, so grading and the tests never depend on a widget.
    """
    defaults = {name: spec[1] for name, spec in controls.items()}
    if not widgets_live():
        draw(**defaults)
        return
    import ipywidgets

    widgets = {name: _control(name, spec) for name, spec in controls.items()}
    if manual:
        draw(**defaults)
        ipywidgets.interact_manual(draw, **widgets)
    else:
        ipywidgets.interact(draw, **widgets)  # it displays the controls and the first picture itself


def _resolve(dotted: str) -> tuple[Any, str, Any]:
    """(module, attribute name, object) for "package.module.attribute"."""
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return module, attribute, getattr(module, attribute)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"the chapter names a reference that does not exist: {dotted} ({err})") from None


def _stub(part: str, dotted: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def sealed_reference(*args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == _PACKAGE or caller.startswith(_PACKAGE + "."):
            return original(*args, **kwargs)  # the package's own machinery, not the learner
        raise ReferenceSealed(
            f"your code called the package's reference `{dotted}` while the part `{part}` is checked: "
            f"the point of `{part}` is to write it yourself, without calling the package's version"
        )

    sealed_reference.__wrapped__ = original  # type: ignore[attr-defined]
    sealed_reference.__name__ = getattr(original, "__name__", part)
    sealed_reference.__doc__ = f"(sealed while `{part}` is checked)"
    return sealed_reference


def _holders(obj: Any) -> list[tuple[dict[str, Any], str]]:
    """Every (module namespace, name) in the loaded package that holds `obj`."""
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or not (name == _PACKAGE or name.startswith(_PACKAGE + ".")):
            continue
        namespace = vars(module)
        found += [(namespace, key) for key, value in list(namespace.items()) if value is obj]
    return found


@contextmanager
def sealed(part: str) -> Iterator[None]:
    """Seal the references of `part` (as registered by the chapter) for the duration of the block."""
    names = _references.get(part, [])
    if _seal_depth.get(part, 0) or not names:
        _seal_depth[part] = _seal_depth.get(part, 0) + 1
        try:
            yield
        finally:
            _seal_depth[part] -= 1
        return
    replaced: list[tuple[dict[str, Any], str, Any]] = []
    for dotted in names:
        _, _, original = _resolve(dotted)
        stub = _stub(part, dotted, original)
        for namespace, key in _holders(original):
            replaced.append((namespace, key, original))
            namespace[key] = stub
    _seal_depth[part] = 1
    try:
        yield
    finally:
        _seal_depth[part] = 0
        for namespace, key, original in reversed(replaced):
            namespace[key] = original


class Chapter:
    """One chapter of the course: its graded parts' references, and the fallback to them."""

    def __init__(self, slug: str, references: dict[str, list[str]] | None = None) -> None:
        self.slug = slug
        self.references = {part: list(names) for part, names in (references or {}).items()}
        for names in self.references.values():
            for dotted in names:
                _resolve(dotted)  # a wrong name is the chapter author's bug: say so at once
        _references.clear()
        _references.update(self.references)

    @property
    def grading(self) -> bool:
        return grading()

    def reference(self, part: str) -> Any:
        """The package's reference for `part` (the first name registered), to compare with."""
        if self.grading or _seal_depth.get(part):
            raise ReferenceSealed(f"the reference of `{part}` is not available while `{part}` is graded")
        if part not in self.references:
            raise KeyError(f"chapter {self.slug} has no reference for {part!r}; it has {sorted(self.references)}")
        return _resolve(self.references[part][0])[2]

    def fallback(self, part: str, yours: Callable[..., Any] | None, probe: Callable[[Callable[..., Any]], Any]) -> Any:
        """Your `part` if it works on a tiny call (`probe(yours)`), else the reference, said out loud."""
        if self.grading:
            print(f"grading: using your {part} (no fallback to the reference while grading)")
            return yours
        if yours is None:
            problem = "yours is not written yet"
        else:
            try:
                probe(yours)
                print(f"using your {part}")
                return yours
            except NotImplementedError:
                problem = "yours is not written yet"
            except Exception as err:  # any other failure: go on with the reference, and say why
                problem = f"yours fails on a small input ({type(err).__name__}: {err})"
        print(f"using the reference {part}: {problem}")
        return self.reference(part)

    def __repr__(self) -> str:
        return f"Chapter({self.slug!r}, parts={sorted(self.references)})"
