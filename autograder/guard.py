"""Code the grader runs inside the kernel: before the student's code (snapshot) and before the tests (audit).

The guard snapshots, before any student code runs:
- the test machinery: numpy's comparison functions, ``numpy.testing``, the course's
  ``minitorch_edu.testing``/``course`` and ``builtins`` (module attributes and their classes' methods);
- how a cell runs: IPython's input transformers (cleanup, line, token, post), AST transformers, event
  callbacks, the shell's, kernel's, compiler's and transformer manager's methods (on the instance and
  on their classes), the modules that parse and compile a cell (``ast``, ``codeop``, IPython's and
  ipykernel's execution modules), and the trace and profile hooks (``sys`` and ``threading``).
It also installs an audit hook that refuses any later ``sys.addaudithook`` (a hook that would see the
tests' source as it is compiled) and remembers the attempt.

Before the tests the grader calls the audit: it puts back everything above that the student's code
replaced or added, and reports it, so a patch is both undone and flagged. The report is signed with a
key the grader sent in the preamble (sha256 of key, nonce and report, with functions captured before
any student code ran), so replacing the audit function or its report is detected too.

It lives in the same (untrusted) process as the student's code: a program written against the guard
itself (reading the key out of the guard's closure, editing its snapshot through the garbage collector
or ``ctypes``) can still fake its own result, never another submission's (see the README).
"""

#: the test machinery every chapter's tests may use
BASE_MODULES = ("builtins", "math", "numpy", "numpy.testing")
#: the course's helpers, guarded in the chapters that use the package (importing it costs 0.2 s of CPU)
COURSE_MODULES = ("minitorch_edu.testing", "minitorch_edu.course")
#: the modules that turn a cell's text into running code: their functions and classes are guarded
MACHINERY_MODULES = ("ast", "codeop", "IPython.core.interactiveshell", "IPython.core.compilerop",
                     "IPython.core.inputtransformer2", "IPython.core.events", "IPython.core.displayhook",
                     "ipykernel.ipkernel", "ipykernel.kernelbase", "ipykernel.zmqshell")


def preamble(source_text: str, key: str) -> str:
    """The guard's code for a chapter whose source notebook is ``source_text``; ``key`` signs its reports."""
    names = list(BASE_MODULES) + (list(COURSE_MODULES) if "minitorch_edu" in source_text else [])
    return (PREAMBLE.replace("__AG_MODULES__", repr(names)).replace("__AG_MACHINERY__", repr(list(MACHINERY_MODULES)))
            .replace("__AG_KEY__", repr(key)))


def signature(key: str, nonce: str, body: str) -> str:
    """What a genuine report's signature line is (computed by the grader, outside the kernel)."""
    import hashlib

    return hashlib.sha256((key + "\n" + nonce + "\n" + body).encode()).hexdigest()


def verify(text, key: str, nonce: str) -> list[str] | None:
    """The list a signed report holds, or None when it is not the guard's (forged, missing, wrong nonce)."""
    if not isinstance(text, str):
        return None
    head, _, body = text.partition("\n")
    got_nonce, _, sig = head.partition(" ")
    if got_nonce != nonce or sig != signature(key, nonce, body):
        return None
    return [line for line in body.split("\n") if line]


