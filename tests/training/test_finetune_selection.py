"""Trainer selection and training-record handling (no GPU here: the Unsloth path is selected, not run)."""

from __future__ import annotations

import json

import pytest

from training.finetune import TRAINERS, read_records, select_trainer, unsloth_installed
from training.hf_trainer import prompt_completion
from training.unsloth_trainer import ALL_LINEAR, target_modules
from training.config import load_training_config
from tests.training.helpers import write_training_config
from utils.errors import ConfigError, DatasetError


@pytest.mark.parametrize("setting, cuda, unsloth, expected", [
    ("auto", True, True, "unsloth"),
    ("auto", True, False, "transformers"),
    ("auto", False, True, "transformers"),
    ("auto", False, False, "transformers"),
    ("transformers", True, True, "transformers"),
    ("unsloth", True, True, "unsloth"),
    ("unsloth", False, True, "unsloth"),
])
def test_select_trainer(setting, cuda, unsloth, expected):
    assert select_trainer(setting, cuda, unsloth) == expected


def test_unsloth_asked_for_but_missing_names_the_requirements_file():
    with pytest.raises(ConfigError, match="requirements-unsloth.txt"):
        select_trainer("unsloth", True, False)


def test_trainer_table_points_at_real_functions():
    import importlib

    for name, target in TRAINERS.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name


@pytest.mark.slow  # imports torch
def test_this_machine_selects_transformers_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert select_trainer("auto", False, unsloth_installed()) == "transformers"


def test_unsloth_target_modules(tmp_path):
    config = load_training_config(write_training_config(tmp_path, tmp_path))
    assert target_modules(config) == ALL_LINEAR
    config = load_training_config(write_training_config(tmp_path, tmp_path, finetune={"lora": {"target_modules": ["q_proj"]}}))
    assert target_modules(config) == ["q_proj"]


def test_records_become_prompt_completion_pairs(tmp_path):
    record = {"key": "k", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                                       {"role": "assistant", "content": "{}"}]}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (pair,) = prompt_completion(read_records(path))
    assert pair == {"prompt": record["messages"][:2], "completion": record["messages"][2:]}


def test_bad_records_name_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "u"}]}\n')
    with pytest.raises(DatasetError, match=r"train.jsonl: line 1: not a chat record"):
        read_records(path)
    with pytest.raises(DatasetError, match="run: python -m training dataset"):
        read_records(tmp_path / "missing.jsonl")


@pytest.mark.slow
def test_the_harness_imports_no_training_stack():
    import subprocess
    import sys

    code = ("import sys, generate_model_sentiments, generate_model_comparison_report, generate_model_metrics; "
            "import utils.labelled.splits; "
            "bad = [m for m in ('torch', 'transformers', 'peft', 'trl', 'unsloth', 'datasets') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    from tests.helpers import PROJECT

    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_repeat_by_agreement_repeats_records_of_listed_levels_only(tmp_path):
    from training.finetune import repeat_by_agreement

    records = [{"key": "a", "agreement": "all"}, {"key": "b", "agreement": "75"}, {"key": "c", "agreement": "csv"}]
    assert repeat_by_agreement(records, {}) == records
    repeated = [r["key"] for r in repeat_by_agreement(records, {"all": 2, "csv": 3})]
    assert repeated == ["a", "a", "b", "c", "c", "c"]


def test_repeat_by_agreement_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="repeat_by_agreement"):
        load_training_config(write_training_config(tmp_path, tmp_path, finetune={"repeat_by_agreement": {"all": 0}}))
    with pytest.raises(ConfigError, match="repeat_by_agreement"):
        load_training_config(write_training_config(tmp_path, tmp_path, finetune={"repeat_by_agreement": {"90": 2}}))
