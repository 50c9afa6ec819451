"""utils.reports.metrics (per-article metrics), utils.reports.model_labels and the results_table warnings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from utils.reports.metrics import (
    ARTICLE_COLUMNS,
    CSV_COLUMNS,
    REQUIRED_METRICS,
    article_metrics,
    model_summary,
)
from utils.reports.model_labels import (
    ModelLabel,
    match_model,
    parse_model_name,
    quantization_rank,
    resolve_label,
)
from utils.reports.results_table import load_results_frame

NAN = float("nan")


def metrics_for(tmp_path, write_results, scores, **kwargs) -> pd.DataFrame:
    write_results(tmp_path, "m", scores, **kwargs)
    loaded = load_results_frame(tmp_path)
    return article_metrics(loaded.frame).set_index("Article Key")


def test_csv_columns_start_with_the_known_seven():
    assert CSV_COLUMNS == [
        "Model Name", "Article Key", "Inference Rate (s)", "Valid JSON Rate", "Sentiment Variance",
        "Mean Sentiment", "Mean Confidence",
    ]
    assert ARTICLE_COLUMNS[:7] == CSV_COLUMNS
    assert [m.column for m in REQUIRED_METRICS] == CSV_COLUMNS[2:]
    assert ARTICLE_COLUMNS.index("Latency All (s)") > 6 and "Bare JSON Rate" in ARTICLE_COLUMNS
    assert "Finish Reasons" in ARTICLE_COLUMNS


def test_definitions_on_a_hand_worked_article(tmp_path, write_results):
    times = {0: 1.0, 1: 3.0, 2: 100.0}  # the invalid third answer's time must not count
    row = metrics_for(tmp_path, write_results, [[0.5, 0.7, None]], seconds=lambda r, i: times[i]).iloc[0]
    assert row["Inference Rate (s)"] == pytest.approx(2.0)
    assert row["Valid JSON Rate"] == pytest.approx(2 / 3)
    assert row["Sentiment Variance"] == pytest.approx(np.var([0.5, 0.7]))  # ddof = 0
    assert row["Mean Sentiment"] == pytest.approx(0.6)
    assert row["Mean Confidence"] == pytest.approx(0.8)
    assert row["Answers"] == 3 and row["Valid Answers"] == 2
    assert row["Sentiment Std"] == pytest.approx(0.1)
    assert row["Tokens/s"] == pytest.approx(np.mean([40 / 1.0, 40 / 3.0]))
    assert row["Notes"] == ""


def test_degenerate_articles_are_nan_with_a_note(tmp_path, write_results):
    table = metrics_for(tmp_path, write_results, [[0.5, None], [None, None], [0.2, 0.2]])
    one, none, same = (table.iloc[i] for i in range(3))
    assert np.isnan(one["Sentiment Variance"]) and "1 valid answer" in one["Notes"]
    assert one["Mean Sentiment"] == 0.5
    assert none["Valid JSON Rate"] == 0 and np.isnan(none["Mean Sentiment"])
    assert np.isnan(none["Inference Rate (s)"]) and "no valid answers" in none["Notes"]
    assert same["Sentiment Variance"] == 0.0 and same["Notes"] == ""


def test_original_tool_files_with_numbers_on_invalid_answers(tmp_path):
    folder = tmp_path / "llama3_8b"
    folder.mkdir()
    items = {
        "k1": {"reasoning": "r", "sentiment": 0.4, "confidence": 0.9, "valid": True, "url": "u",
               "published": "p", "time_taken": 2.0},
        "k2": {"reasoning": "", "sentiment": 0.99, "confidence": 0.1, "valid": False, "url": "u2",
               "published": "p", "time_taken": 9.0},
    }
    (folder / "NVDA_0.json").write_text(json.dumps({"average_sentiment": 0.4, "time_taken": 11,
                                                    "sentiments": items}))
    table = article_metrics(load_results_frame(tmp_path).frame).set_index("Article Key")
    assert table.loc["k2", "Valid JSON Rate"] == 0 and np.isnan(table.loc["k2", "Mean Sentiment"])
    assert table.loc["k1", "Mean Sentiment"] == 0.4 and table.loc["k1", "Model Name"] == "llama3_8b"
    assert "no token counts" in table.loc["k1", "Notes"]


def test_model_summary_averages_over_articles(tmp_path, write_results):
    write_results(tmp_path, "m", [[0.5, 0.7], [-0.2, -0.2], [None, None]])
    summary = model_summary(article_metrics(load_results_frame(tmp_path).frame)).iloc[0]
    assert summary["Mean Sentiment"] == pytest.approx((0.6 - 0.2) / 2)
    assert summary["Valid JSON Rate"] == pytest.approx(2 / 3)
    assert summary["Sentiment Variance"] == pytest.approx((0.01 + 0.0) / 2)
    assert summary["Articles"] == 3 and summary["Answers"] == 6


def test_labels_are_attached(tmp_path, write_results):
    write_results(tmp_path, "llama3_8b-q4_K_M", [[0.1, 0.2]])
    frame = load_results_frame(tmp_path).frame
    labels = {"llama3_8b-q4_K_M": resolve_label("llama3_8b-q4_K_M")}
    row = article_metrics(frame, labels).iloc[0]
    assert (row["Family"], row["Quantization"]) == ("llama3_8b", "q4_K_M")


# --- model labels ------------------------------------------------------------------------


@pytest.mark.parametrize("name, family, quantization", [
    ("llama3:8b-instruct-q4_K_M", "llama3:8b-instruct", "q4_K_M"),
    ("mistral_7b-v2.8-Q5_K_M", "mistral_7b-v2.8", "q5_K_M"),
    ("dolphin-mistral_7b-v2.8-fp16", "dolphin-mistral_7b-v2.8", "f16"),
    ("smollm2-135m-instruct_q4_1", "smollm2-135m-instruct", "q4_1"),
    ("qwen2-7b-q8_0", "qwen2-7b", "q8_0"),
    ("phi3", None, None),
    # every form llama.cpp file names and Ollama tags use (issue 10)
    ("Meta-Llama-3-8B-Instruct-unsloth.Q8", "Meta-Llama-3-8B-Instruct-unsloth", "q8"),
    ("model-Q8_0", "model", "q8_0"), ("model-q8", "model", "q8"), ("model.Q6_K", "model", "q6_K"),
    ("model-Q5_K_M", "model", "q5_K_M"), ("model-Q4_0", "model", "q4_0"), ("model-IQ4_XS", "model", "iq4_XS"),
    ("model-F16", "model", "f16"), ("model-fp16", "model", "f16"), ("model-BF16", "model", "bf16"),
    ("model-F32", "model", "f32"), ("model-Q4_K_S", "model", "q4_K_S"), ("model:iq2_xxs", "model", "iq2_XXS"),
    ("gemma3:270m", None, None),
])
def test_parse_model_name(name, family, quantization):
    assert parse_model_name(name) == (family, quantization)


def test_unknown_quantization_is_shown_not_dropped(tmp_path, write_results):
    from utils.reports.heatmaps import family_quantization_table
    from utils.reports.metrics import METRICS

    write_results(tmp_path, "llama3-8b-unsloth.Q8", [[0.1, 0.2]])
    write_results(tmp_path, "mystery-model", [[0.3, 0.4]])
    labels = {m: resolve_label(m) for m in ("llama3-8b-unsloth.Q8", "mystery-model")}
    table = family_quantization_table(article_metrics(load_results_frame(tmp_path).frame, labels),
                                      METRICS["mean_sentiment"])
    assert list(table.columns) == ["q8", "unknown"]
    assert table.loc["mystery-model", "unknown"] == pytest.approx(0.35)


def test_quantization_order():
    labels = ["f16", "q8_0", "q4_K_M", "custom", "q5_K_M", "q4_1"]
    assert sorted(labels, key=quantization_rank) == ["q4_1", "q4_K_M", "q5_K_M", "q8_0", "f16", "custom"]


def test_match_model_accepts_colon_underscore_and_case():
    folders = ["llama3_8b-q4_K_M", "gemma3-270m_q4_K_M"]
    assert match_model("llama3:8b-q4_K_M", folders) == "llama3_8b-q4_K_M"
    assert match_model("GEMMA3-270M:Q4_K_M", folders) == "gemma3-270m_q4_K_M"
    assert match_model("nope", folders) is None


def test_resolve_label_prefers_config_then_files_then_name():
    spec = ModelLabel("x-q4_K_M", family="from-config")
    files = ModelLabel("x-q4_K_M", family="from-files", quantization="Q8_0", prompt_mode="zero_shot")
    label = resolve_label("x-q4_K_M", spec, files)
    assert (label.family, label.quantization, label.prompt_mode) == ("from-config", "q8_0", "zero_shot")
    assert resolve_label("x-q4_K_M").family == "x"


# --- results_table warnings --------------------------------------------------------------


def test_broken_inputs_become_named_problems(tmp_path, write_results, caplog):
    write_results(tmp_path, "good", [[0.1, 0.2], [0.3, 0.4]])
    (tmp_path / "good" / "NVDA_2.json").write_text('{"sentiments": {"a0000000": {"valid": tr')
    (tmp_path / "empty").mkdir()
    (tmp_path / "nokey").mkdir()
    (tmp_path / "nokey" / "NVDA_0.json").write_text('{"average_sentiment": 0.1}')
    write_results(tmp_path, "partial", [[0.1, 0.2], [0.3, 0.4]])
    data = json.loads((tmp_path / "partial" / "NVDA_1.json").read_text())
    del data["sentiments"]["a0000001"]
    data["sentiments"]["a0000000"]["sentiment"] = None  # valid but no score
    (tmp_path / "partial" / "NVDA_1.json").write_text(json.dumps(data))
    loaded = load_results_frame(tmp_path)
    text = "\n".join(loaded.problems)
    assert "good/NVDA_2.json: not valid JSON" in text
    assert "empty: model folder has no result files" in text
    assert "nokey/NVDA_0.json: missing key 'sentiments'" in text
    assert "partial/NVDA_1.json: lacks 1 article" in text
    assert "marked valid break the answer contract" in text and "a0000000 (sentiment" in text
    assert loaded.files_read == 4 and set(loaded.models) == {"good", "partial"}
    assert "NVDA_2.json" in caplog.text


def test_bare_json_and_finish_reasons_are_extras(tmp_path, write_results):
    folder = write_results(tmp_path, "m", [[0.5, 0.7, None]])
    for iteration, (bare, reason) in enumerate([(True, "json_complete"), (False, "stop"), (None, "length")]):
        path = folder / f"NVDA_{iteration}.json"
        data = json.loads(path.read_text())
        data["sentiments"]["a0000000"].update(bare_json=bare, finish_reason=reason)
        path.write_text(json.dumps(data))
    row = article_metrics(load_results_frame(tmp_path).frame).iloc[0]
    assert row["Bare JSON Rate"] == 0.5  # one of the two valid answers was the JSON object alone
    assert row["Finish Reasons"] == "json_complete 1, length 1, stop 1"
    assert row["Latency All (s)"] == 1.0 and row["Latency Invalid (s)"] == 1.0
    assert ARTICLE_COLUMNS.index("Bare JSON Rate") > ARTICLE_COLUMNS.index("Mean Confidence")


def test_every_per_item_metric_says_what_it_is():
    from utils.reports.metrics import METRIC_LIST

    undescribed = [m.key for m in METRIC_LIST if not m.description.strip()]
    assert undescribed == []
