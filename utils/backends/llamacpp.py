"""Embedded llama.cpp through llama-cpp-python: the default backend.

One ``Llama`` object per model serves every article and iteration. Because the
conversation prefix (system message and examples) is byte-identical from call to
call and the context is never reset, llama.cpp keeps the prefix's KV cache and only
evaluates the new article on each call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

from utils.answers import JsonObjectWatcher
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


def weight_repacking(llama_cpp: Any | None = None) -> bool:
    """Whether llama.cpp may move weights into its CPU "extra" buffers (AMX, repacked layouts).

    Off where llama.cpp was built with AMX (``AMX_INT8 = 1`` in its system info, as a native
    build on a Sapphire Rapids or newer Xeon is): the pinned llama.cpp's AMX matrix product
    loads an invalid tile configuration in its worker threads and dies of a general protection
    fault on the first prompt (llama.cpp issue 20824, fix proposed in pull request 26954).
    ``LLAMA_ARG_REPACK`` (llama.cpp's own variable for ``--repack``; 1 or 0) decides instead
    when set. llama-bench and llama-batched-bench are run with the same setting.
    """
    forced = os.environ.get("LLAMA_ARG_REPACK", "").strip().lower()
    if forced in ("1", "true", "on", "yes", "enabled"):
        return True
    if forced in ("0", "false", "off", "no", "disabled"):
        return False
    if llama_cpp is None:
        import llama_cpp as module

        llama_cpp = module
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return "AMX_INT8 = 1" not in info


@contextlib.contextmanager
def _extra_buffers(llama_cpp: Any, enabled: bool) -> Iterator[None]:
    """``Llama(...)`` takes llama.cpp's default model parameters and offers no keyword for
    ``use_extra_bufts``: while loading, the defaults it reads carry ``enabled``."""
    module = llama_cpp.llama_cpp
    default = module.llama_model_default_params

    def params() -> Any:
        found = default()
        found.use_extra_bufts = enabled
        return found

    module.llama_model_default_params = params
    try:
        yield
    finally:
        module.llama_model_default_params = default


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


class _PerfCounters:
    """llama.cpp's own per-context counters, read around one call.

    ``n_p_eval`` counts the prompt tokens actually evaluated (a reused prefix is not), and
    ``t_p_eval_ms`` / ``t_eval_ms`` are prefill and decode time as llama.cpp measured them.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._read = lambda: llama_cpp.llama_perf_context(llm._ctx.ctx)
        self.before = self._read()

    def since(self) -> dict[str, float | int]:
        after = self._read()
        return {
            "prefill_tokens": after.n_p_eval - self.before.n_p_eval,
            "decode_tokens": after.n_eval - self.before.n_eval,
            "prefill_seconds": (after.t_p_eval_ms - self.before.t_p_eval_ms) / 1000,
            "decode_seconds": (after.t_eval_ms - self.before.t_eval_ms) / 1000,
        }


def llama_chat_format() -> Any:
    from llama_cpp import llama_chat_format as module

    return module


class _PromptCatcher:
    """Stands in for ``Llama`` in a chat handler to catch the prompt tokens it would complete."""

    class Caught(Exception):
        def __init__(self, tokens: list[int]) -> None:
            super().__init__("prompt caught")
            self.tokens = tokens

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self.verbose = False

    def tokenize(self, *args: Any, **kwargs: Any) -> list[int]:
        return self._llm.tokenize(*args, **kwargs)

    def create_completion(self, prompt: Any, **kwargs: Any) -> Any:
        tokens = prompt if isinstance(prompt, list) else self._llm.tokenize(prompt.encode("utf-8"), special=True)
        raise self.Caught(list(tokens))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)


