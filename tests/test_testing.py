"""The course's assertion helpers and reference sealing (minitorch_edu.testing, minitorch_edu.course)."""

from __future__ import annotations

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu import course, testing


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_failure_says_call_result_expectation_and_hint() -> None:
    text = message(testing.assert_equal, 7, 5, call="f(1, 2)", hints=[(lambda g, e: g == 7, "strides swapped")])
    assert text.splitlines() == [
        "f(1, 2) gave the wrong result",
        "  called:   f(1, 2)",
        "  returned: 7",
        "  expected: 5",
        "  likely mistake: strides swapped",
    ]


@pytest.mark.parametrize(
    "got,expected,phrase",
    [
        (np.ones((2, 3)), np.ones((1, 3)), "sum over the broadcast dimensions"),
        (np.arange(6.0).reshape(3, 2), np.arange(6.0).reshape(2, 3), "dimensions are reversed"),
        (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 3.0], [2.0, 4.0]]), "transpose"),
        (-np.arange(1.0, 4.0), np.arange(1.0, 4.0), "sign is flipped"),
        (2 * np.arange(1.0, 4.0), np.arange(1.0, 4.0), "2 times the answer"),
        (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), "1 of 2 values are NaN: elements never written"),
        (np.full(3, np.nan), np.ones(3), "every value is NaN: nothing was computed"),
        (np.array([np.inf, 1.0]), np.array([0.0, 1.0]), "inf: an overflow"),
        (np.zeros(3), np.ones(3), "everything is zero"),
        (np.ones((2, 4)), np.ones((2, 3)), "off-by-one"),
    ],
)
def test_common_mistakes_are_diagnosed(got, expected, phrase) -> None:
    assert phrase in message(testing.assert_close, got, expected, call="f(x)")


def test_unwritten_output_is_not_blamed_on_overflow_or_zeros() -> None:
    unwritten = message(testing.assert_close, np.full((2, 2), np.nan), np.ones((2, 2)), call="kernel(out)")
    assert "never written" in unwritten and "overflow" not in unwritten and "exp of" not in unwritten
    zeros = message(testing.assert_close, np.zeros(3), np.ones(3), call="f(x)")
    assert "nothing was written" not in zeros


def test_failures_render_as_their_message_in_ipython() -> None:
    with pytest.raises(testing.CheckFailed) as info:
        testing.assert_equal(7, 5, call="f(1, 2)")
    rendered = info.value._render_traceback_()
    assert rendered[0].endswith("CheckFailed\x1b[0m: f(1, 2) gave the wrong result")
    assert rendered[1:] == ["  called:   f(1, 2)", "  returned: 7", "  expected: 5"]
    assert not any("testing.py" in line for line in rendered)
    assert isinstance(info.value, AssertionError)  # nbgrader and pytest count it as a failed test


def test_a_shape_strides_pair_is_shown_as_python_writes_it() -> None:
    text = message(testing.assert_raises, ValueError, lambda: ((3, 2), (1, 3)), call="permute((2, 3), (3, 1), (0, 0))")
    assert "returned: ((3, 2), (1, 3)) (no error)" in text and "[[" not in text
    assert "returned: ((2, 3), (3, 1))" in message(testing.assert_equal, ((2, 3), (3, 1)), ((3, 2), (1, 3)), call="p")


def test_numbers_are_shown_as_numbers() -> None:
    text = message(testing.assert_close, (np.float64(1.5), 2.0), (1.0, 2.0), call="f()")
    assert "returned: (1.5, 2)" in text and "expected: (1, 2)" in text
    assert "returned: 1.5\n" in message(testing.assert_close, np.float64(1.5), 1.0, call="g()")


def _learner_code(namespace_source: str) -> dict:
    namespace: dict = {"__name__": "__main__"}
    exec(compile(namespace_source, "/tmp/ipykernel_1/cell7.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "source,call,raised,hint",
    [
        ("def f(x):\n    cache = {}\n    return cache['X']\n", "f(1)", "KeyError: 'X'",
         "the key 'X' is not in the dict"),
        ("import numpy as np\ndef f(x):\n    return np.ones((2, 3)) @ np.ones((2, 3))\n", "f(1)", "ValueError: matmul",
         "the shapes do not line up for `@`"),
        ("def f(x):\n    return f(x)\n", "f(1)", "RecursionError", "your code recursed deeper than Python allows"),
    ],
)
def test_an_error_in_learner_code_is_reported_with_the_call(source, call, raised, hint) -> None:
    fn = _learner_code(source)["f"]
    with pytest.raises(testing.CheckFailed) as info:
        with testing.calling(call):
            fn(1)
    text = str(info.value)
    assert text.startswith(f"{call} raised an error\n  called:   {call}\n  raised:   {raised}")
    assert "  from:     in f, line" in text and f"likely mistake: {hint}" in text


def test_calling_names_the_check_line_and_lets_failures_through() -> None:
    fn = _learner_code("def f(x):\n    return {}['X']\n")["f"]
    with pytest.raises(testing.CheckFailed, match="raised:   KeyError"):
        with testing.calling():
            fn(1)
    with pytest.raises(testing.CheckFailed, match="gave the wrong result"):  # a failed check is not re-wrapped
        with testing.calling("g()"):
            testing.assert_equal(1, 2, call="g()")
    with pytest.raises(NotImplementedError):  # "not written yet" is part()'s to say
        with testing.calling("g()"):
            raise NotImplementedError()


def test_boolean_answers_fail_plainly() -> None:
    assert "returned: False" in message(testing.assert_equal, False, True, call="is_contiguous((2, 3), (1, 2))")


def test_tensors_compare_as_arrays() -> None:
    testing.assert_close(mt.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-9], call="t")
    assert "shape (2,)" in message(testing.assert_close, mt.tensor([1.0, 2.0]), [1.0, 3.0], call="t")


