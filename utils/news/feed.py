"""The per-ticker headline feed (RSS 2.0 or Atom): parsing, URL clean-up, age filter, de-duplication."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from utils.news.snapshot_store import SkippedItem
from utils.errors import NewsError

logger = logging.getLogger(__name__)

# Query parameters that only say where a click came from; they never change the page.
_TRACKING_PARAMS = frozenset(
    {
        ".tsrc", "tsrc", "guccounter", "guce_referrer", "guce_referrer_sig", "ncid",
        "soc_src", "soc_trk", "yptr", "fbclid", "gclid", "mc_cid", "mc_eid", "cmpid",
    }
)


@dataclass(frozen=True)
class FeedItem:
    """One feed entry; ``url`` is already canonical (tracking parameters removed)."""

    url: str
    title: str
    summary: str
    published: datetime | None


def feed_url(template: str, ticker: str) -> str:
    """The feed address for ``ticker`` from a template holding ``{ticker}``."""
    return template.replace("{ticker}", quote(ticker, safe=""))


def canonical_url(url: str) -> str:
    """``url`` without tracking parameters or fragment, scheme and host in lower case."""
    parts = urlsplit(url.strip())
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in _TRACKING_PARAMS


def parse_feed(xml: bytes) -> list[FeedItem]:
    """The items of an RSS 2.0 or Atom document, in feed order; NewsError when it is neither."""
    soup = BeautifulSoup(xml, "xml")
    channel = soup.find("channel")
    if soup.find("rss") is not None and channel is not None:
        return [item for item in map(_parse_item, channel.find_all("item")) if item is not None]
    atom = soup.find("feed")
    if atom is not None:
        return [item for item in map(_parse_entry, atom.find_all("entry")) if item is not None]
    raise NewsError("the news feed is neither RSS (<rss><channel>) nor Atom (<feed>)")


def _parse_item(node) -> FeedItem | None:
    """A FeedItem from one RSS <item>; None when it has no web link."""
    link = _child_text(node, "link") or _permalink_guid(node)
    return _feed_item(link, node, "description", _child_text(node, "pubDate"))


def _parse_entry(node) -> FeedItem | None:
    """A FeedItem from one Atom <entry>; None when it has no web link."""
    links = node.find_all("link", recursive=False)
    alternate = [tag for tag in links if tag.get("rel", "alternate") == "alternate" and tag.get("href")]
    link = alternate[0]["href"].strip() if alternate else ""
    date = _child_text(node, "published") or _child_text(node, "updated")
    return _feed_item(link, node, "summary" if node.find("summary") else "content", date)


def _feed_item(link: str, node, summary_tag: str, date: str) -> FeedItem | None:
    if not link.startswith(("http://", "https://")):
        logger.debug("feed item without a web link: %r", _child_text(node, "title"))
        return None
    return FeedItem(
        url=canonical_url(link),
        title=_normalize(_child_text(node, "title")),
        summary=html_to_text(_child_text(node, summary_tag)),
        published=parse_date(date),
    )


def _child_text(node, name: str) -> str:
    child = node.find(name, recursive=False)
    return child.get_text().strip() if child is not None else ""


def _permalink_guid(node) -> str:
    guid = node.find("guid", recursive=False)
    if guid is None or guid.get("isPermaLink", "true").lower() == "false":
        return ""
    return guid.get_text().strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed descriptions often carry markup)."""
    if "<" not in fragment and "&" not in fragment:
        return _normalize(fragment)
    with warnings.catch_warnings():
        # A description that is only a URL is still text, not a file name to open.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return _normalize(BeautifulSoup(fragment, "lxml").get_text(" "))


def _normalize(text: str) -> str:
    return " ".join(text.replace("\u200b", "").split())


def parse_date(text: str) -> datetime | None:
    """An aware UTC datetime from an RFC 822 (RSS) or ISO 8601 date; None when unreadable."""
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def select_items(
    items: list[FeedItem], *, now: datetime, max_age_days: float
) -> tuple[list[FeedItem], list[SkippedItem]]:
    """(fresh unique items newest first, skipped items with reasons)."""
    oldest = now - timedelta(days=max_age_days)
    ordered = sorted(items, key=_newest_first)
    kept: list[FeedItem] = []
    skipped: list[SkippedItem] = []
    seen: set[str] = set()
    for item in ordered:
        reason = _rejection(item, oldest, seen, max_age_days)
        if reason:
            skipped.append(SkippedItem(url=item.url, title=item.title, reason=reason))
        else:
            kept.append(item)
        seen.add(item.url)
    return kept, skipped


def _newest_first(item: FeedItem) -> tuple[int, float]:
    """Sort key: dated items newest first, undated ones last in feed order."""
    if item.published is None:
        return (1, 0.0)
    return (0, -item.published.timestamp())


def _rejection(item: FeedItem, oldest: datetime, seen: set[str], max_age_days: float) -> str:
    """Why ``item`` is not kept; empty when it is."""
    if item.url in seen:
        return "duplicate of another feed item (same URL without tracking parameters)"
    if item.published is None:
        return "no readable publication date"
    if item.published < oldest:
        return f"older than max_news_age ({max_age_days:g} days; published {iso(item.published)})"
    return ""


def iso(value: datetime) -> str:
    """ISO 8601 text of an aware datetime, to the second."""
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")
