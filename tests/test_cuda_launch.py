"""The fast kernel launch path (backends/cuda/launch.py) packs parameters exactly as numba does.

On a GPU every CUDA test goes through that path; here (no GPU) its packing is checked against
numba.cuda's own `_Kernel._prepare_args`, in a child process with numba's real CUDA target
(this process runs the simulator).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHECK = textwrap.dedent(
    """
    import ctypes, struct
    import numpy as np
    from numba.cuda import types
    from numba.cuda.dispatcher import _Kernel
    from minitorch_edu.backends.cuda.launch import _Plan, _describe

    class FakeDeviceArray:  # what numba reads of a device array, at a made-up address
        __cuda_memory__ = True

        def __init__(self, shape, strides, dtype, ptr):
            self.shape, self.strides, self.dtype = shape, strides, np.dtype(dtype)
            self.size = int(np.prod(shape))
            self.device_ctypes_pointer = ctypes.c_void_p(ptr)

        @property
        def _strided_memory_view_shim(self):
            from numba.cuda.cudadrv.devicearray import _StridedLayoutShim, _StridedMemoryViewShim
            layout = _StridedLayoutShim(strides_in_bytes=self.strides, is_contiguous_c=False,
                                        is_contiguous_f=False, is_contiguous_any=False)
            return _StridedMemoryViewShim(ptr=self.device_ctypes_pointer.value, shape=self.shape,
                                          dtype=self.dtype, size=self.size, _layout=layout)

    argtypes = (types.Array(types.float32, 1, "C"), types.UniTuple(types.int64, 3), types.Array(types.float64, 2, "A"),
                types.int64, types.float32, types.boolean, types.float64, types.Tuple((types.int64, types.float64)))
    args = (FakeDeviceArray((10,), (4,), np.float32, 0x7F0000001000), (3, -1, 7),
            FakeDeviceArray((4, 5), (80, 8), np.float64, 0x7F0000002000), 12345, np.float32(1.5), True, -2.25, (9, 0.5))

    class NumbaSide:
        extensions = []

        def _prepare_args(self, *a):
            return _Kernel._prepare_args(self, *a)

    expected = []
    for ty, value in zip(argtypes, args):
        NumbaSide()._prepare_args(ty, value, 0, [], expected)
    expected = [v.value if hasattr(v, "value") else v for v in expected]
    plan = _Plan(0, argtypes)
    got = plan.values(args)
    assert [float(v) for v in got] == [float(v) for v in expected], (got, expected)
    packed = plan.pack(args)
    assert len(packed) == 8 * plan.slots == 8 * len(expected)
    slots = [packed[8 * i: 8 * i + 8] for i in range(plan.slots)]
    assert struct.unpack("<q", slots[4])[0] == 0x7F0000001000  # the first array's data pointer
    assert struct.unpack("<f", slots[20][:4])[0] == 1.5  # float32 in the low half of its slot
    assert slots[21][0] == 1 and struct.unpack("<d", slots[22])[0] == -2.25
    # layouts that numba types differently get different keys
    a = FakeDeviceArray((10,), (4,), np.float32, 1)
    strided = FakeDeviceArray((10,), (8,), np.float32, 1)
    assert _describe(a) != _describe(strided)
    assert _describe((1, 2)) != _describe((1, 2, 3)) != _describe((1.0, 2, 3))
    assert _describe(1) != _describe(1.0) != _describe(True) != _describe(np.float32(1))
    assert _describe(object()) is None
    print("packing matches numba")
    """
)


def test_fast_launch_packs_parameters_like_numba() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "packing matches numba" in result.stdout
