"""Compiled CPU kernels are cached per thread count (backends/numba/cache.py).

A `prange` kernel compiled in a one-thread process and cached in the shared folder ran on one
thread in every later process; these tests check that each thread count has its own folder,
that our kernels (and only ours) go there, and that a process never writes another's folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from minitorch_edu.backends.numba import cache as numba_cache
from minitorch_edu.backends.numba import matmul as numba_matmul

COMPILE_ONE = """
import numpy as np
from minitorch_edu.backends.numba.matmul import matmul_blocked
a = np.ones(64 * 64, dtype=np.float32)
out = np.zeros(64 * 64, dtype=np.float32)
matmul_blocked(out, a, a, 1, 64, 64, 64, 0, 64, 1, 0, 64)
assert out[0] == 64.0
"""


def test_package_kernels_are_located_by_thread_count() -> None:
    fn = numba_matmul.matmul_blocked.py_func
    locator = numba_cache.ThreadCountLocator.from_function(fn, fn.__code__.co_filename)
    assert locator is not None
    path = Path(locator.get_cache_path())
    assert path.is_relative_to(numba_cache.cache_root() / "compiled" / f"threads{numba.config.NUMBA_NUM_THREADS}")


def test_functions_outside_the_package_keep_numbas_locators() -> None:
    def elsewhere() -> None:
        pass

    assert numba_cache.ThreadCountLocator.from_function(elsewhere, __file__) is None


def _compile_with(threads: int, cache: Path) -> None:
    env = {**os.environ, "MINITORCH_EDU_CACHE": str(cache), "NUMBA_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, "-c", COMPILE_ONE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def _cached_matmuls(folder: Path) -> list[Path]:
    return sorted(folder.rglob("matmul.matmul_blocked-*.nbi")) if folder.exists() else []


def test_a_one_thread_process_never_writes_the_two_thread_cache(tmp_path: Path) -> None:
    _compile_with(1, tmp_path)
    compiled = tmp_path / "compiled"
    assert _cached_matmuls(compiled / "threads1"), "the one-thread build was not cached"
    assert not _cached_matmuls(compiled / "threads2"), "a one-thread build landed where two-thread processes load"
    _compile_with(2, tmp_path)
    assert _cached_matmuls(compiled / "threads2"), "the two-thread process did not cache its own build"


SMALL_THEN_LARGE = """
import numba
import pytest
import numpy as np
import minitorch_edu as mt

def product(n):
    a = mt.tensor(np.ones((n, n), dtype=np.float32), device="numba")
    return (a @ a).numpy()[0, 0]

assert product(8) == 8.0  # under SERIAL_BELOW: the one-thread kernel
try:
    numba.threading_layer()
    raise SystemExit("the small product already started numba's thread pool")
except ValueError:
    pass  # not started yet: what a serial kernel leaves behind
assert product(256) == 256.0  # large: must run on the threaded kernel
print(numba.threading_layer(), numba.get_num_threads())
"""


def _small_then_large(cache: Path) -> str:
    env = {**os.environ, "MINITORCH_EDU_CACHE": str(cache), "NUMBA_NUM_THREADS": "2"}
    run = subprocess.run([sys.executable, "-c", SMALL_THEN_LARGE], env=env, capture_output=True, text=True, timeout=300)
    # numba.threading_layer() raises ValueError when no parallel kernel has run: the large
    # product came out of a serial build
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.split()


def test_a_small_product_first_keeps_the_threaded_kernel_for_large_ones(tmp_path: Path) -> None:
    # the serial and the threaded matmul shared one cache index: whichever compiled first was
    # loaded for both, in this process and every later one (fresh process twice: compile, then load)
    for _ in range(2):
        layer, threads = _small_then_large(tmp_path)
        assert int(threads) == 2, f"the large product ran with {threads} thread(s) ({layer})"
    folder = tmp_path / "compiled" / "threads2"
    assert sorted(folder.rglob("matmul.matmul_serial-*.nbi")), "the serial kernel has no cache entry of its own"
    assert _cached_matmuls(folder), "the threaded kernel has no cache entry"


ROW_KERNEL_SMALL_THEN_LARGE = """
import numba
import numpy as np
from minitorch_edu.backends.numba import losses, norms

def run(n, c=512):
    x = np.random.default_rng(0).standard_normal(n * c).astype(np.float32)
    out, gx = np.empty_like(x), np.empty_like(x)
    mean, rstd = np.empty(n, np.float32), np.empty(n, np.float32)
    loss, target = np.empty(n, np.float32), np.arange(n) % c
    {op}

run(4)  # 2,048 elements, under PARALLEL_FROM: the serial kernel, compiled and cached first
run(512)  # 262,144 elements: the threaded kernel
threaded = [*norms._SOFTMAX_FORWARD.values(), *norms._SOFTMAX_BACKWARD.values(), *norms._LN_FORWARD.values(),
            *norms._LN_INPUT_GRAD.values(), *losses._kernels[False], *losses._kernels[True]]
print(sum(sum(k.stats.cache_hits.values()) for k in threaded))
"""

ROW_OPS = {  # each calls one kernel directly: no other kernel may start the thread pool
    "softmax": "norms.softmax_forward(out, x, n, c, False)",
    "softmax_backward": "norms.softmax_backward(gx, x, x, n, c, True)",
    "layer_norm": "norms.layer_norm_forward(out, mean, rstd, x, None, None, n, c, 1e-5)",
    "layer_norm_backward": "norms.layer_norm_backward(gx, None, None, x, x, mean, rstd, None, n, c)",
    "cross_entropy": "losses.softmax_xent_forward(loss, out, x, target, n, c)",
    "cross_entropy_backward": "losses.softmax_xent_backward(gx, x, target, loss, 1, n, c)",
}


@pytest.mark.parametrize("op", list(ROW_OPS))
def test_the_serial_row_kernels_never_stand_in_for_the_threaded_ones(tmp_path: Path, op: str) -> None:
    # numba keys cached code by argument types, not by `parallel`: the threaded softmax loaded the
    # serial one's code and ran no faster on two threads than on one (norms.py, cache.variant)
    script = ROW_KERNEL_SMALL_THEN_LARGE.replace("{op}", ROW_OPS[op])
    env = {**os.environ, "MINITORCH_EDU_CACHE": str(tmp_path), "NUMBA_NUM_THREADS": "2"}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.split()[-1] == "0", f"{op}: a kernel loaded another's code from the cache in a fresh cache"
    again = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.split()[-1] == "2", f"{op}: a second process should load both kernels, not compile them again"
