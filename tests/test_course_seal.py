"""The seal of `minitorch_edu.course` on its own: what it refuses, what it lets through, what it reads.

Cells are compiled with a notebook cell's file name (`<notebook cell …>`), as the course's runner and
IPython do; a cell whose text is not in `linecache` cannot be scanned, so what is refused there is
refused by the seal on the function object itself.
"""

from __future__ import annotations

import linecache
import re

import numpy as np
import pytest

import minitorch_edu as mt
from autograder.static import chapter_spec, check_solutions, package_uses
from minitorch_edu import course, testing
from minitorch_edu.backends import shape as S
from minitorch_edu.core import functions

_count = iter(range(10**6))


def cell(source: str, namespace: dict, scanned: bool = False) -> dict:
    """Run `source` as a notebook cell of its own (its text in linecache when `scanned`)."""
    name = f"<notebook cell test #{next(_count)}>"
    if scanned:
        linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    exec(compile(source, name, "exec"), namespace)
    return namespace


@pytest.fixture
def chapter():
    """A chapter whose setup cell is trusted, with the references these tests seal."""
    namespace: dict = {"__name__": "__main__"}
    previous = dict(course._trusted)
    course._trusted["chapter"] = None
    namespace["REFS"] = {
             "strides": ["minitorch_edu.backends.shape.contiguous_strides"],
             "backprop": ["minitorch_edu.core.autograd.backpropagate", "minitorch_edu.core.autograd.flow"],
             "matmul_function": ["minitorch_edu.core.functions.MatMul.backward",
                                 "minitorch_edu.core.functions.MatMul.forward"],
             "zip": ["minitorch_edu.backends.python.tensor_zip"],
    }
    cell("from minitorch_edu.course import Chapter\nchapter = Chapter('t', references=REFS)\n", namespace)
    yield namespace
    course._trusted.update(previous)


def checks_cell(source: str, namespace: dict) -> None:
    """The part's checks, entered from a cell of their own, as a tests cell does."""
    cell(source, namespace, scanned=True)


def test_a_name_saved_before_the_checks_is_refused_through_the_function_object(chapter) -> None:
    code = S.contiguous_strides.__code__
    cell("from minitorch_edu.backends.shape import contiguous_strides as _saved\n"
         "def strides(shape):\n    return _saved(shape)\n", chapter)
    assert chapter["strides"]((2, 3)) == (3, 1)  # outside the checks it is the package's function
    with pytest.raises(course.ReferenceSealed, match=r"line 3.*contiguous_strides"):
        checks_cell("with testing.part('strides'):\n    strides((2, 3))\n", {**chapter, "testing": testing})
    assert S.contiguous_strides((2, 3)) == (3, 1) and S.contiguous_strides.__code__ is code  # its own code again


def test_the_public_api_is_refused_below_learner_code_and_serves_the_tests(chapter) -> None:
    cell("import minitorch_edu as mt\ndef strides(shape):\n    return mt.zeros(shape).stride()\n", chapter)
    ns = {**chapter, "testing": testing}
    with pytest.raises(course.ReferenceSealed, match="reached it through the package"):
        checks_cell("with testing.part('strides'):\n    strides((2, 5))\n", ns)
    # the tests cell's own expected values, computed with the package, go through
    checks_cell("with testing.part('strides'):\n    assert mt.zeros((2, 5)).stride() == (5, 1)\n", ns)


def test_the_solution_being_the_reference_object_is_refused_even_from_the_checks_cell(chapter) -> None:
    cell("import minitorch_edu.backends.shape as _s\nstrides = _s.contiguous_strides\n", chapter)
    with pytest.raises(course.ReferenceSealed, match="called it"):
        checks_cell("with testing.part('strides'):\n    strides((2, 3))\n", {**chapter, "testing": testing})