def test_assert_raises_reports_the_wrong_error_and_no_error() -> None:
    def boom():
        raise KeyError("k")

    assert "raised the wrong error" in message(testing.assert_raises, ValueError, boom, call="boom()")
    assert "should have raised" in message(testing.assert_raises, ValueError, lambda: 1, call="one()")
    assert isinstance(testing.assert_raises(KeyError, boom, call="boom()"), KeyError)


def test_unwritten_part_says_so(capsys) -> None:
    with pytest.raises(AssertionError, match="`f` is not written yet"):
        with testing.part("f"):
            raise NotImplementedError()
    with testing.part("f"):
        pass
    assert "✓ f: all visible checks pass" in capsys.readouterr().out


def test_sealed_reference_refuses_notebook_code_but_serves_the_package() -> None:
    import minitorch_edu.backends.shape as S

    original = S.index_to_position
    course.Chapter("t", references={"pos": ["minitorch_edu.backends.shape.index_to_position"]})
    namespace = {"__name__": "__main__"}
    exec("import minitorch_edu.backends.shape as S\ndef mine(i, s):\n    return S.index_to_position(i, s)\n", namespace)
    assert namespace["mine"]((1, 2), (3, 1)) == 5
    with pytest.raises(course.ReferenceSealed, match="index_to_position"):
        with testing.part("pos", hidden=True):
            namespace["mine"]((1, 2), (3, 1))
    with testing.part("pos", hidden=True):
        assert mt.ones(2, 3).T.contiguous().shape == (3, 2)  # the package's own calls go through
    assert S.index_to_position is original


def test_fallback_uses_the_reference_only_for_unwritten_parts(capsys, monkeypatch) -> None:
    monkeypatch.delenv("MINITORCH_EDU_GRADING", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    chapter = course.Chapter("t", references={"pos": ["minitorch_edu.backends.shape.index_to_position"]})

    def unwritten(i, s):
        raise NotImplementedError()

    def mine(i, s):
        return 0

    import minitorch_edu.backends.shape as S

    assert chapter.fallback("pos", unwritten, lambda f: f((0,), (1,))) is S.index_to_position
    assert chapter.fallback("pos", mine, lambda f: f((0,), (1,))) is mine
    out = capsys.readouterr().out
    assert "using the reference pos: yours is not written yet" in out and "using your pos" in out
    monkeypatch.setenv("MINITORCH_EDU_GRADING", "1")
    assert chapter.fallback("pos", unwritten, lambda f: f((0,), (1,))) is unwritten
    with pytest.raises(course.ReferenceSealed):
        chapter.reference("pos")


def test_a_chapter_naming_a_missing_reference_fails_at_once() -> None:
    with pytest.raises(ValueError, match="does not exist: minitorch_edu.backends.shape.nope"):
        course.Chapter("t", references={"x": ["minitorch_edu.backends.shape.nope"]})


def test_ipython_shows_a_failed_check_as_its_message(capsys) -> None:
    """In a real IPython shell: the message and the learner's line, no traceback through testing.py."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell()
    result = shell.run_cell(
        "from minitorch_edu import testing\n"
        "def f(x):\n"
        "    return {}['X']\n"
        "with testing.calling():\n"
        "    f(1)\n"
    )
    shown = capsys.readouterr().out
    assert isinstance(result.error_in_exec, testing.CheckFailed)
    assert "f(1) raised an error" in shown and "from:     in f, line 3: `return {}['X']`" in shown
    assert "testing.py" not in shown and "Traceback" not in shown
    shell.run_cell("testing.assert_equal(7, 5, call='g()')")
    shown = capsys.readouterr().out
    assert "g() gave the wrong result" in shown and "testing.py" not in shown
