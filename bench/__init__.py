"""Benchmarks of minitorch_edu against NumPy and PyTorch, measured in the same run.

    python -m bench                 # the CPU table
    python -m bench --quick         # fewer repeats (a smoke run)
    python -m bench --device cuda   # the GPU table (needs a CUDA GPU)
    python -m bench --json out.json # also write every number

Every workload is checked against NumPy before it is timed, and each row compares our median
time with the reference measured moments before in the same process, so machine noise and
library versions affect both sides alike.
"""
