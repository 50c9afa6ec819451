"""Ranking, "tied with best" and pair resolution, checked against scipy and statsmodels."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from utils import stats
from utils.reports.context import resolve_pairs
from utils.reports.criteria import rank_models
from utils.reports.leaderboard import versus_best


def test_ranks_round_float_noise_to_ties():
    values = pd.Series({"a": 0.1 + 0.2, "b": 0.3, "c": 0.9, "d": np.nan})
    ranks = rank_models({"valid_json_rate": values}, ["valid_json_rate"], list(values.index))
    assert dict(ranks) == {"c": 1, "a": 2, "b": 2, "d": 4}  # 0.1 + 0.2 ties 0.3; no value ranks last
    second = pd.Series({"a": 0.2, "b": 0.1, "c": 0.5, "d": 0.0})
    ranks = rank_models({"valid_json_rate": values, "consistency": second}, ["valid_json_rate", "consistency"],
                        list(values.index))
    assert list(ranks.index) == ["c", "b", "a", "d"] and list(ranks) == [1, 2, 3, 4]  # lower disagreement wins


def test_versus_best_is_a_holm_adjusted_paired_t_on_shared_items():
    rng = np.random.default_rng(5)
    item = rng.normal(0, 1, size=(20, 1))
    matrix = pd.DataFrame(item + rng.normal([0.9, 0.85, 0.5, 0.2], 0.1, size=(20, 4)), columns=list("abcd"))
    matrix.iloc[:3, 3] = np.nan  # d misses three items (85% covered, so ranked): compared on the other 17
    best, table = versus_best(matrix, higher_is_better=True)
    assert best == "a" and table.loc["a", "verdict"] == "best"
    raw = []
    for other in "bcd":
        both = matrix[["a", other]].dropna()
        raw.append(sps.ttest_rel(both[other], both["a"]).pvalue)
    expected = multipletests(raw, method="holm")[1]
    assert list(table.loc[list("bcd"), "p_holm"]) == pytest.approx(list(expected))
    assert table.loc["d", "items"] == 17
    for model, p in zip("bcd", expected):
        assert table.loc[model, "verdict"] == ("tied " if p >= 0.05 else "worse ") + stats.format_p(p)


def test_pairs_naming_no_model_are_warned_once_and_replaced_by_the_best(caplog):
    models = ["m1", "m2", "m3"]
    with caplog.at_level(logging.WARNING):
        pairs = resolve_pairs([("x:7b", "y:1b"), ("z", "m1")], models, all_pairs=False, best="m2")
    assert [(p.a, p.b) for p in pairs] == [("m2", "m1"), ("m2", "m3")]
    assert sum("x:7b" in r.getMessage() for r in caplog.records) == 1
    kept = resolve_pairs([("M1", "m3"), ("ghost", "m1")], models, all_pairs=False, best="m2")
    assert [(p.a, p.b) for p in kept] == [("m1", "m3")]
    assert len(resolve_pairs([], models, all_pairs=True)) == 3


def test_among_tied_best_values_the_overall_ranking_decides():
    matrix = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0], "c": [0.5, 0.0, 1.0]})
    assert versus_best(matrix, True)[0] == "a"
    best, table = versus_best(matrix, True, prefer=["b", "a", "c"])
    assert best == "b" and table.loc["a", "verdict"] == "tied (equal)"
