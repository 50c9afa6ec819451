"""LoRA fine-tuning with Unsloth (FastLanguageModel + trl) on a CUDA GPU.

Selected automatically when CUDA and unsloth are both present (``finetune.trainer: auto``);
install it with ``pip install -r requirements-unsloth.txt``. Unsloth loads Hugging Face
folders, so a GGUF base model is first dequantized to one with transformers. Unsloth
patches transformers and trl when it is imported, so it is imported before them here.
Not exercised on the CPU build machines (they have no GPU); its selection logic is tested.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from training.config import TrainingConfig
from training.hf_trainer import TrainOutcome, _history, prompt_completion, sft_config, step_logger

log = logging.getLogger(__name__)

# Unsloth wants the projection names; "all-linear" is peft's shorthand for these on Llama-style models.
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def hf_base_folder(config: TrainingConfig, base_path: Path) -> Path:
    """A Hugging Face folder for the base model (a GGUF is dequantized once into output/base_hf)."""
    if config.base_model.hf_folder is not None:
        return config.base_model.hf_folder
    folder = config.output_dir / "base_hf"
    if not (folder / "config.json").is_file():
        from training.hf_trainer import load_base_model

        model, tokenizer = load_base_model(config, base_path)
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
    return folder


def target_modules(config: TrainingConfig) -> list[str]:
    modules = config.finetune.lora.target_modules
    return ALL_LINEAR if modules == "all-linear" else list(modules)


def train(config: TrainingConfig, base_path: Path, data: dict[str, list[dict]], show_progress: bool) -> TrainOutcome:
    """Fine-tune with Unsloth; save the adapter and a merged 16-bit model like the default trainer."""
    import unsloth  # noqa: F401  (must come before transformers / trl)
    from unsloth import FastLanguageModel

    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    ft = config.finetune
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(hf_base_folder(config, base_path)), max_seq_length=ft.max_seq_length,
        dtype=None, load_in_4bit=False)
    model = FastLanguageModel.get_peft_model(
        model, r=ft.lora.r, lora_alpha=ft.lora.alpha, lora_dropout=ft.lora.dropout,
        target_modules=target_modules(config), bias="none", random_state=ft.seed,
        use_gradient_checkpointing="unsloth")
    args = sft_config(config, config.output_dir / "checkpoints", len(data["train"]), show_progress)
    trainer = SFTTrainer(
        model=model, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list(prompt_completion(data["train"])),
        eval_dataset=Dataset.from_list(prompt_completion(data["validation"])) if data["validation"] else None,
        callbacks=[step_logger()])
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    model.save_pretrained(config.adapter_dir)
    tokenizer.save_pretrained(config.adapter_dir)
    model.save_pretrained_merged(str(config.merged_dir), tokenizer, save_method="merged_16bit")
    return TrainOutcome(
        trainer="unsloth", steps=trainer.state.global_step, train_seconds=seconds,
        train_losses=_history(trainer.state.log_history, "loss"),
        eval_losses=_history(trainer.state.log_history, "eval_loss"),
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        versions=_versions(),
    )


def _versions() -> dict[str, Any]:
    from training.hf_trainer import _versions as base_versions
    from importlib.metadata import version

    return {**base_versions(), "unsloth": version("unsloth")}
