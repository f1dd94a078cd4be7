"""ClickHouse on loopback: Debian's `clickhouse-server` with the project's own config.

Config, data, logs and pid live under var/clickhouse; the system-wide service (if any) is
left alone. Debian ships ClickHouse 18.16, which is why the config uses the `<yandex>` root
element (current servers accept it too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import processes
from deploy.local.settings import StackSettings

MARKER = "clickhouse"

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>{home}/log/server.log</log>
    <errorlog>{home}/log/error.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <path>{home}/data/</path>
  <tmp_path>{home}/tmp/</tmp_path>
  <user_files_path>{home}/user_files/</user_files_path>
  <format_schema_path>{home}/format_schemas/</format_schema_path>
  <users_config>{home}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>536870912</mark_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <!-- query_log is how tests and benchmarks prove how many rows a query read. -->
  <query_log>
    <database>system</database>
    <table>query_log</table>
    <flush_interval_milliseconds>1000</flush_interval_milliseconds>
  </query_log>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <log_queries>1</log_queries>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""


@dataclass(frozen=True)
class Server:
    """One ``clickhouse-server`` on 127.0.0.1 with its own home (config, data, logs)."""

    home: Path
    tcp_port: int
    http_port: int
    binary: str = "/usr/sbin/clickhouse-server"
    #: Files for ``config.d/`` (name -> XML): a cluster node's remote_servers, macros, ...
    config_d: Mapping[str, str] = field(default_factory=dict)


def server(s: StackSettings | Server) -> Server:
    """The local stack's server (or ``s`` itself when it is a server)."""
    if isinstance(s, Server):
        return s
    return Server(s.var_dir / "clickhouse", s.clickhouse_port, s.clickhouse_http_port,
                  s.clickhouse_binary)  # fmt: skip


def home(s: StackSettings | Server) -> Path:
    return server(s).home


def pid_file(s: StackSettings | Server) -> Path:
    return home(s) / "clickhouse.pid"


def log_file(s: StackSettings | Server) -> Path:
    return home(s) / "log" / "stdout.log"


def ensure_binary(s: StackSettings | Server) -> str:
    """The server binary; installed from Debian with apt when missing and we are root."""
    binary = server(s).binary
    if os.access(binary, os.X_OK):
        return binary
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing Debian's clickhouse-server with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "clickhouse-server"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if result.returncode == 0 and os.access(binary, os.X_OK):
            return binary
        raise processes.ServiceError(f"apt-get install clickhouse-server failed:\n{result.stderr}")
    raise processes.ServiceError(
        f"no ClickHouse server at {binary}: run `sudo apt-get install "
        "clickhouse-server`, or point VH_CLICKHOUSE_BINARY at a server binary."
    )


def _write_config(srv: Server) -> Path:
    h = srv.home
    for sub in ("data", "tmp", "log", "user_files", "format_schemas", "config.d"):
        (h / sub).mkdir(parents=True, exist_ok=True)
    config = h / "config.xml"
    config.write_text(CONFIG.format(home=h, tcp_port=srv.tcp_port, http_port=srv.http_port))
    (h / "users.xml").write_text(USERS)
    for name, text in srv.config_d.items():
        (h / "config.d" / name).write_text(text)
    return config


def running_pid(s: StackSettings | Server) -> int | None:
    return processes.read_pid(pid_file(s), MARKER)


def _answers(srv: Server) -> bool:
    from clickhouse_driver import Client

    client = Client("127.0.0.1", port=srv.tcp_port, connect_timeout=2, send_receive_timeout=5)
    try:
        return bool(client.execute("SELECT 1") == [(1,)])
    finally:
        client.disconnect()


def spawn(s: StackSettings | Server) -> int:
    """Start the server unless it already runs (no waiting); return its pid."""
    srv = server(s)
    pid = running_pid(srv)
    if pid is not None:
        return pid
    processes.ensure_port_free(srv.tcp_port, "set VH_CLICKHOUSE_PORT to a free port")
    binary = ensure_binary(srv)
    config = _write_config(srv)
    return processes.spawn([binary, f"--config-file={config}"], log_file(srv), pid_file(srv))


def wait_ready(s: StackSettings | Server, pid: int, timeout: float = 60.0) -> None:
    srv = server(s)
    processes.wait_until(
        lambda: _answers(srv),
        timeout,
        f"ClickHouse on 127.0.0.1:{srv.tcp_port}",
        log_file(srv),
        alive=lambda: processes.is_alive(pid),
    )


def start(s: StackSettings | Server, timeout: float = 60.0) -> int:
    """Start the server unless it already runs; return its pid once `SELECT 1` answers."""
    pid = spawn(s)
    wait_ready(s, pid, timeout)
    return pid


def stop(s: StackSettings | Server) -> bool:
    return processes.stop(pid_file(s), MARKER, timeout=60.0)
