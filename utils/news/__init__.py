"""News acquisition: Yahoo Finance headlines for a ticker, scraped once into a snapshot.

The core run calls :func:`ensure_snapshot` and then reads the file with
``utils.articles.load_snapshot``; every model and iteration reads the same articles,
and a run can be replayed offline from the snapshot alone.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from utils.news.articles import snapshot_path
from utils.config import Config
from utils.errors import ArticlesError, ConfigError, NewsError
from utils.news.companies import Company, QuoteSearch, normalize_ticker, resolve_company
from utils.news.fetcher import Fetcher, FetchError
from utils.news.scraper import Harvest, scrape
from utils.news.snapshot import make_snapshot, write_snapshot

__all__ = ["company_name", "ensure_snapshot", "fetch_only"]

logger = logging.getLogger(__name__)

_MAX_LISTED_SKIPS = 25


def ensure_snapshot(
    ticker: str, config: Config, *, refresh: bool = False, offline: bool = False
) -> Path:
    """The path of the ticker's article snapshot, scraping it first when missing or refreshed.

    An existing snapshot is returned untouched unless ``refresh``. When a refresh cannot
    reach the news (or Yahoo fails), an existing snapshot is kept with a warning.

    Raises:
        ArticlesError: offline with no snapshot; no snapshot and no network; or the feed
            gave no usable article (the message lists why each item was skipped).
        ConfigError: ``refresh`` and ``offline`` together.
    """
    symbol = normalize_ticker(ticker)
    path = snapshot_path(config.articles_folder, symbol)
    if path.exists() and not refresh:
        return path
    if offline:
        if refresh:
            raise ConfigError("--refresh fetches news from the network; drop it or drop --offline")
        raise ArticlesError(_missing_offline_message(symbol, path))
    try:
        with Fetcher(config.news) as fetcher:
            search = _quote_search(config, fetcher)
            company = resolve_company(symbol, config, search=search, stored_name=_stored_name(path))
            harvest = scrape(company, config, fetcher, now=datetime.now(timezone.utc))
    except NewsError as exc:
        return _fall_back(symbol, path, exc)
    _write(company, harvest, path)
    return path


def fetch_only(ticker: str, config: Config) -> Path:
    """The path of a freshly scraped snapshot (what ``--fetch-only`` builds)."""
    return ensure_snapshot(ticker, config, refresh=True)


def company_name(ticker: str, config: Config, *, offline: bool) -> str:
    """The company name for prompts; NewsError when the ticker cannot be named."""
    symbol = normalize_ticker(ticker)
    stored = _stored_name(snapshot_path(config.articles_folder, symbol))
    search = None if offline else _quote_search(config)
    return resolve_company(symbol, config, search=search, stored_name=stored).name


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


def _write(company: Company, harvest: Harvest, path: Path) -> None:
    """Write the snapshot; ArticlesError (old file untouched) when nothing was usable."""
    if not harvest.articles:
        raise ArticlesError(_nothing_usable_message(company.ticker, harvest, path))
    snapshot = make_snapshot(
        company,
        feed_url=harvest.feed_url,
        fetched_at=datetime.now(timezone.utc),
        articles=harvest.articles,
        skipped=harvest.skipped,
    )
    write_snapshot(path, snapshot)
    logger.info(
        "wrote %s: %d articles, %d skipped", path, len(harvest.articles), len(harvest.skipped)
    )


def _fall_back(symbol: str, path: Path, exc: Exception) -> Path:
    """The existing snapshot after a failed refresh; ArticlesError when there is none."""
    if path.exists():
        logger.warning(
            "could not refresh news for %s (%s); using the existing snapshot %s", symbol, exc, path
        )
        return path
    hint = " Check the internet connection and run again." if isinstance(exc, FetchError) else ""
    raise ArticlesError(
        f"cannot fetch news for {symbol}: {exc}. There is no snapshot at {path} to fall back on."
        + hint
    ) from None


def _missing_offline_message(symbol: str, path: Path) -> str:
    """Why an offline run cannot start, and the command that fixes it."""
    return (
        f"no article snapshot for {symbol} at {path}, and --offline forbids fetching one. "
        f"Build it while online with: "
        f"python generate_model_sentiments.py --company {symbol} --fetch-only"
    )


def _nothing_usable_message(symbol: str, harvest: Harvest, path: Path) -> str:
    """Why a scrape produced no article: the skip reasons, counted, then listed."""
    if not harvest.skipped:
        reasons = "the feed has no items"
    else:
        counts = Counter(_reason_kind(s.reason) for s in harvest.skipped)
        reasons = "; ".join(f"{n} × {kind}" for kind, n in counts.most_common())
    lines = [f"  - {s.reason}: {s.url}" for s in harvest.skipped[:_MAX_LISTED_SKIPS]]
    if len(harvest.skipped) > _MAX_LISTED_SKIPS:
        lines.append(f"  ... and {len(harvest.skipped) - _MAX_LISTED_SKIPS} more")
    kept = f" The existing snapshot {path} was left as it is." if path.exists() else ""
    return "\n".join(
        [f"no usable articles for {symbol} in {harvest.feed_url} ({reasons}).{kept}", *lines]
    )


def _reason_kind(reason: str) -> str:
    """The reason without its details in parentheses, so that similar skips count together."""
    return reason.split(" (")[0]
