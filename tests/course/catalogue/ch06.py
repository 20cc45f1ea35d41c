"""Wrong solutions of chapter 06 (modules and layers): each must lose its part's points.

Names ending in `_hidden_only` pass the visible self-check and fail only the hidden tests. The
bypasses (the package's `nn` called, subclassed, aliased or saved in a name) must score 0 as well.
"""

SLUG = "06_modules_layers"

# ---------------------------------------------------------------------------------------- module
_MODULE = '''
class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
{setattr}

    def named_parameters(self):
{named}

    def parameters(self):
        for _, param in self.named_parameters():
            yield param

    def forward(self, *args):
        raise NotImplementedError()

    def __call__(self, *args):
        return self.forward(*args)
'''

_SETATTR = """
if isinstance(value, Parameter):
    self._modules.pop(name, None)
    self._parameters[name] = value
elif isinstance(value, Module):
    self._parameters.pop(name, None)
    self._modules[name] = value
else:
    self._parameters.pop(name, None)
    self._modules.pop(name, None)
object.__setattr__(self, name, value)
"""

# a recursive walk; {params} is how a module's own parameters are listed
_NAMED = """
seen, visited = set(), set()

def walk(module, prefix):
    if id(module) in visited:
        return
    visited.add(id(module))
    for name, param in {params}:
        if id(param) not in seen:
            seen.add(id(param))
            yield prefix + name, param
    for name, child in module._modules.items():
        yield from walk(child, prefix + name + ".")

yield from walk(self, "")
"""


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line if line.strip() else line for line in text.strip("\n").splitlines())


def _module(setattr_body: str = _SETATTR, named: str = _NAMED, params: str = "module._parameters.items()") -> str:
    return _MODULE.format(setattr=_indent(setattr_body, 8), named=_indent(named.replace("{params}", params), 8))


# ------------------------------------------------------------------------------------ state_dict
_STATE = '''
@add_to_class(Module)
def state_dict(self):
{save}


@add_to_class(Module)
def load_state_dict(self, state, strict=True):
{load}
'''

_SAVE = "return OrderedDict((name, p.detach().clone()) for name, p in self.named_parameters())"

_CHECK = """
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
        problems.append(f"size mismatch for {name}")
if problems:
    raise RuntimeError("; ".join(problems))
"""

_COPY = """
with mt.no_grad():
    for name, value in state.items():
        if name in own_params:
            own_params[name].copy_(value)
return missing, unexpected
"""


def _state(save: str = _SAVE, check: str = _CHECK, copy: str = _COPY) -> str:
    return _STATE.format(save=_indent(save, 4), load=_indent(check + "\n" + copy, 4))


# ------------------------------------------------------------------------------------ train_eval
_MODES = '''
@add_to_class(Module)
def train(self, mode=True):
{train}


@add_to_class(Module)
def eval(self):
{eval}
'''


def _modes(train: str, eval_body: str = "return self.train(False)") -> str:
    return _MODES.format(train=_indent(train, 4), eval=_indent(eval_body, 4))


# ---------------------------------------------------------------------------------------- linear
_LINEAR = '''
class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
{init}

    def forward(self, x):
{forward}
'''

_UNIFORM = """
bound = {bound}
self.weight = Parameter((mt.rand(out_features, in_features) * 2 - 1) * bound)
self.bias = Parameter((mt.rand(out_features) * 2 - 1) * bound) if bias else None
"""

_FORWARD = """
out = x @ self.weight.T
return out + self.bias if self.bias is not None else out
"""


def _linear(init: str = _UNIFORM, forward: str = _FORWARD, bound: str = "1.0 / math.sqrt(in_features)") -> str:
    return _LINEAR.format(init=_indent(init.replace("{bound}", bound), 8), forward=_indent(forward, 8))


# ------------------------------------------------------------------------------------ sequential
_SEQUENTIAL = '''
class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
{init}

    def forward(self, x):
{forward}

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, index):
{getitem}
'''


