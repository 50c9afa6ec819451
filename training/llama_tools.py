"""llama.cpp's ``llama-imatrix`` and ``llama-quantize``, built from the llama-cpp-python sdist.

Two export options need more than llama-cpp-python's ``llama_model_quantize``, whose
``imatrix`` and ``tensor_types`` fields point at C++ containers that ctypes cannot build:

- per-tensor types (``export.replace_fallback``): where a tensor's rows do not fit the
  K-quant's 256-wide blocks, llama.cpp picks a fallback type, and q5_1 breaks SmolLM2
  (docs/measurements/2026-11-fine-tuning-demo.md); those tensors are written as q5_0 instead;
- an importance matrix (``export.imatrix``): how strongly each weight column is used on the
  fine-tune's own training conversations, so the quantizer spends precision where it counts.

The wheel ships no tools, so the two programs are built once from the same llama.cpp
sources the project already runs (the sdist the converter comes from; cmake and a C++
compiler needed) into a cache folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

from training.converter import LLAMA_CPP_PYTHON_VERSION, ConverterError, download_sdist, unpack_vendored

log = logging.getLogger(__name__)

DEFAULT_TOOLS = Path.home() / ".cache" / "gguf-sentiment-harness" / f"llama-cpp-tools-{LLAMA_CPP_PYTHON_VERSION}"
TOOLS = ("llama-imatrix", "llama-quantize")
_VENDOR = "vendor/llama.cpp/"
_CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=ON",
)


class ToolsError(ConverterError):
    """llama.cpp's tools could not be built or failed on a model."""


def ensure_tools(cache: Path | None = None, download: Callable[[Path], Path] | None = None,
                 jobs: int | None = None) -> Path:
    """The folder holding llama-imatrix and llama-quantize, building them on first use (minutes)."""
    cache = Path(cache or DEFAULT_TOOLS)
    if all((cache / tool).is_file() for tool in TOOLS):
        return cache
    for program in ("cmake", "c++"):
        if shutil.which(program) is None:
            raise ToolsError(f"building llama.cpp's tools (export.replace_fallback, export.imatrix) needs "
                             f"{program}; install it, or set export.replace_fallback: {{}} and export.imatrix: false")
    with tempfile.TemporaryDirectory(prefix="llama-cpp-tools-") as tmp:
        source = _unpack_sources((download or download_sdist)(Path(tmp)), Path(tmp) / "src")
        build = Path(tmp) / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        log.info("building %s from the llama-cpp-python %s sources (once; a few minutes)",
                 " and ".join(TOOLS), LLAMA_CPP_PYTHON_VERSION)
        _run(["cmake", "-S", str(source), "-B", str(build), *generator, *_CMAKE_OPTIONS], "configuring llama.cpp")
        _run(["cmake", "--build", str(build), "--target", *TOOLS, "-j", str(jobs or os.cpu_count() or 1)],
             "building llama.cpp's tools")
        staging = Path(tmp) / "bin"
        staging.mkdir()
        for tool in TOOLS:
            found = next((p for p in build.rglob(tool) if p.is_file() and os.access(p, os.X_OK)), None)
            if found is None:
                raise ToolsError(f"the llama.cpp build wrote no {tool}")
            shutil.copy2(found, staging / tool)
        cache.parent.mkdir(parents=True, exist_ok=True)
        if cache.exists():
            shutil.rmtree(cache)
        shutil.move(str(staging), cache)  # whole folder at once: a half-built cache is never used
    return cache


def _unpack_sources(sdist: Path, target: Path) -> Path:
    """The sdist's vendored llama.cpp tree under ``target``."""
    unpack_vendored(sdist, target, lambda relative: True)
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
    parts, total = [], 0
    for record in records:
        text = tokenizer.apply_chat_template(record["messages"], tokenize=False)
        parts.append(text)
        total += len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if total >= limit_tokens:
            break
    return "".join(parts)
