# %% [markdown]
# # 06 · Modules and layers: the part of a framework you touch every day
#
# Chapters 01–05 built an engine: tensors, autograd, fast kernels. Nobody writes a model in that
# vocabulary. They write
#
# ```python
# model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
# optimizer = optim.SGD(model.parameters(), lr=0.1)
# torch.save(model.state_dict(), "model.pt")
# ```
#
# and never list a weight by hand. This chapter builds the machinery that makes that possible: a
# `Module` that notices every weight and every sub-layer you assign to it, names them, saves and loads
# them, and switches the whole tree between training and evaluation. On it you build `Linear` (with
# the initialisation PyTorch uses), `Sequential`, and two losses.
#
# Then you look at the two answers the big frameworks give to the same question. PyTorch's
# `torch.nn.Module` creates its weights in `__init__` and keeps the training mode as state. Keras's
# `keras.layers.Layer` creates them on the first call, when it sees the input's shape, and takes
# `training=` as an argument of each call. You run both, next to your own module, with the same
# weights copied in.
#
# What you write (graded, 27 points):
#
# | part | what | points |
# | --- | --- | --- |
# | 1 | `Module`: assignment registers parameters and sub-modules; `named_parameters()` in a stable order | 6 |
# | 2 | `state_dict()` / `load_state_dict()` with strict key and shape checks | 5 |
# | 3 | `train()` / `eval()` reaching every sub-module | 3 |
# | 4 | `Linear`, with PyTorch's default initialisation | 5 |
# | 5 | `Sequential` | 3 |
# | 6 | `mse_loss` and a `cross_entropy` that stays finite for logits of 1000 | 5 |
#
# Each part is checked right after you write it, and the message says what was called, what came back
# and the likely mistake. The checks run with the package's own `nn` sealed: a solution that hands the
# work to `mt.nn` (or builds on its classes) scores nothing for that part.

# %% [setup]
import dis
import importlib
import math
import os
import sys
import time
import types
from collections import OrderedDict
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np

import minitorch_edu as mt
from minitorch_edu import testing
from minitorch_edu.course import Chapter, ReferenceSealed, interact

Parameter = mt.nn.Parameter  # a tag on a Tensor: "this is a weight" (see below)

_CONTAINERS = ["minitorch_edu.nn.Module", "minitorch_edu.nn.Sequential", "minitorch_edu.nn.ModuleList",
               "minitorch_edu.nn.ModuleDict"]
chapter = Chapter(
    "06_modules_layers",
    references={
        "module": _CONTAINERS,
        "state_dict": _CONTAINERS,
        "train_eval": _CONTAINERS,
        "linear": ["minitorch_edu.nn.Linear", *_CONTAINERS, "minitorch_edu.nn.functional.linear",
                   "minitorch_edu.nn.init.kaiming_uniform_", "minitorch_edu.nn.init.layer_default_",
                   "minitorch_edu.nn.init.xavier_uniform_"],
        "sequential": ["minitorch_edu.nn.Sequential", *_CONTAINERS[:1], *_CONTAINERS[2:]],
        "losses": ["minitorch_edu.nn.functional.cross_entropy", "minitorch_edu.nn.functional.mse_loss",
                   "minitorch_edu.nn.functional.nll_loss", "minitorch_edu.core.ops.log_softmax",
                   "minitorch_edu.core.ops.logsumexp", "minitorch_edu.nn.CrossEntropyLoss", "minitorch_edu.nn.MSELoss",
                   "minitorch_edu.nn.NLLLoss", "minitorch_edu.nn.LogSoftmax"],
    },
)
plt.rcParams.update({"figure.dpi": 80})


def add_to_class(cls):
    """Attach the decorated function to `cls` as a method (d2l.ai's trick for building a class across cells)."""

    def register(fn):
        setattr(cls, fn.__name__, fn)
        return fn

    return register


# what this chapter lets you take from the package: the tag, and fillers that know nothing about layers
_ALLOWED = {id(mt.nn.Parameter), id(mt.nn.init.uniform_), id(mt.nn.init.normal_), id(mt.nn.init.zeros_),
            id(mt.nn.init.ones_), id(mt.nn.init.constant_)}
_BUILT_HERE = ("minitorch_edu.nn", "minitorch_edu.optim", "minitorch_edu.train")


# every reference of every part (looked up now, before anything is sealed), wherever it lives in the package
_REFERENCES = {id(getattr(importlib.import_module(dotted.rpartition(".")[0]), dotted.rpartition(".")[2]))
               for names in chapter.references.values() for dotted in names}


def _package_name(value):
    """'module.qualname' when `value` is (an instance of) a layer, loss or optimizer of the package, or a reference."""
    if isinstance(value, types.ModuleType) or id(value) in _ALLOWED or id(type(value)) in _ALLOWED:
        return None
    thing = value if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) else type(value)
    module = getattr(thing, "__module__", "") or ""
    if module.startswith(_BUILT_HERE) or id(value) in _REFERENCES:
        return f"{module}.{getattr(thing, '__qualname__', type(thing).__name__)}"
    return None


def _functions_of(obj):
    """The plain functions that make up `obj`: itself, or a class's methods (properties included)."""
    if isinstance(obj, types.FunctionType):
        return [(obj.__qualname__, obj)]
    found = []
    for klass in getattr(obj, "__mro__", ())[:-1]:  # every class but object
        for name, member in vars(klass).items():
            member = getattr(member, "__func__", member)  # staticmethod / classmethod
            parts = [member.fget, member.fset] if isinstance(member, property) else [member]
            found += [(f"{klass.__qualname__}.{name}", f) for f in parts if f is not None]
    return found


def _borrowed(where, fn):
    """What `fn` takes from the package's nn/optim: the function itself, or a global or closure it uses."""
    name = _package_name(fn)
    if name:
        return [f"{where} is the package's {name}"]
    if not isinstance(fn, types.FunctionType):
        return []
    used = []
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        for ins in dis.get_instructions(code):
            if ins.opname == "LOAD_GLOBAL" and ins.argval in fn.__globals__:
                used.append((ins.argval, fn.__globals__[ins.argval]))
    used += [(f"closure {i}", cell.cell_contents) for i, cell in enumerate(fn.__closure__ or ())
             if cell.cell_contents is not None]
    used += [(f"default {i}", value) for i, value in enumerate(fn.__defaults__ or ())]
    return [f"{where} uses `{n}`, the package's {_package_name(v)}" for n, v in used if _package_name(v)]


def own(*objects, part):
    """Refuse (ReferenceSealed) classes and functions of `part` that are, or use, the package's layers or losses."""
    problems = []
    for obj in objects:
        bases = [c for c in getattr(obj, "__mro__", ()) if c.__module__.startswith("minitorch_edu")]
        problems += [f"{obj.__qualname__} is built on the package's {c.__module__}.{c.__qualname__}" for c in bases]
        for where, fn in _functions_of(obj) if not bases else []:
            problems += _borrowed(where, fn)
    for obj in objects:  # another framework's layers or losses (torch.nn, keras), also behind a helper of yours
        testing.assert_own_work(obj, call=f"{part}: the code of {getattr(obj, '__qualname__', obj)}",
                                hint=f"the point of `{part}` is to write it with minitorch_edu tensors")
    if problems:
        raise ReferenceSealed(
            f"`{part}` hands the work to the package: {'; '.join(problems[:3])}. The point of `{part}` is to "
            "write it yourself, built on tensors (mt.tensor, mt.nn.Parameter, autograd)"
        )


