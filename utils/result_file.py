"""The result-file format: one file per (model, subject, iteration), its shape, name and reading.

Layout (compatible with the tool this project grew from)::

    <sentiment_save_folder>/<model folder>/<TICKER or dataset>_<iteration>.json

with ``average_sentiment``, ``time_taken`` and ``sentiments`` {article key → answer}.
Everything else in the file is an addition that older readers ignore, and files
holding only the old keys read back here as well.

This is the contract between the run, which writes the files (utils/run/results.py), and the
reports, which read them (utils/reports/results_table.py); neither imports the other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utils.errors import ResultFileError

__all__ = ["ItemResult", "IterationResult", "ResultFileError", "SCHEMA_VERSION", "load_result",
           "iter_result_files", "parse_result_name", "result_path", "weighted_average_sentiment"]

SCHEMA_VERSION = 1
_FILE_RE = re.compile(r"^(?P<subject>.+)_(?P<iteration>\d+)\.json$")


class ItemResult(BaseModel):
    """One model answer for one item (a news article or a labelled sentence) in one iteration."""

    model_config = ConfigDict(extra="allow")

    reasoning: str = ""
    sentiment: float | None = None
    confidence: float | None = None
    valid: bool = False
    url: str = ""
    published: str = ""
    time_taken: float | None = None

    # Additions (absent in files from the original tool).
    title: str | None = None
    raw_text: str | None = Field(None, description="The model's raw answer when it was not valid.")
    error: str | None = Field(None, description="Why the answer was not valid.")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = Field(None, description="Prompt tokens served from the cached prefix.")
    prompt_seconds: float | None = Field(None, description="The backend's own prefill time.")
    eval_seconds: float | None = Field(None, description="The backend's own decode time.")
    backend_extra: dict[str, Any] | None = Field(
        None, description="Further backend figures: Ollama's server and load seconds, llama.cpp's evaluated tokens."
    )
    prompt_truncated: bool | None = Field(
        None, description="The server evaluated fewer prompt tokens than were sent."
    )
    bare_json: bool | None = Field(None, description="A valid answer that is the JSON object and nothing else.")
    finish_reason: str | None = Field(None, description="stop, length, or json_complete (stopped after the JSON).")
    truncated: bool | None = Field(None, description="The article was cut from its end to fit the context.")
    truncation: str | None = Field(None, description="What was cut, or why no answer could be asked for.")
    gold_label: str | None = Field(None, description="Human label of a labelled dataset item.")
    gold_score: float | None = None


class IterationResult(BaseModel):
    """One (model, subject, iteration) unit of work, as written to disk."""

    model_config = ConfigDict(extra="allow")

    average_sentiment: float | None = None
    time_taken: float | None = None
    sentiments: dict[str, ItemResult] = Field(default_factory=dict)

    schema_version: int | None = None
    model: str | None = None
    subject: str | None = Field(None, description="Ticker, or dataset name for labelled runs.")
    iteration: int | None = None
    backend: str | None = None
    family: str | None = None
    quantization: str | None = None
    prompt_mode: str | None = None
    seed: int | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    provenance: dict[str, Any] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def valid_count(self) -> int:
        return sum(1 for item in self.sentiments.values() if item.valid)


def weighted_average_sentiment(items: Iterable[ItemResult]) -> float | None:
    """Confidence-weighted mean of the valid, non-zero sentiments (the original definition).

    Neutral (0.0) answers are skipped as in the original tool; ``None`` when nothing is left
    or the confidences sum to zero.
    """
    pairs = [
        (item.sentiment, item.confidence)
        for item in items
        if item.valid and item.sentiment not in (None, 0.0) and item.confidence is not None
    ]
    weight = sum(conf for _, conf in pairs)
    if not pairs or weight == 0:
        return None
    return round(sum(s * c for s, c in pairs) / weight, 4)


def result_path(folder: Path, model_folder: str, subject: str, iteration: int) -> Path:
    """Deterministic location of one unit's result file."""
    return Path(folder) / model_folder / f"{subject}_{iteration}.json"


def parse_result_name(path: Path) -> tuple[str, int] | None:
    """(subject, iteration) from ``NVDA_3.json``; None for other files."""
    match = _FILE_RE.match(path.name)
    if not match:
        return None
    return match["subject"], int(match["iteration"])


def load_result(path: Path) -> IterationResult:
    """Read one result file (ours or the original tool's)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultFileError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON (truncated?): {exc}") from None
    if not isinstance(data, dict) or "sentiments" not in data:
        raise ResultFileError(f"{path}: missing key 'sentiments'")
    try:
        return IterationResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ResultFileError(f"{path}: {where}: {first['msg']}") from None


def iter_result_files(folder: Path, subject: str | None = None) -> Iterator[tuple[str, Path]]:
    """(model folder, file) for every result file below ``folder``, optionally one subject."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for model_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(model_dir.glob("*.json"), key=_sort_key):
            parsed = parse_result_name(path)
            if parsed is None:
                continue
            if subject is None or parsed[0].upper() == subject.upper():
                yield model_dir.name, path


def _sort_key(path: Path) -> tuple[str, int]:
    parsed = parse_result_name(path)
    return (parsed[0], parsed[1]) if parsed else (path.name, -1)
