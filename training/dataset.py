"""``training dataset``: labelled sentences → disjoint stratified splits as chat-format JSONL.

Every record is the conversation the harness itself sends a zero-shot model (the
project's system message and user template, built by utils/run/prompts.py) followed by
the target answer in the answer contract's exact shape. The confidence target comes from
how many annotators agreed: a FinancialPhraseBank sentence that reaches AllAgree gets a
higher confidence than one that only reaches 50Agree, so the fine-tune's confidence can
mean something. News articles without a label can be added: a stronger model labels them
through the harness (training/labelling.py) and its own confidence is the target. The
split file lists the item keys of each split; the accuracy run reads it (``--split test``),
so the fine-tune is scored on sentences it never saw.
"""

from __future__ import annotations

import logging
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, cast

from training.config import TrainingConfig
from utils.errors import DatasetError
from utils.io import write_json_atomic, write_jsonl_atomic
from utils.labelled.datasets import FPB_FILES, LabelledItem, load_fpb, load_labelled_csv, stratified_sample
from utils.labelled.splits import write_split_file
from utils.answers import SentimentResponse, parse_answer
from utils.run.prompts import PromptTemplates, load_templates, render_answer
from utils.run.sources import DATASET_COMPANY

log = logging.getLogger(__name__)

LEVEL_ORDER = ("all", "75", "66", "50")  # highest agreement first


@dataclass(frozen=True)
class Example:
    """One training sentence: its item key, text, gold label and the source it reached."""

    key: str
    text: str
    label: str
    agreement: str  # an FPB level ('all', '75', ...), 'csv' or 'articles' (labelled by a model)
    company: str = DATASET_COMPANY  # who the prompt asks about
    confidence: float | None = None  # the confidence target when not the source's fixed one


@dataclass(frozen=True)
class DatasetResult:
    files: dict[str, Path]
    split_file: Path
    stats_file: Path
    counts: dict[str, int]


def normalised(text: str) -> str:
    """The text as compared for duplicates: NFKC, lower case, single spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()


def collect_examples(config: TrainingConfig) -> tuple[list[Example], dict[str, int]]:
    """Unique examples from FPB (each at the highest level it reaches) and CSV files, plus drop counts.

    Texts equal after normalising count as duplicates (the first is kept); a text that
    appears with two different labels is dropped altogether, as there is no right answer to teach.
    """
    chosen: dict[str, Example] = {}
    labels_seen: dict[str, set[str]] = {}
    stats: Counter = Counter(duplicates_dropped=0)
    for example in _fpb_examples(config) + _csv_examples(config) + _article_examples(config, stats):
        norm = normalised(example.text)
        labels_seen.setdefault(norm, set()).add(example.label)
        if norm in chosen:
            stats["duplicates_dropped"] += 1
        else:
            chosen[norm] = example
    conflicts = [norm for norm, labels in labels_seen.items() if len(labels) > 1]
    for norm in conflicts:
        chosen.pop(norm, None)
    stats["conflicting_dropped"] = len(conflicts)
    if not chosen:
        raise DatasetError("no training examples: check dataset.fpb_path and dataset.csv_files")
    return list(chosen.values()), dict(stats)


def _fpb_examples(config: TrainingConfig) -> list[Example]:
    """FPB sentences whose highest agreement level is one of dataset.agreement_levels."""
    settings = config.dataset
    if settings.fpb_path is None:
        return []
    wanted = set(settings.agreement_levels)
    lowest = max(LEVEL_ORDER.index(level) for level in wanted)
    level_of: dict[str, Example] = {}
    # Each lower file contains the higher ones: reading from the top gives every
    # sentence the highest level it reaches.
    for level in LEVEL_ORDER[: lowest + 1]:
        for item in load_fpb(settings.fpb_path, level).items:
            level_of.setdefault(item.key, Example(item.key, item.text, item.gold_label, level))
    return [example for example in level_of.values() if example.agreement in wanted]


def _csv_examples(config: TrainingConfig) -> list[Example]:
    return [Example(item.key, item.text, item.gold_label, "csv")
            for path in config.dataset.csv_files for item in load_labelled_csv(path).items]


def _article_examples(config: TrainingConfig, stats: Counter) -> list[Example]:
    """Articles of the configured snapshots, labelled by the labeller (training/labelling.py)."""
    from training.labelling import SOURCE, label_articles

    report = label_articles(config)
    if config.dataset.articles and config.dataset.articles.snapshots:
        stats["articles_labelled"] = len(report.labelled)
        stats["articles_dropped"] = len(report.dropped)
    return [Example(a.key, a.text, a.label, SOURCE, company=a.company, confidence=a.confidence)
            for a in report.labelled]


def split_examples(examples: Sequence[Example], fractions: dict[str, float], seed: int) -> dict[str, list[Example]]:
    """Disjoint train/validation/test lists, stratified by (label, source level), seeded.

    Each stratum is sorted by key and shuffled by a generator seeded with the seed and the
    stratum's name, so the same examples in any order give the same splits, and adding
    another agreement level or a CSV leaves the split of every existing stratum unchanged
    (the AllAgree test sentences stay the same whichever levels are trained on).
    """
    strata: dict[tuple[str, str], list[Example]] = {}
    for example in examples:
        strata.setdefault((example.label, example.agreement), []).append(example)
    splits: dict[str, list[Example]] = {"train": [], "validation": [], "test": []}
    for stratum in sorted(strata):
        pool = sorted(strata[stratum], key=lambda e: e.key)
        random.Random(f"{seed}/{stratum[0]}/{stratum[1]}").shuffle(pool)
        n_test = round(len(pool) * fractions["test"])
        n_val = round(len(pool) * fractions["validation"])
        splits["test"] += pool[:n_test]
        splits["validation"] += pool[n_test:n_test + n_val]
        splits["train"] += pool[n_test + n_val:]
    for name in splits:
        splits[name].sort(key=lambda e: e.key)
    return splits


def target_answer(example: Example, config: TrainingConfig) -> str:
    """The assistant turn: compact JSON in the contract's key order, validated."""
    settings = config.dataset
    if example.confidence is not None:
        confidence = example.confidence
    elif example.agreement == "csv":
        confidence = settings.csv_confidence
    else:
        confidence = cast(dict[str, float], settings.confidence)[example.agreement]
    # The label was validated when the record was read; the settings are keyed by the label set.
    answer = SentimentResponse(
        sentiment=float(cast(dict[str, float], settings.sentiment)[example.label]),
        confidence=float(confidence),
        reasoning=cast(dict[str, str], settings.reasoning)[example.label],
    )
    text = render_answer(answer)
    if not parse_answer(text).valid:  # the contract is the single source of truth
        raise DatasetError(f"target answer for {example.key} breaks the answer contract: {text}")
    return text


