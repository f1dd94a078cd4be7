"""`python -m deploy.local up|down|status|restart-kafka|restart-clickhouse`."""

from __future__ import annotations

import argparse
import sys

from deploy.local import clickhouse, kafka
from deploy.local.processes import ServiceError
from deploy.local.settings import SettingsError, StackSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description="Run the local Kafka broker and ClickHouse server.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    try:
        s = StackSettings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            kpid = kafka.start(s)
            print(
                f"kafka      up  pid {kpid}  bootstrap {s.kafka_bootstrap}  log {kafka.log_file(s)}"
            )
            cpid = clickhouse.start(s)
            print(
                f"clickhouse up  pid {cpid}  native 127.0.0.1:{s.clickhouse_port}  "
                f"http 127.0.0.1:{s.clickhouse_http_port}  log {clickhouse.log_file(s).parent}"
            )
        elif args.command == "down":
            for name, mod in (("kafka", kafka), ("clickhouse", clickhouse)):
                print(f"{name:<10} {'stopped' if mod.stop(s) else 'was not running'}")
        else:
            for name, mod in (("kafka", kafka), ("clickhouse", clickhouse)):
                pid = mod.running_pid(s)
                print(f"{name:<10} {'running pid ' + str(pid) if pid else 'not running'}")
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
