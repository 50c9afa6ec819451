"""``training evaluate`` and ``evaluate-news`` through the harness's run and report pipelines,
with the scripted backend standing in for llama.cpp (no model, no export: the GGUF paths of
the entries are never opened). The real chain runs in test_chain.py (slow)."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from tests.helpers import PROJECT, read_sheet, sheet_lines
from tests.training.helpers import write_fpb, write_training_config
from training.__main__ import main as training_main
from training.config import load_training_config
from training.dataset import build_dataset
from training.naming import gguf_path
from training.pipeline import evaluate, evaluate_news

TRAINING_PROMPTS = PROJECT / "training" / "prompts"
QUANTS = ["F16", "Q4_K_M"]
MODELS = ["smollm2-135m-instruct_q4_1", "tiny-sentiment_f16", "tiny-sentiment_q4_K_M"]


@pytest.fixture
def trained(tmp_path):
    fpb = write_fpb(tmp_path / "fpb")
    return tmp_path, write_training_config(
        tmp_path, fpb, messages_folder=str(TRAINING_PROMPTS),
        evaluate={"limit": 4, "output_dir": str(tmp_path / "evaluation"), "news_tickers": ["NVDA", "MSFT"],
                  "news_limit": 4, "news_iterations": 2})


def test_evaluate_news_runs_base_five_shot_and_each_export_zero_shot(trained, scripted_backend):
    folder, path = trained
    config = load_training_config(path)
    assert evaluate_news(config, QUANTS) == 0
    results = config.evaluate.output_dir / "news_sentiments"
    assert sorted(p.name for p in results.iterdir()) == MODELS
    for model in MODELS:
        names = sorted(p.name for p in (results / model).glob("*.json"))
        assert names == ["MSFT_0.json", "MSFT_1.json", "NVDA_0.json", "NVDA_1.json"]
    base = json.loads((results / MODELS[0] / "NVDA_0.json").read_text())
    tuned = json.loads((results / MODELS[2] / "NVDA_0.json").read_text())
    assert (base["prompt_mode"], tuned["prompt_mode"]) == ("five_shot", "zero_shot")
    assert len(tuned["sentiments"]) == 4 and tuned["source"]["limit"] == 4
    assert tuned["source"]["labels"]["origin"] == "synthetic"
    assert tuned["settings"]["messages_folder"] == str(TRAINING_PROMPTS.resolve())
    own = (TRAINING_PROMPTS / "system_message.txt").read_text(encoding="utf-8").strip()
    assert {messages[0]["content"] for _, messages, _ in scripted_backend.calls} == {own}
    # one workbook beside the test split's, over both tickers
    book = config.evaluate.output_dir / "reports" / "news_comparison_report.xlsx"
    sheets = load_workbook(book, read_only=True).sheetnames
    assert {"Leaderboard", "Consistency", "Pairwise", "Accuracy"} <= set(sheets)
    assert set(read_sheet(book, "Accuracy")["Gold Labels"]) == {"synthetic"}
    assert any("SYNTHETIC" in line for line in sheet_lines(book, "Leaderboard")[0])
    pairs = read_sheet(book, "Pairwise")
    assert {"smollm2-135m-instruct_q4_1", "tiny-sentiment_f16"} <= set(pairs.iloc[:, 0]) | set(pairs.iloc[:, 1])
    # a rerun reuses every answer
    scripted_backend.calls.clear()
    assert evaluate_news(config, QUANTS) == 0 and scripted_backend.calls == []


def test_no_news_tickers_skips_the_news_comparison(trained, scripted_backend, capsys):
    folder, path = trained
    config = load_training_config(path)
    config = config.model_copy(update={"evaluate": config.evaluate.model_copy(update={"news_tickers": []})})
    assert evaluate_news(config, QUANTS) == 0
    assert "skipped" in capsys.readouterr().out and scripted_backend.calls == []


def test_evaluate_scores_the_test_split_through_the_pipelines(trained, scripted_backend):
    folder, path = trained
    config = load_training_config(path)
    build_dataset(config)
    assert evaluate(config, QUANTS) == 0
    results = config.evaluate.output_dir / "sentiments"
    assert sorted(p.name for p in results.iterdir()) == MODELS
    assert (config.evaluate.output_dir / "reports" / "model_comparison_report.xlsx").is_file()
    data = json.loads((results / MODELS[1] / "FPB-AllAgree-test_0.json").read_text())
    assert data["source"]["split"]["name"] == "test" and len(data["sentiments"]) == 4


def test_the_evaluate_news_step_is_on_the_command_line(trained, scripted_backend):
    folder, path = trained
    config = load_training_config(path)
    for quant in QUANTS:  # the step finds the exports on disk
        gguf_path(config, quant).parent.mkdir(parents=True, exist_ok=True)
        gguf_path(config, quant).write_bytes(b"GGUF")
    assert training_main(["evaluate-news", "--config", str(path), "-q"]) == 0
    assert (config.evaluate.output_dir / "reports" / "news_comparison_report.xlsx").is_file()