def _sequential(
    init: str = "for i, layer in enumerate(layers):\n    setattr(self, str(i), layer)",
    forward: str = "for layer in self._modules.values():\n    x = layer(x)\nreturn x",
    getitem: str = "return list(self._modules.values())[index]",
) -> str:
    return _SEQUENTIAL.format(init=_indent(init, 8), forward=_indent(forward, 8), getitem=_indent(getitem, 8))


# ---------------------------------------------------------------------------------------- losses
_LOSSES = '''
def mse_loss(pred, target):
{mse}


def cross_entropy(logits, target):
{ce}
'''

_MSE = "diff = pred - target\nreturn (diff * diff).mean()"
_CE = """
shifted = logits - logits.max(-1, keepdim=True).values.detach()
log_probs = shifted - shifted.exp().sum(-1, keepdim=True).log()
return -(log_probs * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""


def _losses(mse: str = _MSE, ce: str = _CE, prelude: str = "") -> str:
    return prelude + _LOSSES.format(mse=_indent(mse, 4), ce=_indent(ce, 4))


# the mistakes learners make, part by part
WRONG = {
    "module": {
        # a set forgets the order of assignment (and its order changes from run to run)
        "order_from_a_set": _module(params="((n, module._parameters[n]) for n in set(module._parameters))"),
        # alphabetical is stable, but it is not PyTorch's order (and not the one checkpoints rely on)
        "sorted_names": _module(params="sorted(module._parameters.items())"),
        # forgets the sub-modules
        "no_recursion": _module(named="for name, param in self._parameters.items():\n    yield name, param"),
        # recurses, but without the "child." prefix
        "no_prefix": _module(named=_NAMED.replace('prefix + name + "."', '""')),
        # one registry in assignment order: a sub-module assigned first comes before the module's own parameters
        "one_registry_in_assignment_order": _module(
            setattr_body="""
if "_order" not in self.__dict__:
    object.__setattr__(self, "_order", OrderedDict())
if isinstance(value, (Parameter, Module)):
    self._order[name] = value
    (self._parameters if isinstance(value, Parameter) else self._modules)[name] = value
object.__setattr__(self, name, value)
""",
            named="""
def walk(module, prefix):
    for name, value in getattr(module, "_order", {}).items():
        if isinstance(value, Parameter):
            yield prefix + name, value
        else:
            yield from walk(value, prefix + name + ".")

yield from walk(self, "")
""",
        ),
        # registers, but a later assignment of None or of another kind never removes the old entry
        "never_forgets_hidden_only": _module(setattr_body="""
if isinstance(value, Parameter):
    self._parameters[name] = value
elif isinstance(value, Module):
    self._modules[name] = value
object.__setattr__(self, name, value)
"""),
        # tied weights listed twice (an optimizer would update them twice)
        "lists_tied_weights_twice_hidden_only": _module(named="""
def walk(module, prefix):
    for name, param in module._parameters.items():
        yield prefix + name, param
    for name, child in module._modules.items():
        yield from walk(child, prefix + name + ".")

yield from walk(self, "")
"""),
        # any tensor that requires grad counts as a parameter
        "registers_every_tensor_hidden_only": _module(
            setattr_body=_SETATTR.replace("isinstance(value, Parameter)", "isinstance(value, mt.Tensor)")),
    },
    "state_dict": {
        # the live parameters: they require grad and change as the model trains
        "returns_live_parameters": _state(save="return OrderedDict(self.named_parameters())"),
        # strict, except that a missing key passes
        "ignores_missing_keys": _state(check=_CHECK.replace("if strict and missing:", "if False:")),
        "ignores_unexpected_keys": _state(check=_CHECK.replace("if strict and unexpected:", "if False:")),
        # no shape check: copy_ is left to complain (with a ValueError), or to broadcast
        "no_shape_check": _state(check=_CHECK.replace("tuple(value.shape) != tuple(own_params[name].shape)", "False")),
        # new Parameter objects instead of writing into the old ones (an optimizer keeps the old ones)
        "rebinds_parameters": _state(copy="""
