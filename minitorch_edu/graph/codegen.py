"""Code generation: one fused group of elementwise ops -> the source of one numba kernel.

For the group `t3 = x * 2.0; t4 = exp(t3); t5 = t4 + y` over float32[4096] the CPU kernel is

    @njit(SIG, parallel=True, cache=True, error_model="numpy")
    def fused(o0, i0, i1, n, shape):
        for i in prange(n):
            x0 = i0[i]                       # a contiguous operand of the group's shape
            x1 = i1[0]                       # an operand with one element
            t3 = float32(mul(float32(x0), float32(2.0)))
            t4 = float32(exp(t4))
            t5 = float32(add(t4, float32(x1)))
            o0[i] = t5

Every intermediate is rounded to its dtype, exactly as the eager kernels store it, so the
fused result equals the eager one. The per-element functions are the ones the eager kernels
use (`backends.scalar`), inlined. Operands that are neither contiguous in the group's shape
nor a single element (broadcast rows, transposes) are read through their strides, from the
multi-index of element i. Kernels are written under the package's cache folder and compiled
with numba's disk cache, so a later process loads them instead of compiling (see
`backends.numba.cache`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ..backends import scalar
from ..backends import shape as S
from ..core.dtype import promote_operands
from .ir import Node, Value
from .passes import scalar_of


@dataclass
class KernelSpec:
    """A fused group, flattened: operands (with how each is read), outputs, and the body's lines."""

    shape: tuple[int, ...]
    inputs: list[Value]
    layouts: list[str]  # per input: "c" contiguous in `shape`, "s" a single element, "g" strided
    outputs: list[Value]
    body: list[str]
    scalars: list[str]  # names of backends.scalar functions the body calls
    dtypes: list[str]  # numba dtype names of outputs then inputs
    reduce_dim: int | None = None  # the group ends in a sum over this dim of `shape`
    temps: dict[str, np.dtype] | None = None  # each intermediate t<id>'s dtype


def layout(shape: tuple[int, ...], v_shape: tuple[int, ...], strides: tuple[int, ...]) -> str:
    """How a kernel reads an operand of the group: "c", "s" or "g" (see KernelSpec)."""
    if S.size_of(v_shape) == 1:
        return "s"
    if v_shape == shape and S.is_contiguous(v_shape, strides):
        return "c"
    return "g"


