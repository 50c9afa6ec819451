"""``training export``: merged model → F16 GGUF (llama.cpp's converter) → K-quants (llama.cpp's quantizer).

PyPI's ``gguf`` package can write F16 but not K-quants; ``llama_model_quantize`` in
llama-cpp-python (the llama.cpp the harness already runs) writes every file type. Files
are written under a temporary name and renamed, so a half-written GGUF is never picked up.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path

from training.config import QUANT_TYPES, TrainingConfig
from training.converter import convert_to_gguf
from utils.errors import HarnessError
from utils.io import file_sha256, write_json_atomic

log = logging.getLogger(__name__)

EXPORT_FILE = "exports.json"


def gguf_path(config: TrainingConfig, quant: str) -> Path:
    """Where the GGUF of one quantization ('F16', 'Q4_K_M', ...) is written."""
    from training.modelfiles import quant_label

    return config.gguf_dir / f"{config.run_name}-{quant_label(quant)}.gguf"


def quantize(source: Path, target: Path, quant: str, threads: int | None = None) -> Path:
    """Write ``source`` (an F16 GGUF) as ``quant`` with llama.cpp's quantizer; returns ``target``."""
    import llama_cpp

    if quant not in QUANT_TYPES:
        raise HarnessError(f"unknown quantization {quant!r} (allowed: {', '.join(QUANT_TYPES)})")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant}")
    params.nthread = threads or os.cpu_count() or 1
    partial = target.with_name(target.name + ".partial")
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if code != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise HarnessError(f"llama.cpp could not quantize {source} to {quant} (code {code})")
    os.replace(partial, target)
    return target


def export_all(config: TrainingConfig) -> dict[str, Path]:
    """F16 plus every configured quantization of the merged model; returns quant → path."""
    merged = config.merged_dir
    if not (merged / "config.json").is_file():
        raise HarnessError(f"{merged}: no merged model (run: python -m training finetune)")
    f16 = gguf_path(config, "F16")
    started = time.perf_counter()
    convert_to_gguf(merged, f16, "f16", config.export.converter_cache)
    files = {"F16": f16}
    seconds = {"F16": round(time.perf_counter() - started, 1)}
    for quant in config.export.quantizations:
        started = time.perf_counter()
        files[quant] = quantize(f16, gguf_path(config, quant), quant, config.finetune.threads)
        seconds[quant] = round(time.perf_counter() - started, 1)
        log.info("%s: %s (%.1f MB)", quant, files[quant], files[quant].stat().st_size / 1e6)
    write_json_atomic(config.gguf_dir / EXPORT_FILE, {
        quant: {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path), "seconds": seconds[quant]}
        for quant, path in files.items()})
    return files


def exported_ggufs(config: TrainingConfig) -> dict[str, Path]:
    """The GGUFs of the last export that still exist, F16 first; HarnessError when there are none."""
    wanted = ["F16", *config.export.quantizations]
    found = {quant: gguf_path(config, quant) for quant in wanted if gguf_path(config, quant).is_file()}
    if not found:
        raise HarnessError(f"{config.gguf_dir}: no exported GGUF files (run: python -m training export)")
    return found
