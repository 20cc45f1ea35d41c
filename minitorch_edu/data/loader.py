"""`DataLoader`: batches of a dataset as Tensors, shuffled reproducibly, optionally on a device.

Batches are assembled as NumPy arrays on the host (one stacking copy per field) and only then
become Tensors, on `device` if given: that is one host-to-device copy per field and batch, the
same as PyTorch's `pin_memory` + `.to(device)` pattern. Shuffling uses the package's generator
(`mt.manual_seed`), or a `generator` / `seed` of its own, so epochs are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..core.creation import from_numpy
from ..core.creation import generator as package_generator
from ..core.tensor import Tensor


def _rng(generator: np.random.Generator | int | None) -> np.random.Generator:
    if generator is None:
        return package_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(int(generator))


def _to_tensor(array: Any, device: Any) -> Any:
    if isinstance(array, Tensor):
        return array if device is None else array.to(device)
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        return array  # strings and objects stay as they are
    if array.dtype == np.float64:
        array = array.astype(np.float32)  # float32 is the package's default, as in torch
    return from_numpy(array, device=device)


def default_collate(samples: Any, device: Any = None) -> Any:
    """A list of samples (tuples, dicts, arrays, numbers) as one batch of Tensors.

    A tuple produced by a dataset's `__getitems__` is already stacked: each field becomes a Tensor.
    """
    if isinstance(samples, tuple):
        return tuple(_to_tensor(field, device) for field in samples)
    first = samples[0]
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples], device) for k in first}
    if isinstance(first, tuple | list):
        return tuple(default_collate([s[i] for s in samples], device) for i in range(len(first)))
    if isinstance(first, Tensor):
        return _to_tensor(np.stack([s.numpy() for s in samples]), device)
    return _to_tensor(np.stack([np.asarray(s) for s in samples]), device)


class DataLoader:
    """Iterate over `dataset` in batches, like `torch.utils.data.DataLoader` (single process)."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[Any], Any] | None = None,
        generator: np.random.Generator | int | None = None,
        seed: int | None = None,
        device: Any = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.collate_fn = collate_fn
        self.device = device
        self.generator = _rng(seed) if seed is not None else generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch_indices(self) -> Iterator[np.ndarray]:
        """The indices of each batch of one epoch (a fresh permutation each epoch when shuffling)."""
        n = len(self.dataset)
        order = _rng(self.generator).permutation(n) if self.shuffle else np.arange(n)
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]

    def __iter__(self) -> Iterator[Any]:
        fetch_many = getattr(self.dataset, "__getitems__", None)
        for indices in self.batch_indices():
            samples = fetch_many(indices) if fetch_many else [self.dataset[int(i)] for i in indices]
            if self.collate_fn is not None:
                yield self.collate_fn(samples if not isinstance(samples, tuple) else list(zip(*samples, strict=True)))
            else:
                yield default_collate(samples, self.device)
