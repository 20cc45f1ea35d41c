"""Containers: `Sequential` (a pipeline of layers), `ModuleList` and `ModuleDict` (a registered list or
dict of layers)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


class Sequential(Module):
    """Apply layers in order: Sequential(Linear(4, 8), ReLU(), Linear(8, 1)).

    Also accepts an OrderedDict of name -> layer. Indexable (an int gives a layer, a slice a new
    Sequential), has a length and iterates over its layers.
    """

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            for name, layer in layers[0].items():
                self.add_module(name, _as_module(layer, name))
        else:
            for i, layer in enumerate(layers):
                self.add_module(str(i), _as_module(layer, str(i)))

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        layers = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(layers[index]))
        return layers[_position(index, len(layers))][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, layer: Module) -> Sequential:
        self.add_module(str(len(self)), _as_module(layer, str(len(self))))
        return self


class ModuleList(Module):
    """A list of layers whose parameters the parent module sees (a plain list would hide them)."""

    def __init__(self, layers: Iterable[Module] = ()) -> None:
        super().__init__()
        for layer in layers:
            self.append(layer)

    def append(self, layer: Module) -> ModuleList:
        self.add_module(str(len(self)), _as_module(layer, str(len(self))))
        return self

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[_position(index, len(self))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of named layers whose parameters the parent module sees, in insertion order.

    Its state_dict keys are `<key>.<parameter>`, as in PyTorch: ModuleDict({"enc": Linear(2, 3)})
    has "enc.weight" and "enc.bias".
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict keys must be non-empty strings without '.', got {key!r}")
        if hasattr(type(self), key) or key in self.__dict__:  # e.g. "keys" or "training": would shadow it
            raise KeyError(f"ModuleDict key {key!r} is the name of an attribute of ModuleDict; choose another key")
        self.add_module(key, _as_module(module, key))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or from (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module


def _as_module(layer: Any, name: str) -> Module:
    if not isinstance(layer, Module):
        raise TypeError(f"layer {name} is a {type(layer).__name__}, not an nn.Module")
    return layer


def _position(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a container of {length} layers")
    return index % length
