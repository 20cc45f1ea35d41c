"""Datasets, the DataLoader, the toy sets, the digits and the IDX parser (no network)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import minitorch_edu as mt
from minitorch_edu.data import DataLoader, Dataset, TensorDataset, load_digits, mnist, random_split, toy


def _ds(n: int = 10) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1) * 10, np.arange(n))


def test_tensor_dataset_indexing_and_length() -> None:
    ds = TensorDataset(mt.tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]))
    assert len(ds) == 2
    x, y = ds[1]
    assert x.tolist() == [3.0, 4.0] and y == 1
    assert [t.shape for t in ds.tensors] == [(2, 2), (2,)]
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))


def test_batches_in_order_with_last_partial_batch() -> None:
    loader = DataLoader(_ds(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert isinstance(batches[0][0], mt.Tensor)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(10))


def test_drop_last() -> None:
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].shape for b in loader] == [(4,), (4,)]


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_epoch() -> None:
    loader = DataLoader(_ds(20), batch_size=6, shuffle=True, seed=3)
    epoch1 = np.concatenate([y.numpy() for _, y in loader])
    epoch2 = np.concatenate([y.numpy() for _, y in loader])
    assert sorted(epoch1.tolist()) == list(range(20)) and epoch1.tolist() != list(range(20))
    assert epoch1.tolist() != epoch2.tolist()
    again = DataLoader(_ds(20), batch_size=6, shuffle=True, seed=3)
    assert np.concatenate([y.numpy() for _, y in again]).tolist() == epoch1.tolist()
    # rows stay together: x is 10 * y
    for x, y in loader:
        np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy() * 10)


def test_manual_seed_makes_default_shuffling_reproducible() -> None:
    def order() -> list[int]:
        mt.manual_seed(11)
        return np.concatenate([y.numpy() for _, y in DataLoader(_ds(12), batch_size=5, shuffle=True)]).tolist()

    assert order() == order()


def test_plain_dataset_dict_samples_and_collate_fn() -> None:
    class Squares(Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> dict:
            return {"x": np.array([i, i * i], dtype=np.float32), "label": i % 2}

    batch = next(iter(DataLoader(Squares(), batch_size=5)))
    assert batch["x"].numpy()[:, 1].tolist() == [0, 1, 4, 9, 16] and batch["label"].tolist() == [0, 1, 0, 1, 0]
    sizes = list(DataLoader(Squares(), batch_size=2, collate_fn=len))
    assert sizes == [2, 2, 1]
    # collate_fn also gets a list of samples from a TensorDataset (which fetches whole batches)
    firsts = list(DataLoader(_ds(4), batch_size=2, collate_fn=lambda s: [int(y) for _, y in s]))
    assert firsts == [[0, 1], [2, 3]]


def test_random_split() -> None:
    a, b = random_split(_ds(10), [7, 3], generator=0)
    ids = sorted([int(a[i][1]) for i in range(7)] + [int(b[i][1]) for i in range(3)])
    assert ids == list(range(10))
    c, d = random_split(_ds(10), [0.5, 0.5], generator=1)
    assert len(c) == len(d) == 5
    assert len(list(DataLoader(c, batch_size=2))) == 3


@pytest.mark.parametrize("name", list(toy.DATASETS))
def test_toy_sets(name: str) -> None:
    X, y = toy.load(name, 200, seed=0)
    assert X.shape == (200, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100]
    assert -0.5 < X.min() and X.max() < 1.5
    X2, y2 = toy.load(name, 200, seed=0)
    np.testing.assert_array_equal(X, X2)
    assert isinstance(toy.load(name, 10, seed=0, as_dataset=True), TensorDataset)


def test_toy_labels_follow_their_rule() -> None:
    X, y = toy.xor(300, seed=1)
    np.testing.assert_array_equal(y, ((X[:, 0] < 0.5) != (X[:, 1] < 0.5)).astype(np.int64))
    X, y = toy.split(300, seed=1)
    np.testing.assert_array_equal(y, ((X[:, 0] < 0.25) | (X[:, 0] > 0.75)).astype(np.int64))
    with pytest.raises(ValueError, match="unknown toy set"):
        toy.load("nope")


def test_digits() -> None:
    (xtr, ytr), (xte, yte) = load_digits()
    assert xtr.shape[1:] == (1, 8, 8) and len(xtr) + len(xte) == 1797
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert xtr.min() == 0.0 and xtr.max() == 1.0
    assert abs(len(xte) / 1797 - 0.2) < 0.01
    assert set(np.unique(yte).tolist()) == set(range(10))  # stratified: every digit in the test set
    flat_train, _ = load_digits(flatten=True, as_dataset=True)
    assert flat_train[0][0].shape == (64,)
    (xtr2, _), _ = load_digits()
    np.testing.assert_array_equal(xtr, xtr2)


def _write_idx(path, array: np.ndarray, code: int, big_endian_dtype: str, compress: bool = False) -> None:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body = header + array.astype(big_endian_dtype).tobytes()
    (gzip.open if compress else open)(path, "wb").write(body)


def test_parse_idx(tmp_path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "img.idx", images, 0x08, ">u1")
    np.testing.assert_array_equal(mnist.parse_idx(tmp_path / "img.idx"), images)
    labels = np.array([7, 2, 1], dtype=np.uint8)
    _write_idx(tmp_path / "lab.idx.gz", labels, 0x08, ">u1", compress=True)
    assert mnist.parse_idx(tmp_path / "lab.idx.gz").tolist() == [7, 2, 1]
    ints = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    _write_idx(tmp_path / "int.idx", ints, 0x0C, ">i4")
    parsed = mnist.parse_idx(tmp_path / "int.idx")
    assert parsed.dtype == np.int32 and parsed.tolist() == ints.tolist()
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.parse_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 5) + b"\x01\x02")
    with pytest.raises(ValueError, match="header promises"):
        mnist.parse_idx(tmp_path / "short.idx")


def test_download_verifies_checksums_from_a_local_mirror(tmp_path) -> None:
    import hashlib

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    labels = np.array([3, 1, 4], dtype=np.uint8)
    _write_idx(mirror / "labels.gz", labels, 0x08, ">u1", compress=True)
    digest = hashlib.sha256((mirror / "labels.gz").read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    paths = mnist.download(mirror.as_uri(), cache, files={"labels.gz": digest})
    assert mnist.parse_idx(paths["labels.gz"]).tolist() == [3, 1, 4]
    (mirror / "labels.gz").unlink()  # cached now: no second download
    assert mnist.download(mirror.as_uri(), cache, files={"labels.gz": digest}) == paths
    _write_idx(mirror / "other.gz", labels, 0x08, ">u1")
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        mnist.download(mirror.as_uri(), cache, files={"other.gz": "0" * 64})
    assert not (cache / "other.gz").exists() and not (cache / "other.gz.part").exists()
