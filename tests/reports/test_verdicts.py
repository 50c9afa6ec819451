"""Verdicts on data whose answer is known (issue 18): groups, coverage, exact tests, the Omnibus sentence,
the power line, and results written without a 'valid' key."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from tests.helpers import read_sheet, sheet_lines, write_model_results
from utils.reports.context import build_context
from utils.reports.excel import write_workbook
from utils.reports.leaderboard import leaderboard, primary_differences
from utils.reports.omnibus import omnibus_table
from utils.reports.pairwise import pairwise_table
from utils.reports.results_table import load_results_frame
from utils.reports.sheets import build_sheets, leaderboard_sheet, omnibus_sheet, sheet_list

ITEMS, ITERATIONS = 19, 14


def context(root, **settings):
    return build_context(load_results_frame(root).frame, {}, seed=3, resamples=300, **settings)


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    """26 models with the very same answers: nothing separates them."""
    root = tmp_path_factory.mktemp("identical")
    scores = np.clip(np.random.default_rng(1).normal(0.2, 0.5, (ITEMS, 1)) + np.zeros((ITEMS, 4)), -1, 1)
    for m in range(26):
        write_model_results(root, f"model{m:02d}", scores.tolist())
    return context(root)


def test_26_identical_models_form_one_group(identical):
    board = leaderboard(identical)
    assert set(board.table["Group"]) == {"a"} and len(board.table) == 26
    assert board.head[0].startswith("Top group: 26 of 26 ranked models cannot be told apart")
    assert set(board.table["Valid JSON vs Best"]) <= {"best", "tied (equal)"}
    assert (board.table["Valid JSON vs Best"] == "best").sum() == 1


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    """Five models; 'sparse' gives 35% valid answers, and those it gives never change label."""
    root = tmp_path_factory.mktemp("sparse")
    rng = np.random.default_rng(4)
    base = rng.uniform(-0.9, 0.9, (ITEMS, 1))
    for m in range(4):
        noisy = np.clip(base + rng.normal(0, 0.25, (ITEMS, ITERATIONS)), -1, 1)
        write_model_results(root, f"steady{m}", noisy.tolist(), bare=True)  # the older tool's keys: no token counts
    scores = np.full((ITEMS, ITERATIONS), np.nan)
    kept = rng.random((ITEMS, ITERATIONS)) < 0.35
    kept[:6] = False
    kept[:6, 0] = True  # six items with a single valid answer: no pair to disagree
    scores[kept] = np.broadcast_to(np.sign(base) * 0.9, scores.shape)[kept]
    write_model_results(root, "sparse", scores.tolist(), bare=True)
    return context(root)


def test_a_model_with_a_third_of_the_answers_is_shown_not_ranked_on_consistency(sparse):
    table = leaderboard(sparse).table.set_index("Model")
    valid = sparse.metric_matrix("Valid JSON Rate")["sparse"].mean()
    assert 0.25 < valid < 0.45
    disagreement = sparse.criterion_matrices["consistency"]
    assert disagreement["sparse"].mean() == 0.0  # the lowest disagreement of all ...
    assert disagreement["sparse"].notna().sum() < 0.8 * ITEMS
    verdict = table.loc["sparse", "Disagreement vs Best"]
    assert verdict.startswith("not ranked (") and f"of {ITEMS} items" in verdict  # ... but not the best
    assert table["Disagreement vs Best"].eq("best").sum() == 1
    assert table.loc["sparse", "Disagreement vs Best"] != "best"
    assert table.loc["sparse", "Rank"] == 5  # its valid-JSON rate ranks it last anyway


def test_the_items_beside_a_verdict_are_the_items_its_test_used(sparse):
    table = leaderboard(sparse).table.set_index("Model")
    best = table.index[table["Disagreement vs Best"] == "best"][0]
    matrix = sparse.criterion_matrices["consistency"]
    for model in table.index.drop([best, "sparse"]):
        shared = int((matrix[model].notna() & matrix[best].notna()).sum())
        assert table.loc[model, "Disagreement Items"] == shared


def test_one_discordant_item_reads_tied_with_an_exact_p(tmp_path):
    scores = np.random.default_rng(2).uniform(-0.8, 0.8, (ITEMS, ITERATIONS))
    write_model_results(tmp_path, "perfect", scores.tolist())
    worse = scores.copy()
    worse[3, :10] = np.nan  # one article invalid in 10 of 14 iterations
    write_model_results(tmp_path, "one-slip", worse.tolist())
    ctx = context(tmp_path, all_pairs=True)
    table = leaderboard(ctx).table.set_index("Model")
    assert table.loc["one-slip", "Valid JSON vs Best"] == "tied p = 1.00"  # a sign test, not t = -1 (p = 0.33)
    assert table.loc["one-slip", "Valid JSON Items"] == ITEMS
    pairs = pairwise_table(ctx).set_index("Metric")
    row = pairs.loc["Valid JSON Rate"]
    assert row["Test"] == "exact sign test" and row["p"] == pytest.approx(1.0) and row["Statistic"] == 0


def test_every_comparison_counts_in_the_holm_family(identical, sparse):
    foot = leaderboard(identical).foot
    assert any("equal comparisons count in the family with p = 1" in line for line in foot)
    assert any("325 pairs of the 26 ranked models" in line for line in foot)  # 26·25/2, all equal
    # label disagreement: 'sparse' is not ranked, so the best of the four others meets three
    assert any("Label Disagreement: paired t-test on per-item values, Holm over 3 comparisons with the best" in line
               for line in leaderboard(sparse).foot)


def test_the_omnibus_sentence_states_the_primary_test_with_df_p_and_effect(sparse):
    table, sentences = omnibus_table(sparse)
    primary = table[table["Role"] == "primary"]
    assert list(primary["Question"]) == ["mean sentiment", "valid-JSON rate", "label disagreement"]
    first = sentences[0]
    assert first.startswith(("Models differ in mean sentiment: F(", "No difference between models is shown in mean"))
    assert "partial η²" in first and "effect" in first and " items." in first
    assert "Q(4) = " in sentences[1] and ("p < 0.0033" in sentences[1] or "p = " in sentences[1])
    sensitivity = table[table["Role"] == "sensitivity"]
    assert sensitivity["Reading"].str.len().gt(40).all()  # every check says when and why it can disagree
    assert "Linear mixed model (item + model × item)" in set(sensitivity["Test"])


def test_head_and_foot_lines_are_in_the_workbook(tmp_path, sparse):
    sheets = build_sheets(sheet_list([("Leaderboard", leaderboard_sheet), ("Omnibus", omnibus_sheet)]), sparse)
    path = write_workbook(tmp_path / "r.xlsx", sheets)
    head, foot = sheet_lines(path, "Omnibus")
    assert head[0].split(":")[0] in ("Models differ in mean sentiment", "No difference between models is shown in "
                                     "mean sentiment") and "< 0.0001" in head[-1]
    board = read_sheet(path, "Leaderboard")
    assert list(board.columns[:3]) == ["Rank", "Group", "Model"] and len(board) == 5
    head, foot = sheet_lines(path, "Leaderboard")
    assert head[0].startswith(("Top group:", "steady")) and "80%" in head[1]
    power = [line for line in foot if line.startswith("Power (Valid JSON Rate)")]
    assert power and f"with {ITEMS} items × {ITERATIONS} iterations" in power[0] and "would need about" in power[0]
    assert any(line.startswith("Power (Mean Sentiment)") for line in foot)


def test_an_all_na_column_is_left_out_with_one_note(sparse):
    board = leaderboard(sparse)
    assert "Tokens/s" not in board.table.columns
    assert sum("Tokens/s" in line for line in board.foot) == 1
    assert not board.table["Notes"].str.contains("Tokens/s").any()


def test_the_figure_intervals_are_simultaneous_and_agree_with_the_verdicts(sparse):
    figure = primary_differences(sparse)
    assert figure.comparisons == 10 and figure.level == pytest.approx(1 - 0.05 / 10)
    for model, row in figure.table.iterrows():
        if pd.notna(row["low"]) and (row["low"] > 0 or row["high"] < 0):
            assert row["verdict"].startswith("worse"), model  # an interval clear of 0 is a "worse" verdict


def write_foreign(root, model, scores, valid_key=False, **extra):
    """A result file of another tool: no 'valid' key unless asked."""
    folder = root / model
    folder.mkdir(parents=True)
    for iteration in range(scores.shape[1]):
        answers = {}
        for row, score in enumerate(scores[:, iteration]):
            answer = {"reasoning": "because" if np.isfinite(score) else "",
                      "sentiment": None if not np.isfinite(score) else float(score),
                      "confidence": 0.7, "url": f"u{row}", "published": "2024-01-01", "time_taken": 2.0, **extra}
            if valid_key:
                answer["valid"] = True
            answers[f"k{row}"] = answer
        (folder / f"NVDA_{iteration}.json").write_text(json.dumps({"average_sentiment": 0.1, "time_taken": 2.0,
                                                                    "sentiments": answers}), encoding="utf-8")


def test_results_without_a_valid_key_are_read_by_the_answer_contract(tmp_path, caplog):
    scores = np.random.default_rng(0).uniform(-1, 1, (5, 3))
    scores[0, 0] = np.nan  # no sentiment: invalid
    scores[1, 1] = 1.7  # outside [-1, 1]: invalid
    write_foreign(tmp_path, "other-tool", scores)
    with caplog.at_level(logging.WARNING):
        loaded = load_results_frame(tmp_path)
    frame = loaded.frame
    assert frame["valid"].sum() == 13 and len(frame) == 15  # not all invalid: inferred
    warnings = [r.getMessage() for r in caplog.records if "no 'valid' key" in r.getMessage()]
    assert len(warnings) == 1 and str(tmp_path / "other-tool") in warnings[0] and "15 answer(s)" in warnings[0]
    assert any("no 'valid' key" in p for p in loaded.problems)


def test_answers_marked_valid_outside_the_contract_count_invalid_with_a_warning(tmp_path, caplog):
    scores = np.full((3, 2), 0.4)
    scores[2, 0] = -3.0
    write_foreign(tmp_path, "edited", scores, valid_key=True)
    with caplog.at_level(logging.WARNING):
        frame = load_results_frame(tmp_path).frame
    assert frame["valid"].sum() == 5
    messages = [r.getMessage() for r in caplog.records if "break the answer contract" in r.getMessage()]
    assert len(messages) == 1 and "NVDA_0.json" in messages[0] and "k2 (sentiment" in messages[0]


def test_the_older_tools_layout_still_reads(tmp_path):
    scores = np.random.default_rng(5).uniform(-1, 1, (4, 3))
    write_model_results(tmp_path, "llama3_8b", scores.tolist(), bare=True)  # only the original keys
    frame = load_results_frame(tmp_path).frame
    assert len(frame) == 12 and frame["valid"].all() and set(frame["subject"]) == {"NVDA"}
