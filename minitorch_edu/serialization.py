"""`mt.save` / `mt.load`: checkpoints as NumPy `.npz` files, with no pickle anywhere.

    mt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ckpt.npz")
    ckpt = mt.load("ckpt.npz")

Loading a pickle can run arbitrary code, so this format has none: every tensor or array is one
`.npz` member named by its dotted path ("model.fc1.weight", "optimizer.state.0.exp_avg"), keeping
its dtype and shape, and the structure around them (dicts with str or int keys, lists, tuples,
numbers, strings, None) is one JSON document in the member `__meta__`. `load` opens the file
with `allow_pickle=False`, so a file holding pickled objects is refused, not executed.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .core.creation import tensor
from .core.tensor import Tensor

META = "__meta__"
FORMAT = "minitorch_edu.npz/1"


class _Writer:
    """Walks a nested object, collecting arrays under unique dotted names and a JSON skeleton."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: str) -> str:
        name, n = path or "value", 1
        while name in self.arrays or name == META:
            name, n = f"{path}#{n}", n + 1
        return name

    def encode(self, obj: Any, path: str) -> Any:
        def child(key: Any) -> str:
            return f"{path}.{key}" if path else str(key)

        if isinstance(obj, Tensor):
            name = self._name(path)
            self.arrays[name] = obj.detach().numpy()
            return {"t": "tensor", "k": name}
        if isinstance(obj, np.ndarray | np.generic):
            array = np.asarray(obj)
            if array.dtype.hasobject:
                raise TypeError(f"{path}: arrays of Python objects cannot be saved without pickle")
            name = self._name(path)
            self.arrays[name] = array
            return {"t": "array" if isinstance(obj, np.ndarray) else "scalar", "k": name}
        if isinstance(obj, Mapping):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, str | int):
                    raise TypeError(f"{path}: only str and int dict keys can be saved, got {key!r}")
                items.append([key, isinstance(key, int), self.encode(value, child(key))])
            return {"t": "dict", "items": items}
        if isinstance(obj, list | tuple):
            return {"t": type(obj).__name__, "items": [self.encode(v, child(i)) for i, v in enumerate(obj)]}
        if obj is None or isinstance(obj, bool | int | float | str):
            return {"t": "py", "v": obj}
        raise TypeError(
            f"{path or 'the object'}: cannot save a {type(obj).__name__}; save its state_dict() "
            "(tensors, arrays, numbers, strings, lists and dicts)"
        )


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write tensors/arrays and their nested containers to `path` (exactly that name, any suffix)."""
    writer = _Writer()
    skeleton = writer.encode(obj, "")
    meta = json.dumps({"format": FORMAT, "root": skeleton})
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    # a file handle, not a name: np.savez would append ".npz" to a name without it
    with open(partial, "wb") as f:
        np.savez(f, **writer.arrays, **{META: np.array(meta)})
    partial.replace(path)  # never leave a half-written checkpoint under the real name


def load(path: str | os.PathLike[str], map_location: Any = None, as_numpy: bool = False) -> Any:
    """Read what `save` wrote; tensors come back on `map_location` (default: the CPU).

    With `as_numpy=True` tensors come back as NumPy arrays. A plain `.npz` without metadata loads
    as a dict of name -> tensor.
    """

    try:
        return _load(path, map_location, as_numpy)
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:  # name the file: "not a zip file" alone says little
        raise ValueError(
            f"{path}: not a complete checkpoint (the file is truncated or corrupt: {err}); save it again with mt.save"
        ) from err


def _load(path: str | os.PathLike[str], map_location: Any, as_numpy: bool) -> Any:
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as err:  # numpy's message for pickled content: say what to do instead
        raise ValueError(f"{path}: refusing to load pickled data ({err}); mt.load reads only mt.save's .npz") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        return archive if as_numpy else tensor(archive, device=map_location)

    def as_tensor(array: np.ndarray) -> Any:
        return array if as_numpy else tensor(array, device=map_location)

    with archive:
        if META not in archive.files:
            return {name: as_tensor(archive[name]) for name in archive.files}
        meta = json.loads(str(archive[META][()]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown checkpoint format {meta.get('format')!r}")

        def decode(node: dict[str, Any]) -> Any:
            kind = node["t"]
            if kind == "tensor":
                return as_tensor(archive[node["k"]])
            if kind == "array":
                return archive[node["k"]]
            if kind == "scalar":
                return archive[node["k"]][()]
            if kind == "dict":
                return {int(k) if is_int else k: decode(v) for k, is_int, v in node["items"]}
            if kind in ("list", "tuple"):
                items = [decode(v) for v in node["items"]]
                return items if kind == "list" else tuple(items)
            if kind == "py":
                return node["v"]
            raise ValueError(f"{path}: unknown entry type {kind!r}")

        return decode(meta["root"])
