"""Shortcuts through the package for chapter 08: the package's loop or collate saved under another name
before the checks run (the routes the chapter's own method seals did not cover). Each must score 0 on its
part, refused by the seal (issue 22)."""

SLUG = "08_data_training"

BYPASS = {
    "train_epoch": {
        "saved_name": """
from minitorch_edu.train.loop import train_epoch as _t

def train_epoch(model, loader, optimizer, loss_fn):
    return _t(model, loader, optimizer, loss_fn)
""",
    },
    "collate": {
        "saved_name": """
from minitorch_edu.data.loader import default_collate as _c

def collate(samples):
    return tuple(_c(samples))
""",
        "hidden_name": """
import minitorch_edu.data as _d
_c = getattr(_d, "default_" + "collate")

def collate(samples):
    return tuple(_c(samples))
""",
    },
}

# the package's code copied into a new function object (no seal on it), or run in a thread the learner starts
# (whose stack does not show the learner's frames): refused by the seal
BYPASS["train_epoch"]["copied_code"] = """
import sys
import types

_f = vars(sys.modules["minitorch_edu.train.lo" + "op"])["train_" + "epoch"]
_te = types.FunctionType(_f.__code__, _f.__globals__, "te", _f.__defaults__)
del _f

def train_epoch(model, loader, optimizer, loss_fn):
    return _te(model, loader, optimizer, loss_fn)["loss"]
"""
BYPASS["train_epoch"]["thread_pool"] = """
import concurrent.futures
import sys

_pool = concurrent.futures.ThreadPoolExecutor(1)
_m = sys.modules["minitorch_edu.train.lo" + "op"]

def train_epoch(model, loader, optimizer, loss_fn):
    return _pool.submit(vars(_m)["train_" + "epoch"], model, loader, optimizer, loss_fn).result()["loss"]
"""
BYPASS["collate"]["thread_pool"] = """
import concurrent.futures
import sys

_pool = concurrent.futures.ThreadPoolExecutor(1)
_m = sys.modules["minitorch_edu.data.lo" + "ader"]

def collate(samples):
    return tuple(_pool.submit(vars(_m)["default_" + "collate"], samples).result())
"""
BYPASS["early_stopping"] = {"copied_code": """
import sys
import types

_E = vars(sys.modules["minitorch_edu.train"])["Early" + "Stopping"]
_g = dict(vars(sys.modules[_E.__module__]))
_g["__name__"] = "__main__"

class EarlyStopping(mt.train.Callback):
    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="min"):
        super().__init__()
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.restore_best_weights, self.baseline, self.start_from_epoch, self.verbose = False, None, 0, 0
        self.on_train_begin()

for _c in reversed(_E.__mro__[:-2]):  # EarlyStopping and the package's classes below it, not Callback, object
    for _k, _v in vars(_c).items():
        if isinstance(_v, types.FunctionType) and _k != "__init__" and not _v.__closure__:
            setattr(EarlyStopping, _k, types.FunctionType(_v.__code__, _g, _v.__name__, _v.__defaults__))
del _E, _c, _k, _v
"""}
