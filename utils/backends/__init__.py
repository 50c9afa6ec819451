"""Backends by name. Imports are lazy: choosing Ollama never imports llama_cpp."""

from __future__ import annotations

import importlib

from utils.backends.base import Backend, Completion, Sampling
from utils.config import Config, ModelSpec
from utils.errors import BackendUnavailable

BACKENDS: dict[str, str] = {
    "llama_cpp": "utils.backends.llamacpp:LlamaCppBackend",
    "ollama": "utils.backends.ollama_chat:OllamaBackend",
    "openai": "utils.backends.openai_chat:OpenAIChatBackend",
}

__all__ = ["BACKENDS", "Backend", "Completion", "Sampling", "create_backend"]


def create_backend(spec: ModelSpec, config: Config) -> Backend:
    """An unloaded backend instance for ``spec``."""
    target = BACKENDS.get(spec.backend)
    if target is None:
        raise BackendUnavailable(spec.backend, spec.name, "unknown backend", f"available: {', '.join(BACKENDS)}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(
            spec.backend, spec.name, f"cannot import {exc.name or module_name}", "pip install -r requirements.txt"
        ) from None
    return getattr(module, class_name)(spec, config)
