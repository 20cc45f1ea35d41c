"""minitorch_edu's autograder: nbgrader's pipeline with sandboxed, parallel, tamper-aware grading.

Run ``python -m autograder --help`` (or the ``autograder`` console script) for the verbs.
"""

__version__ = "0.1.0"
