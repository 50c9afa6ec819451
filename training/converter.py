"""llama.cpp's official Hugging Face → GGUF converter, fetched from the llama-cpp-python sdist.

The converter ships, pinned to the llama.cpp the project already runs, inside the source
distribution of llama-cpp-python. Rather than copying its code into this project, the
sdist is downloaded once through pip and only the converter script, its ``conversion``
package and its own ``gguf-py`` are unpacked into a cache folder. The converter is then
run as a subprocess with that ``gguf-py`` first on PYTHONPATH: it needs the exact
matching version (with PyPI's ``gguf`` 0.19 it fails on ``LazyChunkedTensor``).

The sdist is code this project runs, so its SHA-256 is pinned: pip is asked for exactly
that file (``--require-hashes``), and every unpacking checks the file again before it reads
a member. Members are only ever written below the target folder.
"""

from __future__ import annotations

import hashlib
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
# sha256 of llama_cpp_python-0.3.36.tar.gz as PyPI serves it (76,589,250 bytes). Pin both together.
LLAMA_CPP_PYTHON_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
DEFAULT_CACHE = Path.home() / ".cache" / "gguf-sentiment-harness" / f"llama-cpp-converter-{LLAMA_CPP_PYTHON_VERSION}"
_VENDOR = "vendor/llama.cpp/"
_WANTED = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/", "gguf-py/LICENSE", "LICENSE")
_MARKER = ".complete"


class ConverterError(HarnessError):
    """The converter could not be fetched or failed on a model."""


def ensure_converter(cache: Path | None = None, download: Callable[[Path], Path] | None = None,
                     sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256) -> Path:
    """The folder holding convert_hf_to_gguf.py and gguf-py, downloading them on first use.

    ``download`` fetches the sdist into a folder and returns its path (default: pip); the
    file must have the SHA-256 ``sha256``.
    """
    cache = Path(cache or DEFAULT_CACHE)
    if (cache / _MARKER).is_file():
        return cache
    with tempfile.TemporaryDirectory(prefix="llama-cpp-sdist-") as tmp:
        sdist = (download or download_sdist)(Path(tmp))
        staging = Path(tmp) / "unpacked"
        count = _extract(sdist, staging, sha256)
        (staging / _MARKER).write_text(f"llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}: {count} files\n")
        cache.parent.mkdir(parents=True, exist_ok=True)
        if cache.exists():
            shutil.rmtree(cache)
        shutil.move(str(staging), cache)  # whole folder at once: a half-unpacked cache is never used
    log.info("llama.cpp converter unpacked into %s", cache)
    return cache


def download_sdist(folder: Path) -> Path:
    """pip download the pinned llama-cpp-python sdist (about 77 MB) into ``folder``; pip refuses
    any other file."""
    requirement = folder / "llama-cpp-python.sdist.txt"
    requirement.write_text(f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION} "
                           f"--hash=sha256:{LLAMA_CPP_PYTHON_SDIST_SHA256}\n", encoding="utf-8")
    command = [sys.executable, "-m", "pip", "download", "-r", str(requirement), "--require-hashes",
               "--no-deps", "--no-binary", ":all:", "--dest", str(folder), "--quiet"]
    log.info("downloading the llama-cpp-python %s sdist (llama.cpp sources)", LLAMA_CPP_PYTHON_VERSION)
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(folder.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not found:
        raise ConverterError(
            f"could not download the llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist with pip "
            f"(exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return found[0]


def _extract(sdist: Path, target: Path, sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256) -> int:
    """Unpack only the converter's files from the sdist into ``target``; returns the file count."""
    count = unpack_vendored(sdist, target, lambda relative: relative.startswith(_WANTED) and "/tests/" not in relative,
                            sha256)
    if not (target / "convert_hf_to_gguf.py").is_file():
        raise ConverterError(f"{sdist.name} has no {_VENDOR}convert_hf_to_gguf.py")
    return count


def check_sdist(sdist: Path, sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256) -> None:
    """Raise ConverterError unless the file's SHA-256 is ``sha256``."""
    digest = hashlib.sha256()
    with open(sdist, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256.lower():
        raise ConverterError(f"{sdist.name} is not the pinned llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist: "
                             f"sha256 {digest.hexdigest()}, expected {sha256}; nothing from it was used")


def unpack_vendored(sdist: Path, target: Path, keep: Callable[[str], bool],
                    sha256: str = LLAMA_CPP_PYTHON_SDIST_SHA256) -> int:
    """Unpack the sdist's vendored llama.cpp files whose path (relative to llama.cpp) ``keep``
    accepts into ``target``; returns the file count.

    The sdist must have the SHA-256 ``sha256``, and a member whose path would leave
    ``target`` (``..``, an absolute path) refuses the whole archive.
    """
    check_sdist(sdist, sha256)
    with tarfile.open(sdist, "r:gz") as archive:
        wanted = []
        for member in archive.getmembers():
            _, _, inner = member.name.partition("/")
            if not inner.startswith(_VENDOR) or not member.isfile():
                continue
            relative = inner[len(_VENDOR):]
            if keep(relative):
                wanted.append((member, _inside(sdist, member, relative, target)))
        for member, relative in wanted:  # every path checked before the first file is written
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(destination, "wb") as sink:  # type: ignore[union-attr]
                shutil.copyfileobj(source, sink)
    return len(wanted)


def _inside(sdist: Path, member: tarfile.TarInfo, relative: str, target: Path) -> str:
    """``relative`` when it names a place below ``target`` (tarfile's own ``data`` filter decides);
    ConverterError otherwise."""
    refused = None
    if relative.startswith(("/", os.sep)) or os.path.isabs(relative):
        refused = "an absolute path"
    else:
        try:
            tarfile.data_filter(member.replace(name=relative, deep=False), str(target))
        except tarfile.FilterError as exc:
            refused = str(exc)
    if refused:
        raise ConverterError(f"{sdist.name}: member {member.name!r} would be written outside {target} ({refused}); "
                             f"the archive is refused")
    return relative


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