@contextmanager
def sealed_methods(part, names):
    """While `part` is checked, the Tensor methods `names` (x.log_softmax(), ...) refuse calls from notebook code.

    (The package's own code still calls them: its layers are built on them.)
    """
    originals = {name: mt.Tensor.__dict__[name] for name in names}

    def seal(name, method):
        def sealed_method(*args, **kwargs):
            if sys._getframe(1).f_globals.get("__name__", "").split(".")[0] == "minitorch_edu":
                return method(*args, **kwargs)
            raise ReferenceSealed(f"your code called the package's `Tensor.{name}` while `{part}` is checked: "
                                  "write the stable log-sum-exp yourself")

        return sealed_method

    for name, method in originals.items():
        setattr(mt.Tensor, name, seal(name, method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(mt.Tensor, name, method)


@contextmanager
def explained(call, hint):
    """Turn an error raised by your code inside a check into a message that names the call."""
    try:
        yield
    except (NotImplementedError, ReferenceSealed):
        raise  # "not written yet" and "sealed" say it themselves
    except Exception as err:
        raise AssertionError(f"{call} failed\n  error:    {type(err).__name__}: {err}\n"
                             f"  likely mistake: {hint}") from None


def names_of(module):
    """[name for name, _ in module.named_parameters()], with the call named when it fails."""
    with explained(f"{type(module).__name__}(...).named_parameters()",
                   "named_parameters must yield (name, parameter) pairs"):
        return [name for name, _ in module.named_parameters()]


def one_hot(target, num_classes, dtype="float32"):
    """A (N, num_classes) tensor with a 1 at each row's class: target may be a tensor, an array or a list."""
    classes = np.asarray(target.numpy() if hasattr(target, "numpy") else target, dtype=np.int64).reshape(-1)
    return mt.tensor(np.eye(num_classes)[classes], dtype=dtype)


# %% [markdown]
# ## 1 · Why a module registers its parts
#
# Here is a two-layer network written with nothing but tensors, as in chapter 03:

# %%
mt.manual_seed(0)
W1, b1 = mt.randn(4, 3, requires_grad=True), mt.zeros(4, requires_grad=True)
W2, b2 = mt.randn(2, 4, requires_grad=True), mt.zeros(2, requires_grad=True)


def two_layers(x):
    return (x @ W1.T + b1).relu() @ W2.T + b2


print(two_layers(mt.randn(5, 3)).shape, "- and the optimizer needs the list:", [t.shape for t in (W1, b1, W2, b2)])

# %% [markdown]
# It works, and every weight is yours to track: the optimizer needs the list `[W1, b1, W2, b2]`, saving
# needs names for them, a second model needs a second set of globals. A framework's `Module` does that
# bookkeeping. Python calls `obj.__setattr__(name, value)` for every `obj.name = value`, so a base class
# can look at each value as it is assigned:
#
# - a **parameter** (a weight to learn) goes into the module's parameter registry;
# - a **module** (a sub-layer) goes into its module registry;
# - anything else (a number, a string, a plain tensor) is an ordinary attribute.
#
# `named_parameters()` then walks the tree: first the module's own parameters, in the order they were
# assigned, then each sub-module's, in the order the sub-modules were assigned, each name prefixed with
# the sub-module's attribute name and a dot (`"encoder.weight"`). PyTorch uses exactly this order and
# these names, and they are what `state_dict()` keys, optimizers and checkpoint files rely on: the order
# must be the same on every run. A parameter reached twice (one layer used in two places: *tied*
# weights) is listed once, under its first name, or an optimizer would update it twice.
#
# **How does a module tell a weight from any other tensor?** By its type. `torch.nn.Parameter` is a
# `Tensor` subclass with no behaviour of its own: a tag that says "learn me". We use the package's
# `mt.nn.Parameter` (in the setup cell: `Parameter = mt.nn.Parameter`), which is the same tag: it wraps a
# tensor, shares its storage and sets `requires_grad=True`. Writing it yourself would take three lines;
# using the package's lets the package's optimizers and its own modules accept your parameters in the
# last part, and the tag is not the lesson: the registry is.

# %%
w = Parameter(mt.ones(2, 3))
print(type(w).__name__, "is a Tensor:", isinstance(w, mt.Tensor), "| requires_grad:", w.requires_grad)
print("a plain tensor is not a Parameter:", isinstance(mt.ones(2, 3), Parameter))

# %% [markdown]
# Write `Module`. Three notes before you start:
#
# - Inside `__setattr__`, store the value with `object.__setattr__(self, name, value)` as well, so that
#   `self.weight` reads it back as usual. Calling `self.name = value` there would call `__setattr__`
#   again, forever.
# - `__init__` must create the registries *before* anything is assigned, and for the same reason it
#   cannot assign them with `self._parameters = {}`: use `object.__setattr__` there too. Every subclass
#   calls `super().__init__()` first.
# - Re-assigning a name replaces what it held: `self.w = None` after `self.w = Parameter(...)` means the
#   module has no parameter `w` any more. Python's `dict` keeps insertion order; a `set` does not.

# %% [solution] id=module
class Module:
    """Base class of layers and models: assign Parameters and sub-modules in `__init__`, write `forward`.

        class Affine(Module):
            def __init__(self):
                super().__init__()
                self.weight = Parameter(mt.ones(2, 3))   # registered as a parameter
                self.scale = 2.0                         # an ordinary attribute

    Later cells use three attributes that `__init__` creates: `_parameters` (name -> Parameter),
    `_modules` (name -> Module) and `training` (True).
    """

    def __init__(self):
        ### BEGIN SOLUTION
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        ### END SOLUTION

    def __setattr__(self, name, value):
        """Register a Parameter or a Module under `name`; anything else is an ordinary attribute."""
        ### BEGIN SOLUTION
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call super().__init__() in {type(self).__name__}.__init__ before assigning")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value  # an existing key keeps its place, as in PyTorch
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)
        ### END SOLUTION

    def named_parameters(self):
        """(dotted name, parameter) pairs: own parameters first, then each sub-module's; each parameter once."""
        ### BEGIN SOLUTION
        seen = set()  # ids of parameters already listed (tied weights), not an order
        stack = [("", self)]
        visited = set()
        while stack:
            prefix, module = stack.pop()
            if id(module) in visited:
                continue
            visited.add(id(module))
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield prefix + name, param
            children = [(prefix + name + ".", child) for name, child in module._modules.items()]
            stack.extend(reversed(children))
        ### END SOLUTION

    def parameters(self):
        """The parameters alone, in the order of named_parameters()."""
        for _, param in self.named_parameters():
            yield param

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args):
        return self.forward(*args)


# %% [markdown]
# The checks below use these small models, built on your `Module` (they are also examples of how a
# module is written):

# %% [setup]
class Affine(Module):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(mt.ones(2, 3))
        self.scale = 2.0  # a number: not registered
        self.bias = Parameter(mt.zeros(2))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Net(Module):
    def __init__(self):
        super().__init__()
        self.first = Affine()
        self.gain = Parameter(mt.ones(1))
        self.second = Affine()


class Outer(Module):
    def __init__(self):
        super().__init__()
        self.inner = Net()
        self.w = Parameter(mt.zeros(1))


class Noisy(Module):
    """Doubles its input while training (a stand-in for dropout)."""

    def forward(self, x):
        return x * 2 if self.training else x


