"""Article snapshots: the exact texts every model and every iteration reads.

Every refresh writes a new dated snapshot and points the ticker's ``latest.json`` at it::

    <articles_folder>/NVDA/2026-11-24T093012Z.json
    <articles_folder>/NVDA/latest.json          {"snapshot": "2026-11-24T093012Z.json", "sha256": ...}

so an earlier benchmark can be reproduced or extended on the articles it read. The
shipped synthetic samples keep the older flat layout, ``<articles_folder>/NVDA.json``,
and are read when a ticker has no dated snapshot. A snapshot file holds::

    {"ticker": "NVDA", "company_name": "Nvidia", "fetched_at": "...", "feed_url": "...",
     "articles": [{"key", "url", "title", "published", "summary", "content", "relevance",
                   "removed"?, "clipped_from"?, "kind"?}, ...],
     "skipped": [{"url", "title", "reason", "duplicate_of"?, "kind"?}, ...]}

``removed`` counts the blocks each rule left out of the article (``zacks/rank``,
``generic/read-more``, ``headline``, ``pivot: ...``, ``round-up: ...``); ``kind`` is
``video`` for a video page.

The article key is the first 8 hex characters of md5(url), as in the original tool,
so results from both tools line up.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utils.errors import ArticlesError
from utils.io import file_sha256, write_json_atomic
from utils.items import Item

log = logging.getLogger(__name__)

LATEST_FILE = "latest.json"
_STAMP_FORMAT = "%Y-%m-%dT%H%M%SZ"
_DATED_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z(?:-\d+)?\.json$")


class SkippedItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str = ""
    title: str = ""
    reason: str
    duplicate_of: str | None = Field(None, description="URL of the kept article this one repeats.")


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="allow")

    ticker: str
    company_name: str | None = None
    synthetic: bool = False
    source: str | None = None
    feed_url: str | None = None
    fetched_at: str | None = None
    articles: list[Item]
    skipped: list[SkippedItem] = Field(default_factory=list)


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


def legacy_path(folder: Path, ticker: str) -> Path:
    """The flat ``<folder>/<TICKER>.json`` layout of the shipped synthetic samples."""
    return Path(folder) / f"{ticker.upper()}.json"


def ticker_folder(folder: Path, ticker: str) -> Path:
    """The folder holding a ticker's dated snapshots and its ``latest.json``."""
    return Path(folder) / ticker.upper()


def dated_snapshots(folder: Path, ticker: str) -> list[Path]:
    """The ticker's dated snapshots, oldest first."""
    where = ticker_folder(folder, ticker)
    if not where.is_dir():
        return []
    return sorted((p for p in where.iterdir() if _DATED_NAME.match(p.name)), key=_stamp_order)


def _stamp_order(path: Path) -> tuple[str, int]:
    """Sort key: the time stamp, then the counter of snapshots taken within the same second."""
    stamp, _, counter = path.stem.partition("Z")
    return stamp, int(counter.lstrip("-") or 1)


def new_snapshot_path(folder: Path, ticker: str, when: datetime) -> Path:
    """An unused dated path for a snapshot fetched at ``when`` (UTC, to the second)."""
    stamp = when.astimezone(timezone.utc).strftime(_STAMP_FORMAT)
    where = ticker_folder(folder, ticker)
    path, counter = where / f"{stamp}.json", 1
    while path.exists():
        counter += 1
        path = where / f"{stamp}-{counter}.json"
    return path


def point_latest(folder: Path, ticker: str, snapshot: Path) -> None:
    """Make ``snapshot`` (a file of the ticker's folder) the one runs read by default."""
    pointer = ticker_folder(folder, ticker) / LATEST_FILE
    write_json_atomic(pointer, {"snapshot": snapshot.name, "sha256": file_sha256(snapshot)})


def latest_snapshot(folder: Path, ticker: str) -> Path | None:
    """The snapshot a run reads by default: ``latest.json``'s, else the newest dated one,
    else the flat sample file; None when the ticker has none."""
    pointer = ticker_folder(folder, ticker) / LATEST_FILE
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["snapshot"]
        target = pointer.parent / str(name)
        if target.is_file() and target.parent == pointer.parent:
            return target
        log.warning("%s points at %s, which is missing; using the newest snapshot", pointer, target)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s is unreadable (%s); using the newest snapshot", pointer, exc)
    dated = dated_snapshots(folder, ticker)
    if dated:
        return dated[-1]
    flat = legacy_path(folder, ticker)
    return flat if flat.is_file() else None


def select_snapshot(folder: Path, ticker: str, choice: str) -> Path:
    """The snapshot ``--snapshot`` names: a file path, or a date / time stamp prefix such as
    ``2026-11-24`` or ``2026-11-24T0930`` (the latest snapshot of the ticker that matches)."""
    as_path = Path(choice).expanduser()
    if as_path.suffix == ".json" or len(as_path.parts) > 1:
        if not as_path.is_file():
            raise ArticlesError(f"--snapshot {choice}: no such snapshot file")
        return as_path
    dated = dated_snapshots(folder, ticker)
    exact = [p for p in dated if p.stem == choice]
    wanted = choice.replace(":", "").removesuffix("Z").removesuffix("z")
    matches = exact or [p for p in dated if p.stem.startswith(wanted)]
    if not matches:
        known = ", ".join(p.stem for p in dated) or "none"
        raise ArticlesError(
            f"--snapshot {choice}: no snapshot of {ticker.upper()} matches "
            f"(in {ticker_folder(folder, ticker)}: {known})"
        )
    if len(matches) > 1:
        log.info("%d snapshots of %s match %s; using the latest, %s (give the full name for another)",
                 len(matches), ticker.upper(), choice, matches[-1].name)
    return matches[-1]


def snapshot_id(folder: Path, path: Path) -> str:
    """A short name for a snapshot in results and reports: its path below ``folder``
    (``NVDA/2026-11-24T093012Z.json``), or the whole path when it lies elsewhere."""
    try:
        return Path(path).resolve().relative_to(Path(folder).resolve()).as_posix()
    except ValueError:
        return str(path)
