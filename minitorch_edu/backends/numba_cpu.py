"""The fast CPU backend: parallel numba kernels with fast paths for common layouts.

Each kernel factory compiles `numba_kernels.py` for one scalar function (once per process,
loaded from numba's disk cache after the first run) and returns a small Python wrapper that
coalesces the operands' dimensions and picks the kernel that fits their layout:

- all operands contiguous: one flat parallel loop (`*_flat`);
- otherwise parallel rows with an innermost loop over the last dim (`*_strided`), or square
  tiles when operands disagree on which dim is contiguous (`zip_tiled`);
- reductions fold along the reduced dim when it is contiguous (`reduce_rows`) or add whole
  rows when it is not (`reduce_columns`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

import numba

from ..core.shape import coalesce
from . import numba_kernels
from .base import Backend, Kernel
from .numba_matmul import matmul as tensor_matmul

TILE = 32
COLUMN_BLOCK = 1024


def kernel_cache_dir() -> Path:
    """Where generated kernel modules (and numba's cache of them) live."""
    root = os.environ.get("MINITORCH_EDU_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "minitorch_edu"
    )
    path = Path(root) / "numba_kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / "minitorch_edu_numba_kernels"
        path.mkdir(parents=True, exist_ok=True)
    return path


def _importable(fn: Callable[..., float]) -> bool:
    """True when `fn` can be imported by name in a generated module (so its kernels can be cached)."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or "<" in fn.__qualname__ or "." in fn.__qualname__:
        return False
    return getattr(module, fn.__name__, None) is fn and getattr(module, "__file__", None) is not None


def _template() -> str:
    return inspect.getsource(numba_kernels)


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
            fn_source = inspect.getsource(fn)
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
        return module
    # a lambda or a notebook function: compile without the disk cache
    module = types.ModuleType(f"minitorch_edu_kernels_{fn.__name__}_{id(fn)}")
    sys.modules[module.__name__] = module
    module.__dict__["_scalar_fn"] = fn
    text = source.replace(marker, 'fn = njit(inline="always", error_model="numpy")(_scalar_fn)')
    text = text.replace('"cache": True', '"cache": False')
    exec(compile(text, f"<kernels for {fn.__qualname__}>", "exec"), module.__dict__)
    return module


def _flat(shape: tuple[int, ...], *strides: tuple[int, ...]) -> bool:
    return len(shape) == 1 and all(s == (1,) for s in strides)


def tensor_map(fn: Callable[[float], float]) -> Kernel:
    k = compile_kernels(fn)

    def kernel(out, out_strides, a, a_strides, shape) -> None:
        shape, (so, sa) = coalesce(shape, out_strides, a_strides)
        if _flat(shape, so, sa):
            k.map_flat(out, a, shape[0])
        else:
            k.map_strided(out, so, a, sa, shape)

    return kernel


def tensor_zip(fn: Callable[[float, float], float]) -> Kernel:
    k = compile_kernels(fn)

    def kernel(out, out_strides, a, a_strides, b, b_strides, shape) -> None:
        shape, (so, sa, sb) = coalesce(shape, out_strides, a_strides, b_strides)
        if _flat(shape, so, sa, sb):
            k.zip_flat(out, a, b, shape[0])
        elif len(shape) == 2 and shape[0] >= TILE and shape[1] >= TILE and _crossed(so, sa, sb):
            k.zip_tiled(out, so, a, sa, b, sb, shape, TILE)
        else:
            k.zip_strided(out, so, a, sa, b, sb, shape)

    return kernel


def _crossed(*strides: tuple[int, int]) -> bool:
    """Some operand walks dim 0 fastest while another walks dim 1 fastest."""
    inner = [abs(s[1]) <= abs(s[0]) for s in strides if s != (0, 0)]
    return any(inner) and not all(inner)


def _associative(fn: Callable[..., float]) -> bool:
    """Whether folding `fn` in any order gives the same result (up to float rounding)."""
    from . import scalar

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
        if abs(step) <= 1 or abs(sa[-1]) != 1 or shape[-1] == 1:
            k.reduce_rows(out, so, a, sa, shape, n, step, assoc)
        else:
            k.reduce_columns(out, so, a, sa, shape, n, step, COLUMN_BLOCK)

    return kernel


numba_backend = Backend("numba", map=tensor_map, zip=tensor_zip, reduce=tensor_reduce, matmul=tensor_matmul)
