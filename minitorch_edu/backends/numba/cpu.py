"""The fast CPU backend: parallel numba kernels with fast paths for common layouts.

Each kernel factory compiles `kernels.py` for one scalar function (once per process,
loaded from numba's disk cache after the first run) and returns a small Python wrapper that
coalesces the operands' dimensions and picks the kernel that fits their layout:

- all operands contiguous: one flat loop (`*_flat`);
- otherwise parallel rows with an innermost loop over the last dim (`*_strided`), or square
  tiles when operands disagree on which dim is contiguous (`zip_tiled`);
- reductions fold along the reduced dim when it is contiguous (`reduce_rows`) or add whole
  rows when it is not (`reduce_columns`).

Work under `SERIAL_BELOW` elements runs the `*_serial` twin of each kernel: for small tensors
waking the thread pool costs more than the work. A scalar function numba cannot compile raises
a TypeError naming it, not numba's typing dump.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numba
from numba.core.errors import TypingError

from .. import scalar
from ..base import Backend, Kernel, fused_in
from ..shape import coalesce
from . import conv, kernels, losses, norms, optim, scan
from .cache import cache_root
from .matmul import matmul as tensor_matmul

TILE = 32
MAP_TILE = 64  # a map's tiles: rows of 64 give its vectorised loop a few SIMD registers' worth
COLUMN_BLOCK = 256
SERIAL_BELOW = 1 << 15
ROW = 4096  # row length a long 1-D strided loop is cut into, so that threads can share it


def kernel_cache_dir() -> Path:
    """Where generated kernel modules (and numba's cache of them) live."""
    path = cache_root() / "numba_kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _importable(fn: Callable[..., float]) -> bool:
    """True when `fn` can be imported by name in a generated module (so its kernels can be cached)."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or "<" in fn.__qualname__ or "." in fn.__qualname__:
        return False
    return getattr(module, fn.__name__, None) is fn and getattr(module, "__file__", None) is not None


@functools.cache
def _template() -> str:
    return inspect.getsource(kernels)


def compile_kernels(fn: Callable[..., float]) -> types.ModuleType:
    """The kernel module specialised to scalar function `fn`."""
    fn = getattr(fn, "py_func", fn)  # accept an already-jitted function too
    source = _template()
    marker = next(line for line in source.splitlines() if line.endswith("# <fn>"))
    if _importable(fn):
        header = (
            f"from {fn.__module__} import {fn.__name__} as _scalar_fn\n"
            'fn = njit(inline="always", error_model="numpy")(_scalar_fn)'
        )
        try:
            # the whole module: a scalar function may call helpers of its module (scalar.exp calls
            # exp_poly), and a changed helper must not load a kernel compiled with the old one
            fn_source = inspect.getsource(sys.modules[fn.__module__])
        except (OSError, TypeError):
            fn_source = fn.__qualname__
        digest = hashlib.sha1((source + fn_source + numba.__version__).encode()).hexdigest()[:12]
        path = kernel_cache_dir() / f"k_{fn.__module__.replace('.', '_')}_{fn.__name__}_{digest}.py"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source.replace(marker, header))
            os.replace(tmp, path)  # atomic: parallel processes never see half a file
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # numba's cache finds the module by name when loading
        spec.loader.exec_module(module)
        module.SCALAR_NAME = fn.__qualname__
        return module
    # a lambda or a notebook function: compile without the disk cache
    module = types.ModuleType(f"minitorch_edu_kernels_{fn.__name__}_{id(fn)}")
    sys.modules[module.__name__] = module
    module.__dict__["_scalar_fn"] = fn
    text = source.replace(marker, 'fn = njit(inline="always", error_model="numpy")(_scalar_fn)')
    text = text.replace('"cache": True', '"cache": False')
    exec(compile(text, f"<kernels for {fn.__qualname__}>", "exec"), module.__dict__)
    module.SCALAR_NAME = fn.__qualname__
    return module


def _launch(k: types.ModuleType, name: str, work: int, *args: object) -> None:
    """Run kernel `name` of module `k`, in parallel only when `work` (elements) is large enough."""
    kernel = getattr(k, name if work >= SERIAL_BELOW else name + "_serial")
    try:
        kernel(*args)
    except TypingError as err:
        arrays = [f"{x.dtype}[{x.size}]" for x in args if hasattr(x, "dtype")]
        reason = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.startswith(("During", "File"))]
        raise TypeError(
            f"numba cannot compile scalar function {k.SCALAR_NAME!r} for arrays {', '.join(arrays)}: "
            + " ".join(reason[1:3] or reason[:1])
        ) from None


def _rows(shape: tuple[int, ...]) -> int:
    rows = 1
    for s in shape[:-1]:
        rows *= s
    return rows


def _flat(shape: tuple[int, ...], *strides: tuple[int, ...]) -> bool:
    return len(shape) == 1 and all(s == (1,) for s in strides)


def _pieces(shape: tuple[int, ...], strides: list[tuple[int, ...]]) -> list[tuple[list[int], tuple, list[tuple]]]:
    """Cut one long strided row (e.g. a broadcast scalar, stride 0) into ROW-long rows for the threads.

    Returns (element offset of each operand, shape, strides) pieces: the rows, then the tail.
    Anything else is one piece as it is.
    """
    if len(shape) != 1 or shape[0] < SERIAL_BELOW:
        return [([0] * len(strides), shape, strides)]
    rows, tail = divmod(shape[0], ROW)
    pieces = [([0] * len(strides), (rows, ROW), [(ROW * st[0], st[0]) for st in strides])]
    if tail:
        pieces.append(([rows * ROW * st[0] for st in strides], (tail,), strides))
    return pieces


def tensor_map(fn: Callable[[float], float]) -> Kernel:
    k = compile_kernels(fn)

    def kernel(out, out_strides, a, a_strides, shape) -> None:
        shape, (so, sa) = coalesce(shape, out_strides, a_strides)
        rows = _rows(shape)
        size = rows * shape[-1]
        if _flat(shape, so, sa):
            _launch(k, "map_flat", size, out, a, size)
            return
        if size >= SERIAL_BELOW and len(shape) == 2 and min(shape) >= TILE and _crossed(so, sa):
            _launch(k, "map_tiled", size, out, so, a, sa, shape, MAP_TILE)
            return
        if len(shape) > 1 or size < SERIAL_BELOW:  # one piece: launched as it is (the common small case)
            _launch(k, "map_strided", size, out, so, a, sa, shape, rows)
            return
        for (oo, oa), part, (po, pa) in _pieces(shape, [so, sa]):
            work = _rows(part) * part[-1]
            _launch(k, "map_strided", work, out[oo:], po, a[oa:], pa, part, _rows(part))

    return kernel


def tensor_zip(fn: Callable[[float, float], float]) -> Kernel:
    k = compile_kernels(fn)

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape) -> None:
        shape, (so, sa, sb) = coalesce(shape, out_strides, a_strides, b_strides)
        rows = _rows(shape)
        size = rows * shape[-1]
        if _flat(shape, so, sa, sb):
            _launch(k, "zip_flat", size, out, a, b, size)
        elif size >= SERIAL_BELOW and len(shape) == 2 and min(shape) >= TILE and _crossed(so, sa, sb):
            _launch(k, "zip_tiled", size, out, so, a, sa, b, sb, shape, TILE)
        elif len(shape) > 1 or size < SERIAL_BELOW:  # one piece: launched as it is (the common small case)
            _launch(k, "zip_strided", size, out, so, a, sa, b, sb, shape, rows)
        else:
            for (oo, oa, ob), part, (po, pa, pb) in _pieces(shape, [so, sa, sb]):
                work = _rows(part) * part[-1]
                _launch(k, "zip_strided", work, out[oo:], po, a[oa:], pa, b[ob:], pb, part, _rows(part))

    return kernel


def _crossed(*strides: tuple[int, int]) -> bool:
    """Some operand walks dim 0 fastest while another walks dim 1 fastest (e.g. x + x.T).

    An operand with a stride of 0 (broadcast along that dim) reads at most one row or column,
    so it has no preferred order and does not count.
    """
    fastest = {0 if abs(s[0]) < abs(s[1]) else 1 for s in strides if s[0] != 0 and s[1] != 0}
    return len(fastest) > 1


def _associative(fn: Callable[..., float]) -> bool:
    """Whether folding `fn` in any order gives the same result (up to float rounding)."""
    fn = getattr(fn, "py_func", fn)
    return any(fn is getattr(scalar, name, None) for name in ("add", "mul", "maximum", "minimum", "max", "min"))


def tensor_reduce(fn: Callable[[float, float], float]) -> Kernel:
    k = compile_kernels(fn)
    assoc = _associative(fn)  # only known-associative folds may be split into partial results

    def kernel(out, out_strides, a, a_strides, a_shape, dim) -> None:
        n, step = a_shape[dim], a_strides[dim]
        keep = [d for d in range(len(a_shape)) if d != dim]
        shape = tuple(a_shape[d] for d in keep) or (1,)
        so = tuple(out_strides[d] for d in keep) or (0,)
        sa = tuple(a_strides[d] for d in keep) or (0,)
        shape, (so, sa) = coalesce(shape, so, sa)
        outputs = _rows(shape) * shape[-1]
        if abs(step) <= 1 or abs(sa[-1]) != 1 or shape[-1] == 1:
            _launch(k, "reduce_rows", outputs * n, out, so, a, sa, shape, n, step, assoc, outputs)
        else:
            tasks = _rows(shape) * -(-shape[-1] // COLUMN_BLOCK)
            _launch(k, "reduce_columns", outputs * n, out, so, a, sa, shape, n, step, COLUMN_BLOCK, tasks)

    return kernel


# the fused kernels of `base.Backend`: one compiled pass where map/zip/reduce would take many
numba_backend = Backend(
    "numba",
    map=tensor_map,
    zip=tensor_zip,
    reduce=tensor_reduce,
    matmul=tensor_matmul,
    **fused_in(conv),  # conv2d_forward ... avg_pool2d_backward: the eight that numba/conv.py defines
    softmax_cross_entropy_forward=losses.softmax_xent_forward,
    softmax_cross_entropy_backward=losses.softmax_xent_backward,
    softmax_forward=norms.softmax_forward,
    softmax_backward=norms.softmax_backward,
    layer_norm_forward=norms.layer_norm_forward,
    layer_norm_backward=norms.layer_norm_backward,
    axpby=optim.axpby,
    adam_step=optim.adam_step,
    rmsprop_step=optim.rmsprop_step,
    cumsum=scan.cumsum,
    flip=scan.flip,
)
