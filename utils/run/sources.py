"""What a run reads: the news snapshot of a ticker, or a labelled dataset."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from utils.config import Config
from utils.errors import ArticlesError, ConfigError
from utils.io import file_sha256
from utils.items import Item
from utils.news.snapshot_store import load_snapshot, snapshot_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInput:
    """Items plus the facts about them that every result file records."""

    subject: str
    company_name: str
    items: Sequence[Item]
    source: dict[str, Any] = field(default_factory=dict)


def news_input(ticker: str, config: Config, *, refresh: bool = False, offline: bool = False,
               snapshot: str | None = None, labels: Path | None = None) -> RunInput:
    """The article snapshot of ``ticker``: the latest, or the one ``snapshot`` (a path or a
    date) pins; fetched first on refresh or when the ticker has none.

    The articles carry gold labels where they have them: from ``labels`` (a ``key,label``
    CSV) when given, else their own ``intended_sentiment`` (the shipped synthetic samples').
    """
    from utils.labelled.article_labels import file_labels, intended_labels
    from utils.news import ensure_snapshot

    path = ensure_snapshot(ticker, config, refresh=refresh, offline=offline, snapshot=snapshot)
    loaded = load_snapshot(path)
    if loaded.ticker.upper() != ticker.upper():
        raise ArticlesError(f"{path}: this snapshot holds {loaded.ticker} news, not {ticker.upper()}")
    if loaded.synthetic:
        log.info("%s: using the shipped synthetic sample articles (%s)", ticker, path)
    else:
        log.info("%s: reading snapshot %s", ticker, path)
    company = loaded.company_name or ticker
    if labels is not None:
        labelled = file_labels(loaded.articles, labels, str(path))
    else:
        labelled = intended_labels(loaded.articles, loaded.synthetic)
    if labelled.origin is not None:
        log.info("%s: %d article(s) with a %s gold label (%d mixed, not scored)", ticker, labelled.labelled,
                 labelled.origin, labelled.counts.get("mixed", 0))
    source: dict[str, Any] = {
        "kind": "news",
        "ticker": ticker,
        "snapshot": str(path),
        "snapshot_id": snapshot_id(config.articles_folder, path),
        "snapshot_sha256": file_sha256(path),
        "fetched_at": loaded.fetched_at,
        "synthetic": loaded.synthetic,
        "items": len(loaded.articles),
    }
    if labelled.origin is not None:
        source["labels"] = labelled.source_info()
    return RunInput(subject=ticker, company_name=company, items=labelled.items, source=source)


# Datasets mix many companies; the prompt then asks about the company the text is about.
DATASET_COMPANY = "the company the text is about"


def dataset_input(kind: str, path: Path | None, config: Config, *, agreement: str = "all",
                  limit: int | None = None, sample_seed: int | None = None,
                  split: str | None = None, split_file: Path | None = None) -> RunInput:
    """A labelled dataset (FinancialPhraseBank or a text,label CSV), optionally one split of it, sampled."""
    if path is None:
        raise ConfigError(f"--dataset {kind} needs a dataset path")
    from utils.labelled.datasets import load_fpb, load_labelled_csv, sample_dataset
    from utils.labelled.splits import restrict_to_split

    seed = config.seed if sample_seed is None else sample_seed
    if kind == "fpb":
        dataset = load_fpb(path, agreement)
    else:
        dataset = load_labelled_csv(path, neutral_band=config.neutral_band)
    if split is not None:
        if split_file is None:
            raise ConfigError(f"--split {split} needs a split file")
        # The split is taken before sampling, so a limit samples from the held-out items only.
        dataset = restrict_to_split(dataset, split_file, split)
    dataset = sample_dataset(dataset, limit, seed)
    source = {"kind": "dataset", **dataset.source_info()}
    if split is not None and split_file is not None:
        source["split"] = {"name": split, "file": str(split_file), "file_sha256": file_sha256(split_file)}
    return RunInput(subject=dataset.name, company_name=DATASET_COMPANY, items=dataset.as_articles(), source=source)
