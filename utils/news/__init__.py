"""News acquisition: Yahoo Finance headlines for a ticker, scraped into dated snapshots.

The core run calls :func:`ensure_snapshot` and then reads the file with
``utils.news.snapshot_store.load_snapshot``; every model and iteration reads the same
articles, and a run can be replayed offline, or pinned to an older snapshot, from the
snapshot files alone.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from utils.config import Config
from utils.errors import ArticlesError, ConfigError, NewsError
from utils.news.companies import Company, QuoteSearch, normalize_ticker, resolve_company
from utils.news.fetcher import Fetcher, FetchError
from utils.news.snapshot_store import latest_snapshot, new_snapshot_path, point_latest, select_snapshot, ticker_folder
from utils.news.snapshot_build import make_snapshot, write_snapshot

if TYPE_CHECKING:  # the scraper is imported when used, so that `python -m utils.news.extract` runs clean
    from utils.news.scraper import Harvest

__all__ = ["ensure_snapshot"]

logger = logging.getLogger(__name__)

_MAX_LISTED_SKIPS = 25


def ensure_snapshot(
    ticker: str,
    config: Config,
    *,
    refresh: bool = False,
    offline: bool = False,
    snapshot: str | None = None,
) -> Path:
    """The path of the article snapshot a run of ``ticker`` reads.

    ``snapshot`` (a path or a date such as ``2026-11-24``) pins an existing snapshot.
    Otherwise the ticker's latest snapshot is returned untouched unless ``refresh``, and
    a refresh (or a ticker without any snapshot) scrapes a new dated snapshot and makes
    it the latest. When a refresh cannot reach the news, the latest is kept with a warning.

    Raises:
        ArticlesError: offline with no snapshot; no snapshot and no network; a pinned
            snapshot that does not exist; or the feed gave no usable article (the
            message lists why each item was skipped).
        ConfigError: ``refresh`` together with ``offline`` or ``snapshot``.
    """
    symbol = normalize_ticker(ticker)
    if snapshot is not None:
        if refresh:
            raise ConfigError("--snapshot reads an existing snapshot; drop --refresh or --snapshot")
        return select_snapshot(config.articles_folder, symbol, snapshot)
    current = latest_snapshot(config.articles_folder, symbol)
    if current is not None and not refresh:
        return current
    if offline:
        if refresh:
            raise ConfigError("--refresh fetches news from the network; drop it or drop --offline")
        raise ArticlesError(_missing_offline_message(symbol, ticker_folder(config.articles_folder, symbol)))
    from utils.news.scraper import scrape

    try:
        with Fetcher(config.news) as fetcher:
            search = _quote_search(config, fetcher)
            stored = _stored_name(current) if current is not None else None
            company = resolve_company(symbol, config, search=search, stored_name=stored)
            harvest = scrape(company, config, fetcher, now=datetime.now(timezone.utc))
    except NewsError as exc:
        return _fall_back(symbol, current, ticker_folder(config.articles_folder, symbol), exc)
    return _write(company, harvest, config, current)


def _quote_search(config: Config, fetcher: Fetcher | None = None) -> QuoteSearch:
    """A function asking Yahoo's quote search about one symbol (opening a Fetcher if needed)."""

    def search(symbol: str) -> Any:
        params = {"q": symbol, "quotesCount": "5", "newsCount": "0"}
        if fetcher is not None:
            return fetcher.get_json(config.news.quote_search_url, params)
        with Fetcher(config.news) as own:
            return own.get_json(config.news.quote_search_url, params)

    return search


def _stored_name(path: Path) -> str | None:
    """The company name recorded in an existing snapshot; None when there is none to read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("company_name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def _write(company: Company, harvest: Harvest, config: Config, current: Path | None) -> Path:
    """Write a new dated snapshot and make it the latest; ArticlesError (nothing written)
    when nothing was usable."""
    if not harvest.articles:
        raise ArticlesError(_nothing_usable_message(company.ticker, harvest, current))
    fetched_at = datetime.now(timezone.utc)
    snapshot = make_snapshot(
        company,
        feed_url=harvest.feed_url,
        fetched_at=fetched_at,
        articles=harvest.articles,
        skipped=harvest.skipped,
        max_article_chars=harvest.max_article_chars,
    )
    path = new_snapshot_path(config.articles_folder, company.ticker, fetched_at)
    write_snapshot(path, snapshot)
    point_latest(config.articles_folder, company.ticker, path)
    logger.info(
        "wrote %s: %d articles, %d skipped", path, len(harvest.articles), len(harvest.skipped)
    )
    return path


def _fall_back(symbol: str, current: Path | None, folder: Path, exc: Exception) -> Path:
    """The latest snapshot after a failed refresh; ArticlesError when there is none."""
    if current is not None:
        logger.warning(
            "could not refresh news for %s (%s); using the existing snapshot %s", symbol, exc, current
        )
        return current
    hint = " Check the internet connection and run again." if isinstance(exc, FetchError) else ""
    raise ArticlesError(
        f"cannot fetch news for {symbol}: {exc}. There is no snapshot in {folder} to fall back on."
        + hint
    ) from None


def _missing_offline_message(symbol: str, folder: Path) -> str:
    """Why an offline run cannot start, and the command that fixes it."""
    return (
        f"no article snapshot for {symbol} in {folder}, and --offline forbids fetching one. "
        f"Build it while online with: "
        f"python generate_model_sentiments.py --company {symbol} --fetch-only"
    )


def _nothing_usable_message(symbol: str, harvest: Harvest, current: Path | None) -> str:
    """Why a scrape produced no article: the skip reasons, counted, then listed."""
    if not harvest.skipped:
        reasons = "the feed has no items"
    else:
        counts = Counter(_reason_kind(s.reason) for s in harvest.skipped)
        reasons = "; ".join(f"{n} × {kind}" for kind, n in counts.most_common())
    lines = [f"  - {s.reason}: {s.url}" for s in harvest.skipped[:_MAX_LISTED_SKIPS]]
    if len(harvest.skipped) > _MAX_LISTED_SKIPS:
        lines.append(f"  ... and {len(harvest.skipped) - _MAX_LISTED_SKIPS} more")
    kept = f" The latest snapshot {current} was left as it is." if current is not None else ""
    return "\n".join(
        [f"no usable articles for {symbol} in {harvest.feed_url} ({reasons}).{kept}", *lines]
    )


def _reason_kind(reason: str) -> str:
    """The reason without its details in parentheses, so that similar skips count together."""
    return reason.split(" (")[0]
