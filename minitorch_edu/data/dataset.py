"""`Dataset` (anything with `__len__` and `__getitem__`), `TensorDataset`, `Subset`, `random_split`.

Samples stay NumPy on the host: the `DataLoader` stacks a batch of them and makes one Tensor
per field, which is far cheaper than building a Tensor per sample. A dataset may also define
`__getitems__(indices)` to fetch a whole batch at once (fancy indexing), as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.creation import from_numpy
from ..core.tensor import Tensor
from .loader import _rng


class Dataset:
    """Base class of map-style datasets: `len(ds)` samples, `ds[i]` is one sample."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def _as_array(data: Any) -> np.ndarray:
    return data.numpy() if isinstance(data, Tensor) else np.asarray(data)


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays or tensors: `ds[i] == (X[i], y[i])`."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"all arrays need the same first dimension, got {[len(a) for a in self.arrays]}")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The fields as Tensors (sharing memory with the arrays on the CPU)."""
        return tuple(from_numpy(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices: Sequence[int]) -> tuple[np.ndarray, ...]:
        """A whole batch, already stacked: one fancy-indexing copy per field."""
        return tuple(a[np.asarray(indices, dtype=np.int64)] for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: Sequence[int]) -> Any:
        chosen = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(chosen)
        return [self.dataset[int(i)] for i in chosen]


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | int | None = None
) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (or fractions summing to 1)."""

    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # the remainder goes round-robin, as in torch
            counts[i % len(counts)] += 1
    else:
        counts = [int(x) for x in lengths]
    if sum(counts) != n:
        raise ValueError(f"the lengths {list(lengths)} do not add up to the dataset's {n} samples")
    order = _rng(generator).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
