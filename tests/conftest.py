"""Shared fixtures of the package's test suite.

Without a GPU, numba.cuda kernels run under numba's CUDA simulator. The simulator has to be
switched on before numba is first imported, so this module does it before importing anything
else. Set MINITORCH_EDU_REAL_CUDA=1 to keep the real CUDA target.
"""

from __future__ import annotations

import os

if not os.path.exists("/dev/nvidia0") and not os.environ.get("MINITORCH_EDU_REAL_CUDA"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# numba's OpenMP threads spin, then sleep; on a busy machine (other test workers, other jobs) every
# parallel kernel call then waits for a descheduled thread (~8 ms instead of µs). Passive waiting
# keeps tiny-tensor kernels (the 100,000-op chain) fast. Set before numba loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "minitorch_edu",
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minitorch_edu"))

BACKENDS = ("python", "numba", "cuda")


def cuda_skip_reason() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can (a GPU or the simulator)."""
    import importlib.util

    try:
        if importlib.util.find_spec("minitorch_edu.backends.cuda.backend") is None:
            return "minitorch_edu.backends.cuda.backend does not exist yet"
        from minitorch_edu import backends

        if not backends.available("cuda"):
            return "no CUDA GPU and no numba CUDA simulator"
    except Exception as err:  # a missing or half-written module must not break the other backends
        return f"the CUDA backend cannot be loaded: {type(err).__name__}: {err}"
    return None


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of a backend; tests make their tensors with `mt.tensor(..., device=backend)`."""
    if request.param == "cuda":
        reason = cuda_skip_reason()
        if reason:
            pytest.skip(reason)
    return request.param


@pytest.fixture(scope="session")
def make(backend: str):
    """`make(data, dtype="float64", requires_grad=False)`: a tensor on the backend under test."""
    import minitorch_edu as mt

    def _make(data, dtype="float64", requires_grad: bool = False):
        return mt.tensor(np.asarray(data), dtype=dtype, device=backend, requires_grad=requires_grad)

    return _make


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def directional_grad_check(fn, *inputs, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """A cheaper gradient check for slow backends (the CUDA simulator): along one random direction.

    Compares <autograd gradient, v> with (f(x + eps v) - f(x - eps v)) / (2 eps) for a random v
    per input: two extra forward passes per input instead of two per element. A wrong gradient
    at any element changes the directional derivative (v has no zero entries), so it is caught.
    """
    import minitorch_edu as mt

    rng = np.random.default_rng(7)
    xs = [x.detach().double().requires_grad_(True) for x in inputs]
    fn(*xs).sum().backward()
    for i, x in enumerate(xs):
        v = rng.uniform(0.5, 1.5, size=x.shape) * rng.choice([-1.0, 1.0], size=x.shape)
        analytic = float(np.sum((np.zeros(x.shape) if x.grad is None else x.grad.numpy()) * v))
        base = x.detach().numpy()
        sides = []
        for sign in (1.0, -1.0):
            args = [y.detach() for y in xs]
            args[i] = mt.tensor(base + sign * eps * v, dtype="float64", device=x.backend)
            sides.append(float(fn(*args).sum().item()))
        numeric = (sides[0] - sides[1]) / (2 * eps)
        assert abs(analytic - numeric) <= atol + rtol * abs(numeric), (
            f"directional gradient check failed for input {i} (shape {x.shape}): "
            f"autograd {analytic:.8g}, finite differences {numeric:.8g}"
        )
    return True


@pytest.fixture(scope="session")
def gradcheck(backend: str):
    """`mt.grad_check` (every element), or along a random direction on the simulated CUDA backend."""
    import minitorch_edu as mt

    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if backend == "cuda" and simulated and not os.environ.get("MINITORCH_EDU_FULL_GRADCHECK"):
        return directional_grad_check
    return mt.grad_check


@pytest.fixture(scope="session")
def cuda_reason() -> str | None:
    """Why the CUDA backend cannot run here (None when it can)."""
    return cuda_skip_reason()
