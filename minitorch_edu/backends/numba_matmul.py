"""Hand-written matrix multiply for the numba CPU backend (no BLAS call inside).

Why it is fast where a textbook triple loop is not:

- loop order i-k-j: the innermost loop runs along a row of B and a row of C, both contiguous,
  so LLVM vectorises it into SIMD multiply-adds;
- four rows of C at a time (register tiling): each loaded B element feeds four accumulations;
- blocks of K: the slice of B being reused stays in cache while rows of A stream past;
- parallel over (batch, row-block) pairs with `prange`.

Operands that are not row-contiguous (a transposed weight, an expanded batch) are copied to a
contiguous layout first: an O(n^2) copy ahead of O(n^3) work.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

ROWS = 4  # rows of C computed together
KBLOCK = 128  # slice of the shared dimension kept in cache
JIT = {"cache": True, "error_model": "numpy", "nogil": True, "fastmath": {"contract", "reassoc", "nsz", "arcp"}}


@njit(parallel=True, **JIT)
def matmul_contiguous(out, a, b, batch, n, k, m, a_batch, b_batch):
    """out[p] = a[p] @ b[p] for p < batch; a (n, k), b (k, m), out (n, m), all row-major.

    a_batch / b_batch are the element offsets between batch entries (0 for a broadcast operand).
    """
    row_blocks = (n + ROWS - 1) // ROWS
    for task in prange(batch * row_blocks):
        t = np.int64(task)  # prange indices are unsigned: keep index arithmetic signed
        p = t // row_blocks
        i0 = (t % row_blocks) * ROWS
        rows = min(ROWS, n - i0)
        ao = p * a_batch
        bo = p * b_batch
        oo = p * n * m
        for r in range(rows):
            base = oo + (i0 + r) * m
            for j in range(m):
                out[base + j] = 0.0
        for k0 in range(0, k, KBLOCK):
            k1 = min(k, k0 + KBLOCK)
            if rows == ROWS:
                c0 = oo + i0 * m
                c1 = c0 + m
                c2 = c1 + m
                c3 = c2 + m
                for kk in range(k0, k1):
                    x0 = a[ao + i0 * k + kk]
                    x1 = a[ao + (i0 + 1) * k + kk]
                    x2 = a[ao + (i0 + 2) * k + kk]
                    x3 = a[ao + (i0 + 3) * k + kk]
                    brow = bo + kk * m
                    for j in range(m):
                        y = b[brow + j]
                        out[c0 + j] += x0 * y
                        out[c1 + j] += x1 * y
                        out[c2 + j] += x2 * y
                        out[c3 + j] += x3 * y
            else:
                for r in range(rows):
                    c = oo + (i0 + r) * m
                    for kk in range(k0, k1):
                        x = a[ao + (i0 + r) * k + kk]
                        brow = bo + kk * m
                        for j in range(m):
                            out[c + j] += x * b[brow + j]


def _as_batched(storage, strides, shape):
    """(storage, batch stride) of a row-major (*batch, r, c) operand, copying when its layout is not."""
    r, c = shape[-2], shape[-1]
    batch_shape, batch_strides = shape[:-2], strides[:-2]
    rowmajor = (strides[-1] == 1 or c == 1) and (strides[-2] == c or r == 1)
    if rowmajor and all(s == 0 for s in batch_strides):
        return storage, 0
    if rowmajor and _batch_contiguous(batch_shape, batch_strides, r * c):
        return storage, r * c
    view = np.lib.stride_tricks.as_strided(storage, shape, tuple(s * storage.itemsize for s in strides))
    return np.ascontiguousarray(view).reshape(-1), r * c


def _batch_contiguous(shape, strides, block) -> bool:
    step = block
    for s, st in zip(reversed(shape), reversed(strides)):
        if s != 1 and st != step:
            return False
        step *= s
    return True


def matmul(out, out_strides, a, a_strides, b, b_strides, out_shape, k) -> None:
    """The backend's matmul kernel (see `base.Backend`)."""
    n, m = out_shape[-2], out_shape[-1]
    batch = 1
    for s in out_shape[:-2]:
        batch *= s
    a_shape = tuple(out_shape[:-2]) + (n, k)
    b_shape = tuple(out_shape[:-2]) + (k, m)
    a_flat, a_batch = _as_batched(a, a_strides, a_shape)
    b_flat, b_batch = _as_batched(b, b_strides, b_shape)
    contiguous_out = _batch_contiguous(out_shape, out_strides, 1)
    target = out if contiguous_out else np.empty(batch * n * m, dtype=out.dtype)
    matmul_contiguous(target, a_flat, b_flat, batch, n, k, m, a_batch, b_batch)
    if not contiguous_out:
        view = np.lib.stride_tricks.as_strided(out, out_shape, tuple(s * out.itemsize for s in out_strides))
        view[...] = target.reshape(out_shape)
