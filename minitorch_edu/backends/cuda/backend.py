"""The GPU backend: numba.cuda kernels over device-resident storage (chapter 05).

The kernel factories have exactly the signatures of `backends.base` (the CPU backends' too), so
every tensor op, autograd and the layers run unchanged on the GPU. Each factory returns a small
Python wrapper that

1. checks that every operand is a device array (a NumPy array would be copied to the device and
   back on every launch, silently: the classic GPU performance bug);
2. coalesces dimensions (`backends.shape.coalesce`), so contiguous tensors take the flat fast path;
3. sizes the launch from the problem and calls a kernel of `cuda/kernels.py`.

Data never visits the host here: only `CudaStorage.from_numpy` / `to_numpy` move it.
Without a GPU, set `NUMBA_ENABLE_CUDASIM=1` before numba is imported to run the same kernels
on numba's (slow) CPU simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba.core.errors import NumbaError

from .. import scalar
from ..base import Backend, Kernel, fused_in
from ..shape import coalesce, contiguous_strides, flipped, is_contiguous, size_of
from . import conv, losses, matmul, memory, norms
from . import kernels as K
from .kernels import pow2_ceil, simulated
from .launch import launch
from .storage import CudaStorage, NoDevicePointerError

__all__ = [
    "CudaStorage",
    "NoDevicePointerError",
    "cuda_backend",
    "make_matmul",
    "tensor_map",
    "tensor_zip",
    "tensor_reduce",
    "tensor_matmul",
]

memory.install()  # before numba makes its CUDA context: device memory through the caching allocator

TILE = 4 if K.SIMULATED else 16  # matmul tile: 16 x 16 = 256 threads per block (4 x 4 on the simulator)
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y and gridDim.z
MAX_GRID_Z = 2 if K.SIMULATED else MAX_GRID_Y  # on the simulator, make the batch loop loop


def _launch_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of numba's compiler and of the CUDA driver, turned into short messages."""
    errors: list[type[BaseException]] = [NumbaError]
    if not simulated():
        from numba.cuda.cudadrv.driver import CudaAPIError, CudaDriverError, CudaSupportError

        errors += [CudaAPIError, CudaDriverError, CudaSupportError]
    return tuple(errors)


@contextmanager
def _explained(kind: str, fn: Any, shape: tuple[int, ...], *arrays: Any) -> Iterator[None]:
    """Check operands are on the device, and turn numba / driver failures into one clear error."""
    for array in arrays:
        if isinstance(array, np.ndarray):
            raise RuntimeError(
                f"cuda {kind} kernel got a host (NumPy) array for shape {shape}: CUDA kernels need "
                "device storage; move the tensor with .to('cuda')"
            )
    try:
        yield
    except _launch_errors() as err:
        name = getattr(fn, "__name__", repr(fn))
        dtypes = ", ".join(str(getattr(x, "dtype", "?")) for x in arrays)
        lines = [line for line in str(err).splitlines() if line.strip()]
        summary = " | ".join(lines[:3]) if lines else type(err).__name__
        raise RuntimeError(
            f"cuda {kind} kernel for {name!r} failed on shape {shape} (dtypes {dtypes}): {summary}"
        ) from None


def _flat(shape: tuple[int, ...], *strides: tuple[int, ...]) -> bool:
    return len(shape) == 1 and all(s == (1,) for s in strides)


def _pow2_floor(n: int) -> int:
    return 1 << (max(n, 1).bit_length() - 1)


def tensor_map(fn: Callable[[float], float]) -> Kernel:
    """out[i] = fn(a[i]) on the GPU."""
    flat, strided = K.map_kernels(fn)

    def kernel(
        out: Any, out_strides: tuple[int, ...], a: Any, a_strides: tuple[int, ...], shape: tuple[int, ...]
    ) -> None:
        with _explained("map", fn, shape, out, a):
            shape, (so, sa) = coalesce(shape, out_strides, a_strides)
            n = size_of(shape)
            if _flat(shape, so, sa):
                K.launch_1d(flat, n, out, a, n, per_thread=K.UNROLL)
            else:
                K.launch_1d(strided, n, out, so, a, sa, shape, n)

    return kernel


