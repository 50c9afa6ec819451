"""The embedded llama.cpp backend with the real default GGUF models (each loaded once per session)."""

from __future__ import annotations

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config
from utils.backends import Sampling, create_backend
from utils.config import load_config
from utils.errors import PromptTooLong, BackendUnavailable, ModelNotFound
from utils.news.snapshot_store import load_snapshot
from utils.answers import parse_answer
from utils.run.prompts import load_templates

TEMPLATES = load_templates(PROJECT / "messages")
ARTICLES = load_snapshot(PROJECT / "data" / "articles" / "NVDA.json").articles


def ask(backend, seed=42, max_tokens=160, article=0, mode="five_shot"):
    messages = TEMPLATES.build(mode, "Nvidia", ARTICLES[article].text)
    return backend.chat(messages, Sampling(temperature=0.2, max_tokens=max_tokens, seed=seed))


def test_base_model_stops_after_its_json_answer(gemma_backend):
    completion = ask(gemma_backend)
    assert completion.finish_reason == "json_complete", completion.text
    assert completion.text.rstrip().endswith("}")
    assert completion.completion_tokens < 160
    assert parse_answer(completion.text).valid
    provenance = gemma_backend.provenance()
    assert provenance["chat_format"] == "gemma" and provenance["model_file"]["path"].endswith(".gguf")


def test_without_stop_after_json_a_base_model_writes_on(gemma_backend):
    config = gemma_backend.config
    gemma_backend.config = config.model_copy(update={"stop_after_json": False})
    try:
        completion = ask(gemma_backend, max_tokens=80)
    finally:
        gemma_backend.config = config
    assert completion.finish_reason == "length" and completion.completion_tokens == 80


def test_same_seed_same_answer_and_prompt_tokens_reported(smollm2_backend):
    first, second = ask(smollm2_backend, max_tokens=48), ask(smollm2_backend, max_tokens=48)
    assert first.text == second.text
    assert first.prompt_tokens == second.prompt_tokens > 800


def test_timings_come_from_llama_cpp_perf_counters(smollm2_backend):
    ask(smollm2_backend, article=1, max_tokens=24)  # leaves the five-shot prefix in the cache
    completion = ask(smollm2_backend, article=2, max_tokens=24)
    prefill, decode = completion.extra["prefill_tokens"], completion.extra["decode_tokens"]
    # Only the new article is evaluated; the system message and examples come from the cache.
    assert completion.cached_prompt_tokens + prefill == completion.prompt_tokens
    assert completion.cached_prompt_tokens > 700 and 0 < prefill < 400
    assert decode == completion.completion_tokens - 1 or decode == completion.completion_tokens
    assert 0 < completion.prompt_seconds < completion.seconds and 0 < completion.eval_seconds < completion.seconds


def test_identity_is_the_model_files_sha256(smollm2_backend):
    identity = smollm2_backend.identity()
    assert identity == "sha256:" + smollm2_backend.provenance()["model_file"]["sha256"]


def test_a_prompt_longer_than_the_context_is_prompt_too_long(smollm2_backend):
    # llama-cpp-python raises ValueError; the backend says how long the prompt was so the run can cut it.
    messages = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(PromptTooLong) as raised:
        smollm2_backend.chat(messages, Sampling(temperature=0.2, max_tokens=8, seed=1))
    assert raised.value.prompt_tokens > 5000 and raised.value.context_tokens == smollm2_backend.config.context_window_size
    assert parse_answer(ask(smollm2_backend, max_tokens=8).text) is not None  # still usable afterwards


