"""Assertion helpers whose failures say what to fix (as `numpy.testing` and `torch.testing` are).

Every helper takes the text of the `call` being checked and optional `hints`. A failure says what
was called, what came back, what was expected and the likely mistake:

    >>> assert_equal(index_to_position((1, 2), (3, 1)), 5, call="index_to_position((1, 2), strides=(3, 1))")
    CheckFailed: index_to_position((1, 2), strides=(3, 1)) gave the wrong result
      called:   index_to_position((1, 2), strides=(3, 1))
      returned: 7
      expected: 5
      likely mistake: ...

`hints` is a list of `(predicate(got, expected) -> bool, text)` pairs and plain strings (a plain
string is said when no predicate matches). When none is given or matches, common mistakes are
diagnosed from the values themselves: a wrong shape (a broadcast dimension not summed, an
off-by-one), the transpose of the answer, the sign flipped, a constant factor, NaN or inf.

`calling(call)` wraps code that calls the learner's functions: an error raised inside (a KeyError,
NumPy's "matmul: Input operand ... mismatch", a RecursionError) becomes a failure that names the call,
the error, the line of the learner's code it came from and, where the error is a familiar one, the
likely mistake. Failures are `CheckFailed` (an AssertionError) and render in IPython as their
message, without a traceback through this module.

`part(name)` wraps the checks of one graded part of the course: it seals the package's reference
for that part (see `minitorch_edu.course`) and turns "not written yet" into a plain message.
"""

from __future__ import annotations

import linecache
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from . import course  # knows the chapter's references (for the sealed checks)

Hint = str | tuple[Callable[[Any, Any], bool], str]

__all__ = [
    "CheckFailed",
    "assert_close",
    "assert_equal",
    "assert_raises",
    "assert_shape",
    "assert_own_work",
    "assert_true",
    "calling",
    "describe",
    "explain_error",
    "part",
]


class CheckFailed(AssertionError):  # noqa: N818 (an AssertionError, as every test framework expects)
    """A failed check: its message says what was called, what came back, what was expected and why.

    IPython shows an exception through its `_render_traceback_()` when it has one: a learner sees
    the message, not a traceback through the helpers of this module.
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {lines[0]}", *lines[1:]]


def _as_array(value: Any) -> np.ndarray | None:
    """`value` as a NumPy array when it is numeric data (tensor, array, number, nested sequence)."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    try:
        array = np.asarray(value)
    except Exception:  # ragged sequences, arbitrary objects: compared as they are
        return None
    return array if array.dtype.kind in "biufc" else None


