"""Start, find and stop the local services' processes by pid file.

A service counts as running only when its pid file names a live process whose command line
is still that service (pids are reused), so `up` twice never starts a second copy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Children started by this process, by pid: kept so they are reaped (no zombies, no
# "subprocess still running" warnings when a Popen object is collected).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServiceError(RuntimeError):
    """A local service could not be provisioned, started or stopped."""


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in `pid_file` if that process is alive and its command line contains `marker`."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return None
    if marker not in cmdline:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return None
    return None if state == "Z" else pid


def spawn(
    argv: Sequence[str], log_file: Path, pid_file: Path, env: dict[str, str] | None = None
) -> int:
    """Start `argv` detached from our session (it outlives `make up`); record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    pid_file.write_text(f"{proc.pid}\n")
    _CHILDREN[proc.pid] = proc
    return proc.pid


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    log_file: Path,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `check` until it is true; fail with the log's tail if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        if alive is not None and not alive():
            break
        time.sleep(0.25)
    tail = ""
    if log_file.exists():
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
    raise ServiceError(
        f"{what} did not become ready within {timeout:.0f}s; log {log_file}:\n{tail}"
    )


def stop(pid_file: Path, marker: str, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """Stop the process named by `pid_file`; SIGKILL it if it outlives `timeout`."""
    pid = read_pid(pid_file, marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(pid_file, marker) is not None:
        time.sleep(0.1)
    if read_pid(pid_file, marker) is not None:
        os.kill(pid, signal.SIGKILL)
        while read_pid(pid_file, marker) is not None:
            time.sleep(0.05)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
    pid_file.unlink(missing_ok=True)
    return True
