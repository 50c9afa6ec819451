"""The item every model reads: a news article or a labelled sentence, and its key.

The key of an article is the first 8 hex characters of md5(url), as in the original
tool, so results from both tools line up; a labelled item is keyed by its text.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field


def article_key(text: str) -> str:
    """First 8 hex characters of md5(text): the key of an article (by URL) or item (by text)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:8]


class Item(BaseModel):
    """One thing every model reads: a news article (url, title, body) or a labelled sentence
    (content only). ``gold_label`` is its human label where it has one (a labelled dataset's
    label, a labelled article's), which the accuracy reports score answers against."""

    model_config = ConfigDict(extra="allow")

    key: str = Field(min_length=1)
    url: str = ""
    title: str = ""
    published: str = ""
    summary: str = ""
    content: str = Field(min_length=1)
    gold_label: str | None = Field(None, description="Human label: positive, negative or neutral.")
    gold_score: float | None = Field(None, description="The gold label as a score (-1, 0, 1) or a graded one.")

    @property
    def text(self) -> str:
        """What the model reads: the title, then the extracted body."""
        return f"{self.title}\n\n{self.content}".strip() if self.title else self.content


def snapshot_label(source: Mapping[str, Any] | None) -> str | None:
    """Which article snapshot a result file's ``source`` says was read: its id below the
    articles folder (``NVDA/2026-11-24T093012Z.json``), else its path; None for datasets
    and for files of the original tool, which record no source."""
    if not source or source.get("kind", "news") != "news":
        return None
    label = source.get("snapshot_id") or source.get("snapshot")
    return str(label) if label else None


def snapshot_mismatch(subject: str, read: Mapping[str, Iterable[str | None]]) -> str | None:
    """A warning naming what each model read when the models compared on ``subject`` (model
    name → the snapshot labels of its result files) did not all read one snapshot; None
    when they did (models whose files name no snapshot are left out)."""
    named = {model: sorted({label for label in labels if label}) for model, labels in read.items()}
    named = {model: labels for model, labels in named.items() if labels}
    if len(set().union(*named.values())) <= 1:
        return None
    listed = "; ".join(f"{model}: {', '.join(labels)}" for model, labels in sorted(named.items()))
    return (f"{subject}: the models did not all read the same article snapshot, so their answers are "
            f"not about the same texts ({listed}); rerun with --snapshot to pin one")
