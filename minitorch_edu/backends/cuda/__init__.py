"""The numba.cuda GPU backend (chapter 05); data stays on the device.

`backend.py` the backend: launch sizes and the kernel factories; `kernels.py` the map, zip, reduce
and plain matmul kernels; `matmul.py` the register-tiled product; `conv.py` and `losses.py` the fused
kernels; `storage.py` device arrays; `memory.py` a caching allocator; `launch.py` the fast launch path.
Importing `backend` needs numba.cuda (a GPU, or NUMBA_ENABLE_CUDASIM=1).
"""
