"""Gold labels on news: the shipped samples' intended sentiment (synthetic) or a --labels file,
then the same accuracy sheets as for labelled datasets, on a tiny snapshot with the scripted backend.
"""

from __future__ import annotations

import json

import pytest

import generate_heatmaps
import generate_model_comparison_report
import generate_model_sentiments
from tests.helpers import SMOLLM2, read_sheet, sheet_lines, write_config, write_snapshot
from utils.config import load_config
from utils.errors import DatasetError
from utils.run.results import load_result
from utils.run.sources import news_input

# The first six NVDA samples: positive, negative, neutral, mixed, positive, negative.
KEYS = ["2837bbf5", "559949dc", "ca91ae49", "30eb99ab", "e55a5985", "eb128cbd"]
MODELS = [dict(SMOLLM2, name="good"), dict(SMOLLM2, name="poor")]


def answer(sentiment: float) -> str:
    return json.dumps({"sentiment": sentiment, "confidence": 0.8, "reasoning": "From the story."})


@pytest.fixture
def project(tmp_path):
    write_snapshot(tmp_path, count=6)
    write_config(tmp_path, MODELS, iterations=1)
    return tmp_path


def main(project, *extra: str) -> int:
    return generate_model_sentiments.main(["--config", str(project / "config.yaml"), "--subject", "NVDA",
                                           "--offline", "-q", *extra])


def test_the_samples_intended_sentiment_is_a_synthetic_gold_label(project):
    source = news_input("NVDA", load_config(project / "config.yaml"), offline=True)
    gold = {item.key: item.gold_label for item in source.items}
    assert gold == dict(zip(KEYS, ["positive", "negative", "neutral", None, "positive", "negative"]))
    assert source.items[0].gold_score == 1.0 and source.items[3].gold_score is None
    labels = source.source["labels"]
    assert (labels["origin"], labels["labelled"], labels["mixed"]) == ("synthetic", 5, 1)


def test_a_label_file_assigns_gold_labels(project):
    path = project / "labels.csv"
    path.write_text("key,label\n2837bbf5,negative\n30eb99ab,Neutral\n", encoding="utf-8")
    source = news_input("NVDA", load_config(project / "config.yaml"), offline=True, labels=path)
    gold = {item.key: item.gold_label for item in source.items}
    assert gold["2837bbf5"] == "negative" and gold["30eb99ab"] == "neutral" and gold["559949dc"] is None
    assert source.source["labels"]["origin"] == "file" and source.source["labels"]["labelled"] == 2


@pytest.mark.parametrize("text, message", [
    ("key,label\n2837bbf5,positive\nnope1234,negative\n", r"labels.csv:3: unknown article key 'nope1234'"),
    ("2837bbf5,bullish\n", r"labels.csv:1: label 'bullish' is not one of negative, neutral, positive, mixed"),
    ("2837bbf5,positive\n2837bbf5,negative\n", r"labels.csv:2: article key '2837bbf5' is labelled twice"),
    ("2837bbf5\n", r"labels.csv:1: expected two columns"),
])
def test_a_bad_label_file_names_the_file_and_line(project, text, message):
    path = project / "labels.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        news_input("NVDA", load_config(project / "config.yaml"), offline=True, labels=path)


def test_a_bad_label_file_stops_the_command_with_exit_code_2(project, scripted_backend, capsys):
    (project / "labels.csv").write_text("zzzz,positive\n", encoding="utf-8")
    assert main(project, "--labels", str(project / "labels.csv")) == 2
    assert "labels.csv:1: unknown article key 'zzzz'" in capsys.readouterr().err
    assert scripted_backend.calls == []


@pytest.fixture
def answered(project, scripted_backend):
    """good answers each article's intended sentiment, poor always neutral."""
    data = json.loads((project / "articles" / "NVDA.json").read_text(encoding="utf-8"))
    scores = {"positive": 0.8, "negative": -0.8, "neutral": 0.0, "mixed": 0.3}
    by_title = {a["title"]: scores[a["intended_sentiment"]] for a in data["articles"]}

    def step(messages, sampling):
        user = messages[-1]["content"]
        intended = next(score for title, score in by_title.items() if title in user)
        return answer(intended)
    scripted_backend.default = step
    return project, scripted_backend


def report(project) -> int:
    return generate_model_comparison_report.main(["--config", str(project / "config.yaml"), "--company", "NVDA",
                                                  "--output-dir", str(project / "out"), "-q"])


def test_synthetic_labels_give_accuracy_sheets_marked_synthetic_but_do_not_rank(answered):
    project, script = answered
    assert main(project, "--models", "good") == 0
    script.default = answer(0.0)
    assert main(project, "--models", "poor") == 0
    assert report(project) == 0
    book = project / "out" / "model_comparison_report.xlsx"
    accuracy = read_sheet(book, "Accuracy").set_index("Model")
    assert accuracy.loc["good", "Accuracy"] == 1.0 and accuracy.loc["poor", "Accuracy"] == pytest.approx(0.2)
    assert set(accuracy["Gold Labels"]) == {"synthetic"}
    head, _ = sheet_lines(book, "Leaderboard")
    assert any("SYNTHETIC" in line for line in head)
    assert any(line.startswith("Ranked by Valid JSON Rate") for line in head)
    omnibus = read_sheet(book, "Omnibus")
    assert any("gold labels of NVDA are synthetic" in str(note) for note in omnibus["Notes"])
    metrics = read_sheet(project / "out" / "model_metrics.xlsx", "Summary").set_index("Model Name")
    assert metrics.loc["good", "Gold Labels"] == "synthetic"
    assert generate_heatmaps.main(["--config", str(project / "config.yaml"), "--company", "NVDA",
                                   "--output-dir", str(project / "out"), "-q"]) == 0
    assert (project / "out" / "heatmaps" / "accuracy_f1_NVDA.png").is_file()


def test_labels_from_a_file_rank_by_accuracy_and_relabel_finished_results(answered):
    project, script = answered
    assert main(project) == 0
    script.calls.clear()
    path = project / "labels.csv"  # the user's labels: the opposite of the intended ones for two articles
    path.write_text("2837bbf5,negative\n559949dc,positive\n30eb99ab,mixed\n", encoding="utf-8")
    assert main(project, "--labels", str(path)) == 0
    assert script.calls == []  # labels change no answer: nothing is asked again
    result = load_result(project / "sentiments" / "good" / "NVDA_0.json")
    assert result.sentiments["2837bbf5"].gold_label == "negative" and result.sentiments["ca91ae49"].gold_label is None
    assert result.source["labels"]["origin"] == "file"
    assert report(project) == 0
    book = project / "out" / "model_comparison_report.xlsx"
    assert "Gold Labels" not in read_sheet(book, "Accuracy").columns
    head, _ = sheet_lines(book, "Leaderboard")
    assert any(line.startswith("Ranked by Accuracy") for line in head)
    assert not any("SYNTHETIC" in line for line in head)