for name, value in state.items():
    if name in own_params:
        module = self
        *path, leaf = name.split(".")
        for step in path:
            module = getattr(module, step)
        setattr(module, leaf, Parameter(value.clone()))
return missing, unexpected
"""),
        # a KeyError, where PyTorch (and the text) say RuntimeError
        "raises_key_error": _state(check=_CHECK.replace("raise RuntimeError", "raise KeyError")),
        # views of the parameters: later training changes the "saved" checkpoint
        "shares_storage_hidden_only": _state(
            save="return OrderedDict((name, p.detach()) for name, p in self.named_parameters())"),
        # checks and copies in one loop: a load that fails half-way has already changed the model
        "copies_while_checking_hidden_only": _state(
            check="""
own_params = OrderedDict(self.named_parameters())
missing = [name for name in own_params if name not in state]
unexpected = []
with mt.no_grad():
    for name, value in state.items():
        if name not in own_params:
            unexpected.append(name)
            if strict:
                raise RuntimeError(f"unexpected key {name}")
            continue
        if tuple(value.shape) != tuple(own_params[name].shape):
            raise RuntimeError(f"size mismatch for {name}")
        own_params[name].copy_(value)
if strict and missing:
    raise RuntimeError(f"missing keys {missing}")
""",
            copy="return missing, unexpected",
        ),
        # the shape check only when strict
        "shape_checked_only_when_strict_hidden_only": _state(
            check=_CHECK.replace("if name in own_params and tuple", "if strict and name in own_params and tuple")),
    },
    "train_eval": {
        "sets_only_itself": _modes("object.__setattr__(self, 'training', mode)\nreturn self"),
        "eval_calls_train": _modes(
            "object.__setattr__(self, 'training', mode)\nfor c in self._modules.values():\n    c.train(mode)\n"
            "return self", eval_body="return self.train()"),
        "returns_nothing": _modes(
            "object.__setattr__(self, 'training', mode)\nfor c in self._modules.values():\n    c.train(mode)"),
        "ignores_mode": _modes(
            "object.__setattr__(self, 'training', True)\nfor c in self._modules.values():\n    c.train()\n"
            "return self"),
        # only one level down: the visible checks have one level of children
        "direct_children_only_hidden_only": _modes(
            "object.__setattr__(self, 'training', mode)\nfor c in self._modules.values():\n"
            "    object.__setattr__(c, 'training', mode)\nreturn self"),
        # keeps whatever was passed: train(0) leaves training == 0, not False
        "mode_not_bool_hidden_only": _modes(
            "object.__setattr__(self, 'training', mode)\nfor c in self._modules.values():\n    c.train(mode)\n"
            "return self"),
    },
    "linear": {
        "fan_out_bound": _linear(bound="1.0 / math.sqrt(out_features)"),
        "fan_in_plus_fan_out_bound": _linear(bound="math.sqrt(6.0 / (in_features + out_features))"),
        "kaiming_uniform_with_a_0": _linear(bound="math.sqrt(6.0 / in_features)"),
        "sqrt3_left_in": _linear(bound="math.sqrt(3.0 / in_features)"),
        "normal_instead_of_uniform": _linear(init="""
std = 1.0 / math.sqrt(in_features)
self.weight = Parameter(mt.randn(out_features, in_features) * std)
self.bias = Parameter(mt.randn(out_features) * std) if bias else None
"""),
        "rand_not_centred": _linear(init="""
