"""Labelled datasets: FinancialPhraseBank files and ``text,label`` CSVs, read into items.

An item's key is the first 8 hex characters of md5(text), so results of a labelled
run line up across models and iterations like article results do. The project never
ships FinancialPhraseBank (CC BY-NC-SA 3.0); users point ``load_fpb`` at their copy.
"""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from utils.errors import DatasetError
from utils.io import file_sha256
from utils.items import Item, article_key
from utils.labels import LABEL_SCORES, LABELS, label_from_score

__all__ = ["LABELS", "LABEL_SCORES", "LabelledDataset", "LabelledItem", "label_from_score", "load_fpb",
           "load_labelled_csv", "sample_dataset", "stratified_sample"]

FPB_FILES = {
    "all": "Sentences_AllAgree.txt",
    "75": "Sentences_75Agree.txt",
    "66": "Sentences_66Agree.txt",
    "50": "Sentences_50Agree.txt",
}


@dataclass(frozen=True)
class LabelledItem:
    """One labelled text: its key, the text, the human label and its numeric score."""

    key: str
    text: str
    gold_label: str
    gold_score: float
    line: int = 0


@dataclass(frozen=True)
class LabelledDataset:
    """The items of one labelled file (possibly a sample of them) and where they came from."""

    name: str
    path: Path
    sha256: str
    items: tuple[LabelledItem, ...]
    agreement: str | None = None
    encoding: str = "utf-8"
    total_items: int = 0
    duplicates_dropped: int = 0
    conflicting_duplicates: int = 0
    limit: int | None = None
    sample_seed: int | None = None

    def label_counts(self) -> dict[str, int]:
        """Number of items per gold label, every label listed."""
        counts = Counter(item.gold_label for item in self.items)
        return {label: counts.get(label, 0) for label in LABELS}

    def as_articles(self) -> list[Item]:
        """The items as Articles (content = text, no title) carrying gold_label and gold_score."""
        return [
            Item(
                key=item.key, content=item.text, title="",
                gold_label=item.gold_label, gold_score=item.gold_score,
            )
            for item in self.items
        ]

    def source_info(self) -> dict[str, Any]:
        """What a result file records so a number names exactly the split it came from."""
        return {
            "dataset": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "agreement": self.agreement,
            "encoding": self.encoding,
            "total_items": self.total_items,
            "duplicates_dropped": self.duplicates_dropped,
            "conflicting_duplicates": self.conflicting_duplicates,
            "limit": self.limit,
            "sample_seed": self.sample_seed,
            "label_counts": self.label_counts(),
            "keys": [item.key for item in self.items],
        }


def load_fpb(
    dataset_dir: Path | str,
    agreement: str = "all",
    limit: int | None = None,
    seed: int = 0,
) -> LabelledDataset:
    """A FinancialPhraseBank v1.0 agreement file as a dataset, stratified-sampled to ``limit``."""
    agreement = str(agreement).lower().removesuffix("agree")
    if agreement not in FPB_FILES:
        allowed = ", ".join(FPB_FILES)
        raise DatasetError(f"unknown FinancialPhraseBank agreement {agreement!r} (allowed: {allowed})")
    path = Path(dataset_dir) / FPB_FILES[agreement]
    text, encoding = _decode(_read_bytes(path), path)
    items = [_parse_fpb_line(path, number, line) for number, line in _numbered_lines(text)]
    name = "FPB-" + FPB_FILES[agreement].removeprefix("Sentences_").removesuffix(".txt")
    dataset = _build(name, path, items, encoding=encoding, agreement=agreement)
    return sample_dataset(dataset, limit, seed)


def load_labelled_csv(
    path: Path | str,
    neutral_band: float = 0.2,
    limit: int | None = None,
    seed: int = 0,
) -> LabelledDataset:
    """A ``text,label`` CSV as a dataset named after the file stem, stratified-sampled to ``limit``."""
    path = Path(path)
    try:
        text = _read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    rows = _csv_rows(path, text)
    items = [_parse_csv_row(path, number, row, neutral_band) for number, row in rows]
    return sample_dataset(_build(path.stem, path, items, encoding="utf-8"), limit, seed)


def sample_dataset(dataset: LabelledDataset, limit: int | None, seed: int = 0) -> LabelledDataset:
    """The dataset itself when limit is None, else a copy holding a stratified sample."""
    if limit is None:
        return dataset
    items = stratified_sample(dataset.items, limit, seed)
    return replace(dataset, items=tuple(items), limit=limit, sample_seed=seed)