class LlamaCppBackend(Backend):
    name = "llama_cpp"

    def __init__(self, spec, config) -> None:
        super().__init__(spec, config)
        self._llm: Any = None
        self._model_path: Path | None = None
        self._batched: Any = None

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
            flash_attn=self.config.flash_attn,
            verbose=log.isEnabledFor(logging.DEBUG),
        )
        # llama-cpp-python defaults to half the cores; a benchmark machine gives it all of them.
        threads = self.config.n_threads or os.cpu_count() or 1
        kwargs.update(n_threads=threads, n_threads_batch=threads)
        if self.spec.chat_format:
            kwargs["chat_format"] = self.spec.chat_format
        self._repack = weight_repacking(llama_cpp)
        try:
            with _extra_buffers(llama_cpp, self._repack):
                self._llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendUnavailable(self.name, self.spec.name, f"llama.cpp could not load {self._model_path}: {exc}") from None
        self._gpu = gpu
        log.info("loaded %s from %s (GPU offload: %s, weight repacking: %s)", self.spec.name, self._model_path,
                 "yes" if gpu else "no", "yes" if self._repack else "no")

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
        perf = _PerfCounters(self._llm)
        started = time.perf_counter()
        try:
            response = self._llm.create_chat_completion(**kwargs)
        except Exception as exc:  # noqa: BLE001 - ValueError (prompt too long), RuntimeError (decode failed), ...
            too_long = _TOO_LONG.search(str(exc))
            if too_long:  # the run shortens the article and asks again (utils/run/fit.py)
                raise PromptTooLong(self.name, self.spec.name, int(too_long[1]), int(too_long[2])) from None
            # Whatever else llama.cpp raises fails this answer's unit, never the whole run.
            raise BackendUnavailable(self.name, self.spec.name, f"{exc.__class__.__name__}: {exc}") from None
        seconds = time.perf_counter() - started
        counters = perf.since()
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        finish = "json_complete" if stopper is not None and stopper.watcher.closed else choice.get("finish_reason")
        return Completion(
            text=choice["message"].get("content") or "",
            seconds=seconds,
            prompt_tokens=prompt_tokens,
            completion_tokens=usage.get("completion_tokens"),
            # Prompt tokens llama.cpp did not evaluate came from the cached prefix.
            cached_prompt_tokens=max(0, prompt_tokens - counters["prefill_tokens"]) if prompt_tokens else None,
            prompt_seconds=round(counters["prefill_seconds"], 6),
            eval_seconds=round(counters["decode_seconds"], 6),
            finish_reason=finish,
            extra={"prefill_tokens": counters["prefill_tokens"], "decode_tokens": counters["decode_tokens"]},
        )

    def chat_many(self, conversations: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """``parallel`` > 1: the conversations decoded together, ``parallel`` sequences at a time."""
        if self.config.parallel <= 1 or sampling.json_schema is not None:
            return super().chat_many(conversations, sampling)
        found = dict(self.chat_stream(conversations, sampling))
        return [found[i] for i in range(len(conversations))]

    def chat_stream(self, conversations: list[list[Message]], sampling: Sampling) -> Iterator[tuple[int, Completion]]:
        """``parallel`` > 1: the conversations decoded as up to ``parallel`` sequences sharing the
        cached prefix, a finished one's slot taken by the next conversation at once; yields
        (index, completion) as each answer is finished.

        A completion's ``seconds`` (and prefill / decode seconds) is the time since the answer
        before it was finished, so the answers' times add up to the call's. Constrained
        decoding (a grammar per sequence) is not batched; it falls back to one at a time.
        """
        if self.config.parallel <= 1 or sampling.json_schema is not None:
            for index, messages in enumerate(conversations):
                yield index, self.chat(messages, sampling)
            return
        if self._llm is None:
            raise BackendUnavailable(self.name, self.spec.name, "model not loaded")
        last = time.perf_counter()
        try:
            prompts = [self._prompt_tokens(messages) for messages in conversations]
            for prompt in prompts:  # each sequence has the whole window; the run fits a long one alone
                if len(prompt) + sampling.max_tokens > self.config.context_window_size:
                    raise PromptTooLong(self.name, self.spec.name, len(prompt), self.config.context_window_size)
            decoder = self._decoder()
            before = dict(decoder.totals)
            for index, out in decoder.stream(prompts, sampling, self.config.stop_after_json):
                now, totals = time.perf_counter(), dict(decoder.totals)
                spent = {key: totals[key] - before[key] for key in totals}
                yield index, Completion(
                    text=self._llm.detokenize(out.tokens, prev_tokens=prompts[index]).decode("utf-8", errors="ignore"),
                    seconds=now - last,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=len(out.tokens),
                    cached_prompt_tokens=out.cached_tokens,
                    prompt_seconds=round(spent["prefill_seconds"], 6),
                    eval_seconds=round(spent["decode_seconds"], 6),
                    finish_reason=out.finish_reason,
                    extra={"batched": self.config.parallel, "batch_prefill_tokens": spent["prefill_tokens"],
                           "batch_decode_tokens": spent["decode_tokens"] + spent["mixed_decode_tokens"],
                           "batch_decode_steps": spent["decode_steps"]},
                )
                last, before = time.perf_counter(), dict(decoder.totals)
        except PromptTooLong:
            raise
        except Exception as exc:  # noqa: BLE001 - as in chat: the unit fails, not the run
            raise BackendUnavailable(self.name, self.spec.name, f"{exc.__class__.__name__}: {exc}") from None

    def _decoder(self) -> Any:
        if self._batched is None:
            from utils.backends.llamacpp_batch import BatchedDecoder

            self._batched = BatchedDecoder(self._llm, self.config.parallel, self.config.context_window_size)
        return self._batched

    def warm_up(self, messages: list[Message]) -> None:
        """With ``parallel`` > 1 the batched context is the one to fill with the prefix."""
        if self.config.parallel <= 1 or self._llm is None:
            return super().warm_up(messages)
        try:
            self._decoder().generate([self._prompt_tokens(messages)], Sampling(temperature=0.0, max_tokens=1, seed=0),
                                     False)
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailable(self.name, self.spec.name, f"{exc.__class__.__name__}: {exc}") from None

    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The tokens llama-cpp-python's chat handler would evaluate for ``messages``."""
        catcher = _PromptCatcher(self._llm)
        handler = (self._llm.chat_handler or self._llm._chat_handlers.get(self._llm.chat_format)
                   or llama_chat_format().get_chat_completion_handler(self._llm.chat_format))
        try:
            handler(llama=catcher, messages=self._prepare(messages))
        except _PromptCatcher.Caught as caught:
            return caught.tokens
        raise RuntimeError("the chat handler did not produce a prompt")

    def identity(self) -> str | None:
        from utils.backends.gguf_files import file_identity

        return "sha256:" + file_identity(resolve_gguf(self.spec))["sha256"]

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
        if self._batched is not None:
            self._batched.close()
            self._batched = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None
