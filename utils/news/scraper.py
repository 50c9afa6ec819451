"""One pass over a ticker's feed: pick the fresh items, fetch their pages, keep or skip each."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from utils.news.articles import SkippedItem
from utils.items import Article
from utils.config import Config
from utils.news.companies import Company
from utils.news.extract import ArticleSkipped, extract_article, is_consent_wall
from utils.news.feed import FeedItem, feed_url, parse_feed, select_items
from utils.news.fetcher import FEED_TYPES, HTML_TYPES, FetchError, Fetcher, NetworkUnavailable
from utils.news.snapshot import make_article

logger = logging.getLogger(__name__)


@dataclass
class Harvest:
    """What one pass produced: the usable articles and every item left out, with its reason."""

    feed_url: str
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)


def scrape(company: Company, config: Config, fetcher: Fetcher, *, now: datetime) -> Harvest:
    """Articles for ``company`` from its feed; FetchError when the feed itself is unavailable."""
    url = feed_url(config.news.feed_url, company.ticker)
    page = fetcher.get(url, accept=FEED_TYPES, expire_hours=config.news.feed_cache_expire_hours)
    items, skipped = select_items(parse_feed(page.body), now=now, max_age_days=config.max_news_age)
    harvest = Harvest(feed_url=url, skipped=skipped)
    unreachable = 0
    for item in items:
        if len(harvest.articles) >= config.max_news_items:
            _skip(harvest, item, f"beyond max_news_items ({config.max_news_items})")
            continue
        try:
            harvest.articles.append(_article(item, company, fetcher, config.news.min_article_chars))
        except NetworkUnavailable as exc:
            unreachable += 1
            _skip(harvest, item, exc.reason)
        except (FetchError, ArticleSkipped) as exc:
            _skip(harvest, item, exc.reason)
    if unreachable and not harvest.articles:
        raise NetworkUnavailable(url, f"none of the {unreachable} article pages could be reached")
    return harvest


def _article(item: FeedItem, company: Company, fetcher: Fetcher, min_chars: int) -> Article:
    """The snapshot article for one feed item; ArticleSkipped or FetchError when unusable."""
    page = fetcher.get(item.url, accept=HTML_TYPES)
    if is_consent_wall([*page.redirects, page.url]):
        raise ArticleSkipped(f"consent wall (redirected to {page.url.split('?')[0]})")
    content = extract_article(
        page.body, charset=page.charset, company=company, summary=item.summary, min_chars=min_chars
    )
    logger.info("kept %s (%d characters)", item.url, len(content))
    return make_article(item, content)


def _skip(harvest: Harvest, item: FeedItem, reason: str) -> None:
    logger.info("skipped %s: %s", item.url, reason)
    harvest.skipped.append(SkippedItem(url=item.url, title=item.title, reason=reason))