class Pair(Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = Noisy(), Noisy()


# %% [tests] id=module_tests points=6
with testing.part("module"):
    own(Module, part="module")
    with explained("Net()", "__setattr__ runs for every assignment, also inside __init__: create the registries "
                   "with object.__setattr__ before anything else"):
        affine, net = Affine(), Net()
    testing.assert_equal(names_of(affine), ["weight", "bias"], call="[n for n, _ in Affine().named_parameters()]",
                         hints=[(lambda got, exp: "scale" in got, "only Parameters are parameters: 2.0 is not"),
                                (lambda got, exp: sorted(got) == sorted(exp),
                                 "the right names in the wrong order: keep the order of assignment (a dict, not "
                                 "a set, and not sorted)")])
    testing.assert_true(affine.weight is list(affine.parameters())[0] and affine.scale == 2.0,
                        call="Affine().weight is list(Affine().parameters())[0]", got="a different object",
                        expected="the Parameter assigned in __init__, readable as an attribute",
                        hint="store the value with object.__setattr__(self, name, value) as well")
    testing.assert_equal(
        names_of(net), ["gain", "first.weight", "first.bias", "second.weight", "second.bias"],
        call="[n for n, _ in Net().named_parameters()]",
        hints=[
            (lambda got, exp: got == ["gain"], "the sub-modules' parameters are missing: recurse into _modules"),
            (lambda got, exp: "weight" in got, "prefix each sub-module's names with its attribute name and a dot"),
            (lambda got, exp: sorted(got) == sorted(exp),
             "the right names in the wrong order: a module's own parameters come first, then each sub-module's, "
             "in the order the sub-modules were assigned"),
        ])
    testing.assert_equal([p.shape for p in net.parameters()], [(1,), (2, 3), (2,), (2, 3), (2,)],
                         call="[p.shape for p in Net().parameters()]")
### BEGIN HIDDEN TESTS
with testing.part("module", hidden=True):
    # many names in one module: assignment order, neither sorted nor hashed
    class Wide(Module):
        def __init__(self):
            super().__init__()
            for name in ["zeta", "alpha", "mu", "beta", "omega", "gamma", "kappa", "delta"]:
                setattr(self, name, Parameter(mt.zeros(1)))
            self.plain = mt.zeros(3, requires_grad=True)  # a tensor, but not a Parameter

    testing.assert_equal(names_of(Wide()), ["zeta", "alpha", "mu", "beta", "omega", "gamma", "kappa", "delta"],
                         call="named_parameters() of 8 parameters (and a plain tensor)",
                         hints=[(lambda got, exp: "plain" in got, "a plain tensor, even with requires_grad, is not "
                                 "a Parameter: register only Parameters")])

    # three levels deep
    testing.assert_equal(names_of(Outer()), ["w", "inner.gain", "inner.first.weight", "inner.first.bias",
                                             "inner.second.weight", "inner.second.bias"],
                         call="named_parameters() three levels deep")

    # tied weights: one sub-module in two places, one Parameter in two modules
    class Tied(Module):
        def __init__(self):
            super().__init__()
            self.encoder = Affine()
            self.decoder = self.encoder
            self.extra = Affine()
            self.extra.weight = self.encoder.weight

    testing.assert_equal(names_of(Tied()), ["encoder.weight", "encoder.bias", "extra.bias"],
                         call="named_parameters() with a shared sub-module and a shared Parameter",
                         hints=["a parameter reached twice is listed once, under its first name (else an "
                                "optimizer updates it twice)"])

    # re-assigning a name replaces what it held
    m = Affine()
    new = Parameter(mt.ones(2, 3) * 5)
    m.weight = new
    m.bias = None
    testing.assert_true(names_of(m) == ["weight"] and list(m.parameters())[0] is new,
                        call="m.weight = new Parameter; m.bias = None; named_parameters()",
                        got=names_of(m), expected="['weight'] (the new Parameter)",
                        hint="an assignment replaces the registered value; a non-Parameter removes it")
    m2 = Net()
    m2.first = Parameter(mt.zeros(4))  # a Parameter where a sub-module was
    testing.assert_equal(names_of(m2), ["gain", "first", "second.weight", "second.bias"],
                         call="net.first = Parameter(...) replacing a sub-module",
                         hints=["a name is a parameter or a sub-module, never both: remove it from the other registry"])
    testing.assert_equal(len(list(Net().parameters())), 5, call="len(list(Net().parameters()))")
### END HIDDEN TESTS

# %% [markdown]
# Your module can already print its inventory. The package's `mt.nn.Module` (and PyTorch's) does the
# same walk; compare the names:

# %%
class TwoLayers(Module):
    def __init__(self):
        super().__init__()
        self.hidden = Affine()
        self.out = Affine()
        self.temperature = Parameter(mt.ones(1))


try:
    for pname, ptensor in TwoLayers().named_parameters():
        print(f"{pname:15s} {tuple(ptensor.shape)}")
except NotImplementedError:
    print("Module is not written yet: this cell lists its parameters once it is")

# %% [markdown]
# ## 2 · Saving and loading: `state_dict()` and `load_state_dict()`
#
# A checkpoint is a dictionary from dotted names to tensors. PyTorch's `torch.save(model.state_dict())`
# writes exactly that, and `model.load_state_dict(torch.load(path))` puts it back. The names are the
# contract: they decide which tensor goes into which weight.
#
# - `state_dict()` returns an `OrderedDict` from each name of `named_parameters()` to a **detached copy**
#   of the parameter (no gradient history, and training afterwards does not change it). PyTorch returns
#   tensors that share storage with the parameters, which is why PyTorch code writes
#   `copy.deepcopy(model.state_dict())` to keep the best weights; ours makes the copy for you.
# - `load_state_dict(state, strict=True)` copies each value **into** the existing parameter, in place,
#   so that an optimizer holding those Parameter objects keeps working. Write into a parameter under
#   `with mt.no_grad():` with `param.copy_(value)`.
# - It checks first and copies after: a key the module lacks (*unexpected*) or a parameter with no key
#   (*missing*) is an error when `strict`, a value whose shape differs from the parameter's is always an
#   error, and a load that fails changes nothing. Errors are `RuntimeError`s whose message names the keys
#   (and both shapes), as PyTorch's are. (`copy_` broadcasts, so it will not catch a wrong shape for you.)
# - It returns `(missing, unexpected)`: two lists of names, empty when everything matched.

# %% [solution] id=state_dict
@add_to_class(Module)
def state_dict(self):
    """An OrderedDict: dotted name -> a detached copy of each parameter, in named_parameters() order."""
    ### BEGIN SOLUTION
    return OrderedDict((name, param.detach().clone()) for name, param in self.named_parameters())
    ### END SOLUTION


@add_to_class(Module)
def load_state_dict(self, state, strict=True):
    """Copy `state`'s values into the parameters in place; returns (missing, unexpected) lists of names.

    RuntimeError (and nothing changed) for a shape mismatch, or for missing/unexpected keys when strict.
    """
    ### BEGIN SOLUTION
    own_params = OrderedDict(self.named_parameters())
    missing = [name for name in own_params if name not in state]
    unexpected = [name for name in state if name not in own_params]
    problems = []
    if strict and missing:
        problems.append(f"missing keys {missing}")
    if strict and unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for name, value in state.items():
        if name in own_params and tuple(value.shape) != tuple(own_params[name].shape):
            problems.append(f"size mismatch for {name}: the checkpoint has shape {tuple(value.shape)}, "
                            f"the module has {tuple(own_params[name].shape)}")
    if problems:
        raise RuntimeError(f"error loading state_dict into {type(self).__name__}: " + "; ".join(problems))
    with mt.no_grad():
        for name, value in state.items():
            if name in own_params:
                own_params[name].copy_(value)
    return missing, unexpected
    ### END SOLUTION


# %% [tests] id=state_dict_tests points=5
with testing.part("state_dict"):
    own(Module.state_dict, Module.load_state_dict, part="state_dict")
    source, target = Net(), Net()
    with mt.no_grad():
        for i, p in enumerate(source.parameters()):
            p.copy_(mt.ones(*p.shape) * (i + 1))
    with explained("Net().state_dict()", "return an OrderedDict of name -> param.detach().clone()"):
        saved = source.state_dict()
    testing.assert_equal(list(saved), ["gain", "first.weight", "first.bias", "second.weight", "second.bias"],
                         call="list(Net().state_dict())",
                         hints=["the keys are the names of named_parameters(), in the same order"])
    testing.assert_close(saved["first.bias"], [3.0, 3.0], call="Net().state_dict()['first.bias']")
    testing.assert_true(not any(v.requires_grad for v in saved.values()), call="Net().state_dict() values",
                        got="tensors that require grad", expected="detached tensors",
                        hint="detach() the values: a checkpoint holds numbers, not the autograd graph")
    before = list(target.parameters())
    with explained("target.load_state_dict(source.state_dict())", "copy each value into the parameter of the "
                   "same name with param.copy_(value) under mt.no_grad()"):
        result = target.load_state_dict(saved)
    testing.assert_true(all(a is b for a, b in zip(before, target.parameters())),
                        call="target.load_state_dict(source.state_dict())", got="new Parameter objects",
                        expected="the same Parameter objects, holding the new values",
                        hint="write into the existing parameters (copy_): an optimizer holds those objects")
    testing.assert_close(target.second.weight, np.full((2, 3), 4.0),
                         call="target.load_state_dict(source.state_dict()); target.second.weight")
    testing.assert_true(isinstance(result, (tuple, list)) and [list(r) for r in result] == [[], []],
                        call="target.load_state_dict(...) when every key matches", got=result,
                        expected="([], []): the missing and the unexpected keys")
    partial = {k: v for k, v in saved.items() if k != "gain"}
    err = testing.assert_raises(RuntimeError, target.load_state_dict, partial,
                                call="load_state_dict(a state without 'gain')",
                                hints=["strict=True: a parameter with no key is an error (a RuntimeError)"])
    testing.assert_true("gain" in str(err), call="load_state_dict(a state without 'gain')", got=str(err),
                        expected="a message that names 'gain'")
    testing.assert_raises(RuntimeError, target.load_state_dict, {**saved, "third.weight": mt.ones(2)},
                          call="load_state_dict(a state with an extra key 'third.weight')",
                          hints=["strict=True: a key the module lacks is an error (a RuntimeError)"])
    err = testing.assert_raises(RuntimeError, target.load_state_dict, {**saved, "first.bias": mt.ones(3)},
                                call="load_state_dict(first.bias of shape (3,) into a (2,) parameter)",
                                hints=["compare each value's shape with its parameter's: copy_ broadcasts, so a "
                                       "wrong shape can slip through"])
    testing.assert_true("first.bias" in str(err), call="load_state_dict(first.bias of shape (3,))", got=str(err),
                        expected="a message that names 'first.bias'")
    missing, unexpected = target.load_state_dict({"gain": mt.ones(1) * 9, "extra": mt.ones(1)}, strict=False)
    testing.assert_equal((list(missing), list(unexpected)),
                         (["first.weight", "first.bias", "second.weight", "second.bias"], ["extra"]),
                         call="load_state_dict({'gain', 'extra'}, strict=False)")
    testing.assert_close(target.gain, [9.0], call="load_state_dict({'gain': 9, ...}, strict=False); target.gain",
                         hints=["strict=False still loads the keys that match"])
### BEGIN HIDDEN TESTS
with testing.part("state_dict", hidden=True):
    model = Outer()
    saved = model.state_dict()
    with mt.no_grad():
        model.w.copy_(mt.ones(1) * 7)  # training goes on after the checkpoint...
    testing.assert_close(saved["w"], [0.0], call="state_dict(); then model.w changes in place; saved['w']",
                         hints=["...and must not change it: save a copy (clone), not a view of the parameter"])
    testing.assert_true(isinstance(saved, OrderedDict), call="type(state_dict())", got=type(saved).__name__,
                        expected="OrderedDict")
    # a failing load changes nothing
    fresh = Outer()
    bad = {k: mt.ones(*v.shape) * 3 for k, v in saved.items()}
    bad["inner.second.bias"] = mt.ones(5)
    testing.assert_raises(RuntimeError, fresh.load_state_dict, bad, call="load_state_dict(one wrong shape)")
    testing.assert_close(fresh.inner.first.weight, np.ones((2, 3)),
                         call="a load_state_dict that raised; fresh.inner.first.weight",
                         hints=["check every key and shape first, copy after: a failed load must change nothing"])
    # shapes are checked without strict too
    testing.assert_raises(RuntimeError, fresh.load_state_dict, {"w": mt.ones(2)}, strict=False,
                          call="load_state_dict({'w': shape (2,)}, strict=False) into a (1,) parameter",
                          hints=["strict only forgives missing and unexpected keys; a wrong shape is always an error"])
    # key order of the checkpoint does not matter; gradients still flow afterwards
    reordered = OrderedDict(reversed(list(bad.items())))
    reordered["inner.second.bias"] = mt.ones(2) * 3
    fresh.load_state_dict(reordered)
    testing.assert_close(fresh.inner.second.bias, [3.0, 3.0], call="load_state_dict(keys in reverse order)")
    (fresh.inner.first(mt.ones(1, 3)).sum() * fresh.w).backward()
    testing.assert_true(fresh.w.grad is not None and fresh.w.requires_grad,
                        call="after load_state_dict: (model(x).sum() * model.w).backward()",
                        got="no gradient for model.w", expected="a gradient",
                        hint="the parameters must stay leaves that require grad: copy under no_grad")
### END HIDDEN TESTS

# %% [markdown]
# The names make checkpoints portable. Your `Net` saves `first.weight`; a PyTorch model with a
# sub-module `first` holding a `weight` loads the same key. Sections 8 and 9 copy weights between your
# model, PyTorch and the package this way.

# %% [markdown]
# ## 3 · Training mode and evaluation mode: `train()` and `eval()`
#
# Some layers behave differently while training: dropout zeroes random activations only during training,
# batch normalisation uses the batch's statistics while training and its running averages afterwards.
# PyTorch keeps this as **state**: every module has a flag `training`, and `model.eval()` must reach every
# sub-module, however deep, or one forgotten dropout keeps dropping at test time. Keras makes it an
# **argument** of each call instead: `layer(x, training=False)` (section 8).
#
# Write `train(mode=True)`, which sets `training = mode` on the module and on every module below it, and
# `eval()`, which is `train(False)`. Both return the module itself, so that `model = Net().eval()` works.

# %% [solution] id=train_eval
@add_to_class(Module)
def train(self, mode=True):
    """Set `training = mode` here and on every sub-module below; return self."""
    ### BEGIN SOLUTION
    object.__setattr__(self, "training", bool(mode))
    for child in self._modules.values():
        child.train(mode)
    return self
    ### END SOLUTION


@add_to_class(Module)
def eval(self):
    """Evaluation mode for the whole tree: train(False). Return self."""
    ### BEGIN SOLUTION
    return self.train(False)
    ### END SOLUTION


# %% [tests] id=train_eval_tests points=3
with testing.part("train_eval"):
    own(Module.train, Module.eval, part="train_eval")
    pair = Pair()
    testing.assert_true(pair.training and pair.a.training, call="Pair().training", got=pair.training,
                        expected=True, hint="a new module is in training mode: __init__ sets training = True")
    with explained("Pair().eval()", "eval() is train(False)"):
        returned = pair.eval()
    testing.assert_true(returned is pair, call="pair.eval()", got=returned, expected="pair itself",
                        hint="return self, so that model = Pair().eval() works")
    modes = [pair.training, pair.a.training, pair.b.training]
    testing.assert_equal(modes, [False, False, False], call="pair.eval(); [pair, pair.a, pair.b] .training",
                         hints=[(lambda got, exp: got[0] is False, "eval() must reach the sub-modules too: "
                                 "call train(mode) on each of them"),
                                (lambda got, exp: got[0] is True, "eval() sets training to False")])
    testing.assert_close(pair.a(mt.ones(2)), [1.0, 1.0], call="pair.eval(); pair.a(ones(2))")
    testing.assert_true(pair.train() is pair, call="pair.train()", got="not pair", expected="pair itself")
    testing.assert_equal([pair.training, pair.a.training, pair.b.training], [True, True, True],
                         call="pair.eval(); pair.train(); [pair, pair.a, pair.b] .training")
### BEGIN HIDDEN TESTS
with testing.part("train_eval", hidden=True):
    class Deep(Module):
        def __init__(self):
            super().__init__()
            self.top = Pair()
            self.top.a.leaf = Noisy()  # three levels below Deep

    deep = Deep().eval()
    flags = [deep.training, deep.top.training, deep.top.a.training, deep.top.a.leaf.training]
    testing.assert_equal(flags, [False] * 4, call="Deep().eval(): training flags at depths 0..3",
                         hints=["eval() must reach every module below, not only the direct children: recurse"])
    deep.train(False)
    deep.top.train(True)
    testing.assert_equal([deep.training, deep.top.training, deep.top.b.training], [False, True, True],
                         call="deep.train(False); deep.top.train(True)",
                         hints=["train(mode) on a sub-module changes that sub-tree only"])
    deep.train(0)
    testing.assert_true(deep.top.a.leaf.training is False, call="deep.train(0); leaf.training",
                        got=deep.top.a.leaf.training, expected=False,
                        hint="store bool(mode): training is a bool")
    testing.assert_close(deep.top.a.leaf(mt.ones(1) * 3), [3.0], call="deep.train(0); leaf(3)")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · `Linear`, and where its first weights come from
#
# `Linear(in_features, out_features)` computes `y = x @ W.T + b` with a weight `W` of shape
# `(out_features, in_features)` and a bias `b` of shape `(out_features,)`. The weight is stored
# `(out, in)`, as in PyTorch; Keras's `Dense` stores its `kernel` the other way round, `(in, out)`,
# and computes `x @ kernel + bias` (section 8 copies one into the other).
#
# The starting weights matter more than they look (section 5 shows how much). PyTorch initialises
# `nn.Linear` with `kaiming_uniform_(weight, a=√5)`. Unpacked, that is a uniform distribution with
#
# $$\text{bound} = \text{gain}\cdot\sqrt{\frac{3}{\text{fan\_in}}}, \qquad \text{gain} = \sqrt{\frac{2}{1 + a^2}}
# = \sqrt{\tfrac{1}{3}}, \qquad\text{so}\qquad W \sim U\!\left(-\tfrac{1}{\sqrt{\text{fan\_in}}},
# \tfrac{1}{\sqrt{\text{fan\_in}}}\right),$$
#
# where `fan_in = in_features`, the number of inputs each output adds up. The bias gets the same bound.
# Draw the numbers with `mt.rand(*shape)` (uniform on [0, 1), seeded by `mt.manual_seed`), scale and
# shift them, and wrap the result in a `Parameter`. With `bias=False` there is no bias: assign
# `self.bias = None`, as PyTorch does. Keep `in_features` and `out_features` as attributes, and accept
# inputs of shape `(..., in_features)`.

# %% [solution] id=linear
class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features) and bias (out_features,) ~ U(±1/√in_features)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        ### BEGIN SOLUTION
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter((mt.rand(out_features, in_features) * 2 - 1) * bound)
        self.bias = Parameter((mt.rand(out_features) * 2 - 1) * bound) if bias else None
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out
        ### END SOLUTION


