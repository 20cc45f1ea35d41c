"""Containers: `Sequential` (a pipeline of layers) and `ModuleList` (a registered list of layers)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module

__all__ = ["ModuleList", "Sequential"]


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


def _as_module(layer: Any, name: str) -> Module:
    if not isinstance(layer, Module):
        raise TypeError(f"layer {name} is a {type(layer).__name__}, not an nn.Module")
    return layer


def _position(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a container of {length} layers")
    return index % length
