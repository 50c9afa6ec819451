"""The settings a unit's answers depend on, and the fingerprint that tells them apart.

A result file counts as done only when it was produced with the current settings: the
same prompt (fingerprint of the system message, examples and template), the same model
file (SHA-256) or Ollama digest, temperature, token limit, decoding mode, seed, chat
format and, for llama.cpp, flash attention when it is on (another attention kernel sums in
another order, which can flip a near-tie in greedy decoding; with it on, the thread count
can too); with a model's own prompt set (``messages_folder`` on its models_to_test entry)
the prompt fingerprint is that set's texts (the folder is recorded, not fingerprinted, so a
moved checkout with the same texts leaves its results current). For an OpenAI-compatible server the model id covers the base URL, the model's
``/models`` entry and version headers, and ``server_options`` its stop sequences and
server-specific request fields (the harness's ``repeat_penalty`` is not an OpenAI field and
is not sent, so it is recorded as None). Settings that do not change an answer otherwise
(threads, workers, context size) are recorded but left out of the fingerprint. A key of
OPTIONAL_KEYS counts only when it is set, so files written before the key existed keep
their fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from utils.config import Config, ModelSpec
from utils.items import Item
from utils.run.prompts import PromptTemplates

# The recorded settings that make up the fingerprint, in a fixed order.
FINGERPRINT_KEYS = (
    "prompt_fingerprint", "company_name", "model_id", "temperature", "repeat_penalty",
    "num_tokens_to_predict", "decoding", "stop_after_json", "seed", "chat_format", "items_fingerprint",
    "flash_attn", "server_options",
)
# Fingerprinted only when set (not None): the setting's default leaves older files current.
OPTIONAL_KEYS = ("flash_attn", "server_options")


def unit_settings(config: Config, templates: PromptTemplates, spec: ModelSpec, *, company_name: str,
                  seed: int, model_id: str | None, items_fingerprint: str | None = None,
                  prompt_set: str | None = None) -> dict[str, Any]:
    """Everything recorded under ``settings`` in a result file, fingerprint included.

    ``templates`` are the model's own prompt set when it names a ``messages_folder``;
    ``prompt_set`` is the folder they were read from (recorded, not fingerprinted: the
    global folder's texts are covered by ``prompt_fingerprint``).
    """
    settings = {
        "temperature": config.default_temperature,
        "repeat_penalty": None if spec.backend == "openai" else config.repeat_penalty,
        "num_tokens_to_predict": config.num_tokens_to_predict,
        "context_window_size": config.context_window_size,
        "decoding": "json_schema" if config.constrained_decoding else "free",
        "stop_after_json": config.stop_after_json if spec.backend == "llama_cpp" else False,
        "flash_attn": True if spec.backend == "llama_cpp" and config.flash_attn else None,
        "prompt_fingerprint": templates.fingerprint(spec.prompt_mode),
        "prompt_set": prompt_set,
        "messages_folder": None if spec.messages_folder is None else str(spec.messages_folder),
        "company_name": company_name,
        "chat_format": spec.chat_format,
        "seed": seed,
        "model_id": model_id,
        "items_fingerprint": items_fingerprint,
        "server_options": ({"stop": list(spec.stop), "extra_body": dict(spec.extra_body),
                            "response_format": spec.response_format if config.constrained_decoding else None}
                           if spec.backend == "openai" else None),
    }
    settings["fingerprint"] = fingerprint(settings)
    return settings


def items_fingerprint(items: Sequence[Item]) -> str:
    """Short hash of the keys and texts the models read: a new snapshot with the same article
    URLs (keys) but other texts makes earlier results stale."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.key}\0{item.text}\0".encode("utf-8"))
    return digest.hexdigest()[:16]


def fingerprint(settings: dict[str, Any]) -> str:
    """Short hash of the fingerprinted settings."""
    picked = [[key, settings.get(key)] for key in FINGERPRINT_KEYS
              if key not in OPTIONAL_KEYS or settings.get(key) is not None]
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def settings_change(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Why a file recorded with ``recorded`` settings is stale now; None when it is not.

    A model identity the run cannot know right now (an Ollama server that is down) is not
    held against a file.
    """
    if "fingerprint" not in recorded:
        return "recorded without a settings fingerprint (older file)"
    changes = []
    for key in FINGERPRINT_KEYS:
        old, new = recorded.get(key), current.get(key)
        if key == "model_id" and new is None:
            continue
        if old != new:
            changes.append(f"{key} {_short(old)} -> {_short(new)}")
    return "settings changed: " + ", ".join(changes) if changes else None


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 24 else text[:20] + "...\""