# %% [tests] id=linear_tests points=5
def init_hints(fan_in, fan_out):
    """Likely mistakes behind a largest weight that is not 1/√fan_in, recognised by its ratio to that bound."""
    bound = 1 / math.sqrt(fan_in)

    def near(value):
        return lambda got, exp: abs(float(got) / bound - value) < 0.06 * value

    return [
        (near(math.sqrt(fan_in / fan_out)), "that is 1/√fan_out: fan_in is in_features, the inputs each output sums"),
        (near(math.sqrt(6 * fan_in / (fan_in + fan_out))), "that is Glorot (Xavier) uniform, Keras's default: "
         "PyTorch's Linear uses 1/√fan_in"),
        (near(math.sqrt(6)), "that is kaiming_uniform with a=0 (gain √2): PyTorch's Linear uses a=√5, "
         "which gives 1/√fan_in"),
        (near(math.sqrt(3)), "the bound is √3/√fan_in: with a=√5 the gain √(1/3) cancels the √3"),
        "the bound is 1/√fan_in, with fan_in = in_features",
    ]


UNIFORM = ["the values spread like a normal distribution (or are not centred): draw uniformly on (-bound, bound), "
           "e.g. (mt.rand(...) * 2 - 1) * bound"]


with testing.part("linear"):
    own(Linear, part="linear")
    mt.manual_seed(0)
    with explained("Linear(3, 2)", "assign Parameters to self.weight and self.bias after super().__init__()"):
        layer = Linear(3, 2)
    testing.assert_equal([(n, tuple(p.shape)) for n, p in layer.named_parameters()],
                         [("weight", (2, 3)), ("bias", (2,))], call="Linear(3, 2).named_parameters(): names, shapes",
                         hints=[(lambda got, exp: got and got[0][1] == (3, 2),
                                 "the weight is (out_features, in_features) = (2, 3), as in PyTorch")])
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    W, b = layer.weight.numpy(), layer.bias.numpy()
    with explained("Linear(3, 2)(x of shape (4, 3))", "y = x @ weight.T + bias"):
        y = layer(mt.tensor(x))
    testing.assert_close(y, x @ W.T + b, call="Linear(3, 2)(x of shape (4, 3))", rtol=1e-5, atol=1e-6,
                         hints=[(lambda got, exp: np.allclose(got, x @ W.T, atol=1e-5), "the bias is not added")])
    big = Linear(400, 50)
    w = big.weight.numpy()
    testing.assert_close(np.mean(w), 0.0, atol=0.002, call="mean of Linear(400, 50).weight",
                         hints=["centre the uniform draw: mt.rand is on [0, 1), so use rand * 2 - 1"])
    testing.assert_close(np.max(np.abs(w)) / np.std(w), math.sqrt(3), rtol=0.05,
                         call="max |w| / std(w) for w = Linear(400, 50).weight (√3 for a uniform distribution)",
                         hints=UNIFORM)
    testing.assert_close(np.max(np.abs(w)), 1 / math.sqrt(400), rtol=0.02,
                         call="max |Linear(400, 50).weight| (the bound)", hints=init_hints(400, 50))
