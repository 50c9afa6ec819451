"""The comparison run's harness config: base five-shot against every export zero-shot, valid for the harness."""

from __future__ import annotations

import pytest

from tests.training.helpers import write_training_config
from training.config import PROJECT_MESSAGES, load_training_config
from training.pipeline import base_entry, evaluation_config
from utils.config import load_config
from utils.errors import HarnessError


def test_evaluation_config_pairs_base_with_every_export(tmp_path):
    config = load_training_config(write_training_config(tmp_path, tmp_path, evaluate={"output_dir": str(tmp_path / "ev")}))
    harness = load_config(evaluation_config(config, ["F16", "Q8_0", "Q4_K_M"]))
    modes = {m.name: m.prompt_mode for m in harness.models_to_test}
    assert modes == {"smollm2-135m-instruct:q4_1": "five_shot", "tiny-sentiment:f16": "zero_shot",
                     "tiny-sentiment:q8_0": "zero_shot", "tiny-sentiment:q4_K_M": "zero_shot"}
    assert ("smollm2-135m-instruct:q4_1", "tiny-sentiment:q4_K_M") in harness.comparison_pairs
    assert ("tiny-sentiment:f16", "tiny-sentiment:q4_K_M") in harness.comparison_pairs
    assert harness.messages_folder == PROJECT_MESSAGES
    assert harness.sentiment_save_folder == tmp_path / "ev" / "sentiments"


def test_the_training_prompts_are_the_evaluation_prompts(tmp_path):
    config = load_training_config(write_training_config(tmp_path, tmp_path, messages_folder=str(tmp_path / "p"),
                                                        evaluate={"output_dir": str(tmp_path / "ev")}))
    assert load_config(evaluation_config(config, ["F16"])).messages_folder == tmp_path / "p"


def test_a_hugging_face_base_cannot_run_in_the_harness(tmp_path):
    config = load_training_config(write_training_config(
        tmp_path, tmp_path, base_model={"package_resource": None, "hf_folder": str(tmp_path)}))
    with pytest.raises(HarnessError, match="gguf_path or package_resource"):
        base_entry(config)
