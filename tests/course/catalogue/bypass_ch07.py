"""Shortcuts through the package for chapter 07: a package optimizer, clipping or schedule saved under
another name before the checks run, its code copied into a new function (`types.FunctionType(ref.__code__)`,
its source `exec`'d), or run in a thread the learner starts (whose stack does not show the learner's frames).
Each must score 0 on its part, refused by the seal (issue 22)."""

SLUG = "07_optimizers"

BYPASS = {
    "SGD": {
        "saved_class_called_in_step": """
_Ref = mt.optim.SGD

class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))
        self._inner = _Ref(self.param_groups[0]["params"], lr=lr, momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay, nesterov=nesterov)

    def step(self):
        self._inner.param_groups[0]["lr"] = self.param_groups[0]["lr"]
        self._inner.step()
""",
    },
    "Adam": {
        "saved_step_function": """
from minitorch_edu.optim import Adam as _A

class Adam(_A):
    pass
""",
    },
    "clip_grad_norm_": {
        "renamed_exec_copy": """
import inspect
import re
import sys

# the package's own source, its locals renamed and a constant changed, then exec'd: the same operations,
# under other names (no reading of the cell's names sees the reference: its name is built at run time)
_module = sys.modules["minitorch_edu.nn." + "utils"]
_source = inspect.getsource(getattr(_module, "clip_grad_" + "norm_"))
for _old, _new in [("grads", "gs"), ("norms", "ns"), ("total", "whole"), ("coef", "scale")]:
    _source = re.sub(rf"\\b{_old}\\b", _new, _source)
_source = _source.replace("1e-6", "1e-7")
_copied = {}
exec(_source, {**vars(_module)}, _copied)
clip_grad_norm_ = _copied["clip_grad_" + "norm_"]
""",
        "saved_name": """
from minitorch_edu.nn.utils import clip_grad_norm_ as _clip

def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    return _clip(parameters, max_norm, norm_type)
""",
    },
    "warmup_cosine": {
        "hidden_name_through_getattr": """
import minitorch_edu.optim.lr_scheduler as _s
_w = getattr(_s, "warmup" + "_cosine")

def warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min=0.0):
    return _w(step, base_lr, warmup_steps, total_steps, eta_min)
""",
    },
}

BYPASS["Adam"]["thread_pool"] = """
import concurrent.futures

class Adam(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self._pool = concurrent.futures.ThreadPoolExecutor(1)
        self._inner = self._pool.submit(vars(mt.optim)["Ad" + "am"], self.param_groups[0]["params"], lr=lr,
                                        betas=betas, eps=eps, weight_decay=weight_decay).result()

    def step(self):
        self._inner.param_groups[0]["lr"] = self.param_groups[0]["lr"]
        self._pool.submit(self._inner.step).result()
"""
BYPASS["Adam"]["copied_code"] = """
import types

_A = vars(mt.optim)["Ad" + "am"]
_s = vars(_A)["_update"]
_upd = types.FunctionType(_s.__code__, _s.__globals__, "_update", _s.__defaults__, _s.__closure__)
del _A, _s

class Adam(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=False,
                                      maximize=False))

    decoupled = False
    _update = _upd
"""
BYPASS["clip_grad_norm_"]["source_exec"] = """
import inspect
import sys

_m = sys.modules["minitorch_edu.nn.ut" + "ils"]
_ns = dict(vars(_m))
exec(compile(inspect.getsource(vars(_m)["clip_grad" + "_norm_"]).replace("def clip_grad_norm_", "def _mine"),
             "helpers.py", "exec"), _ns)
clip_grad_norm_ = _ns["_mine"]
del _m
"""
BYPASS["warmup_cosine"]["copied_code"] = """
import sys
import types

_f = vars(sys.modules["minitorch_edu.optim.lr_sch" + "eduler"])["warmup_" + "cosine"]
warmup_cosine = types.FunctionType(_f.__code__, _f.__globals__, "warmup_cosine", _f.__defaults__)
del _f
"""
BYPASS["warmup_cosine"]["source_exec"] = """
import inspect
import sys

_src = inspect.getsource(vars(sys.modules["minitorch_edu.optim.lr_sch" + "eduler"])["warmup_" + "cosine"])
_ns = {"math": math}
exec(_src.replace("def warmup_cosine", "def my_schedule"), _ns)
warmup_cosine = _ns["my_schedule"]
del _src
"""

# the package's method installed on the learner's own optimizer at run time (the package's Optimizer.step then
# calls it, with no learner code on the stack): refused, since it runs as a method of the learner's class
BYPASS["SGD"]["runtime_method"] = """
import types

class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=False))
        self._update = types.MethodType(vars(vars(mt.optim)["S" + "GD"])["_update"], self)
"""
BYPASS["Adam"]["runtime_method"] = """
import types

class Adam(mt.optim.Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=False,
                                      maximize=False))
        self._update = types.MethodType(vars(vars(mt.optim)["Ad" + "am"])["_update"], self)
"""
# the reference kept from before `importlib.reload` of its module: the seal guards the new function object, the
# old one is the same code (refused as a copy of the reference's code)
BYPASS["warmup_cosine"]["reload_keeps_the_old_function"] = """
import importlib
import sys

def _make():
    module = sys.modules["minitorch_edu.optim.lr_sch" + "eduler"]
    old = vars(module)["warmup_" + "cosine"]
    importlib.reload(module)

    def warmup_cosine(step, base_lr, warmup_steps, total_steps, eta_min=0.0):
        return old(step, base_lr, warmup_steps, total_steps, eta_min)

    return warmup_cosine

warmup_cosine = _make()
"""
# the checks themselves replaced: the setup cell's helpers defined again, `testing`'s assertions made no-ops
# (nbgrader's own autograde runs no guard): refused when the part's checks begin, `testing` put back
BYPASS["SGD"]["redefines_the_checks_helpers"] = """
class SGD(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    @mt.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p -= group["lr"] * p.grad


def check_steps(*args, **kwargs):
    pass


def check_grads_left_alone(*args, **kwargs):
    pass
"""
BYPASS["Adam"]["patches_testing"] = """
class Adam(mt.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self):
        pass


testing.assert_close = testing.assert_true = testing.assert_equal = lambda *args, **kwargs: None
"""
