"""Ollama through its official Python client (``/api/chat``).

Sampling options and ``num_ctx`` go with every call (a server keeps no per-client
state), ``keep_alive`` holds the model in memory between articles, and the server's
own token counts and durations are recorded. Ollama silently truncates a prompt
longer than the context window; such answers are flagged.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from utils.backends.base import Completion, Message, Sampling, ServerBackend
from utils.errors import BackendUnavailable, ModelNotFound

log = logging.getLogger(__name__)

DEFAULT_HOST = "http://127.0.0.1:11434"
KEEP_ALIVE = "30m"
# A lower bound on a prompt's token count: tokenizers average about 4 bytes of English
# per token and hardly ever reach 8, so fewer than bytes/8 reported tokens means the
# server threw part of the prompt away.
_MAX_BYTES_PER_TOKEN = 8


def ollama_host(configured: str | None) -> str:
    """Host from config, else OLLAMA_HOST, else the local default."""
    host = configured or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    return host if "://" in host else f"http://{host}"


def _nanoseconds_to_seconds(value: Any) -> float | None:
    return value / 1e9 if isinstance(value, (int, float)) and value else None


def prompt_bytes(messages: list[Message]) -> int:
    return sum(len(m["content"].encode("utf-8")) for m in messages)


class OllamaBackend(ServerBackend):
    name = "ollama"

    def __init__(self, spec, config) -> None:
        super().__init__(spec, config)
        self.host = ollama_host(config.ollama_host)
        self._client: Any = None
        self._details: dict[str, Any] = {}

    def _fail(self, reason: str, hint: str = "") -> BackendUnavailable:
        return BackendUnavailable(self.name, f"{self.spec.tag} at {self.host}", reason, hint)

    def load(self) -> None:
        import httpx
        import ollama

        self._client = ollama.Client(host=self.host, timeout=self.config.ollama_timeout_s)
        try:
            shown = self._client.show(self.spec.tag)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise ModelNotFound(
                    f"Ollama at {self.host} has no model {self.spec.tag!r} (run: ollama pull {self.spec.tag})"
                ) from None
            raise self._fail(f"server error {exc.status_code}: {exc.error}") from None
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._fail(f"server unreachable ({exc.__class__.__name__}: {exc})",
                             "start it with 'ollama serve' or set OLLAMA_HOST / ollama_host") from None
        self._details = self._describe(shown)

    def _digest(self, client: Any) -> str | None:
        try:
            for model in client.list().models:
                if model.model in (self.spec.tag, f"{self.spec.tag}:latest"):
                    return model.digest
        except Exception as exc:  # noqa: BLE001 - the digest identifies results; never fail a run over it
            log.debug("could not list Ollama models: %s", exc)
        return None

    def identity(self) -> str | None:
        import ollama

        digest = self._digest(ollama.Client(host=self.host, timeout=min(10.0, self.config.ollama_timeout_s)))
        return f"ollama:{digest}" if digest else None

    def _describe(self, shown: Any) -> dict[str, Any]:
        details = getattr(shown, "details", None)
        return {
            "digest": self._digest(self._client),
            "format": getattr(details, "format", None),
            "family": getattr(details, "family", None),
            "parameter_size": getattr(details, "parameter_size", None),
            "quantization_level": getattr(details, "quantization_level", None),
        }

    def _options(self, sampling: Sampling) -> dict[str, Any]:
        return {
            "temperature": sampling.temperature,
            "num_ctx": self.config.context_window_size,
            "num_predict": sampling.max_tokens,
            "seed": sampling.seed,
            "repeat_penalty": sampling.repeat_penalty,
        }

    def chat(self, messages: list[Message], sampling: Sampling) -> Completion:
        import httpx
        import ollama

        if self._client is None:
            raise self._fail("model not loaded")
        started = time.perf_counter()
        try:
            response = self._client.chat(
                model=self.spec.tag,
                messages=messages,
                options=self._options(sampling),
                format=sampling.json_schema,
                keep_alive=KEEP_ALIVE,
                stream=False,
            )
        except ollama.ResponseError as exc:
            raise self._fail(f"server error {exc.status_code}: {exc.error}") from None
        except httpx.TimeoutException:
            raise self._fail(f"no answer within {self.config.ollama_timeout_s:.0f} s",
                             "raise ollama_timeout_s in config.yaml") from None
        except (httpx.HTTPError, ConnectionError) as exc:
            raise self._fail(f"server unreachable ({exc})") from None
        seconds = time.perf_counter() - started
        prompt_tokens = response.prompt_eval_count
        return Completion(
            text=response.message.content or "",
            seconds=seconds,
            prompt_tokens=prompt_tokens,
            completion_tokens=response.eval_count,
            prompt_seconds=_nanoseconds_to_seconds(response.prompt_eval_duration),
            eval_seconds=_nanoseconds_to_seconds(response.eval_duration),
            finish_reason=response.done_reason,
            prompt_truncated=(
                prompt_tokens is not None and prompt_tokens < prompt_bytes(messages) / _MAX_BYTES_PER_TOKEN
            ),
            extra={"server_seconds": _nanoseconds_to_seconds(response.total_duration),
                   "load_seconds": _nanoseconds_to_seconds(response.load_duration)},
        )

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "backend_version": f"ollama server {self._server_version()}",
            "host": self.host,
            "model": self.spec.tag,
            **self._details,
        }

    def _server_version(self) -> str:
        import httpx

        try:
            reply = httpx.get(f"{self.host}/api/version", timeout=5)
            return reply.json().get("version", "unknown")
        except (httpx.HTTPError, ValueError):
            return "unknown"