PREAMBLE = r'''
def _ag_install(key):
    import builtins, gc, hashlib, importlib, sys, threading
    # the kernel's start-up objects (hundreds of thousands) leave the cyclic collector's generations: the
    # snapshot's allocations below set off a full collection of them otherwise, 30 ms of CPU per kernel
    gc.freeze()
    # everything the audit calls, captured now: later patches of builtins or modules do not reach it
    _zip, _sha, _vars, _getattr, _setattr, _delattr, _isinstance, _list, _dict, _set, _sorted, _type, _callable, \
        _str, _hasattr, _len, _any, _join, _encode = (
            zip, hashlib.sha256, vars, getattr, setattr, delattr, isinstance, list, dict, set, sorted, type, callable,
            str, hasattr, len, any, "\n".join, str.encode)
    _settrace, _gettrace, _setprofile, _getprofile = sys.settrace, sys.gettrace, sys.setprofile, sys.getprofile
    _modules = sys.modules
    ip = get_ipython()
    names = __AG_MODULES__
    machinery = __AG_MACHINERY__
    mods = {}
    for n in names + machinery:
        try:
            mods[n] = importlib.import_module(n)
        except Exception:
            pass
    gc.freeze()  # and the modules just imported
    only_callables = set(machinery)  # their plain data changes as cells run; their code must not
    snap = {n: _dict(_vars(m)) for n, m in mods.items()}
    classes = {}
    def watch_class(label, cls):
        if cls is object or (label, cls) in classes:
            return
        classes[(label, cls)] = _dict(_vars(cls))
    for n, m in mods.items():
        if n in ("builtins", "math"):
            continue
        for k, v in _list(_vars(m).items()):
            if _isinstance(v, _type) and _getattr(v, "__module__", "").startswith(n.split(".")[0]):
                watch_class(n + "." + k, v)
    # the objects a cell passes through, their attributes, and the lists of transformers and callbacks
    itm = ip.input_transformer_manager
    objects = {"shell": ip, "kernel": ip.kernel, "compiler": ip.compile, "transformers": itm,
               "events": ip.events, "displayhook": ip.displayhook, "display_pub": ip.display_pub}
    for label, o in objects.items():
        for cls in _type(o).__mro__:
            watch_class(label + ":" + cls.__name__, cls)
    attrs = {label: _dict(_vars(o)) for label, o in objects.items()}
    pinned = {"shell." + a: (ip, a, _getattr(ip, a)) for a in (
        "input_transformer_manager", "compile", "events", "displayhook", "display_pub", "kernel", "user_ns",
        "user_global_ns", "builtin_trap", "display_trap")}
    pinned["kernel.shell"] = (ip.kernel, "shell", ip)
    lists = {
        "shell.input_transformers_post": (ip, "input_transformers_post"),
        "shell.ast_transformers": (ip, "ast_transformers"),
        "transformers.cleanup_transforms": (itm, "cleanup_transforms"),
        "transformers.line_transforms": (itm, "line_transforms"),
        "transformers.token_transformers": (itm, "token_transformers"),
    }
    saved_lists = {k: (_getattr(o, a), _list(_getattr(o, a))) for k, (o, a) in lists.items()}
    callbacks = {k: _list(v) for k, v in ip.events.callbacks.items()}
    callbacks_obj = ip.events.callbacks
    handlers = {k: _dict(_getattr(ip.kernel, k, {}) or {}) for k in ("shell_handlers", "control_handlers")}
    trace, profile = _gettrace(), _getprofile()
    thread_hooks = {k: _getattr(threading, k, None) for k in ("_trace_hook", "_profile_hook")}
    hook_attempts = []
    def refuse_hooks(event, args):
        if event == "sys.addaudithook":
            hook_attempts.append(1)
            raise RuntimeError("the grader refuses audit hooks")
    sys.addaudithook(refuse_hooks)

    def installed(f):
        """True for a function that comes from an installed package (not from a cell)."""
        mod = _getattr(f, "__module__", None)
        return _isinstance(mod, _str) and mod != "__main__" and mod in _modules
    def sign(nonce, lines):
        body = _join(_sorted(_set(lines)))
        return nonce + " " + _sha(_encode(key + "\n" + nonce + "\n" + body)).hexdigest() + "\n" + body
    user = {}
    def remember(nonce):
        ns = ip.user_ns
        for k, v in _list(ns.items()):
            if not k.startswith("_") and k not in user and k not in ("In", "Out", "get_ipython", "exit", "quit"):
                user[k] = v
        return sign(nonce, _sorted(user))
    def audit(nonce):
        changed = []
        if _gettrace() is not trace:
            _settrace(trace)
            changed.append("sys.settrace")
        if _getprofile() is not profile:
            _setprofile(profile)
            changed.append("sys.setprofile")
        for k, v in thread_hooks.items():
            if _getattr(threading, k, None) is not v:
                _setattr(threading, k, v)
                changed.append("threading." + k.strip("_").replace("_hook", ""))
        if hook_attempts:
            changed.append("sys.addaudithook")
        for n, m in mods.items():
            if _modules.get(n) is not m:
                _modules[n] = m
                changed.append("sys.modules[" + n + "]")
            cur = _vars(m)
            code_only = n in only_callables
            for k, v in snap[n].items():
                if n == "builtins" and k in ("input", "getpass", "get_ipython", "exit", "quit", "_", "__", "___"):
                    continue  # ipykernel and IPython rebind these themselves on every execution
                if code_only and not _callable(v):
                    continue
                if cur.get(k, audit) is not v:
                    changed.append(n + "." + k)
                    try:
                        _setattr(m, k, v)
                    except Exception:
                        pass
        for (label, cls), d in classes.items():
            cur = _vars(cls)
            for a, v in d.items():
                if cur.get(a, audit) is not v and (_callable(v) or _hasattr(v, "__get__")):
                    changed.append(label + "." + a)
                    try:
                        _setattr(cls, a, v)
                    except Exception:
                        pass
            for a in _list(cur):
                if a not in d and _callable(cur[a]):
                    changed.append(label + "." + a)
                    try:
                        _delattr(cls, a)
                    except Exception:
                        pass
        for label, o in objects.items():
            d, cur = attrs[label], _vars(o)
            for a in _list(cur):
                v = cur[a]
                if (a in d and v is d[a]) or not (_callable(v) or _callable(d.get(a))):
                    continue
                changed.append(label + "." + a)
                if a in d:
                    cur[a] = d[a]
                else:
                    del cur[a]
            for a, v in d.items():
                if a not in cur and _callable(v):
                    changed.append(label + "." + a)
                    cur[a] = v
        for k, (o, a, v) in pinned.items():
            if _getattr(o, a, None) is not v:
                changed.append(k)
                try:
                    _setattr(o, a, v)
                except Exception:
                    pass
        for k, (o, a) in lists.items():
            obj, items = saved_lists[k]
            now = _getattr(o, a, None)
            if now is not obj or _len(obj) != _len(items) or _any(x is not y for x, y in _zip(obj, items)):
                changed.append(k)
                obj[:] = items
                try:
                    _setattr(o, a, obj)
                except Exception:
                    pass
        if ip.events.callbacks is not callbacks_obj:
            changed.append("events.callbacks")
            ip.events.callbacks = callbacks_obj
        for k in _list(callbacks_obj):
            if k not in callbacks:
                changed.append("events." + k)
                del callbacks_obj[k]
        for k, fns in callbacks.items():
            now = callbacks_obj.get(k)
            if now is None:
                callbacks_obj[k] = now = []
            kept = [f for f in now if f in fns or installed(f)]  # a package's own callback may stay
            if [f for f in fns if f not in now] or _len(kept) != _len(now):
                changed.append("events." + k)
            now[:] = [f for f in fns] + [f for f in kept if f not in fns]
        for k, d in handlers.items():
            cur = _getattr(ip.kernel, k, None)
            if _isinstance(cur, _dict) and (_set(cur) != _set(d) or _any(cur[h] is not d[h] for h in d)):
                changed.append("kernel." + k)
                cur.clear()
                cur.update(d)
        ns = ip.user_ns
        for k, v in user.items():
            if ns.get(k, audit) is not v:
                changed.append("rebound " + k)
                ns[k] = v
        return sign(nonce, changed)
    return remember, audit
_ag_remember, _ag_audit = _ag_install(__AG_KEY__)
del _ag_install
'''
