"""ingest.memory on this machine's glibc: the readings the soak plots and the arena cap
(run in a child process: a cap only takes before threads exist, and stays for the process)."""

from __future__ import annotations

import subprocess
import sys

from ingest import memory


def test_readings_split_python_blocks_from_malloc() -> None:
    out = memory.readings()
    assert out["python_blocks"] > 0
    assert out["malloc_in_use_bytes"] > 0 and out["malloc_free_bytes"] >= 0


def _cap(environ: str) -> str:
    code = f"from ingest import memory; print(memory.limit_arenas({environ}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_arena_cap_applies_unless_the_operator_set_one() -> None:
    assert _cap("{}") == "True"
    assert _cap("{'MALLOC_ARENA_MAX': '4'}") == "False"
