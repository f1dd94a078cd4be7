"""Start, find and stop the local services' processes by pid file.

A service counts as running only when its pid file names a live process whose command line
is still that service (pids are reused), so `up` twice never starts a second copy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path


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
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (whatever its command line says: a JVM's
    launcher re-executes itself, and its command line reads empty meanwhile)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def spawn(
    argv: Sequence[str], log_file: Path, pid_file: Path, env: dict[str, str] | None = None
) -> int:
    """Start `argv` in its own session (it outlives `make up`); record its pid.

    posix_spawn rather than Popen: a service is meant to outlive the Popen object, whose
    finaliser would warn that it "is still running".
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        pid = os.posix_spawnp(
            argv[0],
            list(argv),
            dict(os.environ if env is None else env),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
    pid_file.write_text(f"{pid}\n")
    return pid


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our child (started by this process), else no-op."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_port_free(port: int, remedy: str) -> None:
    """Raise ServiceError, saying ``remedy``, when another process listens on ``port``."""
    if port_open(port):
        raise ServiceError(f"port {port} is taken by another process; {remedy}")


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
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def maven_copy(pom: Path, output: Path, properties: dict[str, str]) -> None:
    """Resolve the runtime dependencies of ``pom`` from Maven Central into ``output``.

    Raises:
        ServiceError: mvn failed (its output's tail says why).
    """
    import subprocess

    output.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            *(f"-D{key}={value}" for key, value in properties.items()),
            f"-DoutputDirectory={output}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ServiceError(
            f"mvn could not resolve {pom.name} ({properties}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}\n"
            "Check that Maven Central is reachable, then run `make up` again."
        )
