"""The 8×8 handwritten digits (1,797 images, 10 classes) shipped with scikit-learn: real images, offline.

    (x_train, y_train), (x_test, y_test) = load_digits()   # float32 (N,1,8,8) in [0,1], int64

Pixels in the original are 0..16; they are divided by 16. The split is stratified (every digit
has the same share in both parts) and seeded, so everyone gets the same test set.
"""

from __future__ import annotations

import numpy as np

from .dataset import TensorDataset

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_digits(
    test_size: float = 0.2, seed: int = 0, flatten: bool = False, as_dataset: bool = False
) -> Split | tuple[TensorDataset, TensorDataset]:
    """Train and test parts as ((x, y), (x, y)), or as two TensorDatasets.

    `flatten=True` gives (N, 64) rows for an MLP instead of (N, 1, 8, 8) images for a CNN.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:  # a clear message instead of a bare ModuleNotFoundError
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from err
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    x = images.reshape(len(images), -1) if flatten else images[:, None, :, :]
    rng = np.random.default_rng(seed)
    test_idx, train_idx = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        cut = int(round(len(members) * test_size))
        test_idx.append(members[:cut])
        train_idx.append(members[cut:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    if as_dataset:
        return TensorDataset(x[train], labels[train]), TensorDataset(x[test], labels[test])
    return (x[train], labels[train]), (x[test], labels[test])