def tensor_zip(fn: Callable[[float, float], float]) -> Kernel:
    """out[i] = fn(a[i], b[i]) on the GPU (broadcast operands have stride 0)."""
    flat, strided = K.zip_kernels(fn)

    def kernel(
        out: Any,
        out_strides: tuple[int, ...],
        a: Any,
        a_strides: tuple[int, ...],
        b: Any,
        b_strides: tuple[int, ...],
        shape: tuple[int, ...],
    ) -> None:
        with _explained("zip", fn, shape, out, a, b):
            shape, (so, sa, sb) = coalesce(shape, out_strides, a_strides, b_strides)
            n = size_of(shape)
            if _flat(shape, so, sa, sb):
                K.launch_1d(flat, n, out, a, b, n, per_thread=K.UNROLL)
            else:
                K.launch_1d(strided, n, out, so, a, sa, b, sb, shape, n)

    return kernel


def tensor_reduce(fn: Callable[[float, float], float]) -> Kernel:
    """out[i] = fn(out[i], a[i with dim = j]) folded over j, as a shared-memory tree per output."""
    by_dtype: dict[np.dtype, Any] = {}

    def kernel(
        out: Any, out_strides: tuple[int, ...], a: Any, a_strides: tuple[int, ...], a_shape: tuple[int, ...], dim: int
    ) -> None:
        with _explained("reduce", fn, a_shape, out, a):
            n, step = a_shape[dim], a_strides[dim]
            keep = [d for d in range(len(a_shape)) if d != dim]
            shape, (so, sa) = coalesce(
                tuple(a_shape[d] for d in keep), tuple(out_strides[d] for d in keep), tuple(a_strides[d] for d in keep)
            )
            n_out = size_of(shape)
            if out.dtype not in by_dtype:
                by_dtype[out.dtype] = K.reduce_kernel(fn, out.dtype)
            # lanes of one output on threadIdx.x when the reduced dim is the contiguous one (a warp
            # reads a run of it); otherwise neighbouring outputs are contiguous: put those on x
            lanes_on_x = abs(step) <= 1 or abs(sa[-1]) != 1 or shape[-1] == 1
            if lanes_on_x:
                lanes = min(K.REDUCE_LANES, _pow2_floor(n))  # <= n: every lane owns an element
                slots = min(K.REDUCE_THREADS // lanes, pow2_ceil(n_out))
                block = (lanes, slots)
            else:
                slots = min(K.REDUCE_SLOTS, pow2_ceil(n_out))  # a warp's width of outputs
                lanes = min(K.REDUCE_THREADS_STRIDED // slots, _pow2_floor(n))
                block = (slots, lanes)
            blocks = min(K.MAX_BLOCKS, (n_out + slots - 1) // slots)
            launch(by_dtype[out.dtype], blocks, block, out, so, a, sa, shape, n_out, n, step, lanes, slots, lanes_on_x)

    return kernel


_matmul_kernels: dict[tuple[Any, np.dtype], Any] = {}


def _matmul_kernel(kind: Any, dtype: np.dtype) -> Any:
    """The compiled kernel `kind` (a tile size, or a register-tile shape) for `dtype`, built once."""
    key = (kind, dtype)
    if key not in _matmul_kernels:
        if isinstance(kind, tuple):
            _matmul_kernels[key] = matmul.matmul_registers(dtype, kind)
        else:
            _matmul_kernels[key] = K.matmul_kernel(kind, dtype)
    return _matmul_kernels[key]


def make_matmul(
    tile: int = TILE, registers: bool | None = None, shape: tuple[int, int, int, int, int] = matmul.SHAPE
) -> Kernel:
    """A batched matmul kernel with base.py's signature.

    `registers=True` takes the register-tiled kernel (`cuda_matmul`), `False` the plain
    `tile` x `tile` shared-memory one; `None` picks per call: registers unless the output is so
    narrow or short that most of a register tile would be padding (the skinny products of a
    classifier's last layer), where the small tiles waste less. `shape` is the register tile
    (tm, tn, ty, tx, bk) of `cuda_matmul` (`bench/gpu_tiles.py` times the alternatives).
    """
    big_rows, big_cols = matmul.block_tile(shape)

    def kernel(
        out: Any,
        out_strides: tuple[int, ...],
        a: Any,
        a_strides: tuple[int, ...],
        b: Any,
        b_strides: tuple[int, ...],
        out_shape: tuple[int, ...],
        k: int,
    ) -> None:
        with _explained("matmul", make_matmul, out_shape, out, a, b):
            n, m = out_shape[-2], out_shape[-1]
            batch_shape, (obs, abs_, bbs) = coalesce(out_shape[:-2], out_strides[:-2], a_strides[:-2], b_strides[:-2])
            n_batch = size_of(batch_shape)
            use_registers = registers if registers is not None else 2 * n >= big_rows and 2 * m >= big_cols
            rows, cols = (big_rows, big_cols) if use_registers else (tile, tile)
            grid = ((m + cols - 1) // cols, (n + rows - 1) // rows, min(n_batch, MAX_GRID_Z))
            if grid[1] > MAX_GRID_Y:
                raise ValueError(f"matmul output of shape {out_shape} has too many rows for one CUDA grid")
            mat_strides = (out_strides[-2], out_strides[-1], a_strides[-2], a_strides[-1], b_strides[-2], b_strides[-1])
            splits = 1 if use_registers else _k_splits(k, grid[0] * grid[1] * n_batch)
            if splits > 1 and is_contiguous(out_shape, out_strides):
                _split_k(out, a, b, out_shape, batch_shape, (obs, abs_, bbs), mat_strides, k, splits, grid, tile)
                return
            product = _matmul_kernel(shape if use_registers else tile, out.dtype)
            block = (matmul.threads(shape),) if use_registers else (tile, tile)
            launch(product, grid, block, out, a, b, batch_shape, obs, abs_, bbs, mat_strides, n_batch, n, m, k)

    return kernel


# Split-K: a skinny product with a long k (a classifier's weight gradient, 1024 x 10 over a batch
# of 4096) fills too few blocks to occupy the GPU, each looping over all of k. Cutting k into
# `splits` pieces makes them a batch dim of strided views (no copies): `splits` times the blocks,
# each with 1/splits of the loop, then a sum over that dim.
SPLIT_BLOCKS = 4 if K.SIMULATED else 256  # split until about this many blocks
SPLIT_MIN_K = 4 if K.SIMULATED else 256  # ...keeping at least this much k per piece


def _k_splits(k: int, blocks: int) -> int:
    """Pieces to cut k into for a product of `blocks` blocks: a power of two dividing k, or 1."""
    splits = 1
    while blocks * splits < SPLIT_BLOCKS and k % (2 * splits) == 0 and k // (2 * splits) >= SPLIT_MIN_K:
        splits *= 2
    return splits


def _split_k(out, a, b, out_shape, batch_shape, batch_strides, mat_strides, k, splits, grid, tile) -> None:  # noqa: ANN001, PLR0913
    """out = the sum over `splits` pieces of k of the tiled product of each piece."""
    n, m = out_shape[-2], out_shape[-1]
    piece = k // splits
    obs, abs_, bbs = batch_strides
    _, _, a_r, a_c, b_r, b_c = mat_strides
    # partial products in a scratch array of shape (*batch, splits, n, m), row-major
    parts_shape = tuple(batch_shape) + (splits, n, m)
    parts_strides = contiguous_strides(parts_shape)
    parts = CudaStorage.empty(size_of(parts_shape), out.dtype)
    n_parts = size_of(batch_shape) * splits
    tiled = _matmul_kernel(tile, out.dtype)  # the same kernel, over one more batch dim: the pieces
    launch(
        tiled, (grid[0], grid[1], min(n_parts, MAX_GRID_Z)), (tile, tile),
        parts, a, b, tuple(batch_shape) + (splits,), parts_strides[:-2], abs_ + (piece * a_c,),
        bbs + (piece * b_r,), (m, 1, a_r, a_c, b_r, b_c), n_parts, n, m, piece,
    )  # fmt: skip
    size = size_of(out_shape)
    K.launch_1d(K.fill, size, out, out.dtype.type(0), size)  # the sum folds onto what out holds
    cuda_backend.reduce(scalar.add)(out, obs + (0, m, 1), parts, parts_strides, parts_shape, len(batch_shape))


tensor_matmul = make_matmul(TILE)


def axpby(y: Any, x: Any, alpha: float, beta: float, n: int) -> None:
    """y = beta * y + alpha * x: one kernel, not a product kernel, a temporary and a sum kernel."""
    if n:
        t = y.dtype.type
        K.launch_1d(K.axpby, n, y, x, t(alpha), t(beta), n)


def adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps, step) -> None:  # noqa: ANN001, PLR0913
    """One Adam update in one kernel (`base.Backend.adam_step`), instead of about a dozen."""
    if not n:
        return
    t = p.dtype.type
    amsgrad = max_exp_avg_sq is not None
    vmax = max_exp_avg_sq if amsgrad else p  # unread without amsgrad
    sqrt_bias2, step_size = math.sqrt(1.0 - beta2**step), lr / (1.0 - beta1**step)
    args = (t(beta1), t(beta2), t(eps), t(sqrt_bias2), t(step_size))
    K.launch_1d(K.adam, n, p, g, exp_avg, exp_avg_sq, vmax, amsgrad, n, *args)


def flip(out: Any, out_strides: tuple, a: Any, a_strides: tuple, shape: tuple, dims: tuple) -> None:
    """out = a reversed along `dims` (`base.Backend.flip`) in one kernel, not one per slice: a
    strided copy from the last element along the flipped dims, walking them backwards."""
    n = size_of(shape)
    if n:
        base, signed = flipped(shape, a_strides, dims)
        merged, (so, sa) = coalesce(tuple(shape), tuple(out_strides), signed)
        K.launch_1d(K.copy_signed, n, out, so, a, base, sa, merged, n)


def softmax_forward(out: Any, x: Any, n: int, c: int, log: bool) -> None:
    """softmax / log-softmax over rows (`base.Backend.softmax_forward`): one kernel, `cuda/norms.py`."""
    with _explained("softmax", norms.softmax_forward, (n, c), out, x):
        norms.softmax_forward(out, x, n, c, log)


def softmax_backward(gx: Any, y: Any, g: Any, n: int, c: int, log: bool) -> None:
    with _explained("softmax", norms.softmax_backward, (n, c), gx, y, g):
        norms.softmax_backward(gx, y, g, n, c, log)


def layer_norm_forward(out: Any, mean: Any, rstd: Any, x: Any, w: Any, b: Any, n: int, c: int, eps: float) -> None:
    """Layer norm over rows (`base.Backend.layer_norm_forward`): one kernel, `cuda/norms.py`."""
    arrays = [a for a in (out, mean, rstd, x, w, b) if a is not None]
    with _explained("layer norm", norms.layer_norm_forward, (n, c), *arrays):
        norms.layer_norm_forward(out, mean, rstd, x, w, b, n, c, eps)


def layer_norm_backward(
    gx: Any, gw: Any, gb: Any, g: Any, x: Any, mean: Any, rstd: Any, w: Any, n: int, c: int
) -> None:
    arrays = [a for a in (gx, gw, gb, g, x, mean, rstd, w) if a is not None]
    with _explained("layer norm", norms.layer_norm_backward, (n, c), *arrays):
        norms.layer_norm_backward(gx, gw, gb, g, x, mean, rstd, w, n, c)


cuda_backend = Backend(
    "cuda",
    map=tensor_map,
    zip=tensor_zip,
    reduce=tensor_reduce,
    matmul=tensor_matmul,
    storage=CudaStorage,
    **fused_in(conv),  # conv2d_forward ... avg_pool2d_backward: the eight that cuda/conv.py defines
    softmax_cross_entropy_forward=losses.softmax_xent_forward,
    softmax_cross_entropy_backward=losses.softmax_xent_backward,
    softmax_forward=softmax_forward,
    softmax_backward=softmax_backward,
    layer_norm_forward=layer_norm_forward,
    layer_norm_backward=layer_norm_backward,
    axpby=axpby,
    adam_step=adam_step,
    flip=flip,
)
