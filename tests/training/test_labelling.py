"""Unlabelled articles labelled by a model through the harness, with real result files.

Most tests are answered by the scripted backend (tests/scripted.py, reached through the real
backend table), so they can say exactly which answer became which label; the first test runs
the real SmolLM2 five-shot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import SMOLLM2, write_config, write_snapshot
from tests.training.helpers import write_fpb, write_training_config
from training.config import load_training_config
from training.dataset import build_dataset
from training.labelling import clip_text, label_articles
from utils.errors import ConfigError, DatasetError
from utils.labels import label_from_score
from utils.run.results import load_result
from utils.run.sources import DATASET_COMPANY


def _config(tmp_path, fpb=None, **articles):
    harness = write_config(tmp_path, [SMOLLM2], **articles.pop("harness", {}))
    snapshot = write_snapshot(tmp_path, count=articles.pop("count", 3))
    settings = {"snapshots": [str(snapshot)], "labeller_config": str(harness), "labeller": SMOLLM2["name"],
                **articles}
    dataset = {"articles": settings, "fpb_path": str(fpb) if fpb else None}
    return load_training_config(write_training_config(tmp_path, fpb, dataset=dataset)), snapshot


def _labels_file(config, subject="NVDA-labels"):
    return config.labels_dir / "smollm2-135m-instruct_q4_1" / f"{subject}_0.json"


POSITIVE = '{"sentiment": 0.8, "confidence": 0.6, "reasoning": "Sales rose."}'
NEGATIVE = '{"sentiment": -0.7, "confidence": 0.9, "reasoning": "Sales fell."}'
NEUTRAL = '{"sentiment": 0.1, "confidence": 0.5, "reasoning": "A date."}'
INVALID = "It is positive, I think."


@pytest.mark.slow
def test_labels_follow_the_labellers_answers_and_a_rerun_asks_nothing(tmp_path):
    config, snapshot = _config(tmp_path, retries=0)
    report = label_articles(config)
    result = load_result(_labels_file(config))
    assert result.prompt_mode == "five_shot" and len(result.sentiments) == 3
    valid = {k: a for k, a in result.sentiments.items() if a.valid}
    assert {a.key for a in report.labelled} == set(valid)
    assert set(report.dropped) == set(result.sentiments) - set(valid)
    for labelled in report.labelled:
        answer = valid[labelled.key]
        assert labelled.label == label_from_score(answer.sentiment)
        assert labelled.confidence == answer.confidence  # the labeller's own confidence is the target
        assert labelled.company == "Nvidia"  # the snapshot's company_name
    written = _labels_file(config).stat().st_mtime_ns
    again = label_articles(config)
    assert _labels_file(config).stat().st_mtime_ns == written  # finished answers are not asked again
    assert again.labelled == report.labelled


def test_scripted_answers_become_labels_by_the_neutral_band(tmp_path, scripted_backend):
    scripted_backend.steps = [POSITIVE, NEUTRAL, NEGATIVE]
    config, _ = _config(tmp_path, retries=0)
    report = label_articles(config)
    keys = list(load_result(_labels_file(config)).sentiments)
    assert [(a.key, a.label, a.confidence) for a in report.labelled] == [
        (keys[0], "positive", 0.6), (keys[1], "neutral", 0.5), (keys[2], "negative", 0.9)]
    assert all(len(messages) == 12 for _, messages, _ in scripted_backend.calls)  # five-shot
    assert report.dropped == {} and report.attempts == {str(tmp_path / "articles" / "NVDA.json"): 1}
    scripted_backend.calls.clear()
    assert label_articles(config).labelled == report.labelled and scripted_backend.calls == []


def test_a_zero_shot_labeller_is_asked_zero_shot_with_its_own_prompt_set(tmp_path, scripted_backend):
    # A fine-tune as the teacher: its entry says zero_shot and names the prompt set it was
    # trained with; the labelling run asks it that way, not five-shot with the global set.
    prompts = tmp_path / "teacher-prompts"
    prompts.mkdir()
    for name in ("system_message.txt", "user_message.txt", "few_shot_examples.yaml"):
        text = (Path(__file__).resolve().parents[2] / "training" / "prompts" / name).read_text(encoding="utf-8")
        (prompts / name).write_text(("TEACHER. " if name.startswith("system") else "") + text, encoding="utf-8")
    teacher = dict(SMOLLM2, prompt_mode="zero_shot", messages_folder=str(prompts))
    harness = write_config(tmp_path, [teacher])
    snapshot = write_snapshot(tmp_path, count=2)
    dataset = {"articles": {"snapshots": [str(snapshot)], "labeller_config": str(harness),
                            "labeller": SMOLLM2["name"], "retries": 0}, "fpb_path": None}
    config = load_training_config(write_training_config(tmp_path, None, dataset=dataset))
    scripted_backend.steps = [POSITIVE, NEGATIVE]
    report = label_articles(config)
    assert [a.label for a in report.labelled] == ["positive", "negative"]
    assert all(len(messages) == 2 and messages[0]["content"].startswith("TEACHER. ")
               for _, messages, _ in scripted_backend.calls)
    assert load_result(_labels_file(config)).prompt_mode == "zero_shot"


def test_invalid_answers_are_asked_again_and_then_left_out(tmp_path, scripted_backend):
    # The first pass gets one valid answer; the retry asks exactly the two invalid articles
    # again (at the retry temperature, with a new seed), gets one; the last one is dropped.
    scripted_backend.steps = [INVALID, POSITIVE, INVALID, NEGATIVE, INVALID]
    config, _ = _config(tmp_path, retries=1)
    report = label_articles(config)
    first = load_result(_labels_file(config))
    retry = load_result(_labels_file(config, "NVDA-labels-retry1"))
    keys = list(first.sentiments)
    assert [a.valid for a in first.sentiments.values()] == [False, True, False]
    assert list(retry.sentiments) == [keys[0], keys[2]]
    assert retry.settings["temperature"] == 0.7 and retry.seed != first.seed
    assert [s.temperature for _, _, s in scripted_backend.calls] == [0.2] * 3 + [0.7] * 2
    assert [(a.key, a.label) for a in report.labelled] == [(keys[0], "negative"), (keys[1], "positive")]
    assert list(report.dropped) == [keys[2]] and "after 2 attempt(s)" in report.dropped[keys[2]]


def test_labelled_articles_join_the_splits_with_their_company_and_confidence(tmp_path, scripted_backend):
    scripted_backend.steps = [POSITIVE, INVALID, NEGATIVE]
    fpb = write_fpb(tmp_path / "fpb")
    config, _ = _config(tmp_path, fpb=fpb, retries=0, confidence=0.7, count=3)
    result = build_dataset(config)
    stats = json.loads(result.stats_file.read_text())
    assert (stats["articles_labelled"], stats["articles_dropped"]) == (2, 1)
    records = [json.loads(line) for name in ("train", "validation", "test")
               for line in result.files[name].read_text().splitlines()]
    articles = [r for r in records if r["agreement"] == "articles"]
    assert len(articles) == 2
    for record in articles:
        assert "Nvidia" in record["messages"][1]["content"]
        assert DATASET_COMPANY not in record["messages"][1]["content"]
        assert json.loads(record["messages"][-1]["content"])["confidence"] == 0.7
    split = json.loads(result.split_file.read_text())
    assert split["sources"]["articles"]["labeller"] == SMOLLM2["name"]


def test_the_training_cap_shrinks_the_sentences_and_keeps_every_training_article(tmp_path, scripted_backend):
    scripted_backend.steps = [POSITIVE, NEGATIVE, NEUTRAL, POSITIVE, NEGATIVE, NEUTRAL]
    fpb = write_fpb(tmp_path / "fpb")
    config, _ = _config(tmp_path, fpb=fpb, retries=0, count=6)
    uncapped = build_dataset(config)
    train = [json.loads(line) for line in uncapped.files["train"].read_text().splitlines()]
    in_train = sum(1 for r in train if r["agreement"] == "articles")
    assert in_train and len(train) - in_train > 3
    capped = build_dataset(config.model_copy(update={"dataset": config.dataset.model_copy(
        update={"max_train_items": 3})}))
    train = [json.loads(line) for line in capped.files["train"].read_text().splitlines()]
    assert sum(1 for r in train if r["agreement"] == "articles") == in_train
    assert sum(1 for r in train if r["agreement"] != "articles") == 3


def test_a_missing_labeller_names_the_model(tmp_path):
    config, _ = _config(tmp_path)
    config = config.model_copy(update={"dataset": config.dataset.model_copy(update={
        "articles": config.dataset.articles.model_copy(update={"labeller": "no-such-model"})})})
    with pytest.raises(ConfigError, match="no-such-model"):
        label_articles(config)


def test_a_labeller_whose_file_is_missing_fails_clearly(tmp_path):
    missing = {**SMOLLM2, "package_resource": None, "path": str(tmp_path / "absent.gguf")}
    harness = write_config(tmp_path, [missing])
    snapshot = write_snapshot(tmp_path)
    config = load_training_config(write_training_config(tmp_path, None, dataset={"articles": {
        "snapshots": [str(snapshot)], "labeller_config": str(harness), "labeller": SMOLLM2["name"]}}))
    with pytest.raises(DatasetError, match="absent.gguf"):
        label_articles(config)


def test_snapshots_need_a_labeller(tmp_path):
    with pytest.raises(ConfigError, match="labeller"):
        load_training_config(write_training_config(tmp_path, None, dataset={"articles": {"snapshots": ["x.json"]}}))


def test_clip_text_cuts_at_a_space():
    assert clip_text("short", 100) == "short"
    assert clip_text("alpha beta gamma delta", 14) == "alpha beta"