### BEGIN HIDDEN TESTS
with testing.part("linear", hidden=True):
    mt.manual_seed(2)
    layer = Linear(50, 400)
    bound = 1 / math.sqrt(50)
    testing.assert_close(np.max(np.abs(layer.weight.numpy())), bound, rtol=0.02, call="max |Linear(50, 400).weight|",
                         hints=init_hints(50, 400))
    bias = layer.bias.numpy()
    testing.assert_true(np.max(np.abs(bias)) <= bound * (1 + 1e-6) and np.std(bias) > 0.8 * bound / math.sqrt(3),
                        call="Linear(50, 400).bias", got=f"max |b| {np.max(np.abs(bias)):.4f}, std {np.std(bias):.4f}",
                        expected=f"U(-{bound:.4f}, {bound:.4f}): std about {bound / math.sqrt(3):.4f}",
                        hint="PyTorch draws the bias from the same U(±1/√fan_in), not zeros")
    testing.assert_true(layer.in_features == 50 and layer.out_features == 400, call="Linear(50, 400).in_features",
                        got=(getattr(layer, "in_features", None), getattr(layer, "out_features", None)),
                        expected=(50, 400))
    testing.assert_true(isinstance(layer.weight, Parameter) and layer.weight.requires_grad and
                        layer.weight.dtype == np.float32, call="Linear(50, 400).weight", got=repr(layer.weight)[:60],
                        expected="a float32 Parameter that requires grad")
    nobias = Linear(3, 2, bias=False)
    testing.assert_true(names_of(nobias) == ["weight"] and nobias.bias is None, call="Linear(3, 2, bias=False)",
                        got=names_of(nobias), expected="['weight'] and .bias is None",
                        hint="with bias=False assign self.bias = None")
    x = np.random.default_rng(3).standard_normal((2, 5, 3)).astype(np.float32)
    testing.assert_close(nobias(mt.tensor(x)), x @ nobias.weight.numpy().T, rtol=1e-5, atol=1e-6,
                         call="Linear(3, 2, bias=False)(x of shape (2, 5, 3))")
    # gradients reach both parameters
    lin = Linear(3, 2)
    xs = np.random.default_rng(4).standard_normal((6, 3)).astype(np.float32)
    out = lin(mt.tensor(xs))
    (out * out).sum().backward()
    g = 2 * (xs @ lin.weight.numpy().T + lin.bias.numpy())
    testing.assert_close(lin.weight.grad, g.T @ xs, rtol=1e-4, atol=1e-5, call="Linear(3, 2): weight.grad of sum(y²)")
    testing.assert_close(lin.bias.grad, g.sum(0), rtol=1e-4, atol=1e-5, call="Linear(3, 2): bias.grad of sum(y²)")
    testing.assert_true(not np.allclose(Linear(3, 2).weight.numpy(), Linear(3, 2).weight.numpy()),
                        call="two Linear(3, 2) layers", got="the same weights", expected="different random weights")
    mt.manual_seed(11)
    first = Linear(4, 5)
    mt.manual_seed(11)
    again = Linear(4, 5)
    testing.assert_true(np.array_equal(first.weight.numpy(), again.weight.numpy()) and
                        np.array_equal(first.bias.numpy(), again.bias.numpy()),
                        call="mt.manual_seed(11); Linear(4, 5), twice", got="different weights",
                        expected="the same weights and bias: mt.manual_seed(11) fixes them",
                        hint="draw with mt.rand, which mt.manual_seed seeds (NumPy's or Python's own random "
                             "generators are not, so a run could not be repeated)")
### END HIDDEN TESTS

# %% [markdown]
# ## 5 · Why initialisation matters: 20 layers deep
#
# Each layer adds up `fan_in` products. If every weight has variance $\sigma^2$ and the inputs have
# variance $v$, each output has variance about $\text{fan\_in}\cdot\sigma^2\cdot v$; a ReLU then zeroes
# half of it. So through a ReLU layer the activations' second moment is multiplied by
# $\tfrac12\,\text{fan\_in}\,\sigma^2$, and 20 layers multiply it by that number to the 20th power.
#
# | initialisation | $\sigma^2$ | factor per layer (ReLU) | after 20 layers |
# | --- | --- | --- | --- |
# | $N(0, 1)$ | 1 | fan_in / 2 = 128 | explodes |
# | PyTorch's default, $U(\pm 1/\sqrt{\text{fan\_in}})$ | 1 / (3 fan_in) | 1/6 | vanishes |
# | He (Kaiming) normal, $N(0, 2/\text{fan\_in})$ | 2 / fan_in | 1 | stays |
#
# He et al. (2015) chose $\sigma^2 = 2/\text{fan\_in}$ for exactly this reason. PyTorch's default keeps
# its old formula for compatibility; it is fine for the shallow networks most people train (and
# normalisation layers rescale deeper ones), and `torch.nn.init.kaiming_normal_` is one line away when
# it is not. Below, 20 of your `Linear(256, 256)` layers with ReLUs in between, on 256 random inputs,
# re-initialised three ways with the package's fillers (`mt.nn.init.normal_`, `uniform_`).

# %%
def probe_linear(cls):
    layer = cls(3, 2)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"] and layer(mt.ones(4, 3)).shape == (4, 2)


DeepLinear = chapter.fallback("linear", Linear, probe_linear)

INITS = {
    "N(0, 1)": lambda w, fan_in: mt.nn.init.normal_(w, 0.0, 1.0),
    "PyTorch default U(±1/√fan_in)": lambda w, fan_in: mt.nn.init.uniform_(w, -1 / math.sqrt(fan_in),
                                                                           1 / math.sqrt(fan_in)),
    "He N(0, 2/fan_in)": lambda w, fan_in: mt.nn.init.normal_(w, 0.0, math.sqrt(2 / fan_in)),
}
WIDTH, DEPTH = 256, 20


def activations(init, depth=DEPTH, width=WIDTH, seed=0):
    """The activations after each of `depth` Linear+ReLU layers initialised by INITS[init] (no grad)."""
    mt.manual_seed(seed)
    x = mt.randn(256, width)
    out = []
    with mt.no_grad():
        for _ in range(depth):
            layer = DeepLinear(width, width)
            INITS[init](layer.weight, width)
            mt.nn.init.zeros_(layer.bias)
            x = layer(x).relu()
            out.append(x.numpy().astype(np.float64))  # float64 for the statistics: their squares pass 1e38
    return out


stats = {scheme: activations(scheme) for scheme in INITS}
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for scheme, acts in stats.items():
    ax.semilogy(range(1, DEPTH + 1), [a.std() + 1e-30 for a in acts], "o-", ms=3, label=scheme)
ax.set_xlabel("layer")
ax.set_ylabel("std of the activations (log scale)")
ax.set_title(f"{DEPTH} layers of Linear({WIDTH}, {WIDTH}) + ReLU", fontsize=10)
ax.legend(fontsize=8)
plt.show()
for scheme, acts in stats.items():
    print(f"{scheme:32s} layer 1 std {acts[0].std():9.3g}   layer {DEPTH} std {acts[-1].std():9.3g}")