def describe(value: Any) -> str:
    """A short text for a value: arrays and tensors by shape and dtype, the rest by repr."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        device = getattr(value, "device", None)
        kind = type(value).__name__
        where = f", device={device!r}" if isinstance(device, str) else ""
        return f"{kind} of shape {tuple(value.shape)}, dtype {value.dtype}{where}"
    text = repr(value)
    return text if len(text) <= 200 or isinstance(value, _Text) else text[:197] + "..."


def _plain_tuple(value: Any) -> bool:
    """True for tuples of ints (and tuples of those): shapes, strides, indices, (shape, strides) pairs."""
    return isinstance(value, tuple) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) or _plain_tuple(v) for v in value
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _show(value: Any) -> str:
    if _plain_tuple(value):  # a (shape, strides) pair is not a matrix
        return describe(value)
    if isinstance(value, tuple) and value and all(_scalar(v) for v in value):  # a few numbers: as a tuple
        return "(" + ", ".join(f"{float(v):.6g}" for v in value) + ("," if len(value) == 1 else "") + ")"
    array = _as_array(value)
    if array is not None and array.ndim == 0 and _scalar(array.item()):  # np.float64(2.0) shown as 2.0
        return repr(array.item())
    if array is None or array.ndim == 0:
        return describe(value)
    body = np.array2string(array, precision=5, threshold=40, edgeitems=3)
    body = body.replace("\n", "\n            ")
    return f"{body}  (shape {array.shape})"


def _diagnose(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """The likely mistake, read off the values (None when nothing familiar shows)."""
    g, e = _as_array(got), _as_array(expected)
    if g is None or e is None:
        if type(got) is not type(expected) and expected is not None:
            return f"expected a {type(expected).__name__}, got a {type(got).__name__}"
        return None
    if g.shape != e.shape:
        text = f"the shape is {g.shape}, it should be {e.shape}"
        if g.ndim >= e.ndim and g.size > e.size:
            lead = g.ndim - e.ndim
            reducible = all(es == 1 or es == gs for es, gs in zip(e.shape, g.shape[lead:]))
            if reducible:
                return text + ": did you sum over the broadcast dimensions (and keep size-1 ones)?"
        if g.shape == e.shape[::-1]:
            return text + ": the dimensions are reversed (a transpose, or strides read backwards?)"
        if g.ndim == e.ndim and sum(abs(a - b) for a, b in zip(g.shape, e.shape)) == 1:
            return text + ": an off-by-one in a size?"
        if g.size == e.size:
            return text + ": the right number of elements in the wrong shape (a missing reshape?)"
        return text
    if g.dtype.kind == "b" or e.dtype.kind == "b":
        return None  # yes/no answers: nothing to read off the numbers
    if np.issubdtype(g.dtype, np.floating) and not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        nan, inf = int(np.count_nonzero(np.isnan(g))), int(np.count_nonzero(np.isinf(g)))
        if nan == g.size:
            return ("every value is NaN: nothing was computed into the result (an output that starts as NaN "
                    "and was never written?)")
        if nan and not inf:
            return (f"{nan} of {g.size} values are NaN: elements never written (an output that starts as NaN "
                    "keeps it where the code did not store), or a 0/0")
        if inf and not nan:
            return f"{inf} of {g.size} values are inf: an overflow (exp of a large number?) or a division by zero"
        return f"{nan} NaN and {inf} inf values: an overflow or a division by zero, or elements never written"
    close = lambda a: np.allclose(a, e, rtol=rtol, atol=atol)  # noqa: E731
    if g.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] > 1 and close(g.T):
        return "you returned the transpose of the answer"
    if np.any(e != 0) and close(-g):
        return "the sign is flipped"
    if np.all(g == 0) and np.any(e != 0):
        return "everything is zero: a result computed but not stored or added, or a gradient not passed on?"
    nonzero = np.abs(e) > atol
    if np.count_nonzero(nonzero) >= 2:  # one number times a constant is just a wrong number
        ratios = g[nonzero] / e[nonzero]
        if np.allclose(ratios, ratios.flat[0], rtol=1e-6) and not np.isclose(ratios.flat[0], 1.0):
            return f"every value is {ratios.flat[0]:.4g} times the answer: a missing or extra constant factor?"
    return None


def _hint(hints: Sequence[Hint] | str, got: Any, expected: Any) -> str | None:
    if isinstance(hints, str):
        return hints
    fallback = None
    for hint in hints:
        if isinstance(hint, str):
            fallback = fallback or hint
            continue
        predicate, text = hint
        try:
            if predicate(got, expected):
                return text
        except Exception:  # a hint's predicate must never hide the real failure
            continue
    return fallback


class _Text(str):
    """Text shown as it is in a failure message (not as a value's repr)."""

    def __repr__(self) -> str:
        return str(self)


def _fail(what: str, call: str, got: Any, expected: Any, mistake: str | None) -> CheckFailed:
    lines = [f"{call} {what}", f"  called:   {call}", f"  returned: {_show(got)}", f"  expected: {_show(expected)}"]
    if mistake:
        lines.append(f"  likely mistake: {mistake}")
    return CheckFailed("\n".join(lines))


def _compare(got: Any, expected: Any, call: str, hints: Sequence[Hint] | str, rtol: float, atol: float) -> None:
    __tracebackhide__ = True  # IPython shows the learner's frames, not the helpers'
    g, e = _as_array(got), _as_array(expected)
    if g is not None and e is not None:
        same = g.shape == e.shape and (
            np.array_equal(g, e) if rtol == 0 and atol == 0 else np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        )
    else:
        try:
            same = bool(got == expected)
        except Exception:
            same = False
    if not same:
        mistake = _hint(hints, got, expected) if hints else None
        mistake = mistake or _diagnose(got, expected, rtol, atol)
        raise _fail("gave the wrong result", call, got, expected, mistake)


def assert_close(
    got: Any, expected: Any, *, call: str, rtol: float = 1e-5, atol: float = 1e-8, hints: Sequence[Hint] | str = ()
) -> None:
    """`got` equals `expected` within `rtol`/`atol` (numbers, sequences, arrays, tensors)."""
    __tracebackhide__ = True
    _compare(got, expected, call, hints, rtol, atol)


def assert_equal(got: Any, expected: Any, *, call: str, hints: Sequence[Hint] | str = ()) -> None:
    """`got` equals `expected` exactly (same shape for arrays and tensors)."""
    __tracebackhide__ = True
    _compare(got, expected, call, hints, 0.0, 0.0)


def assert_shape(got: Any, shape: Sequence[int], *, call: str, hints: Sequence[Hint] | str = ()) -> None:
    """`got` (an array or tensor) has `shape`."""
    __tracebackhide__ = True  # IPython shows the learner's frames, not the helpers'
    actual = tuple(getattr(got, "shape", np.shape(got)))
    if actual != tuple(shape):
        mistake = (_hint(hints, actual, tuple(shape)) if hints else None) or _diagnose(
            np.zeros(actual), np.zeros(tuple(shape)), 0, 0
        )
        raise _fail("gave the wrong shape", call, f"shape {actual}", f"shape {tuple(shape)}", mistake)


def assert_true(condition: Any, *, call: str, got: Any, expected: Any, hint: str | None = None) -> None:
    """A check of anything else: `condition` must hold; the message shows `got` and `expected`."""
    __tracebackhide__ = True  # IPython shows the learner's frames, not the helpers'
    if not condition:
        raise _fail("is not right", call, got, expected, hint)


#: what `assert_own_work` found clean while the current part is checked: id -> the object, held (so that a
#: new object cannot reuse a checked one's id); emptied when a part starts, so a helper redefined since is read
_own_work_checked: dict[int, Any] = {}


def assert_own_work(fn: Any, *, call: str, hint: str | None = None) -> None:
    """The code behind `fn` (what the tests are about to call) does not hand its work to another framework.

    Read transitively through the learner's own functions and classes (see `course.framework_uses`); each
    object is read once per part (the checks call a method many times)."""
    __tracebackhide__ = True
    owner = type(fn.__self__) if hasattr(fn, "__self__") and hasattr(fn, "__func__") else fn
    if _own_work_checked.get(id(owner)) is owner:
        return
    uses = course.framework_uses(fn)
    assert_true(not uses, call=call, got="; ".join(uses[:3]), expected="your own code, in minitorch_edu",
                hint=hint or "another framework (torch, keras, jax, optax) run on copies of the tensors does the "
                             "work for you: write it with mt tensor operations")
    _own_work_checked[id(owner)] = owner


def assert_raises(
    exc_type: type[BaseException] | tuple[type[BaseException], ...],
    fn: Callable[..., Any],
    *args: Any,
    call: str,
    hints: Sequence[Hint] | str = (),
    **kwargs: Any,
) -> BaseException:
    """`fn(*args, **kwargs)` raises `exc_type`; returns the exception (to check its message)."""
    __tracebackhide__ = True  # IPython shows the learner's frames, not the helpers'
    names = exc_type.__name__ if isinstance(exc_type, type) else " or ".join(t.__name__ for t in exc_type)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except exc_type as err:
        return err
    except Exception as err:  # the wrong error is a failure of its own, with the error shown
        where = _where(err)
        raise _fail(
            "raised the wrong error",
            call,
            _Text(f"{type(err).__name__}: {err}" + (f"\n            {where}" if where else "")),
            _Text(names),
            _hint(hints, err, exc_type) if hints else None,
        ) from None
    raise _fail(
        "should have raised an error",
        call,
        _Text(f"{describe(result)} (no error)"),
        _Text(f"{names} to be raised"),
        _hint(hints, result, exc_type) if hints else None,
    )


_HERE = Path(__file__).resolve().parent  # the package: its frames are not the learner's code


def _in_package(filename: str) -> bool:
    """True for a file of this package, of an installed library or of Python itself."""
    if filename.startswith("<frozen") or "site-packages" in filename or "/lib/python" in filename:
        return True
    return filename.endswith(".py") and Path(filename).resolve().is_relative_to(_HERE)


def _learners_frame(err: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback that is notebook code (not the package, NumPy or Python)."""
    found = None
    for frame in traceback.extract_tb(err.__traceback__):
        if not _in_package(frame.filename):
            found = frame
    return found


def _where(err: BaseException) -> str:
    """'in f, line 3: `return cache["X"]`' for the learner's line that raised `err` ('' if none is found)."""
    frame = _learners_frame(err)
    if frame is None:
        return ""
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    place = "" if frame.name == "<module>" else f"in {frame.name}, "
    return f"{place}line {frame.lineno}" + (f": `{line}`" if line else "")


def _error_hint(err: BaseException) -> str | None:
    """The likely mistake behind a familiar error."""
    text = str(err)
    if isinstance(err, RecursionError):
        return ("your code recursed deeper than Python allows (about 1000 nested calls): "
                "keep your own stack (a list) of what is left to visit instead of calling yourself")
    if isinstance(err, KeyError):
        return f"the key {text} is not in the dict: a name spelt differently, or an entry never stored"
    if isinstance(err, ValueError) and "matmul" in text:
        return ("the shapes do not line up for `@` (the error names them): the inner sizes must match, "
                "so check which operand needs a transpose (.T)")
    if isinstance(err, ValueError) and "broadcast" in text:
        return "two arrays of shapes that cannot broadcast: compare the shapes in the error with the ones expected"
    if isinstance(err, IndexError):
        return "an index outside the array or list: check each index against its size (count from 0)"
    if isinstance(err, ZeroDivisionError):
        return "a division by zero"
    if isinstance(err, TypeError) and ("not subscriptable" in text or "unpack" in text):
        return "a value of another kind than expected came back: check what your function returns"
    return None


def explain_error(err: BaseException, call: str | None = None, hint: str | None = None,
                  expected: str | None = None) -> CheckFailed:
    """`err` (raised by the learner's code) as a failure that says what was called and what went wrong
    (and, given `expected`, what the call should have given)."""
    where = _where(err)
    if call is None:  # the line of the check that made the call (the outermost frame outside the package)
        frames = [f for f in traceback.extract_tb(err.__traceback__) if not _in_package(f.filename)]
        line = (frames[0].line or linecache.getline(frames[0].filename, frames[0].lineno)).strip() if frames else ""
        call = line or (f"the check on line {frames[0].lineno} of this cell" if frames else "a check of this part")
    lines = [f"{call} raised an error", f"  called:   {call}", f"  raised:   {type(err).__name__}: {err}"]
    if where:
        lines.append(f"  from:     {where}")
    if expected is not None:
        lines.append(f"  expected: {expected}")
    mistake = hint or _error_hint(err)
    if mistake:
        lines.append(f"  likely mistake: {mistake}")
    return CheckFailed("\n".join(lines))


@contextmanager
def calling(call: str | None = None, hint: str | None = None) -> Iterator[None]:
    """Code that calls the learner's functions: an error inside becomes a failure naming the call.

    `call` is the text of the call (None: the line of the check that raised). Failures of checks,
    "not written yet" and sealed references pass through unchanged.
    """
    __tracebackhide__ = True
    try:
        yield
    except (AssertionError, NotImplementedError, KeyboardInterrupt):
        raise
    except Exception as err:  # RecursionError included (a RuntimeError)
        raise explain_error(err, call, hint) from None


@contextmanager
def part(name: str, hidden: bool = False) -> Iterator[None]:
    """The checks of one graded part: the reference is sealed, and unwritten code is said plainly.

    On success the visible block prints one line; a hidden block prints nothing.
    """
    __tracebackhide__ = True  # IPython shows the learner's frames, not the helpers'

    _own_work_checked.clear()
    with course.sealed(name):
        try:
            yield
        except NotImplementedError as err:
            raise AssertionError(
                f"`{name}` is not written yet: replace `raise NotImplementedError()` with your code"
            ) from err
    if not hidden:
        print(f"✓ {name}: all visible checks pass")


course.watch_checks(sys.modules[__name__])  # the seal notices a check replaced by learner code