def operand_strides(shape: tuple[int, ...], v_shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[int, ...]:
    """An operand's strides broadcast to the group's shape (stride 0 where it is repeated)."""
    return S.expand_strides(v_shape, strides, shape)


def _literal(v: Value) -> str:
    x = v.literal
    if isinstance(x, float) and not np.isfinite(x):
        text = "math.nan" if x != x else ("math.inf" if x > 0 else "-math.inf")
    else:
        text = repr(x)
    return f"{_cast(v.dtype)}({text})"


def _cast(dtype: np.dtype) -> str:
    """The generated code's conversion to `dtype` (Python's `bool` for masks: non-zero is true)."""
    return "bool" if dtype == np.bool_ else dtype.name


def _array(dtype: str) -> str:
    """numba's type name for an array element of a dtype name."""
    return "boolean" if dtype == "bool" else dtype


def spec_for(members: list[Node], outputs: list[Value]) -> KernelSpec:
    """The kernel of one group: `outputs` are the members' values needed after it."""
    reduce_dim, total = None, None
    if members[-1].op == "sum":  # a trailing sum (see passes._attach_trailing_sum)
        total, members = members[-1], members[:-1]
        flat = members[-1].op == "reshape"
        if flat:
            members = members[:-1]
        reduce_dim = None if flat else total.options["dim"]
    inside = {n.out.id for n in members}
    shape = members[-1].out.shape

    inputs: list[Value] = []
    for n in members:
        for v in n.inputs:
            if v.id not in inside and v.kind != "literal" and all(v is not w for w in inputs):
                inputs.append(v)
    names: dict[int, str] = {}
    body: list[str] = []
    layouts = []
    for j, v in enumerate(inputs):
        kind = layout(shape, v.shape, v.strides)
        layouts.append(kind)
        index = {"c": "i", "s": "0"}.get(kind) or " + ".join(f"k{d} * st{j}[{d}]" for d in range(len(shape))) or "0"
        body.append(f"x{j} = i{j}[{index}]")
        names[v.id] = f"x{j}"
    used: list[str] = []
    temps: dict[str, np.dtype] = {}
    for n in members:
        d = _cast(n.out.dtype)
        c = d  # the dtype it computes in: a binary op's promoted inputs' (a comparison writes a mask)
        if n.op != "where" and len(n.inputs) == 2:
            (a, b) = n.inputs
            c = _cast(promote_operands(a.dtype, len(a.shape), b.dtype, len(b.shape)))
        args = [_literal(v) if v.kind == "literal" else f"{c}({names[v.id]})" for v in n.inputs]
        t = f"t{n.out.id}"
        if n.op == "where":  # cond, a, b: the cond is tested, not cast
            cond = _literal(n.inputs[0]) if n.inputs[0].kind == "literal" else names[n.inputs[0].id]
            body.append(f"{t} = {args[1]} if {cond} != 0.0 else {args[2]}")
        else:
            fn = scalar_of(n)
            name = fn.__name__
            if getattr(scalar, name, None) is not fn:
                raise ValueError(f"cannot generate code for {n.op}: its scalar function is not in backends.scalar")
            if name not in used:
                used.append(name)
            body.append(f"{t} = {d}(s_{name}({', '.join(args)}))")
        names[n.out.id] = t
        temps[t] = n.out.dtype
    if total is not None:  # accumulate in the sum's dtype, rounding at each step as the eager fold does
        d = total.out.dtype.name
        body.append(f"acc = {d}(s_add(acc, {names[members[-1].out.id]}))")
        if "add" not in used:
            used.append("add")
        dtypes = [d] + [v.dtype.name for v in inputs]
        if reduce_dim is None:  # the sum of everything, as one dim of all elements
            return KernelSpec(shape, inputs, layouts, [total.out], body, used, dtypes, -1)
        return KernelSpec(shape, inputs, layouts, [total.out], body, used, dtypes, reduce_dim)
    for j, v in enumerate(outputs):
        body.append(f"o{j}[i] = {names[v.id]}")
    dtypes = [v.dtype.name for v in outputs] + [v.dtype.name for v in inputs]
    return KernelSpec(shape, inputs, layouts, outputs, body, used, dtypes, temps=temps)


def _index_lines(spec: KernelSpec, indent: str) -> list[str]:
    """The multi-index (k0, k1, ...) of flat element i, when a strided operand needs it."""
    if "g" not in spec.layouts:
        return []
    nd = len(spec.shape)
    lines, rest = [], "i"  # distinct names: numba's parallel loops refuse reassigning the index's copy
    for d in range(nd - 1, 0, -1):
        lines.append(f"{indent}k{d} = {rest} % shape[{d}]")
        lines.append(f"{indent}q{d} = {rest} // shape[{d}]")
        rest = f"q{d}"
    if nd:
        lines.append(f"{indent}k0 = {rest}")
    return lines


def _params(spec: KernelSpec) -> list[str]:
    outs = [f"o{j}" for j in range(len(spec.outputs))]
    ins = [f"i{j}" for j in range(len(spec.inputs))]
    strides = [f"st{j}" for j, kind in enumerate(spec.layouts) if kind == "g"]
    return outs + ins + ["n", "shape"] + strides


def _header(spec: KernelSpec, wrap: str) -> list[str]:
    """Imports, and the scalar functions the body calls compiled by `wrap` (njit or cuda.jit)."""
    lines = [
        '"""Generated by minitorch_edu.graph.codegen: one fused elementwise group (do not edit)."""',
        "import math  # noqa: F401",
        "from numba import float32, float64, njit, prange  # noqa: F401",
        "from numba import types as nt  # noqa: F401",
        "from minitorch_edu.backends import scalar as _scalar",
    ]
    lines += [f"s_{name} = {wrap}(_scalar.{name})" for name in spec.scalars]
    return lines


def _cpu_header(spec: KernelSpec) -> list[str]:
    """`_header` for njit. The functions made of polynomials (exp, tanh, sigmoid, ...) are compiled
    on their own with fastmath "contract", so that their multiply-adds become FMAs as in the eager
    kernels, and LLVM inlines them into the loop; the kernel itself is compiled without it, so that
    a fused `a * b + c` still rounds the product as the eager mul kernel does."""
    lines = _header(spec, "njit")
    for k, line in enumerate(lines):
        if line.startswith("s_"):
            name = line.split(" = ")[0][2:]
            flags = ', inline="always"'
            lines[k] = f'{line.split(" = ")[0]} = njit(error_model="numpy"{flags})(_scalar.{name})'
    return lines


CONTRACTED = {"exp", "log", "tanh", "sigmoid", "erf", "gelu", "gelu_back", "gelu_tanh", "gelu_tanh_back"}


def _loop(spec: KernelSpec, decorator: str, loop: str) -> list[str]:
    if spec.reduce_dim is not None:  # n outputs; each folds `red` elements `inner` apart
        d, nd = spec.reduce_dim, len(spec.shape)
        inner = " * ".join(f"shape[{e}]" for e in range(d + 1, nd)) or "1"
        red = f"shape[{d}]"
        if d == -1:  # everything: one output
            inner, red = "1", " * ".join(f"shape[{e}]" for e in range(nd)) or "1"
        acc = spec.dtypes[0]
        return [
            "",
            decorator,
            f"def fused({', '.join(_params(spec))}):",
            f"    for o in {loop}:",
            f"        inner = {inner}",
            f"        red = {red}",
            "        hi = o // inner",
            "        lo = o - hi * inner",
            f"        acc = {acc}(0.0)",
            "        for j in range(red):",
            "            i = (hi * red + j) * inner + lo",
            *_index_lines(spec, "            "),
            *("            " + b for b in spec.body),
            "        o0[o] = acc",
        ]
    return [
        "",
        decorator,
        f"def fused({', '.join(_params(spec))}):",
        f"    for i in {loop}:",
        *_index_lines(spec, "        "),
        *("        " + b for b in spec.body),
    ]


CHUNK = 16384  # elements per task of a flat fused loop (the eager flat kernels' chunk)


BLOCK = 512  # elements per stage of a chunk: each intermediate's block buffer stays in L1


def _chunked_loop(spec: KernelSpec, decorator: str, parallel: bool) -> list[str]:
    """The elementwise loop when every operand is contiguous or a single element, in stages.

    Tasks of CHUNK elements; each runs its elements in blocks of BLOCK, one loop per op of the
    group over the block (intermediates in small buffers, in L1): unit-stride loops that LLVM
    vectorises. An op of `CONTRACTED` (exp, tanh, sigmoid, ...) runs as a call of `v_<name>`, its
    loop compiled with fastmath "contract" so its polynomials' multiply-adds become FMAs, as in the
    eager kernels; the other ops stay without it, so that a fused `a * b + c` still rounds the
    product as the eager mul kernel does (a contracted loop over the whole body would not)."""
    def ref(m: re.Match) -> str:
        kind, j = m.group(1), m.group(2)
        if kind == "t":
            return f"b{j}[i]"
        return f"vi{j}[i]" if spec.layouts[int(j)] == "c" else f"x{j}"

    names = r"\b([tx])(\d+)\b"
    singles = [line for j, kind in enumerate(spec.layouts) if kind == "s" for line in [f"x{j} = i{j}[0]"]]
    stages: list[str] = []
    for line in spec.body:
        if re.fullmatch(r"x\d+ = i\d+\[.*\]", line):
            continue  # inputs are read in place (or once, above, for single elements)
        call = re.fullmatch(r"(t\d+) = (\w+)\(s_(\w+)\((\w+)\((t\d+|x\d+)\)\)\)", line)
        if call and call.group(3) in CONTRACTED and call.group(2) == call.group(4) == "float32" and (
            call.group(5)[0] == "t" or spec.layouts[int(call.group(5)[1:])] == "c"
        ):
            target, name, arg = call.group(1), call.group(3), call.group(5)
            src = f"b{arg[1:]}" if arg[0] == "t" else f"vi{arg[1:]}"
            stages.append(f"v_{name}({src}, b{target[1:]}, m)")
            continue
        left, right = line.split(" = ", 1)
        left = f"vo{left[1:left.index('[')]}[i]" if left.startswith("o") else re.sub(names, ref, left)
        stages += ["for i in range(m):", f"    {left} = {re.sub(names, ref, right)}"]
    buffers = [f"b{t[1:]} = np.empty({BLOCK}, np.{dtype.name})" for t, dtype in (spec.temps or {}).items()]
    views = [f"vo{j} = o{j}[s:s + m]" for j in range(len(spec.outputs))]
    views += [f"vi{j} = i{j}[s:s + m]" for j, kind in enumerate(spec.layouts) if kind == "c"]
    tasks = f"(n + {CHUNK - 1}) // {CHUNK}"
    return [
        "",
        decorator,
        f"def fused({', '.join(_params(spec))}):",
        *("    " + line for line in singles),
        f"    for task in {'prange' if parallel else 'range'}({tasks}):",
        f"        lo = np.int64(task) * {CHUNK}  # prange indices are unsigned: keep the arithmetic signed",
        f"        hi = min(n, lo + {CHUNK})",
        *("        " + line for line in buffers),
        f"        for s in range(lo, hi, {BLOCK}):",
        f"            m = min(hi, s + {BLOCK}) - s",
        *("            " + v for v in views),
        *("            " + line for line in stages),
    ]


def _block_functions(spec: KernelSpec) -> list[str]:
    """v_<name>(src, dst, m): the float32 map of one CONTRACTED scalar function over a block."""
    lines = []
    for name in spec.scalars:
        if name in CONTRACTED:
            lines += [
                "",
                '@njit(cache=True, error_model="numpy", fastmath={"contract"})',
                f"def v_{name}(src, dst, m):",
                "    for i in range(m):",
                f"        dst[i] = float32(s_{name}(float32(src[i])))",
            ]
    return lines


def cpu_source(spec: KernelSpec, parallel: bool) -> str:
    """A module with the kernel `fused` for this spec, compiled (or loaded from numba's cache) on import.

    Parallel (prange) when the group is big enough for threads to pay off: a graph's shapes are
    fixed, so only the variant it runs is compiled."""
    arrays = ", ".join(f"nt.{_array(d)}[::1]" for d in spec.dtypes)
    tuples = ", ".join([f"nt.UniTuple(nt.int64, {max(len(spec.shape), 1)})"] * (1 + spec.layouts.count("g")))
    lines = _cpu_header(spec)
    lines.insert(1, "import numpy as np  # noqa: F401")
    lines.append(f"SIG = nt.void({arrays}, nt.int64, {tuples})")
    decorator = f'@njit(SIG, parallel={parallel}, cache=True, error_model="numpy")'
    if spec.reduce_dim is None and "g" not in spec.layouts:
        lines += _block_functions(spec)
        lines += _chunked_loop(spec, decorator, parallel)
    else:
        lines += _loop(spec, decorator, "prange(n)" if parallel else "range(n)")
    return "\n".join(lines) + "\n"


def cuda_source(spec: KernelSpec) -> str:
    """The same group as a numba.cuda kernel: one thread per element, grid-stride loop."""
    lines = _header(spec, "cuda.jit(device=True)")
    lines.insert(1, "from numba import cuda")
    lines += _loop(spec, "@cuda.jit", "range(cuda.grid(1), n, cuda.gridsize(1))")
    return "\n".join(lines) + "\n"


def kernel_dir() -> Path:
    from ..backends.numba.cache import cache_root

    path = cache_root() / "graph_kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def _scalar_source() -> str:
    return inspect.getsource(scalar)


def load_module(source: str, prefix: str) -> types.ModuleType:
    """Write `source` under the cache folder (once) and import it: numba's cache then applies.

    The name hashes scalar.py too: a generated kernel calls its functions (and their helpers), and
    numba's cache, which checks only the generated file, would otherwise keep the old ones."""
    digest = hashlib.sha1((source + numba.__version__ + np.__version__ + _scalar_source()).encode()).hexdigest()[:16]
    path = kernel_dir() / f"{prefix}_{digest}.py"
    name = path.stem
    if name in sys.modules:
        return sys.modules[name]
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: parallel processes never see half a file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache finds the module by name when loading
    spec.loader.exec_module(module)
    return module


SERIAL_BELOW = 1 << 15  # the eager kernels' threshold: below it waking threads costs more than the work


class CpuKernel:
    """A compiled fused group for CPU storages (NumPy arrays)."""

    def __init__(self, spec: KernelSpec) -> None:
        self.spec = spec
        self.source = cpu_source(spec, parallel=S.size_of(spec.shape) >= SERIAL_BELOW)
        self.kernel = load_module(self.source, "fused_cpu").fused

    def __call__(self, outs: list, ins: list, n: int, shape: tuple[int, ...], strides: list) -> None:
        self.kernel(*outs, *ins, n, shape or (1,), *strides)


class CudaKernel:
    """A compiled fused group for CUDA storages (device arrays; nothing crosses to the host)."""

    def __init__(self, spec: KernelSpec) -> None:
        self.spec = spec
        self.source = cuda_source(spec)
        self.kernel = load_module(self.source, "fused_cuda").fused

    def __call__(self, outs: list, ins: list, n: int, shape: tuple[int, ...], strides: list) -> None:
        from ..backends.cuda import kernels as cuda_kernels

        cuda_kernels.launch_1d(self.kernel, n, *outs, *ins, n, shape or (1,), *strides)
