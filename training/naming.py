"""The names of a fine-tune's exports: quantization labels, GGUF and Modelfile paths, Ollama tags.

Export, Modelfiles and registration all name the same files; they read the names from here
rather than from each other.
"""

from __future__ import annotations

from pathlib import Path

from training.config import TrainingConfig
from utils.errors import HarnessError


def quant_label(quant: str) -> str:
    """'Q4_K_M' -> 'q4_K_M', 'F16' -> 'f16' (the spelling used across the harness)."""
    return quant[0].lower() + quant[1:]


def ollama_tag(run_name: str, quant: str) -> str:
    """The Ollama model name for an export: '<run>:<quant>' with the project's quant spelling."""
    return f"{run_name}:{quant_label(quant)}"


def gguf_path(config: TrainingConfig, quant: str) -> Path:
    """Where the GGUF of one quantization ('F16', 'Q4_K_M', ...) is written."""
    return config.gguf_dir / f"{config.run_name}-{quant_label(quant)}.gguf"


def modelfile_path(config: TrainingConfig, quant: str) -> Path:
    """Where the Modelfile of one quantization is written."""
    return config.modelfiles.folder / f"{config.run_name}-{quant_label(quant)}.Modelfile"


def exported_ggufs(config: TrainingConfig) -> dict[str, Path]:
    """The GGUFs of the last export that still exist, F16 first; HarnessError when there are none."""
    wanted = ["F16", *config.export.quantizations]
    found = {quant: gguf_path(config, quant) for quant in wanted if gguf_path(config, quant).is_file()}
    if not found:
        raise HarnessError(f"{config.gguf_dir}: no exported GGUF files (run: python -m training export)")
    return found
