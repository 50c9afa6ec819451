"""Article snapshots: the exact texts every model and every iteration reads.

A snapshot is ``<articles_folder>/<TICKER>.json``::

    {"ticker": "NVDA", "company_name": "Nvidia", "fetched_at": "...", "feed_url": "...",
     "articles": [{"key", "url", "title", "published", "summary", "content"}, ...],
     "skipped": [{"url", "title", "reason"}, ...]}

The article key is the first 8 hex characters of md5(url), as in the original tool,
so results from both tools line up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utils.errors import ArticlesError
from utils.items import Article



class SkippedItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str = ""
    title: str = ""
    reason: str


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="allow")

    ticker: str
    company_name: str | None = None
    synthetic: bool = False
    source: str | None = None
    feed_url: str | None = None
    fetched_at: str | None = None
    articles: list[Article]
    skipped: list[SkippedItem] = Field(default_factory=list)


def snapshot_path(folder: Path, ticker: str) -> Path:
    return Path(folder) / f"{ticker.upper()}.json"




def load_snapshot(path: Path) -> Snapshot:
    """Read and validate a snapshot; ArticlesError names the file and the problem."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArticlesError(f"{path}: no article snapshot") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArticlesError(f"{path}: unreadable article snapshot: {exc}") from None
    try:
        snapshot = Snapshot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ArticlesError(f"{path}: {where}: {first['msg']}") from None
    keys = [a.key for a in snapshot.articles]
    if len(set(keys)) != len(keys):
        raise ArticlesError(f"{path}: duplicate article keys")
    if not snapshot.articles:
        raise ArticlesError(f"{path}: the snapshot holds no articles")
    return snapshot
