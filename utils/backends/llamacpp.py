"""Embedded llama.cpp through llama-cpp-python: the default backend.

One ``Llama`` object per model serves every article and iteration. Because the
conversation prefix (system message and examples) is byte-identical from call to
call and the context is never reset, llama.cpp keeps the prefix's KV cache and only
evaluates the new article on each call.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from utils.run.answers import JsonObjectWatcher
from utils.backends.base import Backend, Completion, Message, Sampling
from utils.errors import BackendUnavailable, PromptTooLong
from utils.backends.gguf_files import resolve_gguf

log = logging.getLogger(__name__)

# llama-cpp-python's message when a prompt does not fit n_ctx.
_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")

# llama-cpp-python's "gemma" format drops the system message (Gemma has no system
# role); Google's own template folds it into the first user turn, and so do we.
_FORMATS_WITHOUT_SYSTEM_ROLE = {"gemma"}


def fold_system_message(messages: list[Message]) -> list[Message]:
    """Messages with the system text prepended to the first user turn."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message['content']}"
            break
    return rest


class _StopAfterJson:
    """Logits processor that ends generation once the answer's JSON object has closed.

    It reads each newly sampled token and, after the object's closing brace, leaves only
    the end-of-sequence token possible. (Streaming and breaking out of the stream would do
    the same, but llama-cpp-python's streaming path costs several times more per token.)
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.watcher = JsonObjectWatcher()
        self.seen: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.seen is None:  # first call: everything so far is the prompt
            self.seen = len(input_ids)
        new_tokens = [int(t) for t in input_ids[self.seen:]]
        self.seen = len(input_ids)
        if new_tokens and not self.watcher.closed:
            self.watcher.feed(self.llm.detokenize(new_tokens).decode("utf-8", errors="ignore"))
        if self.watcher.closed:
            eos = self.llm.token_eos()
            keep = scores[eos]
            scores[:] = -float("inf")
            scores[eos] = keep if keep > -float("inf") else 0.0
        return scores


class LlamaCppBackend(Backend):
    name = "llama_cpp"
    supports_json_schema = True

    def __init__(self, spec, config) -> None:
        super().__init__(spec, config)
        self._llm: Any = None
        self._model_path = None

    def load(self) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendUnavailable(self.name, self.spec.name, f"llama-cpp-python is not installed ({exc})",
                                     "pip install -r requirements.txt") from None
        self._model_path = resolve_gguf(self.spec)
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        kwargs: dict[str, Any] = dict(
            model_path=str(self._model_path),
            n_ctx=self.config.context_window_size,
            n_gpu_layers=self.spec.n_gpu_layers if gpu else 0,
            seed=self.config.seed,
            verbose=log.isEnabledFor(logging.DEBUG),
        )
        # llama-cpp-python defaults to half the cores; a benchmark machine gives it all of them.
        threads = self.config.n_threads or os.cpu_count() or 1
        kwargs.update(n_threads=threads, n_threads_batch=threads)
        if self.spec.chat_format:
            kwargs["chat_format"] = self.spec.chat_format
        try:
            self._llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendUnavailable(self.name, self.spec.name, f"llama.cpp could not load {self._model_path}: {exc}") from None
        self._gpu = gpu
        log.info("loaded %s from %s (GPU offload: %s)", self.spec.name, self._model_path, "yes" if gpu else "no")

    def _prepare(self, messages: list[Message]) -> list[Message]:
        if self.spec.chat_format in _FORMATS_WITHOUT_SYSTEM_ROLE:
            return fold_system_message(messages)
        return messages

    def chat(self, messages: list[Message], sampling: Sampling) -> Completion:
        if self._llm is None:
            raise BackendUnavailable(self.name, self.spec.name, "model not loaded")
        kwargs: dict[str, Any] = dict(
            messages=self._prepare(messages),
            temperature=sampling.temperature,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
            repeat_penalty=sampling.repeat_penalty,
        )
        if sampling.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": sampling.json_schema}
        stopper = None
        if self.config.stop_after_json:
            stopper = _StopAfterJson(self._llm)
            kwargs["logits_processor"] = [stopper]
        started = time.perf_counter()
        try:
            response = self._llm.create_chat_completion(**kwargs)
        except ValueError as exc:  # e.g. prompt longer than the context window
            too_long = _TOO_LONG.search(str(exc))
            if too_long:  # the run shortens the article and asks again (utils/run/fit.py)
                raise PromptTooLong(self.name, self.spec.name, int(too_long[1]), int(too_long[2])) from None
            raise BackendUnavailable(self.name, self.spec.name, str(exc)) from None
        seconds = time.perf_counter() - started
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        finish = "json_complete" if stopper is not None and stopper.watcher.closed else choice.get("finish_reason")
        return Completion(
            text=choice["message"].get("content") or "",
            seconds=seconds,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=finish,
        )

    def provenance(self) -> dict[str, Any]:
        import llama_cpp

        from utils.backends.gguf_files import file_identity

        return {
            "backend": self.name,
            "backend_version": f"llama-cpp-python {llama_cpp.__version__}",
            "gpu_offload": getattr(self, "_gpu", False),
            "chat_format": self.spec.chat_format or "gguf template",
            "model_file": file_identity(self._model_path) if self._model_path else None,
            "n_threads": self.config.n_threads or os.cpu_count(),
        }

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