def chat_record(example: Example, templates: PromptTemplates, config: TrainingConfig) -> dict:
    """One JSONL record: metadata plus the zero-shot conversation and its answer."""
    messages = templates.build("zero_shot", example.company, example.text)
    messages.append({"role": "assistant", "content": target_answer(example, config)})
    return {"key": example.key, "label": example.label, "agreement": example.agreement, "messages": messages}


def _cap(items: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A stratified (by label) sample of ``limit`` examples, or all of them."""
    if limit is None or limit >= len(items):
        return items
    as_items = [LabelledItem(e.key, e.text, e.label, 0.0) for e in items]
    keep = {i.key for i in stratified_sample(as_items, limit, seed)}
    return [e for e in items if e.key in keep]


def build_dataset(config: TrainingConfig) -> DatasetResult:
    """Write train/validation/test JSONL, the split file and a stats summary; returns their paths."""
    settings = config.dataset
    examples, drops = collect_examples(config)
    fractions = {"train": settings.train, "validation": settings.validation, "test": settings.test}
    splits = split_examples(examples, fractions, settings.seed)
    # Caps only shrink train/validation: the test split stays whole and disjoint. The training
    # cap shrinks the sentences only: articles a labeller was paid to label are all trained on.
    from training.labelling import SOURCE as ARTICLES

    articles = [e for e in splits["train"] if e.agreement == ARTICLES]
    sentences = [e for e in splits["train"] if e.agreement != ARTICLES]
    splits["train"] = sorted(_cap(sentences, settings.max_train_items, settings.seed) + articles, key=lambda e: e.key)
    splits["validation"] = _cap(splits["validation"], settings.max_eval_items, settings.seed)
    templates = load_templates(config.prompts_folder)
    files = {}
    for name, items in splits.items():
        files[name] = config.data_dir / f"{name}.jsonl"
        write_jsonl_atomic(files[name], (chat_record(e, templates, config) for e in items))
    split_file = config.data_dir / "splits.json"
    write_split_file(split_file, {n: [e.key for e in items] for n, items in splits.items()},
                     {"seed": settings.seed, "fractions": fractions, "sources": _source_info(config)})
    stats = {
        "examples": len(examples), **drops,
        "splits": {name: _stratum_counts(items) for name, items in splits.items()},
        "prompt_fingerprint": templates.fingerprint("zero_shot"),
    }
    stats_file = config.data_dir / "stats.json"
    write_json_atomic(stats_file, stats)
    counts = {name: len(items) for name, items in splits.items()}
    log.info("dataset: %s (train/validation/test) -> %s", counts, config.data_dir)
    return DatasetResult(files, split_file, stats_file, counts)


def _stratum_counts(items: Sequence[Example]) -> dict:
    counts = Counter(f"{e.label}/{e.agreement}" for e in items)
    return {"total": len(items), "by_label": dict(Counter(e.label for e in items)), "by_label_and_level": dict(counts)}


def _source_info(config: TrainingConfig) -> dict:
    from utils.io import file_sha256

    settings = config.dataset
    info: dict = {"agreement_levels": list(settings.agreement_levels), "csv_files": {}}
    if settings.fpb_path is not None:
        info["fpb_path"] = str(settings.fpb_path)
        info["fpb_sha256"] = {lvl: file_sha256(settings.fpb_path / FPB_FILES[lvl]) for lvl in LEVEL_ORDER
                              if (settings.fpb_path / FPB_FILES[lvl]).is_file()}
    for path in settings.csv_files:
        info["csv_files"][str(path)] = file_sha256(path)
    from training.labelling import labels_source_info

    if labels := labels_source_info(settings.articles):
        info["articles"] = labels
    return info
