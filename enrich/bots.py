"""The v4 ``bot`` verdict of a visit: ``good``, ``bad`` or ``not_detected``. Pure.

How, in order (the first that applies):
1. ``bad``: the user agent names an automation tool or a headless browser (Selenium,
   Puppeteer, Playwright, PhantomJS, HeadlessChrome, WebDriver, and HTTP libraries such as
   curl, python-requests, Go's, Java's, okhttp, axios, Scrapy): what v4 calls a bad bot.
2. ``good``: ua-parser's device family is ``Spider``, its rules for known crawlers
   (Googlebot, Bingbot, Baiduspider, ...): what v4 calls a good bot.
3. ``bad``: the collector's own ``botProbability`` is at least 0.5 (an unnamed bot).
4. ``not_detected`` otherwise.
A user agent can claim to be Googlebot; nothing here verifies it (no reverse DNS).
"""

from __future__ import annotations

import re
from typing import Final

#: Bumped whenever the rules below change: each stored row records it (``ua_rules``).
RULES_VERSION: Final = "bots-1"

_AUTOMATION: Final = re.compile(
    r"headless|phantomjs|selenium|webdriver|puppeteer|playwright|electron/|slimerjs"
    r"|\bcurl/|\bwget/|python-requests|python-urllib|aiohttp|httpx|go-http-client"
    r"|\bjava/|okhttp|axios/|node-fetch|scrapy|libwww-perl|apache-httpclient",
    re.IGNORECASE,
)
_CRAWLER_DEVICE: Final = "Spider"


def verdict(user_agent: str, device_family: str, collector_probability: float | None) -> str:
    """The bot verdict (see the module's rules)."""
    if _AUTOMATION.search(user_agent):
        return "bad"
    if device_family == _CRAWLER_DEVICE:
        return "good"
    if collector_probability is not None and collector_probability >= 0.5:
        return "bad"
    return "not_detected"
