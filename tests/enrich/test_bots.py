"""The v4 bot verdict: automation tools are bad bots, known crawlers good ones, a collector's
probability of 0.5 or more a bad one (enrich.bots)."""

from __future__ import annotations

import pytest

from enrich.bots import verdict
from enrich.user_agent import UserAgentParser

PARSER = UserAgentParser(100)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BAIDU = "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "probability", "expected"),
    [
        (GOOGLEBOT, None, "good"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0.9, "good"),
        (BAIDU, None, "good"),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), None, "bad"),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 PhantomJS/2.1.1", None, "bad"),
        ("curl/8.5.0", None, "bad"),
        ("python-requests/2.31.0", 0.0, "bad"),
        ("Go-http-client/1.1", None, "bad"),
        (CHROME, None, "not_detected"),
        (CHROME, 0.49, "not_detected"),
        (CHROME, 0.5, "bad"),
    ],
)  # fmt: skip
def test_verdict(user_agent: str, probability: float | None, expected: str) -> None:
    assert verdict(user_agent, PARSER.parse(user_agent).device, probability) == expected
