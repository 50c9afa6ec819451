"""Snapshot building: the scraped file loads with the core run's reader, keys are md5(url)[:8]."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from utils.news.snapshot_store import SkippedItem, load_snapshot
from utils.items import article_key
from utils.news.companies import Company
from utils.news.feed import FeedItem
from utils.news.snapshot_build import SOURCE, make_article, make_snapshot, write_snapshot

NVIDIA = Company("NVDA", "Nvidia", ("NVIDIA Corporation",))
ITEM = FeedItem(
    url="https://finance.yahoo.com/news/nvidia-beats.html",
    title="Nvidia beats",
    summary="Nvidia topped estimates.",
    published=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc),
)


def test_make_article_uses_the_original_tools_key_and_date_format() -> None:
    article = make_article(ITEM, "Nvidia topped estimates. … Shares rose.")
    assert article.key == hashlib.md5(ITEM.url.encode()).hexdigest()[:8] == article_key(ITEM.url)
    assert article.published == "Fri, 20 Nov 2026 10:00:00 +0000"
    assert (article.url, article.title, article.summary) == (ITEM.url, ITEM.title, ITEM.summary)


def test_undated_item_has_an_empty_published_field() -> None:
    undated = FeedItem(url=ITEM.url, title="t", summary="", published=None)
    assert make_article(undated, "Nvidia rose.").published == ""


def test_written_snapshot_loads_with_the_core_reader(tmp_path) -> None:
    snapshot = make_snapshot(
        NVIDIA,
        feed_url="https://feeds.finance.yahoo.com/rss/2.0/headline?s=NVDA",
        fetched_at=datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc),
        articles=[make_article(ITEM, "Nvidia topped estimates.")],
        skipped=[SkippedItem(url="https://e.com/x.pdf", title="Filing", reason="not HTML")],
    )
    path = tmp_path / "articles" / "NVDA.json"
    write_snapshot(path, snapshot)

    loaded = load_snapshot(path)
    assert loaded.ticker == "NVDA" and loaded.company_name == "Nvidia"
    assert loaded.source == SOURCE and loaded.synthetic is False
    assert loaded.fetched_at == "2026-11-20T12:00:00+00:00"
    assert loaded.articles[0].text == "Nvidia beats\n\nNvidia topped estimates."
    assert loaded.skipped[0].reason == "not HTML"
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["company_aliases"] == ["NVIDIA Corporation"]
    assert [p.name for p in path.parent.iterdir()] == ["NVDA.json"]  # no temporary file left behind