# %% [markdown]
# The straight lines on the log scale are the powers in the table: $\sqrt{128}\approx 11$ per layer up,
# $\sqrt{1/6}\approx 0.41$ per layer down, and 1. The histograms below show what a layer hands on, as
# the decimal logarithm of each positive activation: layer 1 in grey, a deeper layer in colour. With
# $N(0, 1)$ the whole distribution moves about 20 decades up by layer 20 (float32 overflows near
# $10^{38}$: a few more layers give `inf`); with the default it moves 7 to 8 decades down, towards zero, and
# the gradients with it; with He it stays where it started. (Move through the layers in a live
# notebook.)

# %%
def draw_histograms(layer=DEPTH):
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.9), sharey=True)
    for ax, (name, acts) in zip(axes, stats.items()):
        for index, color in ((0, "0.55"), (layer - 1, "tab:blue")):
            values = acts[index].ravel()
            ax.hist(np.log10(values[values > 0]), bins=50, color=color, alpha=0.7, label=f"layer {index + 1}")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("log10(activation), positive part")
    axes[0].set_ylabel("count")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    plt.show()


interact(draw_histograms, layer=("int", DEPTH, 1, DEPTH))

# %% [markdown]
# ## 6 · `Sequential`
#
# Most models are a pipeline: each layer's output is the next layer's input. `Sequential(*layers)`
# registers its layers under the names `"0"`, `"1"`, `"2"`, ... (so their parameters are `"0.weight"`,
# `"2.bias"`, as in PyTorch), and its `forward` applies them in order. It also has a length and can be
# indexed: `model[0]` is the first layer and `model[-1]` the last.
#
# An activation is a module without parameters. `ReLU` and `Tanh` are given, built on your `Module`:

# %% [setup]
class ReLU(Module):
    """max(x, 0), elementwise: a layer with no parameters."""

    def forward(self, x):
        return x.relu()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


# %% [solution] id=sequential
class Sequential(Module):
    """Apply `layers` in order; they are registered as sub-modules "0", "1", ..."""

    def __init__(self, *layers):
        super().__init__()
        ### BEGIN SOLUTION
        for index, layer in enumerate(layers):
            setattr(self, str(index), layer)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self._modules.values():
            x = layer(x)
        return x
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return len(self._modules)
        ### END SOLUTION

    def __getitem__(self, index):
        ### BEGIN SOLUTION
        return list(self._modules.values())[index]
        ### END SOLUTION


# %% [tests] id=sequential_tests points=3
with testing.part("sequential"):
    own(Sequential, part="sequential")
    mt.manual_seed(1)
    first, last = Linear(4, 8), Linear(8, 3)
    with explained("Sequential(Linear(4, 8), ReLU(), Linear(8, 3))",
                   "register each layer under its position: setattr(self, str(i), layer)"):
        model = Sequential(first, ReLU(), last)
    testing.assert_equal(names_of(model), ["0.weight", "0.bias", "2.weight", "2.bias"],
                         call="Sequential(Linear(4, 8), ReLU(), Linear(8, 3)).named_parameters()",
                         hints=[(lambda got, exp: got == [], "the layers are not registered: a list is an ordinary "
                                 "attribute; assign each layer to the module (setattr) so __setattr__ sees it"),
                                (lambda got, exp: got[0].startswith("1."), "number the layers from 0")])
    with explained("len(model), model[0], model[2]", "__len__ counts the layers; __getitem__ indexes them like a list"):
        got = (len(model), model[0] is first, model[2] is last)
    testing.assert_equal(got, (3, True, True), call="(len(model), model[0] is first, model[2] is last)")
    x = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    W0, b0, W2, b2 = (p.numpy() for p in model.parameters())
    with explained("model(x of shape (5, 4))", "apply the layers in order, each to the previous one's output"):
        y = model(mt.tensor(x))
    testing.assert_close(y, np.maximum(x @ W0.T + b0, 0) @ W2.T + b2, rtol=1e-5, atol=1e-6,
                         call="Sequential(Linear(4, 8), ReLU(), Linear(8, 3))(x of shape (5, 4))")
### BEGIN HIDDEN TESTS
with testing.part("sequential", hidden=True):
    inner = Sequential(Tanh(), Linear(3, 1))
    nested = Sequential(Linear(2, 3), inner)
    testing.assert_equal(names_of(nested), ["0.weight", "0.bias", "1.1.weight", "1.1.bias"],
                         call="Sequential(Linear(2, 3), Sequential(Tanh(), Linear(3, 1))).named_parameters()",
                         hints=["a Sequential inside a Sequential is one sub-module: its names nest"])
    with explained("nested[-1], inner[-1]", "index like a list: negative indices count from the end"):
        last = (nested[-1], inner[-1])
    testing.assert_true(last[0] is inner and nested[1] is inner and last[1] is inner[1],
                        call="nested[-1] is nested[1]", got="a different object",
                        expected="the last layer", hint="index like a list: negative indices count from the end")
    x = np.random.default_rng(6).standard_normal((4, 2)).astype(np.float32)
    Wa, ba, Wb, bb = (p.numpy() for p in nested.parameters())
    testing.assert_close(nested(mt.tensor(x)), np.tanh(x @ Wa.T + ba) @ Wb.T + bb, rtol=1e-5, atol=1e-6,
                         call="nested Sequential forward")
    testing.assert_close(Sequential()(mt.ones(2)), [1.0, 1.0], call="Sequential()(x): no layers, x unchanged")
    many = Sequential(*[ReLU() for _ in range(10)], Linear(2, 3), Tanh(), Linear(3, 1))
    testing.assert_equal(names_of(many), ["10.weight", "10.bias", "12.weight", "12.bias"],
                         call="Sequential(10 ReLUs, Linear, Tanh, Linear).named_parameters()")
    x = np.random.default_rng(8).standard_normal((8, 2)).astype(np.float32)
    Wa, ba, Wb, bb = (p.numpy() for p in many.parameters())
    testing.assert_close(many(mt.tensor(x)), np.tanh(np.maximum(x, 0) @ Wa.T + ba) @ Wb.T + bb, rtol=1e-5,
                         atol=1e-6, call="Sequential(10 ReLUs, Linear, Tanh, Linear)(x of shape (8, 2))",
                         hints=["apply the layers in the order given: layer 10 comes after layer 9, not after "
                                "layer 1 (sorting the names as strings puts '10' before '2')"])
### END HIDDEN TESTS

# %% [markdown]
# ## 7 · Losses: mean squared error and a cross-entropy that survives logits of 1000
#
# - `mse_loss(pred, target)`: the **mean** over every element of `(pred - target)²`, as PyTorch's default
#   `reduction="mean"` (a sum would make the learning rate depend on the batch size).
# - `cross_entropy(logits, target)`: logits of shape `(N, C)`, integer class targets of shape `(N,)` (a
#   tensor, an array or a list); the mean over the batch of $-\log \text{softmax}(z)_{y}$.
#
# Computed naively, `softmax` exponentiates: `exp(1000)` is `inf` in float32 and float64 alike. Use
# $\log\sum_j e^{z_j} = m + \log\sum_j e^{z_j - m}$ with $m$ the **row's** maximum (so the largest
# exponent is $e^0 = 1$), and compute $\log\text{softmax}(z) = z - m - \log\sum_j e^{z_j-m}$ directly,
# never as the log of a softmax (a probability that underflows to 0 has log `-inf`). `x.max(-1,
# keepdim=True).values` gives the row maxima; `one_hot(target, C)` (setup cell) picks the target's
# column with a product and a sum. Both losses return 0-d tensors that autograd can differentiate. (The
# package's `log_softmax` and `logsumexp` are sealed while you are checked: this is the part where you
# write them.)

# %% [solution] id=losses
def mse_loss(pred, target):
    """mean((pred - target)²) over every element: a 0-d tensor."""
    ### BEGIN SOLUTION
    diff = pred - target
    return (diff * diff).mean()
    ### END SOLUTION


def cross_entropy(logits, target):
    """Mean over the batch of -log softmax(logits)[target]; finite for logits of any size."""
    ### BEGIN SOLUTION
    shifted = logits - logits.max(-1, keepdim=True).values.detach()
    log_probs = shifted - shifted.exp().sum(-1, keepdim=True).log()
    picked = (log_probs * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1)
    return -picked.mean()
    ### END SOLUTION


