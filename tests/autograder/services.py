"""Real services for the scale-out tests: a throw-away PostgreSQL server (Debian's package), OS accounts
for nbgrader's exchange (it names a submission after the OS user who submits it), and commands run
as one of them. Nothing here is mocked: the tests talk to the real server and the real exchange."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL programs (initdb, postgres)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: the gradebook test needs Debian's `postgresql` "
                           "package (bash scripts/system_packages installs it)")
    return Path(found[-1]).parent


def as_user(user: str | None) -> list[str]:
    """The prefix that runs a command as the OS account ``user`` (nothing when None or already that
    user). As root: bubblewrap shows the whole file system, with this Python's folders visible under
    an otherwise empty /root (often 0700), then setpriv becomes ``user``."""
    if user is None or pwd.getpwuid(os.getuid()).pw_name == user:
        return []
    if os.geteuid() != 0:
        raise RuntimeError(f"running a command as {user!r} needs root")
    from autograder.sandbox import Sandbox

    cmd = ["bwrap", "--die-with-parent", "--dev-bind", "/", "/", "--perms", "0755", "--tmpfs", "/root"]
    for p in Sandbox().exposed_paths() + [str(REPO)]:
        if p == "/root" or p.startswith("/root/"):
            cmd += ["--ro-bind", p, p]
    acct = pwd.getpwnam(user)
    return cmd + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                  "setpriv", f"--reuid={acct.pw_uid}", f"--regid={acct.pw_gid}", "--init-groups"]


@contextlib.contextmanager
def postgres_server():
    """A PostgreSQL server on 127.0.0.1 (trust authentication, fsync off) in a temporary data folder;
    yields its database URL for a fresh database `gradebook`. The server is stopped and its folder
    removed afterwards. PostgreSQL refuses to run as root: as root it runs as the `postgres` account."""
    import psycopg

    bindir = postgres_bin()
    user = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="ag-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    if user:
        os.chown(root, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    subprocess.run([*as_user(user), str(bindir / "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, cwd=root)
    port = _free_port()
    log = open(os.path.join(root, "server.log"), "wb")
    proc = subprocess.Popen([*as_user(user), str(bindir / "postgres"), "-D", data, "-p", str(port),
                             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
                             "-c", "fsync=off"], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                       autocommit=True)
                break
            except psycopg.OperationalError as err:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = Path(root, "server.log").read_text()
                    raise RuntimeError(f"PostgreSQL did not start:\n{log_text}") from err
                time.sleep(0.2)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE gradebook")
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def ensure_account(name: str) -> pwd.struct_passwd:
    """An OS account ``name`` (created without a home or a shell when it is missing; needs root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise RuntimeError(f"the exchange test needs an OS account {name!r}: create it (useradd -M {name}) "
                           "or run the tests as root")
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True)
    return pwd.getpwnam(name)