def test_a_context_manager_route_is_refused(chapter) -> None:
    cell("import minitorch_edu as mt\n"
         "def backprop(root, grad):\n"
         "    with mt.use_backprop(mt.core.autograd.backpropagate):\n        root.backward(grad)\n", chapter)
    ns = {**chapter, "testing": testing, "mt": mt}
    with pytest.raises(course.ReferenceSealed, match="backpropagate"):
        checks_cell("x = mt.tensor([1.0, 2.0], requires_grad=True)\n"
                   "with testing.part('backprop'):\n    backprop((x * x).sum(), mt.tensor(1.0))\n", ns)
    checks_cell("x = mt.tensor([1.0, 2.0], requires_grad=True)\n"  # the built-in backward() in the tests cell
               "with testing.part('backprop'):\n    (x * x).sum().backward()\n"
               "assert x.grad.tolist() == [2.0, 4.0]\n", ns)


def test_a_saved_class_method_is_refused_and_the_learners_forward_may_use_operators(chapter) -> None:
    cell("import minitorch_edu as mt\n"
         "from minitorch_edu.core import functions as F\n"
         "_backward = F.MatMul.backward\n"
         "class MatMul(mt.Function):\n"
         "    @staticmethod\n    def forward(ctx, a, b):\n        ctx.save_for_backward(a, b)\n        return a @ b\n"
         "    @staticmethod\n    def backward(ctx, grad):\n        return _backward(ctx, grad)\n", chapter)
    ns = {**chapter, "testing": testing, "mt": mt, "np": np}
    checks_cell("a, b = mt.randn(2, 3, requires_grad=True), mt.randn(3, 2, requires_grad=True)\n"
               "with testing.part('matmul_function'):\n    out = MatMul.apply(a, b)\n", ns)  # forward: a @ b is fine
    with pytest.raises(course.ReferenceSealed, match="MatMul.backward"):
        checks_cell("with testing.part('matmul_function'):\n    MatMul.apply(a, b).sum().backward()\n", ns)
    assert functions.MatMul.backward.__code__.co_filename.endswith("functions.py")


def test_a_kernel_cached_by_a_backend_is_sealed_with_its_factory(chapter) -> None:
    from minitorch_edu.backends import scalar

    backend = mt.get_backend("python")
    chapter["scalar"] = scalar
    cell("import minitorch_edu as mt\n"
         "_kernel = mt.get_backend('python').zip(scalar.add)\n"  # built and cached before the checks
         "def my_zip(fn):\n    return lambda *args: _kernel(*args)\n", chapter)
    ns = {**chapter, "testing": testing, "np": np}
    kernel = backend.zip(scalar.add)
    with pytest.raises(course.ReferenceSealed, match="tensor_zip"):
        checks_cell("out = np.zeros(2)\nwith testing.part('zip'):\n"
                   "    my_zip(None)(out, (1,), np.ones(2), (1,), np.ones(2), (1,), (2,))\n", ns)
    assert backend.zip(scalar.add) is kernel and type(backend._kernels) is dict  # put back as it was


def test_naming_a_reference_fails_the_part_at_once_with_its_line(chapter) -> None:
    cell("import minitorch_edu.core.autograd as A\n\n\ndef backprop(root, grad):\n"
         "    A.backpropagate(root, grad)\n", chapter, scanned=True)
    ns = {**chapter, "testing": testing}
    with pytest.raises(course.ReferenceSealed, match=r"`A.backpropagate` .*at line 5"):
        checks_cell("with testing.part('backprop'):\n    backprop\n", ns)
    cell("def backprop(root, grad):\n    pass\n", ns, scanned=True)  # corrected and re-run: it counts no more
    checks_cell("with testing.part('backprop'):\n    backprop\n", ns)


def test_timing_reference_is_only_for_the_checks(chapter) -> None:
    ns = {**chapter, "testing": testing, "np": np}
    with pytest.raises(course.ReferenceSealed, match="only for the checks"):
        chapter["chapter"].timing_reference("strides")
    checks_cell("with testing.part('strides'):\n    timed = chapter.timing_reference('strides')\n"
               "    assert timed((4, 2)) == (2, 1)\n", ns)
    cell("def strides(shape):\n    return chapter.timing_reference('strides')(shape)\n", ns)
    with pytest.raises(course.ReferenceSealed, match="only for the checks"):
        checks_cell("with testing.part('strides'):\n    strides((4, 2))\n", ns)


