"""Finding GGUF files (on disk or inside an installed package) and identifying them."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

from utils.io import file_sha256
from utils.config import ModelSpec
from utils.errors import ModelNotFound


def package_resource_path(resource: str) -> Path:
    """Path of 'package/relative/file' inside an installed package, found without importing it."""
    package, _, relative = resource.partition("/")
    if not package or not relative:
        raise ModelNotFound(f"package_resource {resource!r} must look like 'package_name/path/in/package.gguf'")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise ModelNotFound(f"package {package!r} is not installed (pip install {pip_name})")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise ModelNotFound(f"package {package!r} has no file {relative!r}")


def assembled_package_path(package: str) -> Path:
    """GGUF file built by an installed chunk package's ``assemble()`` (cached after the first call)."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ModelNotFound(f"package {package!r} is not installed (pip install {package.replace('_', '-')})") from None
    assemble = getattr(module, "assemble", None)
    if not callable(assemble):
        raise ModelNotFound(f"package {package!r} has no assemble() function")
    try:
        return Path(assemble())
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"package {package!r} could not assemble its GGUF file: {exc}") from None


def resolve_gguf(spec: ModelSpec) -> Path:
    """The GGUF file a llama_cpp model spec points at; ModelNotFound if absent."""
    if spec.package_resource:
        return package_resource_path(spec.package_resource)
    if spec.gguf_package:
        return assembled_package_path(spec.gguf_package)
    path = Path(spec.path)  # type: ignore[arg-type]
    if not path.is_file():
        raise ModelNotFound(f"model {spec.name!r}: GGUF file not found: {path}")
    return path


@functools.lru_cache(maxsize=64)
def _identity(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    return {"path": path, "bytes": size, "sha256": file_sha256(Path(path))}


def file_identity(path: Path) -> dict[str, Any]:
    """Path, size and SHA-256 of a model file (hashed once per process)."""
    stat = Path(path).stat()
    return _identity(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
