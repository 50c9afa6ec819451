"""One pass over a ticker's feed: pick the fresh items, fetch their pages, keep or skip each."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from utils.config import Config
from utils.items import Item
from utils.news.snapshot_store import SkippedItem
from utils.news.boilerplate import Rules, load_rules
from utils.news.companies import Company
from utils.news.duplicates import DuplicateIndex
from utils.news.extract import ArticleSkipped, extract_article, is_consent_wall
from utils.news.feed import FeedItem, feed_url, parse_feed, select_items
from utils.news.fetcher import FEED_TYPES, HTML_TYPES, FetchError, Fetcher, NetworkUnavailable
from utils.news.robots import Robots
from utils.news.snapshot_build import make_article

logger = logging.getLogger(__name__)

# What the article may use of the context. Measured with the shipped prompts: the system
# message, five examples and user template take 782 tokens with SmolLM2's tokenizer and 754
# with Gemma 3's (before chat-template tokens); the sample articles run at 4.7-4.9
# characters per token. 1,200 and 3 leave room for longer examples and denser tokenizers.
PROMPT_PREFIX_TOKENS = 1200
CHARS_PER_TOKEN = 3


def article_char_cap(config: Config) -> int:
    """The longest article text a snapshot keeps: ``news.max_article_chars`` when set, else
    what fits ``context_window_size`` beside the examples and the answer."""
    if config.news.max_article_chars is not None:
        return config.news.max_article_chars
    room = config.context_window_size - config.num_tokens_to_predict - PROMPT_PREFIX_TOKENS
    return max(200, room * CHARS_PER_TOKEN)


@dataclass
class Harvest:
    """What one pass produced: the usable articles and every item left out, with its reason."""

    feed_url: str
    articles: list[Item] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    max_article_chars: int | None = None


@dataclass
class _Pass:
    """What a scrape consults for every item: the fetcher, robots.txt, the kept texts and
    the boilerplate rules."""

    company: Company
    config: Config
    fetcher: Fetcher
    robots: Robots | None
    duplicates: DuplicateIndex
    rules: Rules


def scrape(company: Company, config: Config, fetcher: Fetcher, *, now: datetime) -> Harvest:
    """Articles for ``company`` from its feed; FetchError when the feed itself is unavailable."""
    url = feed_url(config.news.feed_url, company.ticker)
    page = fetcher.get(url, accept=FEED_TYPES, expire_hours=config.news.feed_cache_expire_hours)
    items, skipped = select_items(parse_feed(page.body), now=now, max_age_days=config.max_news_age)
    harvest = Harvest(feed_url=url, skipped=skipped, max_article_chars=article_char_cap(config))
    robots = Robots(fetcher, config.news.user_agent) if config.news.respect_robots_txt else None
    state = _Pass(company, config, fetcher, robots, DuplicateIndex(config.news.near_duplicate_similarity),
                  load_rules(config.news.boilerplate_rules))
    unreachable = 0
    for item in items:
        if len(harvest.articles) >= config.max_news_items:
            _skip(harvest, item, f"beyond max_news_items ({config.max_news_items})")
            continue
        try:
            harvest.articles.append(_article(item, state, harvest.max_article_chars))
        except NetworkUnavailable as exc:
            unreachable += 1
            _skip(harvest, item, exc.reason)
        except _Repeated as exc:
            _skip(harvest, item, exc.duplicate.reason, duplicate_of=exc.duplicate.url)
        except ArticleSkipped as exc:
            _skip(harvest, item, exc.reason, kind=exc.kind)
        except FetchError as exc:
            _skip(harvest, item, exc.reason)
    if unreachable and not harvest.articles:
        raise NetworkUnavailable(url, f"none of the {unreachable} article pages could be reached")
    return harvest


class _Repeated(Exception):
    def __init__(self, duplicate) -> None:
        self.duplicate = duplicate
        super().__init__(duplicate.reason)


def _article(item: FeedItem, state: _Pass, max_chars: int | None) -> Item:
    """The snapshot article for one feed item; ArticleSkipped, FetchError or _Repeated when unusable."""
    refusal = state.robots.refusal(item.url) if state.robots is not None else ""
    if refusal:
        raise ArticleSkipped(refusal)
    page = state.fetcher.get(item.url, accept=HTML_TYPES)
    if is_consent_wall([*page.redirects, page.url]):
        raise ArticleSkipped(f"consent wall (redirected to {page.url.split('?')[0]})")
    extraction = extract_article(
        page.body, charset=page.charset, company=state.company, title=item.title,
        summary=item.summary, min_chars=state.config.news.min_article_chars, max_chars=max_chars,
        rules=state.rules, video_pages=state.config.news.video_pages,
    )
    duplicate = state.duplicates.check(extraction.body)
    if duplicate is not None:
        raise _Repeated(duplicate)
    state.duplicates.add(item.url, extraction.body)
    logger.info("kept %s (%s, %d characters)", item.url, extraction.relevance, len(extraction.content))
    return make_article(item, extraction.content, relevance=extraction.relevance,
                        clipped_from=extraction.clipped_from, removed=extraction.removed, kind=extraction.kind)


def _skip(harvest: Harvest, item: FeedItem, reason: str, duplicate_of: str | None = None,
          kind: str | None = None) -> None:
    logger.info("skipped %s: %s", item.url, reason)
    marks = {"kind": kind} if kind else {}
    harvest.skipped.append(
        SkippedItem(url=item.url, title=item.title, reason=reason, duplicate_of=duplicate_of, **marks)
    )