def test_scan_source_reads_imports_paths_and_getattr() -> None:
    refs = course._reference_set("", ["minitorch_edu.backends.shape.broadcast_shapes"])
    assert course.scan_source("from minitorch_edu.backends.shape import broadcast_shapes as b\n", refs)
    assert course.scan_source("import minitorch_edu as mt\nf = mt.backends.shape.broadcast_shapes\n", refs)
    assert course.scan_source("import minitorch_edu.backends.shape as s\nf = getattr(s, 'broadcast_shapes')\n", refs)
    assert course.scan_source("x = S.broadcast_shapes", refs, aliases={"S": "minitorch_edu.backends.shape"})
    assert not course.scan_source("import numpy as np\nnp.broadcast_shapes((1,), (2,))\n", refs)


SETUP = '''
import minitorch_edu as mt
from minitorch_edu.course import Chapter
AUTOGRAD = ["minitorch_edu.core.autograd.backpropagate"]
_OPS = "minitorch_edu.core.ops."
chapter = Chapter("x", numpy_only=True, references={"grad": [_OPS + "softmax", *AUTOGRAD],
                                                    "plain": []})
'''


class _Part:
    def __init__(self, cell_id: str) -> None:
        self.cell_id, self.passed, self.message = cell_id, True, ""


def test_the_autograder_fails_and_flags_a_solution_naming_its_reference() -> None:
    references, numpy_only, aliases = chapter_spec(SETUP)
    assert references == {"grad": ["minitorch_edu.core.ops.softmax", "minitorch_edu.core.autograd.backpropagate"],
                          "plain": []}
    assert numpy_only == {"grad", "plain"} and aliases["mt"] == "minitorch_edu"
    plan = [("setup", None, SETUP, {}),
            ("answer", "grad", "def grad(x):\n    return mt.softmax(x, -1)\n", {}), ("tests", "grad_tests", "", {}),
            ("answer", "plain", "def plain(x):\n    return mt.tensor(x)\n", {}), ("tests", "plain_tests", "", {})]
    parts, flags = [_Part("grad_tests"), _Part("plain_tests")], []
    check_solutions(plan, parts, flags)
    assert not parts[0].passed and "mt.softmax" in parts[0].message and parts[1].passed
    assert flags == ["sealed_reference:grad", "package_use:plain"]
    assert package_uses("y = np.maximum(x, 0)\n", aliases) == []


def test_an_execd_string_never_becomes_the_trusted_setup_cell() -> None:
    """Every exec'd string is compiled as `<string>`: trusting one would trust them all (issue 22)."""
    saved = dict(course._trusted)
    course._trusted["chapter"] = None
    try:
        namespace: dict = {"Chapter": course.Chapter}
        exec('c = Chapter("t", references={"pos": ["minitorch_edu.backends.shape.index_to_position"]})', namespace)
        assert course._trusted["chapter"] is None
        exec("import minitorch_edu.backends.shape as S\ndef mine(i, s):\n    return S.index_to_position(i, s)\n",
             namespace)
        with pytest.raises(course.ReferenceSealed, match="index_to_position"):
            with testing.part("pos", hidden=True):
                namespace["mine"]((1, 2), (3, 1))
    finally:
        course._trusted.update(saved)


def test_a_copy_of_a_references_code_is_refused_and_a_method_the_chapter_gives_is_not(chapter) -> None:
    # types.FunctionType(ref.__code__, ...) is a new function object that no seal guards; the source exec'd
    # under another name compiles to the same operations; both are found among the values the tests reach
    cell("import inspect, sys, types\n"
         "_f = vars(sys.modules['minitorch_edu.backends.sh' + 'ape'])['contiguous_' + 'strides']\n"
         "strides = types.FunctionType(_f.__code__, _f.__globals__, 'strides', _f.__defaults__, _f.__closure__)\n"
         "del _f\n", chapter, scanned=True)
    ns = {**chapter, "testing": testing}
    with pytest.raises(course.ReferenceSealed, match="(runs a copy of the code of|holds) .*contiguous_strides"):
        checks_cell("with testing.part('strides'):\n    strides((2, 3))\n", ns)
    cell("import inspect, sys\n"
         "_src = inspect.getsource(sys.modules['minitorch_edu.backends.shape'].contiguous_strides)\n"
         "_ns = {}\nexec(_src.replace('@_memo', '').replace('def contiguous_strides', 'def mine'), _ns)\n"
         "strides = _ns['mine']\n",
         chapter, scanned=True)
    with pytest.raises(course.ReferenceSealed, match="runs a copy"):
        checks_cell("with testing.part('strides'):\n    strides((2, 3))\n", {**chapter, "testing": testing})
    # the learner's own function, typed in a cell, is never a copy, even where it reads like the package's
    cell("def strides(shape):\n    out, step = [], 1\n    for size in reversed(shape):\n        out.append(step)\n"
         "        step *= size\n    return tuple(reversed(out))\n", chapter, scanned=True)
    checks_cell("with testing.part('strides'):\n    assert strides((2, 3)) == (3, 1)\n",
                {**chapter, "testing": testing})


