"""Gold labels on news articles: the shipped samples' intended sentiment, or a ``key,label`` file.

A snapshot article may carry ``intended_sentiment`` (the shipped synthetic samples do):
positive, negative and neutral become its gold label; "mixed" is no gold label, since a
mixed story has no single right answer, and is counted separately so reports can say how
many articles accuracy leaves out. A user labels a real snapshot with a CSV of
``key,label`` rows (``--labels FILE``; the key is the article key the result files use), which
replaces any intended labels. Where the labels came from travels with the run's ``source``
(``labels.origin``: ``synthetic``, ``snapshot`` or ``file``) so every report can mark
synthetic labels as such.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from utils.errors import DatasetError
from utils.io import file_sha256
from utils.items import Item
from utils.labels import LABEL_SCORES, LABELS

MIXED = "mixed"
ACCEPTED = (*LABELS, MIXED)


@dataclass(frozen=True)
class ArticleLabels:
    """The articles with their gold labels set, and what the ``source`` records about them."""

    items: list[Item]
    origin: str | None = None  # synthetic | snapshot | file; None: no article is labelled
    counts: dict[str, int] = field(default_factory=dict)  # label (mixed included) -> articles
    file: Path | None = None

    @property
    def labelled(self) -> int:
        return sum(n for label, n in self.counts.items() if label != MIXED)

    def source_info(self) -> dict[str, Any] | None:
        """The ``labels`` entry of a result file's source (None when nothing is labelled)."""
        if self.origin is None:
            return None
        info: dict[str, Any] = {"origin": self.origin, "labelled": self.labelled,
                                "mixed": self.counts.get(MIXED, 0),
                                "unlabelled": len(self.items) - sum(self.counts.values()),
                                "counts": dict(sorted(self.counts.items()))}
        if self.file is not None:
            info.update(file=str(self.file), file_sha256=file_sha256(self.file))
        return info


def with_gold(item: Item, label: str | None) -> Item:
    """``item`` with gold label and score set from ``label`` (mixed or None: no gold label)."""
    gold = label if label in LABELS else None
    return item.model_copy(update={"gold_label": gold, "gold_score": LABEL_SCORES[gold] if gold else None})


def intended_labels(items: Sequence[Item], synthetic: bool) -> ArticleLabels:
    """Gold labels from the articles' own ``intended_sentiment`` (the shipped samples')."""
    intended = {item.key: _intended(item) for item in items}
    if not any(intended.values()):
        return ArticleLabels(list(items))
    labelled = [with_gold(item, intended[item.key]) for item in items]
    counts = _counts(intended.values())
    return ArticleLabels(labelled, "synthetic" if synthetic else "snapshot", counts)


def _intended(item: Item) -> str | None:
    value = (item.model_extra or {}).get("intended_sentiment")
    if value is None:
        return None
    label = str(value).strip().lower()
    return label if label in ACCEPTED else None


def file_labels(items: Sequence[Item], path: Path, snapshot: str) -> ArticleLabels:
    """Gold labels from ``path`` (``key,label`` rows; a ``key,label`` header is optional).

    DatasetError names the file and line of an unknown key, a label outside positive,
    negative, neutral and mixed, a key given twice or a malformed row.
    """
    labels = read_label_file(path)
    known = {item.key for item in items}
    for key, (_label, line) in labels.items():
        if key not in known:
            raise DatasetError(f"{path}:{line}: unknown article key {key!r}: {snapshot} has no such article "
                               "(the keys are the result files' article keys)")
    chosen = {key: label for key, (label, _) in labels.items()}
    labelled = [with_gold(item, chosen.get(item.key)) for item in items]
    return ArticleLabels(labelled, "file", _counts(chosen.values()), Path(path))


def read_label_file(path: Path) -> dict[str, tuple[str, int]]:
    """Key -> (label, line number) of a ``key,label`` CSV."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: label file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the label file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}); save the labels as UTF-8") from None
    found: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise DatasetError(f"{path}:{line}: expected two columns, key,label (got {len(row)})")
        key, label = row[0].strip(), row[1].strip().lower()
        if line == 1 and (key.lower(), label) == ("key", "label"):
            continue
        if not key:
            raise DatasetError(f"{path}:{line}: empty article key")
        if label not in ACCEPTED:
            raise DatasetError(f"{path}:{line}: label {row[1].strip()!r} is not one of {', '.join(ACCEPTED)}")
        if key in found:
            raise DatasetError(f"{path}:{line}: article key {key!r} is labelled twice (first on line {found[key][1]})")
        found[key] = (label, line)
    if not found:
        raise DatasetError(f"{path}: the label file holds no key,label rows")
    return found


def _counts(labels: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels:
        if label:
            counts[label] = counts.get(label, 0) + 1
    return counts
