"""Batched decoding for llama.cpp (``parallel: N``): N items decoded together as sequences.

llama-cpp-python's high-level API serves one sequence at a time, so this uses its
low-level bindings. A second llama.cpp context on the same loaded weights holds N + 1
sequences in one unified KV cache. Sequence 0 keeps the shared prompt prefix (system
message and examples, evaluated once and reused from call to call like the sequential
path does); each item's sequence gets the prefix's cells by ``llama_memory_seq_cp``
(no recomputation). Every step is one ``llama_decode`` of one batch holding the next token
of every decoding sequence and as many prompt tokens of newly started items as fit.

The N sequences are slots, not a fixed group (continuous batching): when one item's
answer is finished its slot takes the next item at once, so a long answer does not hold
the other slots idle while it finishes. Answers come back as they finish. Sampling is per
sequence, with the same sampler chain and seed as the sequential path.

Results can differ from the sequential path in the last bits of the logits (other batch
shapes), so an answer may differ where two tokens are nearly tied.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from utils.backends.base import Sampling
from utils.answers import JsonObjectWatcher


@dataclass
class SequenceOutput:
    tokens: list[int]
    finish_reason: str
    prompt_tokens: int
    cached_tokens: int


class _Sequence:
    def __init__(self, index: int, prompt: list[int], sampler: Any, watch_json: bool, fed: int) -> None:
        self.index = index  # the prompt's place in the call
        self.seq_id = 0  # the slot, once started
        self.prompt = prompt
        self.sampler = sampler
        self.fed = fed  # prompt tokens in the KV cache (the shared prefix arrives by copy)
        self.tokens: list[int] = []
        self.finish: str | None = None
        self.watcher = JsonObjectWatcher() if watch_json else None

    @property
    def decoding(self) -> bool:
        """The whole prompt is in, and a sampled token waits to be evaluated."""
        return self.finish is None and self.fed == len(self.prompt) and bool(self.tokens)


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
        self.n_ctx = n_ctx
        self.n_batch = params.n_batch
        self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=llm.verbose)
        self.batch = _internals.LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=parallel + 1,
                                           verbose=llm.verbose)
        self.vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.prefix: list[int] = []  # what sequence 0 holds
        # Running totals, like llama.cpp's perf counters (read before and after a call).
        self.totals = {"prefill_tokens": 0, "prefill_seconds": 0.0, "mixed_decode_tokens": 0, "decode_tokens": 0,
                       "decode_seconds": 0.0, "decode_steps": 0}

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
        """Evaluate the prompts' common prefix into sequence 0, reusing what it holds; returns
        the prefix length."""
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
        return shared

    def generate(self, prompts: list[list[int]], sampling: Sampling, stop_after_json: bool
                 ) -> tuple[list[SequenceOutput], dict[str, float]]:
        """Answer every prompt; returns the outputs in order and the decoder's counters for the call."""
        before = dict(self.totals)
        outputs: dict[int, SequenceOutput] = dict(self.stream(prompts, sampling, stop_after_json))
        counters = {key: self.totals[key] - before[key] for key in before}
        return [outputs[i] for i in range(len(prompts))], counters

    def stream(self, prompts: list[list[int]], sampling: Sampling, stop_after_json: bool
               ) -> Iterator[tuple[int, SequenceOutput]]:
        """Answer every prompt, at most ``parallel`` at a time; yields (prompt index, output) as
        each finishes. ``totals`` counts prompt tokens and the steps that evaluated any as
        prefill, the steps that only decoded as decoding."""
        if not prompts:
            return
        started = time.perf_counter()
        shared = self._share_prefix(prompts)
        self.totals["prefill_seconds"] += time.perf_counter() - started
        waiting = deque(_Sequence(i, p, None, stop_after_json, shared) for i, p in enumerate(prompts))
        free = list(range(1, self.parallel + 1))
        active: list[_Sequence] = []
        try:
            while waiting or active:
                # A free slot takes the next item, if the KV cache has room for its whole answer.
                while waiting and free and (not active or self._room(active, shared, sampling)
                                            >= self._need(waiting[0], shared, sampling)):
                    seq = waiting.popleft()
                    seq.seq_id, seq.sampler = free.pop(0), self._sampler(sampling, sampling.seed)
                    self._give_prefix(seq.seq_id, shared)
                    active.append(seq)
                self._step(active, sampling)
                for seq in [s for s in active if s.finish is not None]:
                    active.remove(seq)
                    self._release(seq)
                    free.append(seq.seq_id)
                    yield seq.index, SequenceOutput(seq.tokens, seq.finish or "length", len(seq.prompt), shared)
        finally:  # also when the caller stops early: no sequence keeps its cells
            for seq in active:
                self._release(seq)

    def _need(self, seq: _Sequence, shared: int, sampling: Sampling) -> int:
        return len(seq.prompt) - shared + sampling.max_tokens

    def _room(self, active: list[_Sequence], shared: int, sampling: Sampling) -> int:
        """KV cells not promised to the prefix or to the active sequences' whole answers."""
        return self.n_ctx - shared - sum(self._need(seq, shared, sampling) for seq in active)

    def _give_prefix(self, seq_id: int, shared: int) -> None:
        memory = self.ctx.memory
        self.llama_cpp.llama_memory_seq_rm(memory, seq_id, 0, -1)
        self.llama_cpp.llama_memory_seq_cp(memory, 0, seq_id, 0, shared)

    def _release(self, seq: _Sequence) -> None:
        self.llama_cpp.llama_memory_seq_rm(self.ctx.memory, seq.seq_id, 0, -1)
        if seq.sampler is not None:
            seq.sampler.close()
            seq.sampler = None

    def _step(self, active: list[_Sequence], sampling: Sampling) -> None:
        """One llama_decode: the next token of every decoding sequence, then prompt tokens of
        the sequences still being filled, as many as the batch holds; then sampling."""
        waiting: dict[int, _Sequence] = {}
        for seq in active:
            if seq.decoding:
                waiting[self._add(seq.tokens[-1], len(seq.prompt) + len(seq.tokens) - 1, seq.seq_id, True)] = seq
        decoded = len(waiting)
        prompt_tokens = 0
        for seq in active:
            while seq.fed < len(seq.prompt) and self.batch.batch.n_tokens < self.n_batch:
                last = seq.fed == len(seq.prompt) - 1
                index = self._add(seq.prompt[seq.fed], seq.fed, seq.seq_id, last)
                if last:
                    waiting[index] = seq
                seq.fed += 1
                prompt_tokens += 1
        started = time.perf_counter()
        self._decode_and_sample(waiting, sampling)
        seconds = time.perf_counter() - started
        if prompt_tokens:
            self.totals["prefill_tokens"] += prompt_tokens
            self.totals["prefill_seconds"] += seconds
            self.totals["mixed_decode_tokens"] += decoded
        else:
            self.totals["decode_tokens"] += decoded
            self.totals["decode_seconds"] += seconds
            self.totals["decode_steps"] += 1

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

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()
