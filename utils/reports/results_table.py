"""A results tree as one long table: a row per (model, subject, iteration, item).

This is what every report reads. Broken files are not fatal: each one becomes a
warning naming the file, and the rest is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from utils.answers import SentimentResponse
from utils.items import snapshot_label, snapshot_mismatch
from utils.result_file import (
    ItemResult,
    IterationResult,
    ResultFileError,
    iter_result_files,
    load_result,
    parse_result_name,
)

log = logging.getLogger(__name__)

COLUMNS = [
    "model", "subject", "iteration", "key", "valid", "sentiment", "confidence", "time_taken",
    "reasoning", "url", "published", "title", "gold_label", "gold_score", "gold_origin",
    "prompt_tokens", "completion_tokens", "prompt_truncated", "bare_json", "finish_reason",
    "backend", "family", "quantization", "prompt_mode", "prompt_set", "snapshot", "file",
]


@dataclass
class LoadedResults:
    frame: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    files_read: int = 0
    # (subject, model) → the article snapshots its files read (see utils.items.snapshot_label)
    snapshots: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return sorted(self.frame["model"].unique()) if not self.frame.empty else []


def load_results_frame(
    folder: Path,
    subject: str | None = None,
    models: list[str] | None = None,
) -> LoadedResults:
    """Every answer under ``folder`` (optionally one subject, some model folders)."""
    rows: list[dict] = []
    problems: list[str] = []
    seen_models: set[str] = set()
    snapshots: dict[tuple[str, str], set[str]] = {}
    files_read = 0
    inferred: dict[str, int] = {}  # model folder → answers whose validity was inferred
    wanted = set(models) if models else None
    for model_folder, path in iter_result_files(folder, subject):
        if wanted is not None and model_folder not in wanted:
            continue
        seen_models.add(model_folder)
        try:
            result = load_result(path)
        except ResultFileError as exc:
            problems.append(str(exc))
            log.warning("skipped %s", exc)
            continue
        files_read += 1
        name_subject, iteration = parse_result_name(path)  # type: ignore[misc]
        label = snapshot_label(result.source)
        if label:
            snapshots.setdefault((result.subject or name_subject, model_folder), set()).add(label)
        validity = _validity(path, result, inferred)
        problems.extend(validity.problems)
        for key, item in result.sentiments.items():
            valid = validity.valid[key]
            rows.append({
                "model": model_folder,
                "subject": result.subject or name_subject,
                "iteration": result.iteration if result.iteration is not None else iteration,
                "key": key,
                "valid": valid,
                "sentiment": item.sentiment if valid else None,
                "confidence": item.confidence if valid else None,
                "time_taken": item.time_taken,
                "reasoning": item.reasoning,
                "url": item.url,
                "published": item.published,
                "title": item.title,
                "gold_label": item.gold_label,
                "gold_score": item.gold_score,
                "gold_origin": _gold_origin(result.source) if item.gold_label is not None else None,
                "prompt_tokens": item.prompt_tokens,
                "completion_tokens": item.completion_tokens,
                "prompt_truncated": item.prompt_truncated,
                "bare_json": item.bare_json,
                "finish_reason": item.finish_reason,
                "backend": result.backend,
                "family": result.family,
                "quantization": result.quantization,
                "prompt_mode": result.prompt_mode,
                "prompt_set": _prompt_set(result.settings),
                "snapshot": label,
                "file": str(path),
            })
    if wanted is not None:
        for name in sorted(wanted - seen_models):
            what = f" for {subject!r}" if subject else ""
            problems.append(f"{Path(folder) / name}: no result files{what} for model {name!r}")
            if Path(folder).is_dir():
                log.warning("%s", problems[-1])
    else:
        problems.extend(_empty_model_folders(Path(folder), seen_models, subject))
    problems.extend(_inferred_warnings(Path(folder), inferred))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    problems.extend(_missing_items(frame))
    if not frame.empty:
        frame["sentiment"] = pd.to_numeric(frame["sentiment"], errors="coerce")
        frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce")
        frame["time_taken"] = pd.to_numeric(frame["time_taken"], errors="coerce")
    _warn_mixed_snapshots(snapshots)
    return LoadedResults(frame=frame, problems=problems, files_read=files_read, snapshots=snapshots)


def _gold_origin(source: dict) -> str | None:
    """Where a file's gold labels come from: ``synthetic`` (the shipped sample articles'),
    ``snapshot``, ``file`` (--labels), ``dataset``; None when it does not say."""
    labels = source.get("labels")
    if isinstance(labels, dict) and labels.get("origin"):
        return str(labels["origin"])
    if source.get("kind") == "dataset":
        return "dataset"
    return "synthetic" if source.get("synthetic") else None


def _prompt_set(settings: dict) -> str | None:
    """The prompt folder a result file says its model was asked with (None: not recorded)."""
    folder = settings.get("prompt_set") or settings.get("messages_folder")
    return str(folder) if folder else None


def _warn_mixed_snapshots(snapshots: dict[tuple[str, str], set[str]]) -> None:
    """Log a warning for each subject whose models read different article snapshots."""
    for subject in sorted({subject for subject, _ in snapshots}):
        read = {model: labels for (s, model), labels in snapshots.items() if s == subject}
        warning = snapshot_mismatch(subject, read)
        if warning:
            log.warning("%s", warning)


def contract_problem(item: ItemResult) -> str:
    """Why a stored answer breaks the answer contract ('' when it keeps it): a sentiment in
    [-1, 1], a confidence in [0, 1] and a reasoning that is not blank
    (:class:`utils.answers.SentimentResponse`)."""
    try:
        SentimentResponse.model_validate(
            {"sentiment": item.sentiment, "confidence": item.confidence, "reasoning": item.reasoning},
            strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return ""


@dataclass(frozen=True)
class _Validity:
    valid: dict[str, bool]
    problems: list[str]


def _validity(path: Path, result: IterationResult, inferred: dict[str, int]) -> _Validity:
    """Each answer's validity: as recorded when it keeps the answer contract, else inferred from it.

    An answer without a 'valid' key (another tool's file, a hand-edited one) is valid when
    it keeps the contract; one marked valid that breaks it (no sentiment, a sentiment
    outside [-1, 1], ...) counts as invalid, with one warning per file naming the answers.
    """
    valid: dict[str, bool] = {}
    broken: list[str] = []
    for key, item in result.sentiments.items():
        problem = contract_problem(item)
        keeps = not problem
        if "valid" not in item.model_fields_set:  # the file does not say (another tool's)
            inferred[path.parent.name] = inferred.get(path.parent.name, 0) + 1
            valid[key] = keeps
        else:
            valid[key] = bool(item.valid) and keeps
            if item.valid and not keeps:
                broken.append(f"{key} ({problem})")
    if not broken:
        return _Validity(valid, [])
    message = (f"{path}: {len(broken)} answer(s) marked valid break the answer contract "
               f"(counted as invalid): {', '.join(broken[:5])}")
    log.warning("%s", message)
    return _Validity(valid, [message])


def _inferred_warnings(folder: Path, inferred: dict[str, int]) -> list[str]:
    """One warning per model folder whose result files do not say which answers are valid."""
    messages = [f"{folder / model}: {count} answer(s) have no 'valid' key: validity inferred from the answer "
                "contract (a sentiment in [-1, 1], a confidence in [0, 1], a reasoning)"
                for model, count in sorted(inferred.items())]
    for message in messages:
        log.warning("%s", message)
    return messages


def _empty_model_folders(folder: Path, seen: set[str], subject: str | None) -> list[str]:
    """Warnings for model folders under ``folder`` that hold no usable result file."""
    if not folder.is_dir():
        return []
    what = f"result files for {subject!r}" if subject else "result files"
    messages = [
        f"{path}: model folder has no {what}"
        for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if path.name not in seen
    ]
    for message in messages:
        log.warning("%s", message)
    return messages


def _missing_items(frame: pd.DataFrame) -> list[str]:
    """Warnings for result files lacking articles that other iterations of the model have."""
    messages = []
    for (model, _subject), group in frame.groupby(["model", "subject"], sort=True):
        all_keys = set(group["key"])
        for path, keys in group.groupby("file", sort=True)["key"]:
            missing = sorted(all_keys - set(keys))
            if missing:
                messages.append(f"{path}: lacks {len(missing)} article(s) that other iterations of "
                                f"{model!r} have: {', '.join(missing[:5])}")
    for message in messages:
        log.warning("%s", message)
    return messages