def test_a_reference_called_in_a_thread_the_learner_started_is_refused(chapter) -> None:
    cell("import concurrent.futures\n"
         "from minitorch_edu.backends import shape as _s\n"
         "_pool = concurrent.futures.ThreadPoolExecutor(1)\n"
         "_name = 'contiguous_' + 'strides'\n"
         "def strides(shape):\n    return _pool.submit(vars(_s)[_name], shape).result()\n", chapter)
    with pytest.raises(course.ReferenceSealed, match="in a thread that your code started"):
        checks_cell("with testing.part('strides'):\n    strides((2, 3))\n", {**chapter, "testing": testing})
    # a thread the checks start themselves computes with the package
    checks_cell("import concurrent.futures\nwith testing.part('strides'):\n"
                "    with concurrent.futures.ThreadPoolExecutor(1) as pool:\n"
                "        assert pool.submit(S.contiguous_strides, (2, 3)).result() == (3, 1)\n",
                {**chapter, "testing": testing, "S": S})
    chapter["_pool"].shutdown()


@pytest.fixture
def kernel_chapter(chapter):
    """The fixture's chapter, with a part whose reference is a compiled kernel (no seal can swap its code)."""
    refs = {**chapter["REFS"], "kernel": ["minitorch_edu.backends.numba.matmul.matmul_serial"]}
    course._trusted["chapter"] = None
    cell("chapter = Chapter('t', references=REFS2)\n", chapter | {"REFS2": refs})
    return chapter


_FETCHED = ("import functools, importlib\n"
            "_m = importlib.import_module('minitorch_edu.backends.numba.' + 'matmul')\n")


@pytest.mark.parametrize("how,source", [
    ("default of `_k`", "def kernel(*args, _k=getattr(_m, 'matmul_' + 'serial')):\n    return _k(*args)\n"),
    ("closure (`k`)", "def _make(k):\n    def kernel(*args):\n        return k(*args)\n    return kernel\n"
                      "kernel = _make(getattr(_m, 'matmul_' + 'serial'))\n"),
    ("functools.partial", "def _run(k, *args):\n    return k(*args)\n"
                          "kernel = functools.partial(_run, getattr(_m, 'matmul_' + 'serial'))\n"),
    ("default of `k`", "class Kernel:\n    def run(self, *args, k=getattr(_m, 'matmul_' + 'serial')):\n"
                       "        return k(*args)\n"),
    ("default of `k`", "def _outer():\n    def inner(k=getattr(_m, 'matmul_' + 'serial')):\n        return k\n"
                       "    return inner\n"
                       "def kernel(*args, _helper=_outer()):\n    return _helper()(*args)\n"),
])
def test_a_compiled_kernel_held_by_learner_code_is_refused_naming_it_and_the_holder(kernel_chapter, how, source):
    # fetched by a name built at run time (no reading of names sees it) and kept beside the code: the
    # compiled kernel's code cannot be swapped, so it would run unsealed; it is refused when the checks start,
    # whether the tests call the holder or not (the class is never called here)
    cell(_FETCHED + source, kernel_chapter)
    with pytest.raises(course.ReferenceSealed, match=rf"holds `minitorch_edu.backends.numba.matmul.matmul_serial` "
                                                     rf"in .*{re.escape(how)}"):
        checks_cell("with testing.part('kernel'):\n    pass\n", {**kernel_chapter, "testing": testing})
    # another part's checks do not mind it, and neither does a learner function that keeps a package helper
    checks_cell("with testing.part('strides'):\n    pass\n", {**kernel_chapter, "testing": testing})