bound = 1.0 / math.sqrt(in_features)
self.weight = Parameter(mt.rand(out_features, in_features) * bound)
self.bias = Parameter(mt.rand(out_features) * bound) if bias else None
"""),
        # Keras's layout: kernel (in, out) and x @ kernel
        "keras_layout": _linear(
            init=_UNIFORM.replace("mt.rand(out_features, in_features)", "mt.rand(in_features, out_features)"),
            forward="out = x @ self.weight\nreturn out + self.bias if self.bias is not None else out"),
        "forgets_the_bias_in_forward": _linear(forward="return x @ self.weight.T"),
        "bias_is_a_plain_tensor": _linear(init=_UNIFORM.replace(
            "self.bias = Parameter((mt.rand(out_features) * 2 - 1) * bound)",
            "self.bias = (mt.rand(out_features) * 2 - 1) * bound")),
        # PyTorch initialises the bias too: zeros is Keras's default, not PyTorch's
        "zero_bias_hidden_only": _linear(init=_UNIFORM.replace(
            "Parameter((mt.rand(out_features) * 2 - 1) * bound)", "Parameter(mt.zeros(out_features))")),
        "ignores_bias_false_hidden_only": _linear(init=_UNIFORM.replace(" if bias else None", "")),
        # NumPy's generator: the right distribution, but mt.manual_seed cannot repeat a run
        "numpy_generator_unseeded_hidden_only": _linear(init="""
bound = 1.0 / math.sqrt(in_features)
w = np.random.uniform(-bound, bound, (out_features, in_features)).astype(np.float32)
self.weight = Parameter(mt.tensor(w))
self.bias = Parameter(mt.tensor(np.random.uniform(-bound, bound, out_features).astype(np.float32))) if bias else None
"""),
    },
    "sequential": {
        # a list is an ordinary attribute: nothing is registered
        "plain_list": _sequential(init="self.layers = list(layers)", forward="for layer in self.layers:\n"
                                  "    x = layer(x)\nreturn x", getitem="return self.layers[index]"),
        "numbered_from_one": _sequential(
            init="for i, layer in enumerate(layers, 1):\n    setattr(self, str(i), layer)"),
        "applies_in_reverse": _sequential(forward="for layer in reversed(list(self._modules.values())):\n"
                                          "    x = layer(x)\nreturn x"),
        # the first layer only
        "returns_after_first_layer": _sequential(forward="for layer in self._modules.values():\n"
                                                 "    return layer(x)\nreturn x"),
        # model[i] looks the name up: model[-1] is not a name
        "negative_index_hidden_only": _sequential(getitem="return getattr(self, str(index))"),
        # string keys sorted: "10" comes before "2"
        "sorted_keys_hidden_only": _sequential(forward="for key in sorted(self._modules):\n"
                                               "    x = self._modules[key](x)\nreturn x"),
    },
    "losses": {
        "mse_sums": _losses(mse="diff = pred - target\nreturn (diff * diff).sum()"),
        "mse_absolute_error": _losses(mse="return (pred - target).abs().mean()"),
        "mse_mean_of_last_dim_only": _losses(mse="diff = pred - target\nreturn (diff * diff).mean(-1)"),
        "mse_divides_by_rows": _losses(mse="diff = pred - target\nreturn (diff * diff).sum() / pred.shape[0]"),
        # the textbook formula: exp(1000) = inf
        "ce_log_of_softmax": _losses(ce="""
