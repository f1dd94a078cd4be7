"""UserAgentParser gives exactly what user_agents.parse() gives, field for field."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import user_agents
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.user_agent import UserAgentParser
from schemas.visit import BrowserDetails

DATA = Path(__file__).parent / "data"
SEED_UA = (
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/74.0.3729.157 Safari/537.36"
)


def _corpus() -> list[str]:
    lines = (DATA / "user_agents.txt").read_text(encoding="utf-8").split("\n")
    uas = ["" if line == "<empty>" else line for line in lines if line and line[0] != "#"]
    return uas


def _templated() -> list[str]:
    """Version and platform variations, as the benchmark's mix builds them."""
    platforms = [
        "Windows NT 10.0; Win64; x64",
        "Windows NT 6.1; WOW64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "Linux; Android 13; SM-A536B",
        "Linux; Android 9; SM-T820",
    ]
    out = []
    for platform, major in itertools.product(platforms, (49, 74, 99, 120)):
        out.append(
            f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{major}.0.{major * 51}.{major % 7} Safari/537.36"
        )
        out.append(f"Mozilla/5.0 ({platform}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0")
    return out


@pytest.fixture(scope="module")
def parser() -> UserAgentParser:
    return UserAgentParser(cache_size=100)


def _reference(ua: str) -> BrowserDetails:
    """The seed's mapping, computed with user_agents itself."""
    parsed = user_agents.parse(ua)
    version = parsed.browser.version
    return BrowserDetails(
        browser_name=parsed.browser.family,
        browser_major_version=str(version[0]) if version else "",
        browser_full_version=parsed.browser.version_string,
        os=parsed.os.family,
        os_version=parsed.os.version_string,
        device=parsed.device.family,
        user_agent=ua,
        bot_probability=1 if parsed.is_bot else 0,
    )


def test_corpus_is_diverse() -> None:
    corpus = _corpus()
    assert len(corpus) > 250
    devices = {_reference(ua).device for ua in corpus}
    assert {"Other", "Spider", "iPhone", "iPad"} <= devices


@pytest.mark.parametrize("ua", _corpus() + _templated())
def test_same_fields_as_user_agents(parser: UserAgentParser, ua: str) -> None:
    assert parser.parse_uncached(ua) == _reference(ua)


def test_seed_user_agent_gives_the_seeds_values(parser: UserAgentParser) -> None:
    assert parser.parse(SEED_UA) == BrowserDetails(
        browser_name="Chrome",
        browser_major_version="74",
        browser_full_version="74.0.3729",
        os="Windows",
        os_version="7",
        device="Other",
        user_agent=SEED_UA,
        bot_probability=0,
    )


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
    ],
)
def test_known_bots_have_probability_one(parser: UserAgentParser, ua: str) -> None:
    assert parser.parse(ua).bot_probability == 1


def test_http_libraries_are_not_bots_as_in_user_agents(parser: UserAgentParser) -> None:
    # user-agents only flags device family "Spider"; curl is a browser family "curl".
    assert parser.parse("curl/8.4.0").bot_probability == 0


def test_leading_zeros_are_dropped_like_user_agents(parser: UserAgentParser) -> None:
    details = parser.parse("Mozilla/5.0 (Windows NT 10.0) Chrome/074.00.0003729 Safari/537.36")
    assert (details.browser_major_version, details.browser_full_version) == ("74", "74.0.3729")


def test_cache_is_bounded(parser: UserAgentParser) -> None:
    for i in range(300):
        parser.parse(f"Mozilla/5.0 test/{i}")
    assert parser.parse.cache_info().currsize == 100  # type: ignore[attr-defined]


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_never_raises_on_any_string(ua: str) -> None:
    details = UserAgentParser.parse_uncached(_SHARED, ua)
    assert details.user_agent == ua
    assert details.bot_probability in (0, 1)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            ["Mozilla/5.0 ", "(", ")", "; ", "Windows NT ", "Android ", "Chrome/", "bot", "1",
             ".", "Mobile", "iPhone", " Safari/", "Spider", "²", "٣", "Version/", " "]
        ),
        max_size=25,
    ).map("".join)
)  # fmt: skip
def test_matches_user_agents_on_generated_strings(ua: str) -> None:
    assert UserAgentParser.parse_uncached(_SHARED, ua) == _reference(ua)


_SHARED = UserAgentParser(cache_size=1)
