"""llama.cpp's own programs, built from the llama-cpp-python sdist: two for the export, two to measure.

Two export options need more than llama-cpp-python's ``llama_model_quantize``, whose
``imatrix`` and ``tensor_types`` fields point at C++ containers that ctypes cannot build:

- per-tensor types (``export.replace_fallback``): where a tensor's rows do not fit the
  K-quant's 256-wide blocks, llama.cpp picks a fallback type, and q5_1 breaks SmolLM2
  (docs/measurements/2026-11-fine-tuning-demo.md); those tensors are written as q5_0 instead;
- an importance matrix (``export.imatrix``): how strongly each weight column is used on the
  fine-tune's own training conversations, so the quantizer spends precision where it counts.

And ``benchmarks/bench_speed.py --versus-llama-cpp`` measures the harness against what
llama.cpp itself does with the same model: ``llama-bench`` (prefill and decode tokens/s at
a given context depth) and ``llama-batched-bench`` (total tokens/s over N sequences).

The wheel ships no tools, so the four programs are built together, once, from the same
llama.cpp sources the project already runs (the pinned sdist the converter comes from;
cmake and a C++ compiler needed) into a cache folder. ``CMAKE_ARGS`` is honoured as
llama-cpp-python's own install honours it (e.g. ``-DGGML_CUDA=on``), into a cache of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from training.converter import (
    LLAMA_CPP_PYTHON_SDIST_SHA256, LLAMA_CPP_PYTHON_VERSION, ConverterError, download_sdist, unpack_vendored,
)

log = logging.getLogger(__name__)

EXPORT_TOOLS = ("llama-imatrix", "llama-quantize")
BENCH_TOOLS = ("llama-bench", "llama-batched-bench")
TOOLS = EXPORT_TOOLS + BENCH_TOOLS
_CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=ON",
)


def default_tools_cache() -> Path:
    """``~/.cache/gguf-sentiment-harness/llama-cpp-tools-<version>``, suffixed by a hash of
    ``CMAKE_ARGS`` when that is set (a CUDA build is kept apart from the CPU one)."""
    name = f"llama-cpp-tools-{LLAMA_CPP_PYTHON_VERSION}"
    extra = os.environ.get("CMAKE_ARGS", "").strip()
    if extra:
        name += "-" + hashlib.sha256(extra.encode()).hexdigest()[:8]
    return Path.home() / ".cache" / "gguf-sentiment-harness" / name


DEFAULT_TOOLS = default_tools_cache()


class ToolsError(ConverterError):
    """llama.cpp's tools could not be built or failed on a model."""


def ensure_tools(cache: Path | None = None, download: Callable[[Path], Path] | None = None,
                 jobs: int | None = None, sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256,
                 needed: Sequence[str] = TOOLS) -> Path:
    """The folder holding llama.cpp's tools, building all four on first use (minutes).

    Only ``needed`` must be there for a cache to be used as it is; a build always makes all
    of :data:`TOOLS` (they share almost all of their objects).
    """
    cache = Path(cache or default_tools_cache())
    if all((cache / tool).is_file() for tool in needed):
        return cache
    for program in ("cmake", "c++"):
        if shutil.which(program) is None:
            raise ToolsError(f"building llama.cpp's tools (export.replace_fallback, export.imatrix, "
                             f"bench_speed.py --versus-llama-cpp) needs {program}; install it, or set "
                             f"export.replace_fallback: {{}} and export.imatrix: false")
    with tempfile.TemporaryDirectory(prefix="llama-cpp-tools-") as tmp:
        source = _unpack_sources((download or download_sdist)(Path(tmp)), Path(tmp) / "src", sha256)
        build = Path(tmp) / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        extra = shlex.split(os.environ.get("CMAKE_ARGS", ""))
        log.info("building %s from the llama-cpp-python %s sources (once; a few minutes)",
                 ", ".join(TOOLS), LLAMA_CPP_PYTHON_VERSION)
        _run(["cmake", "-S", str(source), "-B", str(build), *generator, *_CMAKE_OPTIONS, *extra],
             "configuring llama.cpp")
        _run(["cmake", "--build", str(build), "--target", *TOOLS, "-j", str(jobs or os.cpu_count() or 1)],
             "building llama.cpp's tools")
        staging = Path(tmp) / "bin"
        staging.mkdir()
        for tool in TOOLS:
            found = next((p for p in build.rglob(tool) if p.is_file() and os.access(p, os.X_OK)), None)
            if found is None:
                raise ToolsError(f"the llama.cpp build wrote no {tool}")
            shutil.copy2(found, staging / tool)
        (staging / "CMAKE_ARGS.txt").write_text(" ".join([*_CMAKE_OPTIONS, *extra]) + "\n", encoding="utf-8")
        cache.parent.mkdir(parents=True, exist_ok=True)
        if cache.exists():
            shutil.rmtree(cache)
        shutil.move(str(staging), cache)  # whole folder at once: a half-built cache is never used
    return cache