def test_any_other_llama_cpp_error_becomes_backend_unavailable(smollm2_backend, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("llama_decode returned -1")

    monkeypatch.setattr(smollm2_backend._llm, "create_chat_completion", broken)
    with pytest.raises(BackendUnavailable, match="RuntimeError: llama_decode returned -1"):
        smollm2_backend.chat([{"role": "user", "content": "hi"}], Sampling(temperature=0.2, max_tokens=8, seed=1))


def loaded(tmp_path, spec: dict, **overrides):
    config = load_config(write_config(tmp_path, [spec], **overrides))
    backend = create_backend(config.models_to_test[0], config)
    backend.load()
    return backend


def test_missing_gguf_file_is_model_not_found(tmp_path):
    spec = dict(SMOLLM2, package_resource=None, path=str(tmp_path / "absent.gguf"))
    with pytest.raises(ModelNotFound, match="absent.gguf"):
        loaded(tmp_path, spec)


def test_missing_package_names_the_pip_install(tmp_path):
    spec = dict(SMOLLM2, package_resource="no_such_pkg_xyz/model.gguf")
    with pytest.raises(ModelNotFound, match="pip install no-such-pkg-xyz"):
        loaded(tmp_path, spec)


def test_batched_decoding_shares_the_cached_prefix(smollm2_backend):
    config = smollm2_backend.config
    smollm2_backend.config = config.model_copy(update={"parallel": 2})
    short = ["Nvidia raised its full-year outlook after record data-centre sales.",
             "Nvidia shares fell after a regulator opened an inquiry into its sales practices."]
    conversations = [TEMPLATES.build("five_shot", "Nvidia", text) for text in short]
    sampling = Sampling(temperature=0.2, max_tokens=24, seed=42)
    try:
        first = smollm2_backend.chat_many(conversations, sampling)
        again = smollm2_backend.chat_many(conversations, sampling)
    finally:
        smollm2_backend._batched.close()
        smollm2_backend._batched = None
        smollm2_backend.config = config
    for batched in first:
        assert batched.prompt_tokens > batched.cached_prompt_tokens > 700 and batched.extra["batched"] == 2
        assert 0 < batched.completion_tokens <= 24 and batched.finish_reason in ("json_complete", "length", "stop")
        assert batched.text.lstrip().startswith("{")
    # The second batch found the prefix in sequence 0 and evaluated only the two articles.
    assert sum(c.extra["batch_prefill_tokens"] for c in again) == sum(
        c.prompt_tokens - c.cached_prompt_tokens for c in again)
    assert [c.text for c in again] == [c.text for c in first]  # same seed, same batch: same answers


def test_a_finished_sequence_gives_its_slot_to_the_next_conversation(smollm2_backend):
    """Five conversations on two slots: every one answered once, the answers streamed as they
    finish, their times adding up to the call's, and no slot left holding cells."""
    import time

    import llama_cpp

    config = smollm2_backend.config
    smollm2_backend.config = config.model_copy(update={"parallel": 2})
    conversations = [TEMPLATES.build("five_shot", "Nvidia", ARTICLES[i].text[:400]) for i in range(5)]
    sampling = Sampling(temperature=0.2, max_tokens=24, seed=42)
    try:
        started = time.perf_counter()
        streamed = list(smollm2_backend.chat_stream(conversations, sampling))
        wall = time.perf_counter() - started
        decoder = smollm2_backend._batched
        memory = decoder.ctx.memory
        held = [llama_cpp.llama_memory_seq_pos_max(memory, seq_id) for seq_id in (1, 2)]
        # A stream given up half-way releases its sequences too.
        stream = smollm2_backend.chat_stream(conversations[:3], sampling)
        next(stream)
        stream.close()
        held_after_close = [llama_cpp.llama_memory_seq_pos_max(memory, seq_id) for seq_id in (1, 2)]
    finally:
        smollm2_backend._batched.close()
        smollm2_backend._batched = None
        smollm2_backend.config = config
    assert sorted(index for index, _ in streamed) == [0, 1, 2, 3, 4]
    assert held == [-1, -1] and held_after_close == [-1, -1]
    completions = [c for _, c in streamed]
    assert all(0 < c.completion_tokens <= 24 and c.text.lstrip().startswith("{") for c in completions)
    assert sum(c.seconds for c in completions) == pytest.approx(wall, rel=0.05)
    assert sum(c.extra["batch_prefill_tokens"] for c in completions) == sum(
        c.prompt_tokens - c.cached_prompt_tokens for c in completions)