def test_a_package_helper_held_in_a_default_is_not_a_held_reference(kernel_chapter) -> None:
    cell(_FETCHED + "def kernel(a, _op=getattr(_m, '_oper' + 'and')):\n    return _op\n", kernel_chapter)
    checks_cell("with testing.part('kernel'):\n    pass\n", {**kernel_chapter, "testing": testing})


def test_a_renamed_exec_copy_of_a_reference_is_refused_and_a_short_lookalike_is_not(chapter) -> None:
    # the source exec'd with its locals renamed and a constant changed: no instruction-for-instruction match,
    # but the same operations in the same order, compiled outside any cell
    cell("import inspect, re, sys\n"
         "_mod = sys.modules['minitorch_edu.backends.sh' + 'ape']\n"
         "_src = inspect.getsource(getattr(_mod, 'broadcast_' + 'shapes').__wrapped__).replace('@_memo\\n', '')\n"
         "for _a, _b in [('ndim', 'rank'), ('out', 'res'), ('sizes', 'seen')]:\n"
         "    _src = re.sub(rf'\\b{_a}\\b', _b, _src)\n"
         "_src = _src.replace('default=0', 'default=False')\n"
         "_ns = {}\nexec(_src, dict(vars(_mod)), _ns)\n"
         "broadcast = _ns['broadcast_shapes']\n", chapter, scanned=True)
    refs = {**chapter["REFS"], "broadcast": ["minitorch_edu.backends.shape.broadcast_shapes"]}
    course._trusted["chapter"] = None
    cell("chapter = Chapter('t', references=REFS2)\n", chapter | {"REFS2": refs})
    ns = {**chapter, "testing": testing}
    assert chapter["broadcast"]((3, 1), (4,)) == (3, 4)
    with pytest.raises(course.ReferenceSealed, match=r"runs a copy of the code of .*broadcast_shapes \(names or "):
        checks_cell("with testing.part('broadcast'):\n    broadcast((3, 1), (4,))\n", ns)
    # a short function exec'd from text that happens to have index_to_position's shape is not a copy
    refs["position"] = ["minitorch_edu.backends.shape.index_to_position"]
    course._trusted["chapter"] = None
    cell("chapter = Chapter('t', references=REFS2)\n", chapter | {"REFS2": refs})
    cell("_ns = {}\nexec('def pos(i, s):\\n    return sum(a * b for a, b in zip(i, s))\\n', _ns)\n"
         "position = _ns['pos']\n", chapter, scanned=True)
    checks_cell("with testing.part('position'):\n    assert position((1, 2), (3, 1)) == 5\n",
                {**chapter, "testing": testing})


def test_framework_uses_follows_the_learners_own_helpers_and_nothing_else(chapter) -> None:
    # the step names only a helper, which names another, which uses torch.optim: found two levels down, with
    # the path; helpers that call each other (a cycle) are read once; a comparison cell's torch code that the
    # code under test does not reach is not the learner's solution
    cell("import types\ntorch = types.ModuleType('torch')\ntorch.optim = types.ModuleType('torch.optim')\n"
         "def _inner(params):\n    return torch.optim\n"
         "def _outer(params, depth=0):\n    return _inner(params) if depth else _outer(params, depth + 1)\n"
         "class SGD:\n    def step(self):\n        return _outer([])\n"
         "def comparison():\n    return torch.optim\n"
         "def clean(x):\n    return _clean_helper(x)\n"
         "def _clean_helper(x):\n    return clean(x - 1) if x > 0 else x\n", chapter)
    uses = course.framework_uses(chapter["SGD"]().step)
    assert uses == ["SGD.step -> _outer -> _inner uses torch (torch)"], uses
    assert course.framework_uses(chapter["clean"]) == []
    assert course.framework_uses(chapter["comparison"]) == ["comparison uses torch (torch)"]
    # testing's check says what was found, as a failed check
    with pytest.raises(testing.CheckFailed, match=r"_outer -> _inner uses torch"):
        testing.assert_own_work(chapter["SGD"]().step, call="SGD.step()")