# %% [tests] id=losses_tests points=5
def _ce_expected(z, y):
    """The reference value and logits-gradient of the mean cross-entropy, in NumPy (float64)."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    n = len(y)
    return -log_p[np.arange(n), y].mean(), (np.exp(log_p) - np.eye(z.shape[1])[y]) / n


with testing.part("losses"), sealed_methods("losses", ["log_softmax", "logsumexp"]):
    own(mse_loss, cross_entropy, part="losses")
    pred = mt.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    target = mt.tensor([[1.0, 0.0], [2.0, 2.0]])
    with explained("mse_loss(pred (2, 2), target (2, 2))", "mean of the squared differences, with tensor ops"):
        loss = mse_loss(pred, target)
    testing.assert_close(loss, 3.5, call="mse_loss([[1, 2], [3, 5]], [[1, 0], [2, 2]])",
                         hints=[(lambda got, exp: np.isclose(got, 14.0), "that is the sum: take the mean"),
                                (lambda got, exp: np.shape(got) != (), "reduce to one number (a 0-d tensor)")])
    with explained("mse_loss(...).backward()", "return a tensor built from pred with tensor ops (not a float)"):
        loss.backward()
    testing.assert_close(pred.grad, [[0.0, 1.0], [0.5, 1.5]], call="mse_loss(pred, target).backward(); pred.grad")
    z = [[1000.0, 0.0], [0.0, 1000.0], [2.0, 1.0]]
    y = [0, 0, 1]
    value, grad = _ce_expected(z, y)
    logits = mt.tensor(z, requires_grad=True)
    with explained("cross_entropy(logits of shape (3, 2), [0, 0, 1])", "shift each row by its max, then exp"):
        loss = cross_entropy(logits, mt.tensor(np.array(y)))
    testing.assert_close(loss, value, rtol=1e-5, call="cross_entropy([[1000, 0], [0, 1000], [2, 1]], [0, 0, 1])",
                         hints=[(lambda got, exp: not np.isfinite(got),
                                 "exp(1000) overflows: subtract each row's max before exp, and never take the log "
                                 "of a softmax"),
                                (lambda got, exp: np.isclose(got, exp * 3, rtol=1e-4), "that is the sum over the "
                                 "batch: take the mean")])
    with explained("cross_entropy(...).backward()", "build the loss from logits with tensor ops"):
        loss.backward()
    testing.assert_close(logits.grad, grad, rtol=1e-4, atol=1e-6,
                         call="cross_entropy(logits, [0, 0, 1]).backward(); logits.grad",
                         hints=["the gradient is (softmax(z) - one_hot(y)) / N"])
### BEGIN HIDDEN TESTS
with testing.part("losses", hidden=True), sealed_methods("losses", ["log_softmax", "logsumexp"]):
    # rows on very different scales: the shift must be each row's own max
    z = [[1000.0, 0.0, -5.0], [-1000.0, -1001.0, -1003.0], [-1000.0, -1000.0, -1000.0]]
    y = np.array([2, 1, 0])
    value, grad = _ce_expected(z, y)
    logits = mt.tensor(z, dtype="float64", requires_grad=True)
    with explained("cross_entropy(logits (3, 3) float64, target=np.array([2, 1, 0]))",
                   "accept a tensor, an array or a list of classes (one_hot takes all three)"):
        loss = cross_entropy(logits, y)
    testing.assert_close(loss, value, rtol=1e-6, call="cross_entropy(rows around +1000 and -1000, float64)",
                         hints=[(lambda got, exp: not np.isfinite(got),
                                 "shift each row by its own maximum (max(-1, keepdim=True)), not by one global max")])
    testing.assert_true(np.shape(loss.numpy()) == (), call="cross_entropy(...).shape", got=np.shape(loss.numpy()),
                        expected="() (a 0-d tensor)")
    loss.backward()
    testing.assert_close(logits.grad, grad, rtol=1e-6, atol=1e-9, call="cross_entropy(... ±1000 ...) gradient")
    rng = np.random.default_rng(7)
    z = rng.standard_normal((6, 4)) * 3
    y = [3, 0, 1, 1, 2, 0]  # a Python list of classes
    value, grad = _ce_expected(z, np.array(y))
    logits = mt.tensor(z.astype(np.float32), requires_grad=True)
    with explained("cross_entropy(logits (6, 4), target=[3, 0, 1, 1, 2, 0] (a list))",
                   "accept a tensor, an array or a list of classes (one_hot takes all three)"):
        loss = cross_entropy(logits, y)
    testing.assert_close(loss, value, rtol=1e-5, call="cross_entropy(random (6, 4), list targets)")
    loss.backward()
    testing.assert_close(logits.grad, grad, rtol=1e-4, atol=1e-6, call="cross_entropy(random (6, 4)) gradient")
    p = rng.standard_normal(5)
    t = rng.standard_normal(5)
    pred = mt.tensor(p, dtype="float64", requires_grad=True)
    loss = mse_loss(pred, mt.tensor(t, dtype="float64"))
    testing.assert_close(loss, np.mean((p - t) ** 2), rtol=1e-9, call="mse_loss on shape (5,)")
    loss.backward()
    testing.assert_close(pred.grad, 2 * (p - t) / 5, rtol=1e-9, call="mse_loss on shape (5,): gradient")
    testing.assert_true(np.shape(loss.numpy()) == (), call="mse_loss(...).shape", got=np.shape(loss.numpy()),
                        expected="()")
### END HIDDEN TESTS

# %% [markdown]
# ## 8 · The same layers in PyTorch and Keras, side by side
#
# Now the question the course began from: why do PyTorch and Keras look different? Both have the
# weights-plus-forward object you just wrote; they differ in **when** the weights are created and in
# **how** the training flag travels.
#
# | | PyTorch `torch.nn.Module` (and yours) | Keras 3 `keras.layers.Layer` |
# | --- | --- | --- |
# | weights created | in `__init__`: `Linear(4, 8)` needs the input size | on the **first call** (`build`): `Dense(8)` |
# | found by | `__setattr__` registers them | `add_weight` in `build` tracks them |
# | listed by | `parameters()`, `named_parameters()` | `trainable_weights`, `non_trainable_weights` |
# | frozen by | `p.requires_grad_(False)` | `layer.trainable = False` |
# | train/eval | state: `model.train()`, `model.eval()` | argument: `layer(x, training=False)` |
# | saved as | `state_dict()`: dotted names → tensors | `get_weights()`: a list in order; `save_weights` |
# | dense weight | `weight` of shape `(out, in)`; `x @ W.T + b` | `kernel` of shape `(in, out)`; `x @ kernel + bias` |
#
# The cells below run the real frameworks. They need PyTorch (CPU) and Keras 3 with the JAX backend;
# the course's set-up installs them. Without them the cells say how to install them and go on; nothing
# graded depends on them. Keras chooses its backend once, when it is first imported, from the
# environment variable `KERAS_BACKEND`.

# %%
os.environ.setdefault("KERAS_BACKEND", "jax")  # before the first `import keras`
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: `pip install torch` (the CPU build is enough) adds it; its comparison is skipped")
try:
    import keras
except ImportError:
    keras = None
    print("Keras 3 is not installed: `pip install keras jax` adds it (with the JAX backend); its comparison is skipped")
if torch is not None:
    print("PyTorch", torch.__version__)
if keras is not None:
    print("Keras", keras.__version__, "on the", keras.backend.backend(), "backend")

# %% [markdown]
# Your stack, chosen once for the rest of the chapter: your `Linear` and `Sequential` where they work,
# the package's where they are not written yet (the package's `Sequential` holds only the package's
# layers, so then all three come from the package). While the notebook is graded there is no fallback.

# %%
def probe_sequential(cls):
    model = cls(MyLinear(3, 4), MyReLU(), MyLinear(4, 2))
    assert len(list(model.parameters())) == 4 and model(mt.ones(5, 3)).shape == (5, 2)


MyLinear, MyReLU = chapter.fallback("linear", Linear, probe_linear), ReLU
if MyLinear is not Linear:
    MyReLU = mt.nn.ReLU
MySequential = chapter.fallback("sequential", Sequential, probe_sequential)
if MySequential is not Sequential and not chapter.grading:
    MyLinear, MyReLU = mt.nn.Linear, mt.nn.ReLU
    print("so the package's Linear and ReLU go with it")


def state_of(model):
    """model.state_dict(), or its parameters by name while your state_dict is not written yet."""
    try:
        return model.state_dict()
    except NotImplementedError:
        print("(your state_dict is not written yet: reading the weights with named_parameters)")
        return OrderedDict((k, p.detach()) for k, p in model.named_parameters())


mt.manual_seed(0)
mine = MySequential(MyLinear(4, 8), MyReLU(), MyLinear(8, 3))
x_demo = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
y_mine = mine(mt.tensor(x_demo)).numpy()
weights = {wkey: wval.numpy() for wkey, wval in state_of(mine).items()}
print({wkey: wval.shape for wkey, wval in weights.items()})

# %% [markdown]
# **PyTorch.** The same architecture, and the same keys: `load_state_dict` takes your checkpoint as it is.

# %%
if torch is not None:
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    print([wkey for wkey, _ in torch_model.named_parameters()])
    torch_model.load_state_dict({wkey: torch.from_numpy(wval.copy()) for wkey, wval in weights.items()})
    with torch.no_grad():
        y_torch = torch_model(torch.from_numpy(x_demo)).numpy()
    np.testing.assert_allclose(y_mine, y_torch, rtol=1e-5, atol=1e-6)
    print(f"yours vs torch.nn: equal within rtol 1e-5, atol 1e-6 (largest difference "
          f"{np.abs(y_mine - y_torch).max():.1e}, float32)")

# %% [markdown]
# **Keras.** A `Dense` layer knows only its output size. It has no weights until it sees an input:
# the first call runs `build(input_shape)`, which creates a `kernel` of shape `(in, out)`.

# %%
if keras is not None:
    dense = keras.layers.Dense(8)
    print("before the first call: built =", dense.built, "| weights:", dense.weights)
    dense(np.zeros((1, 4), np.float32))
    print("after it:              built =", dense.built, "|", [(w.path, tuple(w.shape)) for w in dense.weights])
    print("trainable_weights:", len(dense.trainable_weights), "| non_trainable_weights:",
          len(dense.non_trainable_weights))
    dense.trainable = False  # Keras's requires_grad_(False), for the whole layer
    print("after trainable = False:", len(dense.trainable_weights), "trainable,", len(dense.non_trainable_weights),
          "non-trainable")

# %% [markdown]
# The same network in Keras, with your weights copied in: each kernel is your weight transposed, and
# `set_weights` takes a list in the layer's order instead of names.

# %%
if keras is not None:
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                    keras.layers.Dense(3)])
    keras_model.layers[0].set_weights([weights["0.weight"].T, weights["0.bias"]])
    keras_model.layers[1].set_weights([weights["2.weight"].T, weights["2.bias"]])
    y_keras = keras.ops.convert_to_numpy(keras_model(x_demo))  # works on every Keras backend
    np.testing.assert_allclose(y_mine, y_keras, rtol=1e-5, atol=1e-6)
    print(f"yours vs Keras: equal within rtol 1e-5, atol 1e-6 (largest difference "
          f"{np.abs(y_mine - y_keras).max():.1e}, float32)")
    print("Keras lists", len(keras_model.trainable_weights), "trainable weights:",
          [tuple(w.shape) for w in keras_model.trainable_weights])

# %% [markdown]
# **The training flag.** PyTorch's dropout reads the module's state; Keras's reads the call's argument.

# %%
ones = np.ones((1, 8), np.float32)
if torch is not None:
    torch.manual_seed(0)
    drop = torch.nn.Dropout(0.5)
    print("torch, after .train():", drop.train()(torch.from_numpy(ones)).numpy()[0])
    print("torch, after .eval(): ", drop.eval()(torch.from_numpy(ones)).numpy()[0])
if keras is not None:
    kdrop = keras.layers.Dropout(0.5, seed=0)
    print("keras, training=True: ", keras.ops.convert_to_numpy(kdrop(ones, training=True))[0])
    print("keras, training=False:", keras.ops.convert_to_numpy(kdrop(ones, training=False))[0])

# %% [markdown]
# Why the two designs? Keras's deferred build lets a model be declared before the data is known
# (`Dense(8)` fits any input width) and lets the framework create weights with the right device and
# dtype at the last moment. PyTorch's eager creation makes every weight exist, inspectable and
# loadable, the moment the layer does: no "model not built yet" errors, at the price of writing the input
# size. PyTorch has borrowed the other idea too: `torch.nn.LazyLinear(8)` infers `in_features` on its
# first call.

# %% [markdown]
# ## 9 · Your modules train a real model
#
# Everything together: your `Sequential` of your `Linear` layers and `ReLU`, your `cross_entropy`, the
# package's SGD optimizer (chapter 07 builds optimizers) updating your parameters through
# `model.parameters()`, and your `state_dict` / `load_state_dict` keeping the best epoch. The data:
# scikit-learn's 8×8 handwritten digits (1438 images to train on, 359 held back).
#
# Next to your model trains the package's own `mt.nn` model, started from **your** weights through its
# `load_state_dict` (the keys match), on the same batches. If your parts are right, the two loss curves
# lie on top of each other.

# %%
MyCrossEntropy = chapter.fallback("losses", cross_entropy,
                                  lambda f: f(mt.tensor([[1000.0, 0.0]], requires_grad=True), [1]).backward())

(x_train, y_train), (x_test, y_test) = mt.data.load_digits(flatten=True)
mt.manual_seed(0)
model = MySequential(MyLinear(64, 64), MyReLU(), MyLinear(64, 10))
twin = mt.nn.Sequential(mt.nn.Linear(64, 64), mt.nn.ReLU(), mt.nn.Linear(64, 10))
twin.load_state_dict(state_of(model))


def accuracy(net, xs, ys):
    """The fraction of `xs` that `net` classifies as `ys`, in evaluation mode."""
    try:
        net.eval()
    except NotImplementedError:
        pass  # train/eval not written yet: this network has no layer that cares
    with mt.no_grad():
        return float((net(mt.tensor(xs)).numpy().argmax(1) == ys).mean())


optimizers = {"yours": mt.optim.SGD(list(model.parameters()), lr=0.1, momentum=0.9),
              "mt.nn": mt.optim.SGD(list(twin.parameters()), lr=0.1, momentum=0.9)}
losses = {"yours": [], "mt.nn": []}
best = (0.0, None, 0)
EPOCHS = 12
start = time.perf_counter()
rng = np.random.default_rng(0)
for epoch in range(EPOCHS):
    for net in (model, twin):
        try:
            net.train()
        except NotImplementedError:
            pass
    order = rng.permutation(len(x_train))
    for batch in range(0, len(order) - 31, 32):
        rows = order[batch:batch + 32]
        xb, yb = mt.tensor(x_train[rows]), y_train[rows]
        for tag, net, loss_fn in (("yours", model, MyCrossEntropy), ("mt.nn", twin, mt.nn.functional.cross_entropy)):
            loss = loss_fn(net(xb), mt.tensor(yb))
            optimizers[tag].zero_grad()
            loss.backward()
            optimizers[tag].step()
            losses[tag].append(loss.item())
    held_back = accuracy(model, x_test, y_test)
    if held_back > best[0]:
        best = (held_back, state_of(model), epoch + 1)
print(f"{EPOCHS} epochs, two models, in {time.perf_counter() - start:.1f} s; best held-back accuracy "
      f"{best[0]:.1%} after epoch {best[2]}")
try:
    model.load_state_dict(best[1])
    whose = "your" if isinstance(model, Module) else "the package's"
    print(f"restored the best epoch with {whose} load_state_dict: held-back accuracy "
          f"{accuracy(model, x_test, y_test):.1%}")
except NotImplementedError:
    print("your load_state_dict is not written yet: the model keeps its last epoch")
gap = max(abs(a - b) for a, b in zip(losses["yours"], losses["mt.nn"]))
print(f"largest difference between the two loss curves: {gap:.2e}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
steps = np.arange(1, len(losses["yours"]) + 1)
ax.plot(steps, losses["mt.nn"], color="0.6", lw=3, label="the package's mt.nn, from your weights")
ax.plot(steps, losses["yours"], color="tab:red", lw=1, label="your Module, Linear, Sequential, cross_entropy")
ax.set_yscale("log")
ax.set_xlabel("step (batches of 32)")
ax.set_ylabel("cross-entropy")
ax.set_title(f"8×8 digits: held-back accuracy {best[0]:.1%}", fontsize=10)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What you built, and what frameworks call it
#
# | yours | PyTorch | Keras 3 |
# | --- | --- | --- |
# | `Module.__setattr__` registry | `Module.__setattr__` (`_parameters`, `_modules`) | `add_weight`, tracking |
# | `named_parameters()` | `named_parameters()` (dotted names, tied weights once) | `trainable_weights` (`w.path`) |
# | `state_dict` / `load_state_dict(strict=)` | the same; `torch.save` / `torch.load` | `get_weights` / `set_weights` |
# | `train()` / `eval()` | the same | `training=` on each call |
# | `Linear` with U(±1/√fan_in) | `nn.Linear` (`kaiming_uniform_(a=√5)`) | `Dense` (Glorot uniform by default) |
# | `Sequential` | `nn.Sequential` | `keras.Sequential` |
# | `mse_loss` | `F.mse_loss` | `losses.MeanSquaredError` |
# | `cross_entropy` | `F.cross_entropy` (from logits) | `losses.SparseCategoricalCrossentropy(from_logits=True)` |
#
# The package's version of this chapter is `minitorch_edu/nn/module.py`, `linear.py`, `container.py`
# and `losses.py`. Compare: its `Module` also keeps *buffers* (state that is saved but not learned,
# like batch normalisation's running mean), moves every tensor with `to(device)`, and its `Sequential`
# accepts an `OrderedDict` of named layers. Chapter 07 writes the optimizers that consumed your
# `parameters()` above; chapter 08 the data loader and the training loop, both PyTorch's and Keras's.