def _unpack_sources(sdist: Path, target: Path, sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256) -> Path:
    """The sdist's vendored llama.cpp tree under ``target`` (the sdist's hash checked first)."""
    unpack_vendored(sdist, target, lambda relative: True, sha256)
    if not (target / "CMakeLists.txt").is_file():
        raise ToolsError(f"{sdist.name} holds no llama.cpp sources")
    return target


def _run(command: Sequence[str], what: str) -> str:
    done = subprocess.run(list(command), capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolsError(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-1500:]}")
    return done.stdout + done.stderr


def compute_imatrix(tools: Path, model: Path, text_file: Path, output: Path, *, chunks: int,
                    context: int = 512, threads: int | None = None) -> Path:
    """Run llama-imatrix over ``text_file`` (chat-formatted, special tokens parsed); returns ``output``."""
    partial = output.with_name(output.stem + ".partial" + output.suffix)
    _run([str(tools / "llama-imatrix"), "-m", str(model), "-f", str(text_file), "-o", str(partial),
          "-c", str(context), "--chunks", str(chunks), "--parse-special", "--no-ppl",
          "-t", str(threads or os.cpu_count() or 1)], f"llama-imatrix on {model.name}")
    if not partial.is_file():
        raise ToolsError(f"llama-imatrix wrote no {partial}")
    os.replace(partial, output)
    return output


def run_quantize(tools: Path, source: Path, target: Path, quant: str, *, imatrix: Path | None = None,
                 tensor_types: Mapping[str, str] | None = None, threads: int | None = None) -> Path:
    """llama-quantize ``source`` to ``quant``, guided by ``imatrix`` and with ``tensor_types``
    (tensor name -> ggml type) overriding llama.cpp's choice; returns ``target``."""
    partial = target.with_name(target.name + ".partial")
    command = [str(tools / "llama-quantize")]
    if imatrix is not None:
        command += ["--imatrix", str(imatrix)]
    with tempfile.TemporaryDirectory(prefix="tensor-types-") as tmp:
        if tensor_types:
            # One exact-name pattern per line (llama-quantize matches them as regular expressions).
            listing = Path(tmp) / "tensor_types.txt"
            listing.write_text("".join(f"^{re.escape(name)}$={kind}\n" for name, kind in sorted(tensor_types.items())))
            command += ["--tensor-type-file", str(listing)]
        command += [str(source), str(partial), quant, str(threads or os.cpu_count() or 1)]
        _run(command, f"llama-quantize {quant}")
    if not partial.is_file():
        raise ToolsError(f"llama-quantize wrote no {partial}")
    os.replace(partial, target)
    return target


