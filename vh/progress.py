"""A progress bar on stderr for long commands (a TTY redraws one line; otherwise log lines)."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

logger = logging.getLogger(__name__)


class Progress:
    """``update(done)`` as work advances; ``close()`` at the end.

    Args:
        label: what is counted ("dead letters replayed").
        total: expected count, None when open-ended.
        stream: where the bar goes (stderr); when it is not a TTY a JSON log line is written
            at most every ``every_s`` seconds instead, so logs stay parseable.
    """

    def __init__(
        self, label: str, total: int | None, stream: TextIO | None = None, every_s: float = 2.0
    ) -> None:
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.done = 0
        self._tty = self.stream.isatty()
        self._start = self._last = time.monotonic()

    def render(self) -> str:
        rate = self.done / max(time.monotonic() - self._start, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            return f"{self.label} [{bar:<30}] {self.done}/{self.total} {share:4.0%} {rate:,.0f}/s"
        return f"{self.label} {self.done} {rate:,.0f}/s"

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self._tty:
            self.stream.write("\r" + self.render())
            self.stream.flush()
        elif now - self._last >= self.every_s:
            self._last = now
            logger.info(self.render(), extra={"done": done, "total": self.total})

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self.render() + "\n")
            self.stream.flush()
        logger.info(self.render(), extra={"done": self.done, "total": self.total})
