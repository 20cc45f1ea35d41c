"""Code the grader runs inside the kernel: before the student's code (snapshot) and before the tests (audit).

The guard snapshots the test machinery (numpy's comparison functions, ``numpy.testing``, the course's
``minitorch_edu.testing``/``course`` and ``builtins``) before any student code runs; before the tests it
puts back anything the student's code replaced and reports it, so a monkeypatch is both undone and
flagged. It lives in the same (untrusted) process as the student's code: a submission that sets out to
subvert the guard itself can fake its own result, never another submission's (see the README).
"""

#: the test machinery every chapter's tests may use
BASE_MODULES = ("builtins", "math", "numpy", "numpy.testing")
#: the course's helpers, guarded in the chapters that use the package (importing it costs 0.2 s of CPU)
COURSE_MODULES = ("minitorch_edu.testing", "minitorch_edu.course")


def preamble(source_text: str) -> str:
    """The guard's code for a chapter whose source notebook is ``source_text``."""
    names = list(BASE_MODULES) + (list(COURSE_MODULES) if "minitorch_edu" in source_text else [])
    return PREAMBLE.replace("__AG_MODULES__", repr(names))


PREAMBLE = r'''
def _ag_install():
    import builtins, importlib, json, sys
    names = __AG_MODULES__
    mods = {}
    for n in names:
        try:
            mods[n] = importlib.import_module(n)
        except Exception:
            pass
    snap = {n: dict(vars(m)) for n, m in mods.items()}
    classes = {}
    for n, m in mods.items():
        if n in ("builtins", "math"):
            continue
        for k, v in list(vars(m).items()):
            if isinstance(v, type) and getattr(v, "__module__", "").startswith(n.split(".")[0]):
                classes[(n, k)] = (v, dict(vars(v)))
    user = {}
    def remember():
        ns = get_ipython().user_ns
        for k, v in ns.items():
            if not k.startswith("_") and k not in user and k not in ("In", "Out", "get_ipython", "exit", "quit"):
                user[k] = v
    def audit(nonce):
        changed = []
        for n, m in mods.items():
            if sys.modules.get(n) is not m:
                sys.modules[n] = m
                changed.append("sys.modules[" + n + "]")
            cur = vars(m)
            for k, v in snap[n].items():
                if n == "builtins" and k in ("input", "getpass", "get_ipython", "exit", "quit", "_", "__", "___"):
                    continue  # ipykernel and IPython rebind these themselves on every execution
                if cur.get(k, audit) is not v:
                    changed.append(n + "." + k)
                    try:
                        setattr(m, k, v)
                    except Exception:
                        pass
        for (n, k), (cls, d) in classes.items():
            for a, v in d.items():
                if vars(cls).get(a, audit) is not v:
                    changed.append(n + "." + k + "." + a)
                    try:
                        setattr(cls, a, v)
                    except Exception:
                        pass
        ns = get_ipython().user_ns
        for k, v in user.items():
            if ns.get(k, audit) is not v:
                changed.append("rebound " + k)
                ns[k] = v
        return json.dumps({"nonce": nonce, "changed": sorted(set(changed))})
    return remember, audit
_ag_remember, _ag_audit = _ag_install()
del _ag_install
'''
