"""Parsing answers: tolerant about where the JSON is, strict about what it holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from utils.answers import JsonObjectWatcher, SentimentResponse, answer_json_schema, parse_answer

GOOD = '{"sentiment": 0.45, "confidence": 0.8, "reasoning": "Orders rose."}'


@pytest.mark.parametrize(
    ("raw", "sentiment"),
    [
        (GOOD, 0.45),
        ("```json\n" + GOOD + "\n```", 0.45),
        ("Here is my answer: " + GOOD + " Hope it helps.", 0.45),
        ('{"reasoning": "Flat.", "sentiment": 0, "confidence": 1}', 0.0),
        ('{"reasoning": "Bad {news}.", "sentiment": -1.0, "confidence": 0.0}', -1.0),
        ('note {not json} then {"reasoning": "x", "sentiment": 0.1, "confidence": 0.5}', 0.1),
    ],
)
def test_valid_answers(raw, sentiment):
    parsed = parse_answer(raw)
    assert parsed.valid, parsed.error
    assert parsed.response.sentiment == sentiment
    assert parsed.error is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", "no JSON object"),
        ("The sentiment is positive.", "no JSON object"),
        ('{"reasoning": "x", "sentiment": 0.5', "no JSON object"),
        ('{"reasoning": "x", "sentiment": 1.5, "confidence": 0.5}', "sentiment: Input should be less than or equal to 1"),
        ('{"reasoning": "x", "sentiment": 0.5, "confidence": -0.1}', "confidence: Input should be greater than or equal to 0"),
        ('{"reasoning": "", "sentiment": 0.5, "confidence": 0.5}', "reasoning"),
        ('{"reasoning": "  ", "sentiment": 0.5, "confidence": 0.5}', "reasoning is blank"),
        ('{"reasoning": "x", "sentiment": "0.5", "confidence": 0.5}', "sentiment"),
        ('{"reasoning": "x", "sentiment": true, "confidence": 0.5}', "sentiment"),
        ('{"reasoning": "x", "sentiment": 0.5}', "confidence: Field required"),
        ('{"reasoning": "x", "sentiment": 0.5, "confidence": 0.5, "label": "up"}', "label: Extra inputs"),
    ],
)
def test_invalid_answers_are_data_not_exceptions(raw, error):
    parsed = parse_answer(raw)
    assert not parsed.valid
    assert parsed.response is None
    assert error in parsed.error
    assert parsed.raw == raw


def test_schema_matches_the_model():
    schema = answer_json_schema()
    assert set(schema["required"]) == set(SentimentResponse.model_fields)
    assert schema["properties"]["sentiment"]["minimum"] == -1.0


@pytest.mark.parametrize(
    ("pieces", "closes_at"),
    [
        (['{"a": ', '1}', " trailing"], 1),
        (['{"a": "}"', ', "b": {"c": 1}', "}", "noindent"], 2),
        (['{"a": "say \\"}\\" ok"', "}"], 1),
        (["prose first ", '{"a": 1', "}"], 2),
        (["no object here"], None),
    ],
)
def test_watcher_detects_the_end_of_the_first_object(pieces, closes_at):
    watcher = JsonObjectWatcher()
    closed = [index for index, piece in enumerate(pieces) if watcher.feed(piece)]
    assert (closed[0] if closed else None) == closes_at


# --- the parser never raises -------------------------------------------------------
_JSONISH = st.text(alphabet='{}[]":,0123456789.-eE +truefalsnu\\\n`json sentimconfdrag', max_size=300)


@pytest.mark.parametrize("raw", [
    '{"sentiment": ' + "9" * 5000 + ', "confidence": 0.5, "reasoning": "r"}',
    '```json\n{"sentiment": 0.1, "confidence": ' + "1" * 4301 + ', "reasoning": "r"}\n```',
    "{" + '"a":' * 50_000 + "1" + "}" * 50_000,
    '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"sentiment": NaN, "confidence": Infinity, "reasoning": "r"}',
    '{"sentiment": 1e999, "confidence": -1e999, "reasoning": "r"}',
])
def test_hostile_answers_are_invalid_not_errors(raw):
    parsed = parse_answer(raw)
    assert not parsed.valid and parsed.error


@pytest.mark.slow  # 400 examples, some with 6,000-digit numbers
@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=400), _JSONISH, st.builds(lambda a, d, b: a + d + b, _JSONISH,
                 st.text(alphabet="0123456789", min_size=4301, max_size=6000), _JSONISH)))
def test_parse_answer_never_raises(raw):
    parsed = parse_answer(raw)
    assert parsed.valid == (parsed.error is None)
