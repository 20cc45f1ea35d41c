"""The numba CPU backend (chapter 04), the default for device "cpu".

`cpu.py` the backend: kernel factories that compile `kernels.py` (map, zip, reduce loops) once per
scalar function; `matmul.py` the blocked matrix product; the fused kernels: `conv.py` convolution and
pooling, `losses.py` softmax cross-entropy, `optim.py` optimizer updates, `scan.py` cumsum and flip;
`cache.py` numba's disk cache, kept per thread count.
"""
