"""Prompt building: a real few-shot conversation with a byte-identical prefix."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.helpers import PROJECT, copy_messages
from utils.answers import parse_answer
from utils.backends.llamacpp import fold_system_message
from utils.errors import ConfigError
from utils.run.prompts import load_templates

TEMPLATES = load_templates(PROJECT / "messages")


def test_five_shot_puts_examples_in_the_conversation():
    messages = TEMPLATES.build("five_shot", "Nvidia", "Nvidia raised its outlook.")
    roles = [m["role"] for m in messages]
    assert roles == ["system"] + ["user", "assistant"] * 5 + ["user"]
    assert "Nvidia raised its outlook." in messages[-1]["content"]
    assert "Nvidia" in messages[-1]["content"]
    for answer in messages[2:11:2]:
        assert parse_answer(answer["content"]).valid
        assert answer["content"] == answer["content"].strip()


def test_example_answers_cover_positive_negative_and_mixed():
    scores = sorted(json.loads(m["content"])["sentiment"] for m in TEMPLATES.prefix("five_shot")[2::2])
    assert scores[0] < -0.5 and scores[-1] > 0.5 and any(-0.5 < s < 0.5 for s in scores)


def test_zero_shot_is_system_and_article_only():
    messages = TEMPLATES.build("zero_shot", "Nvidia", "text")
    assert [m["role"] for m in messages] == ["system", "user"]


@pytest.mark.parametrize("mode", ["five_shot", "zero_shot"])
def test_prefix_is_identical_for_every_article(mode):
    one = TEMPLATES.build(mode, "Nvidia", "first article")
    two = TEMPLATES.build(mode, "Nvidia", "second, longer article")
    assert one[:-1] == two[:-1]
    assert TEMPLATES.fingerprint(mode) == load_templates(PROJECT / "messages").fingerprint(mode)


def test_system_message_states_the_schema():
    for word in ("reasoning", "sentiment", "confidence", "-1.0", "1.0", "JSON"):
        assert word in TEMPLATES.system


def test_template_without_article_placeholder_is_rejected(tmp_path):
    folder = copy_messages(tmp_path)
    (folder / "user_message.txt").write_text("Rate {company_name}.", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"user_message.txt: the template must contain \{article\}"):
        load_templates(folder)


def test_invalid_example_answer_is_rejected_with_its_place(tmp_path):
    folder = copy_messages(tmp_path)
    path = folder / "few_shot_examples.yaml"
    path.write_text(path.read_text().replace("sentiment: 0.85", "sentiment: 1.85"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"few_shot_examples.yaml: answer.sentiment"):
        load_templates(folder)


def test_missing_messages_folder(tmp_path):
    with pytest.raises(ConfigError, match="cannot read prompt file"):
        load_templates(tmp_path / "none")


def test_gemma_folding_keeps_the_system_text_first():
    folded = fold_system_message(TEMPLATES.build("five_shot", "Nvidia", "text"))
    assert folded[0]["role"] == "user"
    assert folded[0]["content"].startswith(TEMPLATES.system)
    assert len(folded) == 11
    assert fold_system_message(folded) == folded


def test_flash_attention_counts_in_the_fingerprint_only_when_on():
    """Off (the default), files written before the key existed keep their fingerprint."""
    from utils.run.settings import FINGERPRINT_KEYS, fingerprint, settings_change

    before = {key: "x" for key in FINGERPRINT_KEYS if key != "flash_attn"}
    old_keys = [k for k in FINGERPRINT_KEYS if k != "flash_attn"]
    old_hash = hashlib.sha256(json.dumps([[k, "x"] for k in old_keys], sort_keys=True).encode()).hexdigest()[:16]
    assert fingerprint(before) == old_hash
    on = {**before, "flash_attn": True}
    assert fingerprint(on) != old_hash
    assert settings_change({**before, "fingerprint": old_hash}, before) is None
    assert "flash_attn" in settings_change({**before, "fingerprint": old_hash}, on)
