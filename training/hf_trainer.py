"""LoRA fine-tuning with transformers + peft + trl (CPU or GPU): the default trainer.

Imported only by ``training finetune``: torch and friends never load in the harness.
The loss is computed on the answer only: records become prompt/completion pairs, which
trl masks (``completion_only_loss``). trl's ``assistant_only_loss`` would need
``{% generation %}`` markers that SmolLM2's chat template does not have.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import TrainingConfig
from utils.errors import HarnessError

log = logging.getLogger(__name__)


class TrainingError(HarnessError):
    """The fine-tune could not start or finish (missing packages, a model that cannot load)."""


@dataclass
class TrainOutcome:
    """What a trainer reports back: steps, losses and timings."""

    trainer: str
    steps: int
    train_losses: list[dict[str, float]] = field(default_factory=list)
    eval_losses: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=dict)


def load_base_model(config: TrainingConfig, base_path: Path, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a Hugging Face folder or a GGUF file (dequantized on load)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = config.base_model
    dtype = dtype or torch.float32
    if spec.hf_folder is not None:
        model = AutoModelForCausalLM.from_pretrained(spec.hf_folder, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer_folder or spec.hf_folder)
        return model, tokenizer
    folder, name = base_path.parent, base_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
    # The dequantized weights are plain tensors now; save_pretrained refuses until the
    # GGUF "quantization" record is dropped.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if spec.tokenizer_folder is not None:
        tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer_folder)
    else:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise TrainingError(f"{base_path}: the model has no chat template; set base_model.tokenizer_folder")
    return model, tokenizer


def prompt_completion(records: list[dict]) -> list[dict]:
    """Chat records as trl's conversational prompt/completion pairs (loss on the completion only)."""
    return [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records]


def lora_config(config: TrainingConfig) -> Any:
    from peft import LoraConfig

    lora = config.finetune.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM", bias="none")


def sft_config(config: TrainingConfig, output_dir: Path, n_train: int, show_progress: bool) -> Any:
    """trl's SFTConfig from the training settings."""
    import torch
    from trl import SFTConfig

    ft = config.finetune
    steps = ft.max_steps or max(1, round(ft.epochs * n_train / (ft.batch_size * ft.gradient_accumulation)))
    eval_every = ft.eval_steps or max(1, steps // 5)
    return SFTConfig(
        output_dir=str(output_dir), max_steps=steps, num_train_epochs=ft.epochs,
        per_device_train_batch_size=ft.batch_size, per_device_eval_batch_size=ft.batch_size,
        gradient_accumulation_steps=ft.gradient_accumulation, learning_rate=ft.learning_rate,
        lr_scheduler_type=ft.lr_scheduler, warmup_steps=round(ft.warmup_ratio * steps), seed=ft.seed,
        max_length=ft.max_seq_length, completion_only_loss=True, packing=False,
        train_sampling_strategy="group_by_length" if ft.group_by_length else "random",
        eval_strategy="steps", eval_steps=eval_every, logging_steps=ft.logging_steps,
        save_strategy="no", report_to="none", disable_tqdm=not show_progress,
        use_cpu=not torch.cuda.is_available(), bf16=False, fp16=False, dataloader_num_workers=0,
        # A 135M-parameter model fits easily; recomputing activations only costs time here.
        activation_checkpointing=False,
    )


def step_logger() -> Any:
    """A trainer callback that logs every logged loss with the step and seconds per step."""
    from transformers import TrainerCallback

    class StepLogger(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and ("loss" in logs or "eval_loss" in logs):
                per_step = (time.perf_counter() - self.started) / max(state.global_step, 1)
                shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if k in ("loss", "eval_loss", "learning_rate"))
                log.info("step %d/%d: %s (%.1f s/step)", state.global_step, state.max_steps, shown, per_step)

    return StepLogger()


def train(config: TrainingConfig, base_path: Path, data: dict[str, list[dict]], show_progress: bool) -> TrainOutcome:
    """Fine-tune with LoRA, save the adapter and the merged model; returns steps and losses."""
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from trl import SFTTrainer

    torch.manual_seed(config.finetune.seed)
    torch.set_num_threads(config.finetune.threads or os.cpu_count() or 1)
    model, tokenizer = load_base_model(config, base_path)
    model = get_peft_model(model, lora_config(config))
    args = sft_config(config, config.output_dir / "checkpoints", len(data["train"]), show_progress)
    trainer = SFTTrainer(
        model=model, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list(prompt_completion(data["train"])),
        eval_dataset=Dataset.from_list(prompt_completion(data["validation"])) if data["validation"] else None,
        callbacks=[step_logger()],
    )
    if not data["validation"]:
        trainer.args.eval_strategy = "no"
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    evaluated = any(e.get("step") == trainer.state.global_step and "eval_loss" in e for e in trainer.state.log_history)
    if data["validation"] and not evaluated:
        trainer.evaluate()
    model.save_pretrained(config.adapter_dir)
    tokenizer.save_pretrained(config.adapter_dir)
    save_merged(model, tokenizer, config.merged_dir)
    return TrainOutcome(
        trainer="transformers", steps=trainer.state.global_step, train_seconds=seconds,
        train_losses=_history(trainer.state.log_history, "loss"),
        eval_losses=_history(trainer.state.log_history, "eval_loss"),
        device="cuda" if torch.cuda.is_available() else "cpu", versions=_versions(),
    )


def save_merged(peft_model: Any, tokenizer: Any, folder: Path) -> None:
    """Fold the LoRA weights into the base model and save it (safetensors) with the tokenizer."""
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def _history(log_history: list[dict], key: str) -> list[dict[str, float]]:
    return [{"step": int(entry["step"]), key: float(entry[key])} for entry in log_history if key in entry]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "transformers", "peft", "trl", "accelerate", "datasets"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
