"""llama.cpp's official Hugging Face → GGUF converter, fetched from the llama-cpp-python sdist.

The converter ships, pinned to the llama.cpp the project already runs, inside the source
distribution of llama-cpp-python. Rather than copying its code into this project, the
sdist is downloaded once through pip and only the converter script, its ``conversion``
package and its own ``gguf-py`` are unpacked into a cache folder. The converter is then
run as a subprocess with that ``gguf-py`` first on PYTHONPATH: it needs the exact
matching version (with PyPI's ``gguf`` 0.19 it fails on ``LazyChunkedTensor``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from utils.errors import HarnessError

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
DEFAULT_CACHE = Path.home() / ".cache" / "gguf-sentiment-harness" / f"llama-cpp-converter-{LLAMA_CPP_PYTHON_VERSION}"
_VENDOR = "vendor/llama.cpp/"
_WANTED = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/", "gguf-py/LICENSE", "LICENSE")
_MARKER = ".complete"


class ConverterError(HarnessError):
    """The converter could not be fetched or failed on a model."""


def ensure_converter(cache: Path | None = None, download: Callable[[Path], Path] | None = None) -> Path:
    """The folder holding convert_hf_to_gguf.py and gguf-py, downloading them on first use.

    ``download`` fetches the sdist into a folder and returns its path (default: pip).
    """
    cache = Path(cache or DEFAULT_CACHE)
    if (cache / _MARKER).is_file():
        return cache
    with tempfile.TemporaryDirectory(prefix="llama-cpp-sdist-") as tmp:
        sdist = (download or download_sdist)(Path(tmp))
        staging = Path(tmp) / "unpacked"
        count = _extract(sdist, staging)
        (staging / _MARKER).write_text(f"llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}: {count} files\n")
        cache.parent.mkdir(parents=True, exist_ok=True)
        if cache.exists():
            shutil.rmtree(cache)
        shutil.move(str(staging), cache)  # whole folder at once: a half-unpacked cache is never used
    log.info("llama.cpp converter unpacked into %s", cache)
    return cache


def download_sdist(folder: Path) -> Path:
    """pip download the llama-cpp-python sdist (about 77 MB) into ``folder``."""
    command = [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
               "--no-deps", "--no-binary", ":all:", "--dest", str(folder), "--quiet"]
    log.info("downloading the llama-cpp-python %s sdist (llama.cpp sources)", LLAMA_CPP_PYTHON_VERSION)
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(folder.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not found:
        raise ConverterError(
            f"could not download the llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist with pip "
            f"(exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return found[0]


def _extract(sdist: Path, target: Path) -> int:
    """Unpack only the converter's files from the sdist into ``target``; returns the file count."""
    count = unpack_vendored(sdist, target, lambda relative: relative.startswith(_WANTED) and "/tests/" not in relative)
    if not (target / "convert_hf_to_gguf.py").is_file():
        raise ConverterError(f"{sdist.name} has no {_VENDOR}convert_hf_to_gguf.py")
    return count


def unpack_vendored(sdist: Path, target: Path, keep: Callable[[str], bool]) -> int:
    """Unpack the sdist's vendored llama.cpp files whose path (relative to llama.cpp) ``keep``
    accepts into ``target``; returns the file count."""
    count = 0
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive.getmembers():
            _, _, inner = member.name.partition("/")
            if not inner.startswith(_VENDOR) or not member.isfile():
                continue
            relative = inner[len(_VENDOR):]
            if not keep(relative):
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(destination, "wb") as sink:  # type: ignore[union-attr]
                shutil.copyfileobj(source, sink)
            count += 1
    return count


def convert_to_gguf(model_dir: Path, outfile: Path, outtype: str = "f16", cache: Path | None = None) -> Path:
    """Run the converter on a Hugging Face model folder; returns the written GGUF path."""
    folder = ensure_converter(cache)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder / "gguf-py"), env.get("PYTHONPATH")) if p)
    env.setdefault("NO_LOCAL_GGUF", "")  # the script prefers its own gguf-py anyway
    partial = outfile.with_name(outfile.name + ".partial")
    command = [sys.executable, str(folder / "convert_hf_to_gguf.py"), str(model_dir),
               "--outfile", str(partial), "--outtype", outtype]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise ConverterError(f"convert_hf_to_gguf.py failed on {model_dir} (exit {done.returncode}): "
                             f"{done.stderr.strip()[-1500:]}")
    os.replace(partial, outfile)
    return outfile
