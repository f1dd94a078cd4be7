"""Raw visit -> enriched visit: the pure step between decoding and storage."""

from __future__ import annotations

import importlib.metadata
import time

import msgspec

from enrich import bots
from enrich.asn import open_asn_database
from enrich.config import EnrichConfig
from enrich.geo import Clock, GeoIpReader
from enrich.user_agent import UserAgentParser
from schemas.raw_event import RawVisit
from schemas.resources import Closing
from schemas.visit import BrowserDetails, EnrichedVisit, enriched


def _probability(value: float) -> int | float:
    # The seed renders "botProbability": 0; keep whole values integers so 0.0 shows as 0.
    return int(value) if value in (0.0, 1.0) else value


class Enricher(Closing):
    """Adds ``ipLocation``, ``browserDetails``, the ASN and the bot verdict to raw visits,
    and what did it (database builds, rules version). A context manager.

    Args:
        geo: the GeoIP City adapter (owned: closed with the enricher).
        user_agents: the UA parser.
        asn: the ASN adapter (owned), None when no ASN database is configured.
    """

    def __init__(
        self, geo: GeoIpReader, user_agents: UserAgentParser, asn: GeoIpReader | None = None
    ) -> None:
        self.geo = geo
        self.user_agents = user_agents
        self.asn = asn
        #: What parsed user agents: ua-parser's rules (regexes.yaml ships with the package)
        #: and the bot rules; stored on every row.
        self.ua_rules = f"ua-parser {importlib.metadata.version('ua-parser')}; {bots.RULES_VERSION}"

    @classmethod
    def from_config(cls, config: EnrichConfig, *, clock: Clock = time.monotonic) -> Enricher:
        """Open the GeoIP database and build the UA parser from ``config``.

        Raises:
            GeoIpDatabaseError: the configured database is missing or corrupt.
        """
        geo = GeoIpReader(
            config.geoip_database,
            cache_size=config.geoip_cache_size,
            reload_check_seconds=config.geoip_reload_check_seconds,
            clock=clock,
        )
        asn = None
        if config.geoip_asn_database:
            try:
                asn = open_asn_database(
                    config.geoip_asn_database,
                    cache_size=config.geoip_cache_size,
                    reload_check_seconds=config.geoip_reload_check_seconds,
                    clock=clock,
                )
            except Exception:
                geo.close()
                raise
        return cls(geo, UserAgentParser(config.ua_cache_size), asn)

    def browser_details(self, user_agent: str, bot_probability: float | None) -> BrowserDetails:
        """``browserDetails`` for a UA; the collector's ``bot_probability`` wins when given."""
        details = self.user_agents.parse(user_agent)
        if bot_probability is None:
            return details
        return msgspec.structs.replace(details, bot_probability=_probability(bot_probability))

    def enrich(self, raw: RawVisit) -> EnrichedVisit:
        """Enrich one decoded visit. Pure apart from caches: same input, same output.

        ``ip_location`` is None when the database knows nothing about ``raw.ip`` (private,
        reserved or unknown address). Never raises on a ``RawVisit`` from ``decode_raw_visit``.
        """
        details = self.browser_details(raw.user_agent, raw.bot_probability)
        return enriched(
            raw,
            details,
            self.geo.location(raw.ip),
            asn=self.asn.lookup(raw.ip) if self.asn is not None else None,
            bot=bots.verdict(raw.user_agent, details.device, raw.bot_probability),
            geoip_build=self.geo.build_epoch,
            asn_build=self.asn.build_epoch if self.asn is not None else 0,
            ua_rules=self.ua_rules,
        )

    def cache_clear(self) -> None:
        """Empty both caches (cold-cache measurements)."""
        self.geo.cache_clear()
        self.user_agents.cache_clear()

    def close(self) -> None:
        """Release the GeoIP databases."""
        self.geo.close()
        if self.asn is not None:
            self.asn.close()
