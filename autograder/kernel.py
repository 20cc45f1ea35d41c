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
        argv = [python_executable(), "-m", "ipykernel_launcher", "-f", conn, "--HistoryManager.enabled=False",
                "--IPKernelApp.quiet=True"]
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
        kc = BlockingKernelClient(context=self._ctx)
        kc.load_connection_file(conn)
        kc.start_channels()
        self.client = kc
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise KernelStartError(f"the kernel exited at start (code {self.proc.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise KernelStartError(f"the kernel did not answer within {timeout:.0f} s: {self.log_tail()}")
            kc.kernel_info()
            try:
                kc.get_shell_msg(timeout=0.5)
                break
            except queue.Empty:
                continue
        while True:  # drain the start-up status messages
            try:
                kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                break
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
            if reply is not None and time.monotonic() > reply_time + 2.0:
                run.truncated = True  # iopub lost messages (one over MAX_MESSAGE_BYTES): stop waiting
                break
            if not self.alive():
                run.status = "died"
                break
            now = time.monotonic()
            if reply is None and now > deadline:
                if interrupted_at is None:
                    run.status = "timeout"
                    self.interrupt()
                    interrupted_at = now
                elif now > interrupted_at + 3.0:
                    break  # it ignores SIGINT: the caller must kill it
            got = False
            try:
                msg = kc.get_iopub_msg(timeout=0.02)
                got = True
                if reply is not None:
                    reply_time = time.monotonic()  # still draining a backlog: keep waiting for idle
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    idle = self._take(msg, run, keep_outputs) or idle
            except queue.Empty:
                pass
            if reply is None:
                try:
                    m = kc.get_shell_msg(timeout=0 if got else 0.01)
                    if m.get("parent_header", {}).get("msg_id") == msg_id:
                        reply = m
                        reply_time = time.monotonic()
                except queue.Empty:
                    pass
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
