"""The sandbox a submission's kernel runs in: bubblewrap namespaces, an unprivileged uid, rlimits.

A sandboxed process sees a read-only view of the system (``/usr``, ``/etc``, the Python installation,
the virtual environment and the packages named in ``Limits.expose``), a private ``/tmp`` and its own
work directory (a size-limited tmpfs that holds a copy of its files), nothing else: not the course's
``source/`` folder, the gradebook, other submissions or the instructor's home. It has no network (its
own empty network namespace), its own pid namespace (every process it forks dies with it), and runs as
a uid of its own with CPU-time, address-space, process-count and file-size limits.

Compiled kernels: a batch first runs the chapter's release notebook (no solutions, no hidden tests)
with the batch's kernel cache writable, so the package's numba kernels are compiled once; each
submission then starts from a private copy of that cache (a learner at home has a warm cache too).
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: where the submission's files appear inside the sandbox (also its HOME)
WORKDIR = "/home/student"
#: where the submission's files are bound read-only inside the sandbox (copied into WORKDIR at start)
INDIR = "/srv/submission"

#: where the batch's warm kernel cache is bound read-only (copied to its own path, writable, at start)
CACHE_COPY_FROM = "/srv/kernel-cache"
#: size of that writable copy (numba's cache of the package's kernels: about 25 MB for one thread count)
CACHE_BYTES = 512 << 20

#: Run by the shell that execs the kernel: a watcher that kills the kernel when the pipe on its stdin
#: reaches end of file, that is when the grader holding the other end has died. bwrap's
#: --die-with-parent covers most of that, but it arms itself only after its set-up: a grader killed in
#: its first milliseconds left the kernel running (4 kills out of 22 within 5 ms of the start). In the
#: sandbox the kernel's death ends its pid namespace; outside it the kernel leads its process group.
#: The kernel itself gets /dev/null (an asynchronous list's stdin would be /dev/null, hence fd 3).
WATCH = "exec 3<&0; (read -r _ <&3; kill -KILL {target}) & "

def python_executable() -> str:
    """This interpreter, by a path the sandbox binds: the environment's folder resolved (a virtual
    environment reached through a symbolic link would not exist inside), its ``bin/python`` kept (so
    that the interpreter still finds the environment's ``pyvenv.cfg``)."""
    return os.path.join(os.path.realpath(sys.prefix), "bin", os.path.basename(sys.executable))


#: system folders every Python program needs, bound read-only when they exist
SYSTEM_DIRS = ("/usr", "/etc", "/opt/conda", "/lib", "/lib64", "/bin", "/sbin")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission (all per submission)."""

    cell_timeout: float = 60.0  #: wall seconds per cell (nbgrader's default is 30)
    total_timeout: float = 600.0  #: wall seconds for the notebook's own cells (interrupted when reached)
    tests_timeout: float = 120.0  #: wall seconds for the grader's tests cells after them (all together)
    cpu_seconds: int = 900  #: RLIMIT_CPU of the kernel (all its threads together)
    memory_bytes: int = 6 << 30  #: RLIMIT_AS: address space of each process
    max_processes: int = 256  #: RLIMIT_NPROC: processes and threads of the submission's uid
    file_bytes: int = 64 << 20  #: RLIMIT_FSIZE: largest file it can write
    disk_bytes: int = 256 << 20  #: size of its tmpfs work directory and of its /tmp
    output_bytes: int = 2 << 20  #: text and images kept from its outputs (the rest is dropped)
    threads: int = 1  #: OMP/OpenBLAS/numba threads in the kernel
    expose: tuple[str, ...] = ("minitorch_edu", "bench")  #: importable packages bound read-only

    def rlimits(self) -> dict[int, int]:
        """The rlimits applied to the kernel, resource constant → value."""
        return {
            resource.RLIMIT_CPU: int(self.cpu_seconds),
            resource.RLIMIT_AS: int(self.memory_bytes),
            resource.RLIMIT_NPROC: int(self.max_processes),
            resource.RLIMIT_FSIZE: int(self.file_bytes),
            resource.RLIMIT_CORE: 0,
        }


@dataclass
class Sandbox:
    """How to wrap a command so that it runs sandboxed (or, with ``enabled=False``, not at all: `check`)."""

    limits: Limits = field(default_factory=Limits)
    enabled: bool = True
    uid: int | None = None  #: uid inside when run as root; None: 200000 + (worker pid mod 50000)
    #: host folder of the batch's warm kernel cache (`MINITORCH_EDU_CACHE` inside, same path), or None
    cache: str | None = None
    #: True only for the batch's warm-up run (the release notebook): it fills ``cache``. Submissions
    #: get a private writable copy, so one cannot plant a kernel that the next one loads
    cache_writable: bool = False

    def available(self) -> str | None:
        """None when the sandbox can start here, else why not (one line)."""
        if not self.enabled:
            return None
        if shutil.which("bwrap") is None:
            return "bubblewrap (bwrap) is not installed: sudo bash scripts/system_packages, or pass --no-sandbox"
        return None

    def sandbox_uid(self) -> int:
        """The uid a submission runs as: unprivileged and distinct per concurrently running worker.

        Distinct because RLIMIT_NPROC counts per uid: a fork bomb in one submission must not take the
        process budget of the submission next to it.
        """
        return self.uid if self.uid is not None else 200000 + os.getpid() % 50000

    def exposed_paths(self) -> list[str]:
        """Host folders bound read-only: the Python installation, the venv, the exposed packages."""
        paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
        exe = os.path.realpath(sys.executable)
        paths.add(str(Path(exe).parent.parent))
        for name in self.limits.expose:
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            if spec.submodule_search_locations:
                paths.update(os.path.realpath(p) for p in spec.submodule_search_locations)
            elif spec.origin:
                paths.add(os.path.realpath(spec.origin))
        return sorted(p for p in paths if os.path.exists(p))

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        """The kernel's whole environment (nothing inherited but what is listed here)."""
        threads = str(self.limits.threads)
        env = {
            "PATH": f"{os.path.dirname(python_executable())}:/usr/local/bin:/usr/bin:/bin",
            "HOME": WORKDIR if self.enabled else os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "USER": "student",
            "LOGNAME": "student",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "NUMBA_NUM_THREADS": threads,
        }
        # numba's switches (the CUDA simulator above all) keep the meaning the course gave them
        env.update({k: v for k, v in os.environ.items() if k.startswith("NUMBA_") and k != "NUMBA_NUM_THREADS"})
        if self.cache:
            env["MINITORCH_EDU_CACHE"] = self.cache
        # the folders the exposed packages were found in (only the packages themselves are bound there):
        # an editable install's .pth file may point at a folder the sandbox does not show
        env["PYTHONPATH"] = os.pathsep.join(self.package_roots())
        env.update(extra)
        return env

    def package_roots(self) -> list[str]:
        """The folders that hold the exposed packages (`Limits.expose`), as this process imports them."""
        roots = []
        for name in self.limits.expose:
            spec = importlib.util.find_spec(name)
            for loc in (spec.submodule_search_locations or []) if spec else []:
                root = os.path.dirname(os.path.realpath(loc))
                if root not in roots:
                    roots.append(root)
        return roots

    def wrap(self, argv: list[str], *, indir: str, sockdir: str, env: dict[str, str]) -> list[str]:
        """The command line that runs ``argv`` inside the sandbox, in `WORKDIR`.

        `WORKDIR` is a size-limited tmpfs that starts as a copy of ``indir`` (host, bound read-only at
        `INDIR`); ``sockdir`` (host) appears at the same path, for the kernel's ipc sockets. Without the
        sandbox ``argv`` runs in ``indir`` itself with the same environment and rlimits. Either way the
        command's stdin must be a pipe whose other end the grader holds open (`WATCH`).
        """
        prlimit = ["prlimit"] + [f"--{_PRLIMIT_NAMES[r]}={v}" for r, v in self.limits.rlimits().items()]
        if not self.enabled:
            return prlimit + ["--", "sh", "-c", WATCH.format(target="-$$") + 'exec "$0" "$@" </dev/null 3<&-'] + argv
        # root: no user namespace (setpriv below picks the uid); otherwise bwrap needs one
        ns = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if os.geteuid() != 0:
            ns.append("--unshare-user")
        cmd = ["bwrap", "--die-with-parent", "--new-session", *ns, "--clearenv"]
        made: set[str] = set()
        mounts: list[str] = []

        def parents(dest: str) -> None:
            # bwrap creates missing parents 0700 root: unreadable for the unprivileged uid
            p = Path(dest)
            for anc in reversed(p.parents):
                a = str(anc)
                if a == "/" or a in made or any(a == m or a.startswith(m + "/") for m in mounts):
                    continue
                cmd.extend(["--perms", "0755", "--dir", a])
                made.add(a)

        def bind(kind: str, src: str, dest: str) -> None:
            if any(dest == m or dest.startswith(m + "/") for m in mounts):
                return  # already visible through a parent mount
            parents(dest)
            cmd.extend([kind, src, dest])
            mounts.append(dest)

        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                cmd.extend(["--symlink", os.readlink(d), d])
            elif os.path.isdir(d):
                bind("--ro-bind", d, d)
        cmd += ["--dev", "/dev", "--proc", "/proc"]
        # /tmp before the exposed paths: a checkout or venv under /tmp is bound on top of the empty tmpfs
        # sticky and writable by all, as a /tmp is: the submission's uid is not the tmpfs's owner (root)
        cmd += ["--size", str(self.limits.disk_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
        for p in self.exposed_paths():
            bind("--ro-bind", p, p)
        bind("--ro-bind", indir, INDIR)
        parents(WORKDIR)
        cmd += ["--size", str(self.limits.disk_bytes), "--perms", "0777", "--tmpfs", WORKDIR]
        bind("--bind", sockdir, sockdir)
        copy_cache = ""
        if self.cache and self.cache_writable:
            bind("--bind", self.cache, self.cache)
        elif self.cache:
            bind("--ro-bind", self.cache, CACHE_COPY_FROM)
            parents(self.cache)
            cmd += ["--size", str(CACHE_BYTES), "--perms", "0777", "--tmpfs", self.cache]
            copy_cache = f"cp -R {CACHE_COPY_FROM}/. {shlex.quote(self.cache)}/ 2>/dev/null; "
        for k, v in env.items():
            cmd += ["--setenv", k, v]
        cmd += ["--chdir", WORKDIR]
        uid = self.sandbox_uid()
        if os.geteuid() == 0:
            # bwrap as root drops every capability but these two, which setpriv needs to become `uid`;
            # setpriv then leaves none (inheritable, bounding set cleared; no_new_privs)
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        else:
            cmd += ["--"]
        # the work directory starts as a copy of the submission's files
        start = f'{copy_cache}cp -R {INDIR}/. {WORKDIR}/ 2>/dev/null; ' + WATCH.format(target="$$")
        copy = ["sh", "-c", start + 'exec "$0" "$@" </dev/null 3<&-']
        return cmd + prlimit + ["--"] + copy + argv


_PRLIMIT_NAMES = {
    resource.RLIMIT_CPU: "cpu",
    resource.RLIMIT_AS: "as",
    resource.RLIMIT_NPROC: "nproc",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_CORE: "core",
}