e = logits.exp()
probs = e / e.sum(-1, keepdim=True)
return -(probs.log() * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""),
        # shifted, but the log of a softmax: a probability that underflows to 0 has log -inf
        "ce_shifted_softmax_then_log": _losses(ce="""
e = (logits - logits.max(-1, keepdim=True).values.detach()).exp()
probs = e / e.sum(-1, keepdim=True)
return -(probs.log() * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""),
        # one max for the whole batch: a row far below it underflows
        "ce_global_max": _losses(
            ce=_CE.replace("logits.max(-1, keepdim=True).values.detach()", "logits.max().detach()")),
        "ce_sums_over_batch": _losses(ce=_CE.replace(".sum(-1).mean()", ".sum()")),
        "ce_sign_flipped": _losses(ce=_CE.replace("return -(", "return (")),
        "ce_returns_a_float": _losses(ce=_CE.replace("return -(log_probs", "return -float((log_probs").replace(
            ".sum(-1).mean()", ".sum(-1).mean().item())")),
        # works for tensors of targets only: a list has no .numpy()
        "ce_tensor_targets_only_hidden_only": _losses(ce=_CE.replace(
            "one_hot(target, logits.shape[-1], dtype=logits.dtype)",
            "mt.tensor(np.eye(logits.shape[-1])[target.numpy()], dtype=logits.dtype)")),
    },
}

# shortcuts through the package (called, subclassed, aliased, wrapped, saved in a name, methods borrowed):
# each must be refused (ReferenceSealed), by the seal or by the chapter's `own` check
BYPASS = {
    "module": {
        "subclasses_package_module": "class Module(mt.nn.Module):\n    pass\n",
        "saved_package_module": "_Base = mt.nn.Module\n\n\nclass Module(_Base):\n    pass\n",
        "borrows_package_methods": """
class Module:
    __init__ = mt.nn.Module.__init__
    __setattr__ = mt.nn.Module.__setattr__
    __getattr__ = mt.nn.Module.__getattr__
    _registries = mt.nn.Module._registries
    _forget = mt.nn.Module._forget
    named_modules = mt.nn.Module.named_modules
    _named_members = mt.nn.Module._named_members
    named_parameters = mt.nn.Module.named_parameters
    parameters = mt.nn.Module.parameters
    __call__ = mt.nn.Module.__call__
""",
        "calls_package_named_parameters": _module(named="yield from mt.nn.Module.named_parameters(self)"),
        "saved_package_named_parameters": (
            "_np, _members, _walk = mt.nn.Module.named_parameters, mt.nn.Module._named_members, "
            "mt.nn.Module.named_modules\n" + _module(named="yield from _np(self)")
            + "\nModule._named_members = _members\nModule.named_modules = _walk\n"),
    },
    "state_dict": {
        "borrows_package_methods": """
Module.state_dict = mt.nn.Module.state_dict
Module.load_state_dict = mt.nn.Module.load_state_dict
""",
        "saved_package_load": "_load = mt.nn.Module.load_state_dict\n" + _state(
            check="return _load(self, state, strict)", copy=""),
    },
    "train_eval": {
        "borrows_package_methods": "Module.train = mt.nn.Module.train\nModule.eval = mt.nn.Module.eval\n",
    },
    "linear": {
        "wraps_package_linear": """
class Linear(Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        inner = mt.nn.Linear(in_features, out_features, bias=bias)
        self.weight, self.bias = inner.weight, inner.bias

    def forward(self, x):
        return x @ self.weight.T + self.bias
""",
        "subclasses_package_linear": "class Linear(mt.nn.Linear):\n    pass\n",
        "package_initialiser": _linear(init="""
self.weight = Parameter(mt.zeros(out_features, in_features))
mt.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
bound = 1.0 / math.sqrt(in_features)
self.bias = Parameter((mt.rand(out_features) * 2 - 1) * bound) if bias else None
"""),
        "saved_package_initialiser": "_default = mt.nn.init.layer_default_\n" + _linear(init="""
self.weight = Parameter(mt.zeros(out_features, in_features))
self.bias = Parameter(mt.zeros(out_features)) if bias else None
_default(self.weight, self.bias)
"""),
        "package_functional_linear": _linear(forward="return mt.nn.functional.linear(x, self.weight, self.bias)"),
    },
    "sequential": {
        "aliases_package_sequential": "Sequential = mt.nn.Sequential\n",
        "subclasses_package_sequential": "class Sequential(mt.nn.Sequential):\n    pass\n",
        "wraps_package_sequential": _sequential(
            init="for i, layer in enumerate(layers):\n    setattr(self, str(i), layer)\n"
                 "self.runner = mt.nn.Sequential()",
            forward="return mt.nn.Sequential.forward(self, x)"),
    },
    "losses": {
        "package_functional": _losses(
            mse="return mt.nn.functional.mse_loss(pred, target)",
            ce="return mt.nn.functional.cross_entropy(logits, mt.tensor(np.asarray(target)))"),
        "package_loss_layers": _losses(mse="return mt.nn.MSELoss()(pred, target)",
                                       ce="return mt.nn.CrossEntropyLoss()(logits, mt.tensor(np.asarray(target)))"),
        "tensor_log_softmax_method": _losses(ce="""
return -(logits.log_softmax(-1) * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""),
        "package_logsumexp": _losses(ce="""
log_probs = logits - mt.logsumexp(logits, -1, keepdim=True)
return -(log_probs * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""),
        "saved_loss_objects": _losses(
            prelude="_mse, _ce = mt.nn.MSELoss(), mt.nn.CrossEntropyLoss()\n",
            mse="return _mse(pred, target)", ce="return _ce(logits, mt.tensor(np.asarray(target)))"),
        "saved_log_softmax": _losses(prelude="_log_softmax = mt.nn.functional.log_softmax\n", ce="""
return -(_log_softmax(logits, -1) * one_hot(target, logits.shape[-1], dtype=logits.dtype)).sum(-1).mean()
"""),
    },
}



def _copied_module(names: tuple[str, ...] | None, new_class: bool) -> str:
    """The package's Module methods rebuilt with `types.FunctionType(method.__code__, ...)`: new function objects
    (no seal on them), reached through names the scan cannot resolve (`vars(...)[...]`), helper names deleted."""
    return ("# after the reference solution\n" if not new_class else "") + f"""
_P = vars(mt.nn)["Mod" + "ule"]
_g = dict(vars(sys.modules[_P.__module__]))
_g["__name__"] = "__main__"
{"class Module:" + chr(10) + "    pass" if new_class else ""}
for _k, _v in list(_g.items()):
    if isinstance(_v, types.FunctionType) and _v.__module__ == _P.__module__:
        _g[_k] = types.FunctionType(_v.__code__, _g, _v.__name__, _v.__defaults__, _v.__closure__)
_g["IncompatibleKeys"] = lambda missing, unexpected: (missing, unexpected)
_names = {names!r}
for _k, _v in vars(_P).items():
    if isinstance(_v, types.FunctionType) and (_names is None or _k in _names) and not _v.__closure__:
        setattr(Module, _k, types.FunctionType(_v.__code__, _g, _v.__name__, _v.__defaults__, _v.__closure__))
_g["Module"] = Module
if not hasattr(Module, "_buffers"):
    Module._buffers = dict()
del _P, _k, _v, _names
"""


# the package's own code in new function objects, or the package's methods run in a thread (whose stack does not
# show the learner's frames): refused by the seal (a copy of a reference's code; a reference called in a thread
# that learner code started)
BYPASS["module"]["copied_code"] = _copied_module(None, True)
BYPASS["module"]["thread_pool"] = _module(named="""
import concurrent.futures
with concurrent.futures.ThreadPoolExecutor(1) as pool:
    yield from pool.submit(vars(vars(mt.nn)["Mod" + "ule"])["named_parameters"], self).result()
""")
# the package's methods installed on each instance at run time (the setup cell's helpers then call them, with no
# learner code on the stack): refused, since they run as methods of the learner's class
BYPASS["module"]["runtime_methods"] = """
class Module:
    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)
        for name in ("named_parameters", "_named_members", "named_modules"):
            object.__setattr__(self, name, types.MethodType(vars(vars(mt.nn)["Mod" + "ule"])[name], self))

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def parameters(self):
        for _, param in self.named_parameters():
            yield param

    def forward(self, *args):
        raise NotImplementedError()

    def __call__(self, *args):
        return self.forward(*args)
"""
BYPASS["state_dict"]["copied_code"] = _copied_module(("state_dict", "load_state_dict", "_state_targets",
                                                      "named_buffers", "_named_members", "named_modules"), False)
BYPASS["train_eval"]["copied_code"] = _copied_module(("train", "eval", "modules", "named_modules"), False)

for _part, _entries in BYPASS.items():
    WRONG[_part].update(_entries)
