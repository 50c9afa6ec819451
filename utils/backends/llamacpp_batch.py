"""Batched decoding for llama.cpp (``parallel: N``): N items decoded together as sequences.

llama-cpp-python's high-level API serves one sequence at a time, so this uses its
low-level bindings. A second llama.cpp context on the same loaded weights holds N + 1
sequences in one unified KV cache. Sequence 0 keeps the shared prompt prefix (system
message and examples, evaluated once and reused from call to call like the sequential
path does); each item's sequence gets the prefix's cells by ``llama_memory_seq_cp``
(no recomputation), then all the items' own tokens are evaluated in shared batches, and
decoding steps all unfinished sequences with one ``llama_decode`` per token. Sampling is
per sequence, with the same sampler chain and seed as the sequential path.

Results can differ from the sequential path in the last bits of the logits (other batch
shapes), so an answer may differ where two tokens are nearly tied.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from utils.backends.base import Sampling
from utils.answers import JsonObjectWatcher


@dataclass
class SequenceOutput:
    tokens: list[int]
    finish_reason: str
    prompt_tokens: int
    cached_tokens: int


class _Sequence:
    def __init__(self, seq_id: int, prompt: list[int], sampler: Any, watch_json: bool) -> None:
        self.seq_id = seq_id
        self.prompt = prompt
        self.sampler = sampler
        self.tokens: list[int] = []
        self.pos = 0
        self.finish: str | None = None
        self.watcher = JsonObjectWatcher() if watch_json else None


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class BatchedDecoder:
    """Decodes several prompts at once on the weights of an already loaded ``llama_cpp.Llama``."""

    def __init__(self, llm: Any, parallel: int, n_ctx: int) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self.llama_cpp = llama_cpp
        self.llm = llm
        self.parallel = parallel
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_seq_max = parallel + 1
        params.kv_unified = True  # the sequences share the prefix's cells instead of copies
        params.n_ctx = n_ctx
        self.n_batch = params.n_batch
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=llm.verbose)
        self.batch = _internals.LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=parallel + 1,
                                           verbose=llm.verbose)
        self.vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.prefix: list[int] = []  # what sequence 0 holds

    # --- low-level helpers ---------------------------------------------------------

    def _add(self, token: int, pos: int, seq_id: int, logits: bool) -> int:
        raw = self.batch.batch
        i = raw.n_tokens
        raw.token[i] = token
        raw.pos[i] = pos
        raw.n_seq_id[i] = 1
        raw.seq_id[i][0] = seq_id
        raw.logits[i] = logits
        raw.n_tokens = i + 1
        return i

    def _decode(self) -> None:
        if self.batch.batch.n_tokens:
            self.ctx.decode(self.batch)  # RuntimeError when llama.cpp refuses (e.g. KV cache full)
        self.batch.reset()

    def _sampler(self, sampling: Sampling, seed: int) -> Any:
        from llama_cpp import _internals

        # The chain llama-cpp-python builds for create_chat_completion's defaults.
        sampler = _internals.LlamaSampler()
        sampler.add_penalties(n_vocab=self.llm.n_vocab(), penalty_last_n=self.llm.last_n_tokens_size,
                              penalty_repeat=sampling.repeat_penalty, penalty_freq=0.0, penalty_present=0.0)
        if sampling.temperature == 0.0:
            sampler.add_greedy()
        else:
            sampler.add_top_k(40)
            sampler.add_typical(1.0, 1)
            sampler.add_top_p(0.95, 1)
            sampler.add_min_p(0.05, 1)
            sampler.add_temp(sampling.temperature)
            sampler.add_dist(seed)
        return sampler

    def _is_end(self, token: int) -> bool:
        return bool(self.llama_cpp.llama_vocab_is_eog(self.vocab, token))

    # --- the batch -----------------------------------------------------------------

    def _share_prefix(self, prompts: list[list[int]]) -> int:
        """Evaluate the prompts' common prefix into sequence 0 (reusing what it holds) and
        give every item's sequence those cells; returns the prefix length."""
        shared = min(len(p) for p in prompts) - 1  # each sequence keeps at least one own token
        for prompt in prompts[1:]:
            shared = min(shared, common_prefix(prompts[0], prompt))
        memory = self.ctx.memory
        keep = common_prefix(self.prefix, prompts[0][:shared])
        self.llama_cpp.llama_memory_seq_rm(memory, 0, keep, -1)
        for pos in range(keep, shared):
            self._add(prompts[0][pos], pos, 0, False)
            if self.batch.batch.n_tokens == self.n_batch:
                self._decode()
        self._decode()
        self.prefix = prompts[0][:shared]
        for seq_id in range(1, len(prompts) + 1):
            self.llama_cpp.llama_memory_seq_rm(memory, seq_id, 0, -1)
            self.llama_cpp.llama_memory_seq_cp(memory, 0, seq_id, 0, shared)
        return shared

    def generate(self, prompts: list[list[int]], sampling: Sampling, stop_after_json: bool
                 ) -> tuple[list[SequenceOutput], dict[str, float]]:
        """Answer every prompt; returns the outputs in order and llama.cpp's counters for the batch."""
        if len(prompts) > self.parallel:
            raise ValueError(f"{len(prompts)} prompts for {self.parallel} sequences")
        started = time.perf_counter()
        shared = self._share_prefix(prompts)
        sequences = [_Sequence(i + 1, p, self._sampler(sampling, sampling.seed), stop_after_json)
                     for i, p in enumerate(prompts)]
        # Prefill: every sequence's own tokens, in as few batches as fit.
        waiting: dict[int, _Sequence] = {}
        for seq in sequences:
            for pos in range(shared, len(seq.prompt)):
                last = pos == len(seq.prompt) - 1
                index = self._add(seq.prompt[pos], pos, seq.seq_id, last)
                if last:
                    waiting[index] = seq
                if self.batch.batch.n_tokens == self.n_batch:
                    self._decode_and_sample(waiting, sampling)
            seq.pos = len(seq.prompt)
        self._decode_and_sample(waiting, sampling)
        prefilled = time.perf_counter()
        steps = 0
        # Decode: one token per unfinished sequence per step.
        while True:
            active = [s for s in sequences if s.finish is None]
            if not active:
                break
            for seq in active:
                waiting[self._add(seq.tokens[-1], seq.pos, seq.seq_id, True)] = seq
                seq.pos += 1
            self._decode_and_sample(waiting, sampling)
            steps += 1
        for seq in sequences:
            self.llama_cpp.llama_memory_seq_rm(self.ctx.memory, seq.seq_id, 0, -1)
            seq.sampler.close()
        # llama.cpp's perf counters book every multi-token decode as prompt evaluation, so
        # the batch's two phases are timed here instead.
        counters = {
            "prefill_tokens": sum(len(s.prompt) for s in sequences) - shared * len(sequences),
            "decode_steps": steps,
            "prefill_seconds": prefilled - started,
            "decode_seconds": time.perf_counter() - prefilled,
        }
        outputs = [SequenceOutput(s.tokens, s.finish or "length", len(s.prompt), shared) for s in sequences]
        return outputs, counters

    def _decode_and_sample(self, waiting: dict[int, _Sequence], sampling: Sampling) -> None:
        self._decode()
        for index, seq in waiting.items():
            token = seq.sampler.sample(self.ctx, index)
            if self._is_end(token):
                seq.finish = "stop"
                continue
            seq.tokens.append(token)
            if seq.watcher is not None:
                piece = self.llm.detokenize([token], prev_tokens=seq.prompt + seq.tokens[:-1])
                if seq.watcher.feed(piece.decode("utf-8", errors="ignore")):
                    seq.finish = "json_complete"
                    continue
            if len(seq.tokens) >= sampling.max_tokens:
                seq.finish = "length"
        waiting.clear()

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()
