"""Shortcuts through the package for chapter 05: each must score 0 on its part (issue 22).

An entry that starts with the line `# after the reference solution` runs after the part's reference
solution cell (so its other functions stay defined) and replaces the ones the tests call. The package's
block reduction and tiled matmul take other arguments than `block_sum_kernel`'s and `tiled_matmul_kernel`'s
kernels, so no route through the package applies to those two parts.
"""

SLUG = "05_gpu"
_AFTER = "# after the reference solution\n"

BYPASS = {
    "map_kernel": {
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
        "saved_name": _AFTER + """
from minitorch_edu.backends.cuda.backend import tensor_map as _map, tensor_zip as _zip


def device_map(fn):
    return _map(fn)


def device_zip(fn):
    return _zip(fn)
""",
        "public_api": _AFTER + """
def device_map(fn):
    return mt.get_backend("cuda").map(fn)


def device_zip(fn):
    return mt.get_backend("cuda").zip(fn)
""",
    },
    "device_reduce": {
        "saved_name": _AFTER + """
from minitorch_edu.backends.cuda.backend import tensor_reduce as _reduce


def device_reduce(fn):
    return _reduce(fn)
""",
        "public_api": _AFTER + """
def device_reduce(fn):
    return mt.get_backend("cuda").reduce(fn)
""",
    },
}
