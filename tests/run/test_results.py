"""Result files: the original tool's shape, atomic writes, tolerant reading."""

from __future__ import annotations

import json
import os

import pytest

from utils.run.results import ItemResult, IterationResult, ResultFileError, load_result, parse_result_name, result_path, save_result, weighted_average_sentiment
from utils.io import write_json_atomic


def test_path_layout_matches_the_original_tool(tmp_path):
    path = result_path(tmp_path, "llama3_8b-instruct-q4_K_M", "NVDA", 3)
    assert path == tmp_path / "llama3_8b-instruct-q4_K_M" / "NVDA_3.json"
    assert parse_result_name(path) == ("NVDA", 3)
    assert parse_result_name(tmp_path / "FPB-AllAgree_12.json") == ("FPB-AllAgree", 12)
    assert parse_result_name(tmp_path / "notes.json") is None


def test_original_tool_file_reads_back(tmp_path):
    path = tmp_path / "NVDA_0.json"
    path.write_text(json.dumps({
        "average_sentiment": 0.72, "time_taken": 78.37,
        "sentiments": {"63f711be": {"reasoning": "r", "sentiment": 0.65, "confidence": 0.8, "valid": True,
                                    "url": "https://x", "published": "Mon, 20 May 2024 21:27:34 +0000",
                                    "time_taken": 5.99}},
    }))
    result = load_result(path)
    assert result.sentiments["63f711be"].sentiment == 0.65
    assert result.model is None and result.valid_count == 1


@pytest.mark.parametrize(("content", "message"), [
    ('{"average_sentiment": 0.1, "sentiments": {"a": {', "not valid JSON"),
    ('{"average_sentiment": 0.1}', "missing key 'sentiments'"),
    ('{"sentiments": {"a": {"valid": "perhaps"}}}', "sentiments.a.valid"),
])
def test_broken_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "NVDA_0.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=message) as info:
        load_result(path)
    assert str(path) in str(info.value)


def test_weighted_average_skips_invalid_and_neutral_answers():
    items = [
        ItemResult(sentiment=0.8, confidence=1.0, valid=True),
        ItemResult(sentiment=-0.4, confidence=0.5, valid=True),
        ItemResult(sentiment=0.0, confidence=1.0, valid=True),
        ItemResult(sentiment=None, confidence=None, valid=False),
    ]
    assert weighted_average_sentiment(items) == pytest.approx((0.8 - 0.2) / 1.5, abs=1e-4)
    assert weighted_average_sentiment(items[2:]) is None


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "m" / "NVDA_0.json"
    save_result(path, IterationResult(average_sentiment=0.5, sentiments={}))
    before = path.read_text()
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert path.read_text() == before
    assert os.listdir(path.parent) == ["NVDA_0.json"]
