"""Datasets and the DataLoader, with PyTorch's names, plus small bundled data sets.

from minitorch_edu.data import DataLoader, TensorDataset, toy, load_digits
X, y = toy.xor(200, seed=0)
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
for xb, yb in loader: ...
"""

from __future__ import annotations

from . import mnist, toy
from .dataset import Dataset, Subset, TensorDataset, random_split
from .digits import load_digits
from .loader import DataLoader, default_collate

__all__ = [
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "load_digits",
    "mnist",
    "random_split",
    "toy",
]
