"""``training export``: merged model → F16 GGUF (llama.cpp's converter) → K-quants (llama.cpp's quantizer).

PyPI's ``gguf`` package can write F16 but not K-quants; ``llama_model_quantize`` in
llama-cpp-python (the llama.cpp the harness already runs) writes every file type. Where a
K-quant falls back to a type listed in ``export.replace_fallback`` for some tensors, or with
``export.imatrix``, the file is written again by llama.cpp's own ``llama-quantize``, built
from the same sources (training/llama_tools.py), with those tensors overridden. Files are
written under a temporary name and renamed, so a half-written GGUF is never picked up.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path

from training.config import QUANT_TYPES, TrainingConfig
from training.converter import convert_to_gguf
from training.naming import gguf_path
from utils.errors import HarnessError
from utils.io import file_sha256, write_json_atomic

log = logging.getLogger(__name__)

EXPORT_FILE = "exports.json"


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
    imatrix = importance_matrix(config, f16) if config.export.imatrix and config.export.quantizations else None
    replaced: dict[str, dict[str, int]] = {}
    for quant in config.export.quantizations:
        started = time.perf_counter()
        files[quant], replaced[quant] = quantize_export(config, f16, quant, imatrix)
        seconds[quant] = round(time.perf_counter() - started, 1)
        log.info("%s: %s (%.1f MB)", quant, files[quant], files[quant].stat().st_size / 1e6)
    record = {quant: {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path),
                      "seconds": seconds[quant], "imatrix": imatrix is not None and quant != "F16",
                      "replaced_fallbacks": replaced.get(quant, {})}
              for quant, path in files.items()}
    write_json_atomic(config.gguf_dir / EXPORT_FILE, record)
    return files


def quantize_export(config: TrainingConfig, f16: Path, quant: str, imatrix: Path | None
                    ) -> tuple[Path, dict[str, int]]:
    """One quantization: llama.cpp's own choice of tensor types; then, when some tensors fell
    back to a type listed in export.replace_fallback (or an importance matrix is used), the
    same quantization again through llama-quantize with every tensor's type pinned to that
    choice, the listed fallbacks swapped. Returns the file and the count of swapped tensors
    per 'old->new'."""
    target = gguf_path(config, quant)
    quantize(f16, target, quant, config.finetune.threads)
    chosen = tensor_types(target)
    swaps = fallback_swaps(chosen, quant, config.export.replace_fallback)
    if not swaps and imatrix is None:
        return target, {}
    from training.llama_tools import ToolsError, ensure_tools, run_quantize

    # Pinning every quantized tensor keeps llama.cpp's per-layer recipe (which layers get more
    # bits) exactly as it chose it: overriding only some tensors shifts that recipe.
    wanted = {name: swaps.get(name, kind) for name, kind in chosen.items() if kind not in ("f32", "f16", "bf16")}
    run_quantize(ensure_tools(config.export.tools_cache), f16, target, quant, imatrix=imatrix,
                 tensor_types=wanted, threads=config.finetune.threads)
    written = tensor_types(target)
    differ = sorted(name for name, kind in wanted.items() if written.get(name) != kind)
    if differ:
        raise ToolsError(f"llama-quantize wrote {differ[0]} as {written.get(differ[0])}, not {wanted[differ[0]]} "
                         f"({len(differ)} tensor(s) differ from the requested types)")
    counts: dict[str, int] = {}
    for name, new in swaps.items():
        change = f"{chosen[name]}->{new}"
        counts[change] = counts.get(change, 0) + 1
    if counts:
        log.info("%s: %s", quant, ", ".join(f"{n} tensors {change}" for change, n in counts.items()))
    return target, counts


def tensor_types(path: Path) -> dict[str, str]:
    """Tensor name -> its type in lower case ('q5_1', 'f32', ...), read from a GGUF file."""
    import gguf

    return {tensor.name: tensor.tensor_type.name.lower() for tensor in gguf.GGUFReader(path).tensors}


def fallback_swaps(types: dict[str, str], quant: str, replace: dict[str, str]) -> dict[str, str]:
    """Tensors of a K-quant file whose type is a fallback listed in ``replace``: name -> new type.

    llama.cpp writes a K-quant tensor whose rows are not a multiple of 256 in an older
    block type (Q5_K -> q5_1, Q4_K -> q5_0, Q6_K -> q8_0); only those fallbacks are swapped,
    never a file's nominal type.
    """
    if not replace or "_K" not in quant:
        return {}
    return {name: replace[kind] for name, kind in types.items() if kind in replace}


def importance_matrix(config: TrainingConfig, f16: Path) -> Path:
    """llama-imatrix over the fine-tune's training conversations (the model's chat template)."""
    from training.finetune import read_records
    from training.llama_tools import calibration_text, compute_imatrix, ensure_tools

    tools = ensure_tools(config.export.tools_cache)
    chunks = config.export.imatrix_chunks
    text = calibration_text(read_records(config.data_dir / "train.jsonl"), config.merged_dir, chunks * 512)
    text_file = config.gguf_dir / "imatrix-calibration.txt"
    text_file.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    output = compute_imatrix(tools, f16, text_file, config.gguf_dir / "imatrix.gguf", chunks=chunks,
                             threads=config.finetune.threads)
    log.info("importance matrix: %s (%d chunks, %.0f s)", output, chunks, time.perf_counter() - started)
    return output
