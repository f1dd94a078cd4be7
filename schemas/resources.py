"""The one ``with`` protocol of the project's resource owners (GeoIP reader, enricher,
ClickHouse writer): ``close()`` releases, ``with`` closes on exit. Pure."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Subclasses implement :meth:`close`; ``with obj:`` then closes ``obj`` on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