def stratified_sample(items: Sequence[LabelledItem], limit: int, seed: int) -> list[LabelledItem]:
    """``limit`` items drawn per class in proportion (largest remainder), seeded, in input order.

    A class whose share rounds to zero gets no item. The draw sorts each class by key
    first, so the same items in another order give the same sample.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DatasetError(f"sample limit must be a positive whole number (got {limit!r})")
    if limit >= len(items):
        return list(items)
    by_label: dict[str, list[LabelledItem]] = {}
    for item in items:
        by_label.setdefault(item.gold_label, []).append(item)
    quotas = _largest_remainder({k: len(v) for k, v in by_label.items()}, limit)
    rng = random.Random(seed)
    chosen: set[str] = set()
    for label in sorted(by_label):
        pool = sorted(by_label[label], key=lambda item: item.key)
        chosen.update(item.key for item in rng.sample(pool, quotas[label]))
    return [item for item in items if item.key in chosen]


def _largest_remainder(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """Whole quotas per class summing to ``limit``, proportional to ``sizes`` (Hamilton's method)."""
    total = sum(sizes.values())
    exact = {label: limit * size / total for label, size in sizes.items()}
    quotas = {label: math.floor(value) for label, value in exact.items()}
    left = limit - sum(quotas.values())
    # Ties on the remainder go to the bigger class, then alphabetically: deterministic.
    order = sorted(exact, key=lambda lab: (-(exact[lab] - quotas[lab]), -sizes[lab], lab))
    for label in order[:left]:
        quotas[label] += 1
    return quotas


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; DatasetError naming the path when it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: labelled dataset file not found") from None
    except NotADirectoryError:
        raise DatasetError(f"{path}: {path.parent} is a file; pass the folder that holds it") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder, expected a labelled dataset file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read labelled dataset file: {exc.strerror}") from None


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """(text, encoding): latin-1 as published, or UTF-8 where a copy was re-encoded to it.

    Latin-1 never fails, so a UTF-8 copy would silently turn 'ä' into 'Ã¤' and change the
    item keys; real latin-1 text with accents is almost never valid UTF-8.
    """
    if not raw.strip():
        raise DatasetError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
    return text.removeprefix("\ufeff"), "utf-8" if not raw.isascii() else "latin-1"


def _numbered_lines(text: str) -> Iterable[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _parse_fpb_line(path: Path, number: int, line: str) -> LabelledItem:
    """One ``sentence@label`` line (split on the last '@'); DatasetError naming path and line."""
    sentence, at, label = line.rpartition("@")
    if not at:
        raise DatasetError(f"{path}: line {number}: expected 'sentence@label', found no '@'")
    gold = label.strip().lower()
    if gold not in LABEL_SCORES:
        raise DatasetError(
            f"{path}: line {number}: unknown label {label.strip()!r} (expected {', '.join(LABELS)})"
        )
    text = sentence.strip()
    if not text:
        raise DatasetError(f"{path}: line {number}: empty sentence before '@'")
    return LabelledItem(article_key(text), text, gold, LABEL_SCORES[gold], number)


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, str]]]:
    """(starting line number, row) for every non-blank CSV row; the header must name text and label."""
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise DatasetError(f"{path}: the file is empty (expected a 'text,label' header)") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: line 1: unreadable CSV header: {exc}") from None
    missing = [name for name in ("text", "label") if name not in header]
    if missing:
        raise DatasetError(f"{path}: line 1: header lacks column(s) {', '.join(missing)} (expected 'text,label')")
    rows: list[tuple[int, dict[str, str]]] = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            raise DatasetError(f"{path}: line {start}: unreadable CSV row: {exc}") from None
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            raise DatasetError(
                f"{path}: line {start}: expected {len(header)} fields, found {len(values)} "
                "(quote texts that contain commas)"
            )
        rows.append((start, dict(zip(header, values))))


def _parse_csv_row(path: Path, number: int, row: dict[str, str], band: float) -> LabelledItem:
    """One CSV row as an item: a word label, or a number in [-1, 1] labelled with the band."""
    text = row["text"].strip()
    if not text:
        raise DatasetError(f"{path}: line {number}: empty text")
    raw = row["label"].strip()
    word = raw.lower()
    if word in LABEL_SCORES:
        return LabelledItem(article_key(text), text, word, LABEL_SCORES[word], number)
    try:
        score = float(raw)
    except ValueError:
        raise DatasetError(
            f"{path}: line {number}: label {raw!r} is neither {', '.join(LABELS)} nor a number in [-1, 1]"
        ) from None
    if not -1.0 <= score <= 1.0:  # also rejects nan
        raise DatasetError(f"{path}: line {number}: numeric label {raw!r} is outside [-1, 1]")
    return LabelledItem(article_key(text), text, label_from_score(score, band), score, number)


def _build(
    name: str, path: Path, items: list[LabelledItem], *, encoding: str, agreement: str | None = None
) -> LabelledDataset:
    """A dataset of the unique items with duplicate counts recorded.

    A repeated text keeps its first occurrence and label, also when a later copy carries
    another label (FPB's 50Agree file has two such pairs); those are counted apart.
    """
    if not items:
        raise DatasetError(f"{path}: no labelled items in the file")
    kept: dict[str, LabelledItem] = {}
    conflicts: set[str] = set()
    for item in items:
        first = kept.setdefault(item.key, item)
        if first.text != item.text:
            raise DatasetError(
                f"{path}: lines {first.line} and {item.line}: different texts share the key {item.key}"
            )
        if first.gold_label != item.gold_label:
            conflicts.add(item.key)
    return LabelledDataset(
        name=name, path=path, sha256=file_sha256(path), items=tuple(kept.values()),
        agreement=agreement, encoding=encoding, total_items=len(kept),
        duplicates_dropped=len(items) - len(kept), conflicting_duplicates=len(conflicts),
    )