def calibration_text(records: Sequence[dict], tokenizer_folder: Path, limit_tokens: int) -> str:
    """Training conversations rendered with the model's own chat template, up to about ``limit_tokens``."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    parts: list[str] = []
    total = 0
    for record in records:
        text = str(tokenizer.apply_chat_template(record["messages"], tokenize=False))
        parts.append(text)
        total += len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if total >= limit_tokens:
            break
    return "".join(parts)


# --- llama-bench and llama-batched-bench -----------------------------------------------


@dataclass(frozen=True)
class BenchResult:
    """One llama-bench test: ``n_prompt`` prompt tokens or ``n_gen`` generated tokens after
    ``n_depth`` tokens already in the context, as tokens/s over its repetitions."""

    n_prompt: int
    n_gen: int
    n_depth: int
    n_threads: int
    mean_tokens_per_s: float
    sd_tokens_per_s: float
    samples: tuple[float, ...]


@dataclass(frozen=True)
class BatchedResult:
    """One llama-batched-bench row: ``sequences`` sequences of ``n_gen`` tokens each after a
    prompt of ``n_prompt`` tokens (shared by all of them when ``shared_prompt``)."""

    n_prompt: int
    n_gen: int
    sequences: int
    shared_prompt: bool
    prefill_tokens_per_s: float
    decode_tokens_per_s: float  # over all sequences together
    total_tokens_per_s: float
    prefill_s: float
    decode_s: float


def _json_lines(text: str) -> list[dict]:
    """The JSON objects among ``text``'s lines (the tools mix them with log lines)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def parse_llama_bench(text: str) -> list[BenchResult]:
    """llama-bench's ``-o jsonl`` output; ToolsError when it holds no test."""
    results = [
        BenchResult(int(row["n_prompt"]), int(row["n_gen"]), int(row.get("n_depth", 0)), int(row["n_threads"]),
                    float(row["avg_ts"]), float(row["stddev_ts"]), tuple(float(x) for x in row.get("samples_ts", ())))
        for row in _json_lines(text) if "avg_ts" in row
    ]
    if not results:
        raise ToolsError(f"llama-bench printed no result: {text.strip()[-500:]}")
    return results


def parse_batched_bench(text: str) -> list[BatchedResult]:
    """llama-batched-bench's ``--output-format jsonl`` output; ToolsError when it holds no row."""
    results = [
        BatchedResult(int(row["pp"]), int(row["tg"]), int(row["pl"]), bool(row["is_pp_shared"]),
                      float(row["speed_pp"]), float(row["speed_tg"]), float(row["speed"]),
                      float(row["t_pp"]), float(row["t_tg"]))
        for row in _json_lines(text) if "speed_tg" in row
    ]
    if not results:
        raise ToolsError(f"llama-batched-bench printed no result: {text.strip()[-500:]}")
    return results


def run_llama_bench(tools: Path, model: Path, *, n_prompt: int = 0, n_gen: int = 0, depth: int = 0,
                    threads: int, repetitions: int = 5, flash_attn: bool = False,
                    gpu_layers: int = 0, repack: bool = True) -> BenchResult:
    """One llama-bench test: prefill ``n_prompt`` tokens, or decode ``n_gen`` tokens, after
    ``depth`` tokens in the context (llama-bench's ``-d``), ``repetitions`` times; ``repack``
    as the harness loaded the model (llama.cpp's CPU extra buffers, see
    ``utils.backends.llamacpp.weight_repacking``)."""
    if bool(n_prompt) == bool(n_gen):
        raise ValueError("one of n_prompt and n_gen, not both")
    output = _run([str(tools / "llama-bench"), "-m", str(model), "-p", str(n_prompt), "-n", str(n_gen),
                   "-d", str(depth), "-t", str(threads), "-r", str(repetitions), "-fa", "1" if flash_attn else "0",
                   "-ngl", str(gpu_layers), "--repack", "1" if repack else "0", "-o", "jsonl"],
                  f"llama-bench on {model.name}")
    return parse_llama_bench(output)[0]


def run_batched_bench(tools: Path, model: Path, *, n_prompt: int, n_gen: int, sequences: Sequence[int],
                      threads: int, shared_prompt: bool = True, flash_attn: bool = False,
                      gpu_layers: int = 0, batch: int = 2048, repack: bool = True) -> list[BatchedResult]:
    """llama-batched-bench: ``n_gen`` tokens for each of N sequences after an ``n_prompt``-token
    prompt, for every N in ``sequences``; with ``shared_prompt`` (``-pps``) the prompt is
    evaluated once and its cells given to every sequence, in one unified KV cache (``-kvu``),
    as the harness's batched decoding shares its prompt prefix."""
    context = (n_prompt if shared_prompt else n_prompt * max(sequences)) + n_gen * max(sequences) + 16
    command = [str(tools / "llama-batched-bench"), "-m", str(model), "-c", str(context), "-b", str(batch),
               "-npp", str(n_prompt), "-ntg", str(n_gen), "-npl", ",".join(str(n) for n in sequences),
               "-t", str(threads), "-tb", str(threads), "-fa", "on" if flash_attn else "off", "-ngl", str(gpu_layers),
               "--output-format", "jsonl"]
    if not repack:
        command.append("--no-repack")
    if shared_prompt:
        command += ["-pps", "-kvu"]
    return parse_batched_bench(_run(command, f"llama-batched-bench on {model.name}"))
