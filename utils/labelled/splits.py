"""Split files: which labelled items belong to train, validation and test.

The training pipeline writes one JSON file listing the item keys of every split, and
the accuracy run reads it back, so a fine-tune is scored on exactly the sentences it
never saw. An item key is the one every labelled dataset uses (md5 of the text).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from utils.errors import DatasetError
from utils.io import write_json_atomic
from utils.labelled.datasets import LabelledDataset

SPLIT_FORMAT = "labelled-splits/1"
SPLIT_NAMES = ("train", "validation", "test")
# Where ``python -m training dataset`` writes it with the shipped training/config.yaml.
DEFAULT_SPLIT_FILE = Path(__file__).resolve().parents[2] / "training" / "output" / "data" / "splits.json"


def write_split_file(path: Path, splits: Mapping[str, Sequence[str]], info: Mapping[str, Any]) -> None:
    """Write the item keys of each split (and facts about how they were drawn) atomically.

    Raises:
        DatasetError: a key sits in two splits (a split file must never leak test items).
    """
    seen: dict[str, str] = {}
    for name, keys in splits.items():
        for key in keys:
            if key in seen and seen[key] != name:
                raise DatasetError(f"{path}: item {key} is in both the {seen[key]} and {name} splits")
            seen[key] = name
    data = {"format": SPLIT_FORMAT, **info, "splits": {name: list(keys) for name, keys in splits.items()}}
    write_json_atomic(Path(path), data)


def read_split_keys(path: Path | str, split: str) -> list[str]:
    """The item keys of one split in a split file; DatasetError naming the file when wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"{path}: split file not found (write it with: python -m training dataset)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable split file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SPLIT_FORMAT:
        raise DatasetError(f"{path}: not a split file (expected format {SPLIT_FORMAT!r})")
    splits = data.get("splits") or {}
    if split not in splits:
        raise DatasetError(f"{path}: no split {split!r} (the file has: {', '.join(splits) or 'none'})")
    keys = splits[split]
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise DatasetError(f"{path}: splits.{split} must be a list of item keys")
    return keys


def restrict_to_split(dataset: LabelledDataset, path: Path | str, split: str) -> LabelledDataset:
    """The dataset's items that the split file puts in ``split``, renamed ``<name>-<split>``.

    Raises:
        DatasetError: none of the dataset's items is in that split (wrong file or dataset).
    """
    keys = set(read_split_keys(path, split))
    items = tuple(item for item in dataset.items if item.key in keys)
    if not items:
        raise DatasetError(
            f"{path}: none of the {len(dataset.items)} items of {dataset.name} is in the {split!r} split"
        )
    return replace(dataset, name=f"{dataset.name}-{split}", items=items)
