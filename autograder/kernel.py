"""One Jupyter kernel, started in the sandbox, driven over ipc sockets with limits on time and output.

jupyter_client's blocking client talks to the kernel through unix sockets in a folder shared with the
sandbox (the sandbox has no network, so tcp on localhost would not reach it). Everything the kernel
sends is untrusted: messages are size-capped by ZeroMQ, outputs are cut at `Limits.output_bytes`, and
a cell is over when its ``execute_reply`` arrives, whatever the kernel prints.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from .sandbox import Sandbox, python_executable

#: ZeroMQ drops (and reconnects) a peer that sends one message larger than this
MAX_MESSAGE_BYTES = 256 << 20


#: How the kernel is started: ipykernel's own launcher (``python -m ipykernel_launcher``), except that
#: ``debugpy`` cannot be imported. ipykernel loads it at start for its debugger (about 90 ms of CPU in
#: each kernel, the largest single cost of a start); nobody debugs a grading kernel. The working folder
#: leaves ``sys.path`` while ipykernel loads, as with the launcher (IPython puts it back). The first line
#: keeps the launcher's name in the kernel's command line, where tools (and the tests) look for kernels.
LAUNCH = ("# ipykernel_launcher, without debugpy (autograder.kernel.LAUNCH)\n"
          "import sys\n"
          "sys.modules['debugpy'] = None\n"
          "if sys.path and sys.path[0] in ('', '.'):\n"
          "    del sys.path[0]\n"
          "from ipykernel import kernelapp\n"
          "kernelapp.launch_new_instance()\n")

# What a learner's segfault almost always is in this course: compiled code that indexed outside an array
SEGFAULT_HINT = ("compiled code read or wrote outside an array; in a numba kernel, check each index against "
                 "the array's shape, and look for a buffer that parallel iterations share; running with "
                 "NUMBA_BOUNDSCHECK=1 turns the crash into an IndexError")


class KernelStartError(RuntimeError):
    """The kernel did not come up (its last lines of stderr are in the message)."""


@dataclass
class CellRun:
    """What one execution did."""

    status: str  #: "ok", "error", "timeout" or "died"
    seconds: float
    outputs: list[dict] = field(default_factory=list)  #: nbformat v4 output dicts
    ename: str = ""
    evalue: str = ""
    stdout: str = ""  #: text of its stdout stream (capped), for the grader's markers
    truncated: bool = False  #: outputs over the limit were dropped
    user_expressions: dict = field(default_factory=dict)  #: from the execute_reply (only when ok)


class Kernel:
    """A sandboxed ipykernel: `start`, `run` cells, `shutdown` (also as a context manager)."""

    def __init__(self, sandbox: Sandbox, indir: str, env: dict[str, str]):
        self.sandbox = sandbox
        self.indir = indir
        self.extra_env = env
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.output_left = sandbox.limits.output_bytes
        self._priv = tempfile.mkdtemp(prefix="ag-")  # host-only: log, connection file's folder parent
        self._ctx: zmq.Context | None = None

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> float:
        """Start the kernel and wait until it answers; returns the seconds it took."""
        t0 = time.perf_counter()
        sock = os.path.join(self._priv, "s")
        os.mkdir(sock)
        os.chmod(self._priv, 0o711)
        os.chmod(sock, 0o777)  # the kernel (another uid) creates its sockets here
        conn, _ = write_connection_file(os.path.join(sock, "c.json"), transport="ipc", ip=os.path.join(sock, "k"))
        os.chmod(conn, 0o644)
        argv = [python_executable(), "-c", LAUNCH, "-f", conn, "--HistoryManager.enabled=False",
                "--IPKernelApp.quiet=True", "--InteractiveShell.xmode=Minimal"]
        env = self.sandbox.env(self.extra_env)
        cmd = self.sandbox.wrap(argv, indir=self.indir, sockdir=sock, env=env)
        self._log = open(os.path.join(self._priv, "kernel.log"), "wb")
        watched, self._lifeline = os.pipe()  # closes when this process dies: the sandbox then ends (WATCH)
        try:
            self.proc = subprocess.Popen(cmd, stdin=watched, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=env if not self.sandbox.enabled else _host_env(),
                                         cwd=self.indir, start_new_session=True)
        finally:
            os.close(watched)
        self._ctx = zmq.Context()
        self._ctx.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        # the sockets connect before the kernel has bound its own: retry every 10 ms, not ZeroMQ's 100 ms
        self._ctx.setsockopt(zmq.RECONNECT_IVL, 10)
        kc = BlockingKernelClient(context=self._ctx)
        kc.load_connection_file(conn)
        # no heartbeat channel (a thread with its own event loop, pinging once a second): whether the kernel
        # lives is its process's state (`alive`); no stdin channel: cells cannot ask for input
        kc.start_channels(stdin=False, hb=False)
        self.client = kc
        self._shell, self._iopub = kc.shell_channel, kc.iopub_channel
        self._poller = zmq.Poller()
        self._poller.register(self._iopub.socket, zmq.POLLIN)
        self._poller.register(self._shell.socket, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise KernelStartError(f"the kernel exited at start (code {self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise KernelStartError(f"the kernel did not answer within {timeout:.0f} s: {self.log_tail()}")
            kc.kernel_info()
            try:
                self._shell.get_msg(timeout=0.5)
            except queue.Empty:
                continue
            # a message on iopub (the status of that request, or the kernel's welcome to a subscriber)
            # shows that iopub is connected: the first cell's outputs cannot be lost; otherwise ask again.
            # What else is queued there belongs to no cell of ours: `run` skips it by its parent's id
            try:
                self._iopub.get_msg(timeout=0.2)
                break
            except queue.Empty:
                continue
        if self.sandbox.enabled and os.geteuid() == 0:
            os.chmod(sock, 0o755)  # sockets are bound: from now on the submission cannot write here
        return time.perf_counter() - t0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def death(self) -> str:
        """Why the kernel process ended, in words."""
        code = self.proc.returncode if self.proc else None
        if code is None:
            return "the kernel stopped answering"
        if code > 128 and code - 128 in signal.valid_signals():
            code = 128 - code  # bwrap passes a signal on as the shell does: 128 + its number
        if code < 0:
            sig = signal.Signals(-code).name
            why = {"SIGXCPU": " (CPU-time limit)", "SIGKILL": " (killed)",
                   "SIGSEGV": f" (segmentation fault: {SEGFAULT_HINT})"}
            return f"the kernel was killed by {sig}{why.get(sig, '')}"
        return f"the kernel process exited with code {code}"

    def log_tail(self, n: int = 600) -> str:
        try:
            with open(os.path.join(self._priv, "kernel.log"), "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                return f.read().decode(errors="replace").strip().replace("\n", " | ")
        except OSError:
            return ""

    def interrupt(self) -> None:
        """Ask the kernel to interrupt itself (an ``interrupt_request``: KeyboardInterrupt in the cell).

        A signal to the process group would stop bwrap, and with it the whole sandbox.
        """
        if self.alive():
            kc = self.client
            kc.control_channel.send(kc.session.msg("interrupt_request", {}))

    def shutdown(self) -> None:
        """Kill the sandbox (its pid namespace takes every process the submission started) and clean up."""
        if self.client is not None:
            self.client.stop_channels()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        if self._ctx is not None:
            self._ctx.destroy(linger=0)
        if hasattr(self, "_log"):
            self._log.close()
        if hasattr(self, "_lifeline"):
            os.close(self._lifeline)
            del self._lifeline
        shutil.rmtree(self._priv, ignore_errors=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- running code ---------------------------------------------------------------------------
    def run(self, code: str, timeout: float, *, keep_outputs: bool = True,
            user_expressions: dict | None = None) -> CellRun:
        """Execute ``code``; on timeout interrupt it (and give it 3 s to stop) and report ``timeout``."""
        kc = self.client
        t0 = time.perf_counter()
        msg_id = kc.execute(code, store_history=False, allow_stdin=False, user_expressions=user_expressions or {})
        run = CellRun(status="ok", seconds=0.0)
        deadline = time.monotonic() + timeout
        reply = None
        idle = False
        interrupted_at = None
        reply_time = 0.0
        while reply is None or not idle:
            now = time.monotonic()
            if reply is not None and now > reply_time + 2.0:
                run.truncated = True  # iopub lost messages (one over MAX_MESSAGE_BYTES): stop waiting
                break
            if not self.alive():
                run.status = "died"
                break
            if reply is None and now > deadline:
                if interrupted_at is None:
                    run.status = "timeout"
                    self.interrupt()
                    interrupted_at = now
                elif now > interrupted_at + 3.0:
                    break  # it ignores SIGINT: the caller must kill it
            # sleep until a message arrives on either socket (not in turns with fixed timeouts: each turn
            # cost up to 30 ms of waiting per cell), waking at least every 50 ms for the checks above
            wake = 0.05 if reply is not None or interrupted_at is not None else min(0.05, max(deadline - now, 0.0))
            ready = dict(self._poller.poll(int(wake * 1000) + 1))
            if self._iopub.socket in ready:
                for _ in range(256):  # a flood of output still lets the reply and the clock be checked
                    try:
                        msg = self._iopub.get_msg(timeout=0)
                    except queue.Empty:
                        break
                    if reply is not None:
                        reply_time = time.monotonic()  # still draining a backlog: keep waiting for idle
                    if msg.get("parent_header", {}).get("msg_id") == msg_id:
                        idle = self._take(msg, run, keep_outputs) or idle
            if reply is None and self._shell.socket in ready:
                while reply is None:
                    try:
                        m = self._shell.get_msg(timeout=0)
                    except queue.Empty:
                        break
                    if m.get("parent_header", {}).get("msg_id") == msg_id:
                        reply = m
                        reply_time = time.monotonic()
        run.seconds = time.perf_counter() - t0
        if reply is not None and isinstance(reply["content"].get("user_expressions"), dict):
            run.user_expressions = reply["content"]["user_expressions"]
        if reply is not None and run.status == "ok" and reply["content"].get("status") != "ok":
            run.status = "error"
            run.ename = run.ename or str(reply["content"].get("ename", ""))
            run.evalue = run.evalue or str(reply["content"].get("evalue", ""))
        if run.status == "timeout" and reply is not None:
            run.ename, run.evalue = "TimeoutError", f"interrupted after {timeout:.0f} s"
        return run

    def _take(self, msg: dict, run: CellRun, keep: bool) -> bool:
        """Record one iopub message; True when it says the execution is over."""
        kind = msg.get("msg_type")
        content = msg.get("content", {})
        if kind == "status":
            return content.get("execution_state") == "idle"
        if kind == "error":
            run.ename = str(content.get("ename", ""))[:200]
            run.evalue = str(content.get("evalue", ""))[:20000]
            out = {"output_type": "error", "ename": run.ename, "evalue": run.evalue, "traceback": []}
            # tracebacks quote source lines (hidden tests among them): keep only the exception itself
        elif kind == "stream":
            text = str(content.get("text", ""))
            if content.get("name") == "stdout" and len(run.stdout) < 65536:
                run.stdout += text[: 65536 - len(run.stdout)]
            out = {"output_type": "stream", "name": content.get("name", "stdout"), "text": text}
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = content.get("execution_count")
        else:
            return False
        if not keep:
            return False
        size = _size(out)
        if size > self.output_left:
            if not run.truncated and out["output_type"] == "stream" and self.output_left > 0:
                out["text"] = out["text"][: self.output_left]
                run.outputs.append(out)
            self.output_left = 0
            run.truncated = True
            return False
        self.output_left -= size
        if out["output_type"] == "stream" and run.outputs and run.outputs[-1].get("name") == out["name"] \
                and run.outputs[-1]["output_type"] == "stream":
            run.outputs[-1]["text"] += out["text"]
        else:
            run.outputs.append(out)
        return False


def _size(out: dict) -> int:
    if out["output_type"] == "stream":
        return len(out["text"])
    if out["output_type"] == "error":
        return len(out["evalue"]) + len(out["ename"])
    return sum(len(str(v)) for v in out.get("data", {}).values())


def _host_env() -> dict[str, str]:
    """bwrap itself needs only PATH (the sandbox's environment is set with --setenv after --clearenv)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
