"""User agent -> :class:`~schemas.visit.BrowserDetails`, with ``user-agents``' exact answers.

The only module that imports ``ua_parser``. ``user_agents.parse()`` runs ua-parser's legacy
pure-Python matchers (~400 µs per new string: up to 1,270 ``re.search`` calls) behind a
200-entry cache wiped when full. ua-parser's ``regex`` resolver (ua-parser-rs) runs the same
regexes.yaml in Rust, 10-20x faster, but not always with the same answer: it treats bounded
repeats of 100 or more (``^.{0,100}(bot|...)``) as unbounded, and its ``\\d`` is ASCII-only.

So we use Rust only to *find which rule* matches first (each rule's family is replaced by its
index), then run the legacy Python rules from that index on. On ASCII strings Rust accepts a
superset of what Python accepts, so every earlier rule fails in Python too: the first rule is
usually the answer (one Python ``re.search`` per domain), and when a relaxed repeat made Rust
too generous the legacy loop simply continues. Non-ASCII strings (rare) take the legacy loop
from the start. The result is exactly the legacy parser's. Then ``user_agents.parsers``'
post-processing is applied: digit-only version parts become ints (``"074"`` renders
``"74"``), ``None`` parts are dropped, versions join major.minor.patch with dots, the device
is the device family, and a bot is a device family of ``"Spider"``.
``tests/enrich/test_user_agent.py`` checks all this field-for-field against
``user_agents.parse()`` on a corpus of real-world strings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import ua_parser_rs  # type: ignore[import-not-found, unused-ignore]
from ua_parser.user_agent_parser import DEVICE_PARSERS, OS_PARSERS, USER_AGENT_PARSERS

from schemas.visit import BrowserDetails

_BOT_DEVICE_FAMILY: Final = "Spider"


def _version(*parts: str | None) -> tuple[int | str, ...]:
    """``user_agents.parsers.parse_version``, minus its crash on non-decimal digits like '²'."""
    out: list[int | str] = []
    for part in parts:
        if part is None:
            continue
        if part.isdigit():
            try:
                out.append(int(part))
                continue
            except ValueError:
                pass
        out.append(part)
    return tuple(out)


def _joined(version: tuple[int | str, ...]) -> str:
    return ".".join(str(v) for v in version)


class _Domain:
    """One of ua-parser's three rule lists: a Rust index finder plus the legacy Python rules."""

    def __init__(self, rules: Sequence[Any], index_finder: Any) -> None:
        self._rules = rules
        self._find = index_finder.extract

    def first_match(self, ua: str) -> tuple[Any, ...] | None:
        """The legacy parser's tuple for the first rule giving a family, or None."""
        start = 0
        if ua.isascii():
            hit = self._find(ua)
            if hit is None:
                return None  # Rust accepts a superset of what Python accepts: no rule matches
            # Every earlier rule failed in Rust, so fails in Python: Python's first match is
            # this rule, unless a relaxed repeat made Rust accept what Python refuses.
            start = int(hit.family)
        rules = self._rules
        for index in range(start, len(rules)):  # usually one iteration; the rest is rare
            found: tuple[Any, ...] = rules[index].Parse(ua)
            if found[0]:
                return found
        return None


def _index_finders() -> tuple[Any, Any, Any]:
    # Family replaced by the rule's index; version replacements None (captures unused).
    none4 = (None,) * 4
    ua = ua_parser_rs.UserAgentExtractor(
        (r.user_agent_re.pattern, str(i), *none4) for i, r in enumerate(USER_AGENT_PARSERS)
    )
    os = ua_parser_rs.OSExtractor(
        (r.user_agent_re.pattern, str(i), *none4) for i, r in enumerate(OS_PARSERS)
    )
    device = ua_parser_rs.DeviceExtractor(
        (
            r.user_agent_re.pattern,
            "i" if r.user_agent_re.flags & re.IGNORECASE else None,
            str(i),
            None,
            None,
        )
        for i, r in enumerate(DEVICE_PARSERS)
    )
    return ua, os, device


class UserAgentParser:
    """Parses user-agent strings into ``BrowserDetails``; bounded LRU cache keyed by the string.

    Args:
        cache_size: distinct strings kept (``VH_UA_CACHE_SIZE``); bounds memory.
    """

    resolver_name: Final = "ua-parser-rs index + legacy rule"

    def __init__(self, cache_size: int = 20_000) -> None:
        ua, os, device = _index_finders()
        self._browser = _Domain(USER_AGENT_PARSERS, ua)
        self._os = _Domain(OS_PARSERS, os)
        self._device = _Domain(DEVICE_PARSERS, device)
        self.parse: Callable[[str], BrowserDetails] = functools.lru_cache(maxsize=cache_size)(
            self.parse_uncached
        )

    def parse_uncached(self, ua: str) -> BrowserDetails:
        """Parse ``ua`` without the cache. ``botProbability`` is 1 for known bots, else 0.

        Any string is accepted (empty and garbage give ``"Other"`` families and empty
        versions); never raises.
        """
        browser = self._browser.first_match(ua)
        if browser is not None:  # legacy _ParseUserAgent: empty version groups become None
            b_family, b_version = browser[0], _version(*(v or None for v in browser[1:4]))
        else:
            b_family, b_version = "Other", ()
        os = self._os.first_match(ua)
        os_family, os_version = (os[0], _version(*os[1:4])) if os is not None else ("Other", ())
        device = self._device.first_match(ua)
        device_family = device[0] if device is not None else "Other"
        return BrowserDetails(
            browser_name=b_family,
            browser_major_version=str(b_version[0]) if b_version else "",
            browser_full_version=_joined(b_version),
            os=os_family,
            os_version=_joined(os_version),
            device=device_family,
            user_agent=ua,
            bot_probability=1 if device_family == _BOT_DEVICE_FAMILY else 0,
        )

    def cache_clear(self) -> None:
        """Empty the parse cache (for cold-cache measurements)."""
        self.parse.cache_clear()  # type: ignore[attr-defined]
