"""Register-tiled batched matmul for the `cuda` backend (chapter 05's fast kernel).

The plain tiled kernel (`kernels.matmul_kernel`) loads two shared-memory values per
multiply-add, so shared-memory bandwidth caps it far below the FMA units. Here each thread
owns a `tm` x `tn` patch of the output held in registers: per step of k it loads `tm + tn`
values from shared memory and does `tm * tn` multiply-adds with them (8 x 8: 64 FMAs for 16
loads). A block of `ty` x `tx` threads computes a (tm*ty) x (tn*tx) tile of the output and
stages a `bk`-deep slice of both operands in shared memory.

Layout choices, each for a hardware reason:
- thread (ry, rx) owns rows ry + i*ty and columns rx + j*tx (strided, not a contiguous patch),
  so the 16 threads of a half-warp read 16 consecutive shared-memory words: no bank conflicts;
- the A slice is stored transposed (k-major), and both slices' rows are padded by 4 words, so
  the stores avoid bank conflicts whichever direction the threads walk (k, or rows/columns)
  and so do the loads;
- global loads walk whichever stride of each operand is 1, so a warp reads whole sectors
  (row-major, transposed views and broadcast batches all take the same kernel, no copies).

Every size is a compile-time constant, so numba unrolls the small loops and the `acc`, `a_reg`
and `b_reg` local arrays live in registers (`ptxas -v` reports no stack frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda, from_dtype

from .kernels import SIMULATED, _positions3

# (tm, tn, ty, tx, bk): 8x8 outputs per thread, 16x16 threads -> 128x128 output tile, k slice 8.
# The simulator runs each thread as a Python thread: the same code on a 4x4-thread block.
SHAPE = (2, 2, 4, 4, 4) if SIMULATED else (8, 8, 16, 16, 8)
# Registers per thread, capped: uncapped the kernel takes 170, so one 256-thread block fits an SM;
# at 128 two do (they hide each other's latency). Measured on an H200 (scripts/gpu_launch_report.py):
# 4096^2 in 7.50 ms uncapped, 6.76 ms capped.
MAX_REGISTERS = None if SIMULATED else 128
PAD = 4  # words added to each row of the shared slices (bank-conflict-free stores)


def block_tile(shape: tuple[int, int, int, int, int] = SHAPE) -> tuple[int, int]:
    """(rows, columns) of the output tile one block computes."""
    tm, tn, ty, tx, _ = shape
    return tm * ty, tn * tx


def threads(shape: tuple[int, int, int, int, int] = SHAPE) -> int:
    """Threads per block (a 1-D block)."""
    _, _, ty, tx, _ = shape
    return ty * tx


def matmul_registers(
    dtype: Any, shape: tuple[int, int, int, int, int] = SHAPE, max_registers: int | None = MAX_REGISTERS
) -> Any:
    """The register-tiled kernel for arrays of NumPy dtype `dtype`.

    Launch with grid (ceil(m / BN), ceil(n / BM), batches) and a 1-D block of ty * tx threads.
    `max_registers` caps the registers per thread (more blocks per SM, at the risk of spills).
    """
    tm, tn, ty, tx, bk = shape
    element = from_dtype(dtype)
    BM, BN, NT = tm * ty, tn * tx, ty * tx
    if (BM * bk) % NT or (BN * bk) % NT:
        raise ValueError(f"tile {shape}: each operand slice must split evenly over {NT} threads")
    A_LOADS, B_LOADS = BM * bk // NT, BN * bk // NT
    A_ROW, B_ROW = BM + PAD, BN + PAD
    A_SIZE, B_SIZE = bk * A_ROW, bk * B_ROW  # shared-array sizes must be constants of the closure
    A_ROW_U, B_ROW_U = np.uint64(A_ROW), np.uint64(B_ROW)

    @cuda.jit(device=True, inline=True)
    def _a_slot(idx, a_walks_k):  # noqa: ANN001, ANN202
        """(q, r) in the A slice of the idx-th value a block loads."""
        if a_walks_k:
            return idx % bk, idx // bk
        return idx // BM, idx % BM

    @cuda.jit(device=True, inline=True)
    def _b_slot(idx, b_walks_cols):  # noqa: ANN001, ANN202
        """(q, c) in the B slice of the idx-th value a block loads."""
        if b_walks_cols:
            return idx // BN, idx % BN
        return idx % bk, idx // bk

    @cuda.jit(device=True, inline=True)
    def _fetch(a_next, b_next, a, b, k0, t, where):  # noqa: ANN001, ANN202
        """This thread's share of the k0 slices of A and B, into registers (zeros past the edges).
        `where` holds the block's fixed geometry: offsets, origin, sizes, strides, walk directions."""
        pa, pb, row0, col0, n, m, k, a_r, a_c, b_r, b_c, a_walks_k, b_walks_cols = where
        for load in range(A_LOADS):
            q, r = _a_slot(t + load * NT, a_walks_k)
            a_next[load] = 0
            if row0 + r < n and k0 + q < k:
                a_next[load] = a[pa + (row0 + r) * a_r + (k0 + q) * a_c]
        for load in range(B_LOADS):
            q, c = _b_slot(t + load * NT, b_walks_cols)
            b_next[load] = 0
            if col0 + c < m and k0 + q < k:
                b_next[load] = b[pb + (k0 + q) * b_r + (col0 + c) * b_c]

    # (no cap for float64: its 64 accumulators alone take 128 registers; the simulator has no such option)
    capped = max_registers is not None and np.dtype(dtype).itemsize <= 4
    cap = {"max_registers": max_registers} if capped else {}

    @cuda.jit(fastmath=True, **cap)  # fastmath: lets acc += a * b become one fused multiply-add
    def matmul_registers(out, a, b, batch_shape, out_bs, a_bs, b_bs, mat_strides, n_batch, n, m, k):  # noqa: ANN001, ANN202
        a_tile = cuda.shared.array(A_SIZE, element)  # a_tile[q * A_ROW + r] = A[row0 + r, k0 + q]
        b_tile = cuda.shared.array(B_SIZE, element)  # b_tile[q * B_ROW + c] = B[k0 + q, col0 + c]
        acc = cuda.local.array((tm, tn), element)
        a_reg = cuda.local.array(tm, element)
        b_reg = cuda.local.array(tn, element)
        a_next = cuda.local.array(A_LOADS, element)  # the next slices, prefetched into registers
        b_next = cuda.local.array(B_LOADS, element)
        t = cuda.threadIdx.x
        rx = t % tx
        ry = t // tx
        rx_u, ry_u = np.uint64(rx), np.uint64(ry)
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        o_r, o_c, a_r, a_c, b_r, b_c = mat_strides  # (row, column) strides of out, a, b
        a_walks_k = a_c == 1 or a_r != 1  # consecutive threads read along k (row-major A)
        b_walks_cols = b_c == 1 or b_r != 1  # consecutive threads read along columns (row-major B)
        for batch in range(cuda.blockIdx.z, n_batch, cuda.gridDim.z):
            po, pa, pb = _positions3(batch, batch_shape, out_bs, a_bs, b_bs)
            for i in range(tm):
                for j in range(tn):
                    acc[i, j] = 0
            where = (pa, pb, row0, col0, n, m, k, a_r, a_c, b_r, b_c, a_walks_k, b_walks_cols)
            _fetch(a_next, b_next, a, b, 0, t, where)
            for k0 in range(0, k, bk):
                for load in range(A_LOADS):
                    q, r = _a_slot(t + load * NT, a_walks_k)
                    a_tile[q * A_ROW + r] = a_next[load]
                for load in range(B_LOADS):
                    q, c = _b_slot(t + load * NT, b_walks_cols)
                    b_tile[q * B_ROW + c] = b_next[load]
                cuda.syncthreads()
                if k0 + bk < k:  # fetch the next slice now: its loads land while the FMAs below run
                    _fetch(a_next, b_next, a, b, k0 + bk, t, where)
                # walk the slices with two running offsets: each load below is then a constant
                # displacement from one register. They are unsigned so that numba emits no
                # negative-index wraparound check (a compare and a select per load otherwise).
                a_at = ry_u
                b_at = rx_u
                for _ in range(bk):
                    for i in range(tm):
                        a_reg[i] = a_tile[a_at + np.uint64(i * ty)]
                    for j in range(tn):
                        b_reg[j] = b_tile[b_at + np.uint64(j * tx)]
                    for i in range(tm):
                        for j in range(tn):
                            acc[i, j] += a_reg[i] * b_reg[j]
                    a_at += A_ROW_U
                    b_at += B_ROW_U
                cuda.syncthreads()  # the slices are overwritten by the next step of k
            for i in range(tm):
                r = row0 + ry + i * ty
                if r < n:
                    for j in range(tn):
                        c = col0 + rx + j * tx
                        if c < m:
                            out[po + r * o_r + c * o_c] = acc[i, j]

    return matmul_registers
