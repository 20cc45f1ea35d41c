"""Shortcuts through the package for chapter 05: each must score 0 on its part (issue 22).

An entry that starts with the line `# after the reference solution` runs after the part's reference
solution cell (so its other functions stay defined) and replaces the ones the tests call. The package's
block reduction and tiled matmul take other arguments than `block_sum_kernel`'s and `tiled_matmul_kernel`'s
kernels, so no route through the package applies to those two parts.
"""

SLUG = "05_gpu"
_AFTER = "# after the reference solution\n"
_NEED_DEVICE = """

def _need_device(*arrays):
    if not all(on_device(x) for x in arrays if hasattr(x, "shape")):
        raise TypeError("device arrays only")

"""

BYPASS = {
    "map_kernel": {
        "factory_in_a_default": """
import importlib

_kernels = importlib.import_module("minitorch_edu.backends.cuda." + "kernels")


def map_kernel(fn, _factory=getattr(_kernels, "map" + "_kernels")):
    return _factory(fn)[0]
""",
        "hidden_saved_name": """
import importlib

# a name the scan of the cell cannot read: only the seal on the function object itself refuses it
_hidden = getattr(importlib.import_module("minitorch_edu." + "backends.cuda.kernels"), "map" + "_kernels")


class _Launcher:
    def __init__(self, kernel):
        self.kernel = kernel

    def __getitem__(self, config):
        return self.kernel[config]


def map_kernel(fn):
    return _Launcher(_hidden(fn)[0])
""",
        "saved_name": """
from minitorch_edu.backends.cuda.kernels import map_kernels as _map_kernels


class _Launcher:  # a kernel of my own, as far as its module says
    def __init__(self, kernel):
        self.kernel = kernel

    def __getitem__(self, config):
        return self.kernel[config]


def map_kernel(fn):
    return _Launcher(_map_kernels(fn)[0])
""",
    },
    "zip_kernel": {
        "factory_in_a_closure": _AFTER + """
import importlib


def _make(factory):
    def zip_kernel(fn):
        return factory(fn)[0]

    return zip_kernel


zip_kernel = _make(getattr(importlib.import_module("minitorch_edu.backends.cuda." + "kernels"), "zip" + "_kernels"))
""",
        "saved_name": _AFTER + """
import minitorch_edu.backends.cuda.kernels as _kernels

_zip_kernels = _kernels.zip_kernels


class _Launcher:  # a kernel of my own, as far as its module says
    def __init__(self, kernel):
        self.kernel = kernel

    def __getitem__(self, config):
        return self.kernel[config]


def zip_kernel(fn):
    return _Launcher(_zip_kernels(fn)[0])
""",
    },
    "device_map_zip": {
        "launchers_in_a_partial": _AFTER + _NEED_DEVICE + """
import functools
import importlib

_backend = importlib.import_module("minitorch_edu.backends.cuda." + "backend")


def _launch(factory, fn):
    package_launch = factory(fn)

    def launch(*args):
        _need_device(*args[0:5:2])
        package_launch(*args)

    return launch


device_map = functools.partial(_launch, getattr(_backend, "tensor_" + "map"))
device_zip = functools.partial(_launch, getattr(_backend, "tensor_" + "zip"))
""",
        "saved_name": _AFTER + _NEED_DEVICE + """
from minitorch_edu.backends.cuda.backend import tensor_map as _map, tensor_zip as _zip


def device_map(fn):
    package_launch = _map(fn)

    def launch(*args):  # a launcher of my own, as far as its module says
        _need_device(*args[0:5:2])
        package_launch(*args)

    return launch


def device_zip(fn):
    package_launch = _zip(fn)

    def launch(*args):
        _need_device(*args[0:5:2])
        package_launch(*args)

    return launch
""",
        "public_api": _AFTER + _NEED_DEVICE + """
def device_map(fn):
    def launch(*args):
        _need_device(*args[0:5:2])
        mt.get_backend("cuda").map(fn)(*args)

    return launch


def device_zip(fn):
    def launch(*args):
        _need_device(*args[0:5:2])
        mt.get_backend("cuda").zip(fn)(*args)

    return launch
""",
    },
    "device_reduce": {
        "saved_name": _AFTER + _NEED_DEVICE + """
from minitorch_edu.backends.cuda.backend import tensor_reduce as _reduce


def device_reduce(fn):
    package_launch = _reduce(fn)

    def launch(*args):
        _need_device(*args[0:5:2])
        package_launch(*args)

    return launch
""",
        "public_api": _AFTER + _NEED_DEVICE + """
def device_reduce(fn):
    def launch(*args):
        _need_device(*args[0:5:2])
        mt.get_backend("cuda").reduce(fn)(*args)

    return launch
""",
    },
}
