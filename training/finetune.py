"""``training finetune``: choose a trainer, fine-tune on the dataset step's JSONL, write metadata.

Two trainers share one contract (``train(config, base_path, data, show_progress)``
returning a TrainOutcome): transformers + peft + trl (CPU or GPU, the default) and
Unsloth (CUDA GPUs), looked up lazily by name so that neither is imported until used.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from training.config import TrainingConfig
from utils.errors import ConfigError, DatasetError
from utils.io import file_sha256, write_json_atomic

log = logging.getLogger(__name__)

TRAINERS = {"transformers": "training.hf_trainer:train", "unsloth": "training.unsloth_trainer:train"}
METADATA_FILE = "training_metadata.json"


@dataclass(frozen=True)
class FinetuneResult:
    merged_dir: Path
    adapter_dir: Path
    metadata_file: Path


def cuda_available() -> bool:
    """True when torch sees a CUDA device (torch is imported here, never in the harness)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def select_trainer(setting: str, has_cuda: bool, has_unsloth: bool) -> str:
    """The trainer to use: 'auto' picks unsloth only with both CUDA and unsloth present.

    Raises:
        ConfigError: unsloth asked for but not installed.
    """
    if setting == "auto":
        return "unsloth" if has_cuda and has_unsloth else "transformers"
    if setting == "unsloth" and not has_unsloth:
        raise ConfigError("finetune.trainer: unsloth is not installed "
                          "(pip install -r requirements-unsloth.txt on a CUDA machine, or use transformers)")
    if setting == "unsloth" and not has_cuda:
        log.warning("unsloth without a CUDA GPU falls back to slow CPU code; 'transformers' is the CPU path")
    return setting


def read_records(path: Path) -> list[dict]:
    """The records of a dataset JSONL file; DatasetError when missing or malformed."""
    if not path.is_file():
        raise DatasetError(f"{path}: not found (run: python -m training dataset)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
            if not isinstance(record.get("messages"), list) or record["messages"][-1]["role"] != "assistant":
                raise ValueError("messages must end with the assistant answer")
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            raise DatasetError(f"{path}: line {number}: not a chat record: {exc}") from None
        records.append(record)
    return records


def repeat_by_agreement(records: list[dict], repeats: Mapping[str, int]) -> list[dict]:
    """Each record as many times as its agreement level's repeat count (1 when not listed)."""
    if all(count == 1 for count in repeats.values()):
        return records
    return [record for record in records for _ in range(repeats.get(record.get("agreement", ""), 1))]


def base_model_path(config: TrainingConfig) -> Path:
    """The base model's file (GGUF) or folder (Hugging Face)."""
    spec = config.base_model
    if spec.package_resource:
        from utils.backends.gguf_files import package_resource_path

        return package_resource_path(spec.package_resource)
    path = Path(spec.gguf_path or spec.hf_folder)  # type: ignore[arg-type]
    if not path.exists():
        raise ConfigError(f"base_model: {path} does not exist")
    return path


def _model_hash(path: Path) -> str:
    """SHA-256 of a GGUF file, or of a folder's weight files in name order."""
    if path.is_file():
        return file_sha256(path)
    import hashlib

    digest = hashlib.sha256()
    for weight in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(file_sha256(weight).encode())
    return digest.hexdigest()


def finetune(config: TrainingConfig, show_progress: bool = True) -> FinetuneResult:
    """Train, save adapter + merged model, and write the metadata beside them."""
    data = {name: read_records(config.data_dir / f"{name}.jsonl") for name in ("train", "validation")}
    if not data["train"]:
        raise DatasetError(f"{config.data_dir / 'train.jsonl'}: no training records")
    repeats = {str(level): count for level, count in config.finetune.repeat_by_agreement.items()}
    data["train"] = repeat_by_agreement(data["train"], repeats)
    name = select_trainer(config.finetune.trainer, cuda_available(), unsloth_installed())
    module, _, function = TRAINERS[name].partition(":")
    train = getattr(importlib.import_module(module), function)
    base = base_model_path(config)
    log.info("fine-tuning %s with %s on %d examples per epoch", base.name, name, len(data["train"]))
    started = time.perf_counter()
    outcome = train(config, base, data, show_progress)
    metadata = _metadata(config, base, outcome, time.perf_counter() - started)
    path = config.merged_dir / METADATA_FILE
    write_json_atomic(path, metadata)
    write_json_atomic(config.adapter_dir / METADATA_FILE, metadata)
    return FinetuneResult(config.merged_dir, config.adapter_dir, path)


def _metadata(config: TrainingConfig, base: Path, outcome: Any, wall: float) -> dict:
    data_dir = config.data_dir
    return {
        "run_name": config.run_name,
        "base_model": {"name": config.base_model.name, "path": str(base), "sha256": _model_hash(base),
                       "chat_template": config.base_model.chat_template},
        "data": {name: {"file": str(data_dir / f"{name}.jsonl"), "sha256": file_sha256(data_dir / f"{name}.jsonl")}
                 for name in ("train", "validation") if (data_dir / f"{name}.jsonl").is_file()},
        "split_file": {"file": str(data_dir / "splits.json"), "sha256": file_sha256(data_dir / "splits.json")}
        if (data_dir / "splits.json").is_file() else None,
        "hyperparameters": config.finetune.model_dump(mode="json"),
        "wall_seconds": round(wall, 1),
        **asdict(outcome),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
