"""Backends: where tensor kernels run. Looked up by name, imported only when first used.

    get_backend("python")  readable Python loops (chapter 03)
    get_backend("numba")   parallel numba CPU kernels (chapter 04), the default for "cpu"
    get_backend("cuda")    numba.cuda GPU kernels (chapter 05); data stays on the device

`register_backend` adds your own (see `Backend`), and `set_default_backend` picks what "cpu" means.
"""

from __future__ import annotations

import importlib

from .base import FUSED_KERNELS, Backend, HostStorage, Storage

__all__ = [
    "FUSED_KERNELS",
    "Backend",
    "DeviceUnavailableError",
    "HostStorage",
    "Storage",
    "available",
    "get_backend",
    "register_backend",
    "set_default_backend",
]

_BUILTIN = {
    "python": ("minitorch_edu.backends.python", "python_backend"),
    "numba": ("minitorch_edu.backends.numba.cpu", "numba_backend"),
    "cuda": ("minitorch_edu.backends.cuda.backend", "cuda_backend"),
}
_registry: dict[str, Backend] = {}


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this machine does not have (e.g. "cuda" without a GPU)."""


_default_cpu = "numba"


def register_backend(backend: Backend) -> Backend:
    """Make `backend` reachable by its name, e.g. `x.to("mine")`."""
    _registry[backend.name] = backend
    return backend


def set_default_backend(name: str) -> None:
    """Choose the backend that device "cpu" means (default: "numba")."""
    global _default_cpu
    backend = get_backend(name)
    if backend.device != "cpu":
        raise ValueError(f"the default CPU backend must run on the CPU, {name!r} runs on {backend.device!r}")
    _default_cpu = name


def get_backend(spec: str | Backend | None = None) -> Backend:
    """A backend from a name ("python", "numba", "cuda", "cpu", a registered one) or a Backend."""
    if isinstance(spec, Backend):
        return spec
    name = _default_cpu if spec in (None, "cpu") else str(spec)
    if name.startswith("cuda:"):
        name = "cuda"
    if name not in _registry:
        if name not in _BUILTIN:
            known = sorted(set(_BUILTIN) | set(_registry) | {"cpu"})
            raise ValueError(f"unknown device or backend {spec!r}; known: {', '.join(known)}")
        module, attribute = _BUILTIN[name]
        backend = getattr(importlib.import_module(module), attribute)
        check = getattr(backend.storage, "available", None)
        if check is not None and not check():
            raise DeviceUnavailableError(
                f"device {spec!r} is not available here: no NVIDIA GPU with a CUDA driver was found. "
                "Use device='cpu', or run the CUDA kernels in numba's simulator (slow; small shapes): "
                "set NUMBA_ENABLE_CUDASIM=1 before Python starts (NUMBA_ENABLE_CUDASIM=1 python ...), "
                "as the GPU chapter does on machines without a GPU."
            )
        _registry[name] = backend
    return _registry[name]


def available(name: str) -> bool:
    """Whether a backend can run here (for "cuda": a GPU or numba's simulator)."""
    try:
        backend = get_backend(name)
    except (ImportError, ValueError, DeviceUnavailableError):
        return False
    check = getattr(backend.storage, "available", None)
    return bool(check()) if check else True
