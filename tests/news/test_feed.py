"""RSS parsing, tracking-parameter clean-up, age filter, newest-first order and duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from utils.errors import NewsError
from utils.news.feed import FeedItem, canonical_url, feed_url, parse_date, parse_feed, select_items

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://finance.yahoo.com/news/a-1.html?.tsrc=rss&utm_source=x&utm_campaign=y",
            "https://finance.yahoo.com/news/a-1.html",
        ),
        ("https://Finance.Yahoo.com/news/a.html?guccounter=1&ncid=z#comments", "https://finance.yahoo.com/news/a.html"),
        ("https://example.com/story?id=7&soc_src=social&page=2", "https://example.com/story?id=7&page=2"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_canonical_url_drops_tracking_parameters_only(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_feed_url_fills_in_the_ticker() -> None:
    template = "https://feeds.finance.yahoo.com/rss/2.0/headline?s={ticker}&region=US&lang=en-US"
    assert feed_url(template, "BRK-B").endswith("?s=BRK-B&region=US&lang=en-US")


def test_parse_feed_reads_title_link_summary_and_date() -> None:
    [item] = parse_feed(
        rss(
            "<title>Nvidia &amp; partners</title>"
            "<link>https://finance.yahoo.com/news/x.html?.tsrc=rss</link>"
            "<description>&lt;p&gt;Nvidia   rose.&lt;/p&gt;</description>"
            "<guid isPermaLink='false'>abc</guid>"
            "<pubDate>Fri, 20 Nov 2026 10:00:00 +0000</pubDate>"
        )
    )
    assert item == FeedItem(
        url="https://finance.yahoo.com/news/x.html",
        title="Nvidia & partners",
        summary="Nvidia rose.",
        published=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc),
    )


def test_parse_feed_uses_a_permalink_guid_and_drops_items_without_a_link() -> None:
    items = parse_feed(
        rss(
            "<title>a</title><guid>https://example.com/a</guid>",
            "<title>b</title><guid isPermaLink='false'>b-1</guid>",
        )
    )
    assert [i.url for i in items] == ["https://example.com/a"]


@pytest.mark.parametrize("document", [b"<html><body>Not found</body></html>", b"{}", b""])
def test_parse_feed_rejects_what_is_not_rss(document: bytes) -> None:
    with pytest.raises(NewsError, match=r"neither RSS \(<rss><channel>\) nor Atom"):
        parse_feed(document)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Fri, 20 Nov 2026 10:00:00 +0000", datetime(2026, 11, 20, 10, tzinfo=timezone.utc)),
        ("Fri, 20 Nov 2026 05:00:00 -0500", datetime(2026, 11, 20, 10, tzinfo=timezone.utc)),
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=timezone.utc)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def item(url: str, hours_ago: float | None) -> FeedItem:
    published = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return FeedItem(url=url, title=url.rsplit("/", 1)[-1], summary="", published=published)


def test_select_items_orders_newest_first_and_explains_every_drop() -> None:
    items = [
        item("https://e.com/b", 5),
        item("https://e.com/old", 24 * 8),
        item("https://e.com/a", 1),
        item("https://e.com/b", 3),
        item("https://e.com/undated", None),
    ]
    kept, skipped = select_items(items, now=NOW, max_age_days=7)
    assert [i.url for i in kept] == ["https://e.com/a", "https://e.com/b"]
    assert kept[1].published == NOW - timedelta(hours=3)
    reasons = {s.url: s.reason for s in skipped}
    assert reasons["https://e.com/b"].startswith("duplicate of another feed item")
    assert reasons["https://e.com/old"].startswith("older than max_news_age (7 days; published 2026-11-12")
    assert reasons["https://e.com/undated"] == "no readable publication date"
