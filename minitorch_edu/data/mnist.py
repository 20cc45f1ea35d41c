"""MNIST (70,000 28×28 digits): download once, check SHA-256 sums, cache, and parse the IDX files.

    (x_train, y_train), (x_test, y_test) = mnist.load_mnist()   # uint8 -> float32 in [0,1], int64

The files come from `base_url` (default: the public mirror TensorFlow uses) into `cache_dir`
(default `~/.cache/minitorch_edu/mnist`, or `$MINITORCH_EDU_DATA/mnist`). A file whose checksum
does not match is deleted and reported rather than used. `parse_idx` reads any IDX file, the
simple format of MNIST: a magic number giving the element type and rank, the dimensions, the data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

import numpy as np

DEFAULT_BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

FILES: dict[str, str] = {  # file name -> SHA-256 of the .gz file
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# the third byte of the magic number names the element type; IDX data is big-endian
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or not) into an array of its shape and (native-endian) type."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file: the magic number must start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{code:02x}")
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: header promises shape {shape} ({expected} bytes), file has {len(data) - header}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    root = os.environ.get("MINITORCH_EDU_DATA")
    return Path(root) / "mnist" if root else Path.home() / ".cache" / "minitorch_edu" / "mnist"


def download(
    base_url: str = DEFAULT_BASE_URL,
    cache_dir: str | os.PathLike[str] | None = None,
    files: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Fetch each file (name -> sha256) from `base_url` into `cache_dir` unless a verified copy is there.

    `base_url` may also be a `file://` URL (a local mirror). Returns name -> path.
    """
    files = FILES if files is None else files
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, digest in files.items():
        target = cache / name
        if not (target.exists() and sha256(target) == digest):
            url = base_url.rstrip("/") + "/" + name
            partial = target.with_name(target.name + ".part")
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
            found = sha256(partial)
            if found != digest:
                partial.unlink()
                raise RuntimeError(f"checksum mismatch for {url}: expected sha256 {digest}, got {found}")
            partial.replace(target)  # only verified files ever get the real name
        paths[name] = target
    return paths


def load_mnist(
    base_url: str = DEFAULT_BASE_URL, cache_dir: str | os.PathLike[str] | None = None, normalize: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)); images (N, 1, 28, 28) float32 in [0, 1] (uint8 if not normalize)."""
    paths = download(base_url, cache_dir)

    def images(name: str) -> np.ndarray:
        x = parse_idx(paths[name])[:, None, :, :]
        return (x / np.float32(255.0)).astype(np.float32) if normalize else x

    def labels(name: str) -> np.ndarray:
        return parse_idx(paths[name]).astype(np.int64)

    return (
        (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")),
        (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")),
    )
