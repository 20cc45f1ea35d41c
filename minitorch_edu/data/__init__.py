"""Datasets and the DataLoader, with PyTorch's names, plus small bundled data sets.

from minitorch_edu.data import DataLoader, TensorDataset, toy, load_digits, load_text, CharTokenizer
X, y = toy.xor(200, seed=0)
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
for xb, yb in loader: ...
tok = CharTokenizer(load_text())   # a public-domain text shipped with the package, for a character GPT
"""

from __future__ import annotations

from . import mnist, toy
from .dataset import Dataset, Subset, TensorDataset, random_split
from .digits import load_digits
from .loader import DataLoader, default_collate
from .text import CharTokenizer, load_text

__all__ = [
    "CharTokenizer",
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "default_collate",
    "load_digits",
    "load_text",
    "mnist",
    "random_split",
    "toy",
]
