"""robots.txt for article pages: one file per site, read through the caching Fetcher.

The rules are parsed by the standard library's ``urllib.robotparser``. Following
RFC 9309, a missing robots.txt (a 4xx answer) allows everything, while a site whose
robots.txt cannot be read for a server error is treated as disallowing everything.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from utils.news.fetcher import TEXT_TYPES, FetchError, Fetcher, NetworkUnavailable

logger = logging.getLogger(__name__)


class Robots:
    """``allowed(url)`` for the sites one scrape visits; each robots.txt is read once."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self._fetcher = fetcher
        self._user_agent = user_agent
        self._sites: dict[str, RobotFileParser | str] = {}

    def refusal(self, url: str) -> str:
        """Why ``url`` may not be fetched; empty when it may. NetworkUnavailable propagates."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._sites:
            self._sites[site] = self._read(site)
        rules = self._sites[site]
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(self._user_agent, url):
            return ""
        return f"disallowed by {site}/robots.txt"

    def _read(self, site: str) -> RobotFileParser | str:
        """The parsed rules of ``site``, or the reason every page of it is refused."""
        parser = RobotFileParser(f"{site}/robots.txt")
        try:
            page = self._fetcher.get(f"{site}/robots.txt", accept=TEXT_TYPES)
        except NetworkUnavailable:
            raise
        except FetchError as exc:
            if exc.reason.startswith(("HTTP 4", "not plain text")):
                parser.parse([])  # no robots.txt (or a page that is not one): everything is allowed
                return parser
            logger.info("%s/robots.txt: %s; not fetching its pages", site, exc.reason)
            return f"robots.txt unavailable ({exc.reason})"
        parser.parse(page.body.decode(page.charset or "utf-8", errors="replace").splitlines())
        return parser
