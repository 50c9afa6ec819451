"""Building a snapshot from the scraped articles: the shape the snapshot store reads back, written atomically."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from utils.io import write_json_atomic
from utils.items import Item, article_key
from utils.news.snapshot_store import SkippedItem, Snapshot
from utils.news.companies import Company
from utils.news.feed import FeedItem

SOURCE = "yahoo_finance_rss"


def make_article(
    item: FeedItem,
    content: str,
    *,
    relevance: str | None = None,
    clipped_from: int | None = None,
    removed: dict[str, int] | None = None,
    kind: str | None = None,
) -> Item:
    """The snapshot entry for a feed item and its extracted text; the key is md5(url)[:8].

    ``relevance`` records which rule chose the text (story or round-up); ``clipped_from``
    the text's length before it was cut to the snapshot's cap; ``removed`` how many blocks
    each rule left out (boilerplate rules as provider/name, the headline, pivots, round-up
    blocks), so a user can audit what was cut; ``kind`` "video" for a kept video page.
    """
    published = item.published.astimezone(timezone.utc) if item.published else None
    marks: dict[str, Any] = {"relevance": relevance} if relevance else {}
    if clipped_from is not None:
        marks["clipped_from"] = clipped_from
    if removed:
        marks["removed"] = dict(sorted(removed.items()))
    if kind:
        marks["kind"] = kind
    return Item(
        key=article_key(item.url),
        url=item.url,
        title=item.title,
        # RSS's own date format, as the original tool stored it.
        published=format_datetime(published) if published else "",
        summary=item.summary,
        content=content,
        **marks,
    )


def make_snapshot(
    company: Company,
    *,
    feed_url: str,
    fetched_at: datetime,
    articles: list[Item],
    skipped: list[SkippedItem],
    max_article_chars: int | None = None,
) -> Snapshot:
    """A Snapshot of freshly scraped news for ``company``."""
    return Snapshot(
        ticker=company.ticker,
        company_name=company.name,
        synthetic=False,
        source=SOURCE,
        feed_url=feed_url,
        fetched_at=fetched_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
        articles=articles,
        skipped=skipped,
        company_aliases=list(company.aliases),
        max_article_chars=max_article_chars,
    )


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` so that readers see the old file or the whole new one."""
    write_json_atomic(path, snapshot.model_dump(mode="json", exclude_none=True))
