"""The comparison report on a results tree like the one that motivated its design (issue 10).

34 models × 14 iterations × 19 articles, every model reading the same articles; article
differences dominate the scores, three models read systematically higher, and one model
gives few valid answers (none at all on 8 articles) whose invalid answers are slow. The
test asserts what the report concludes, as a user reads it: sheet by sheet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import generate_heatmaps
import generate_model_comparison_report
from tests.helpers import read_sheet, sheet_lines, write_model_results

pytestmark = pytest.mark.slow  # one report over 34 models x 14 iterations x 19 articles

MODELS, ITERATIONS, ARTICLES = 34, 14, 19
FEW = "weak-model-q2_K"
SLOW = "slowinvalid-7b-q4_K_M"
HIGH = ["upbeat-a-q8_0", "upbeat-b-q8_0", "upbeat-c-q8_0"]


def _steady_seconds(row: int, iteration: int) -> float:
    return 5.0 + 0.01 * row


def _slow_when_invalid(row: int, iteration: int) -> float:
    return 30.0 if iteration % 2 == 0 else 5.0


def model_names() -> list[str]:
    quants = ["q4_K_M", "q5_K_M", "q8_0", "f16", "q4_0", "iq4_XS"]
    names = [f"family{f}-{q}" for f in range(6) for q in quants][: MODELS - 5]
    return sorted(names + [FEW, SLOW, *HIGH])


def _numeric_or_as_is(column: pd.Series) -> pd.Series:
    """The column as numbers where every value reads as one, else as it is."""
    try:
        return pd.to_numeric(column)
    except (TypeError, ValueError):
        return column


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("design")
    rng = np.random.default_rng(2026)
    article = rng.normal(0.4, 0.45, size=(ARTICLES, 1))  # the strong article effect
    for name in model_names():
        shift = 0.25 if name in HIGH else 0.0
        scores = np.clip(article + shift + rng.normal(0, 0.12, (ARTICLES, ITERATIONS)), -1, 1)
        seconds = _steady_seconds
        if name == FEW:
            scores[rng.random(scores.shape) < 0.72] = np.nan
            scores[:8] = np.nan  # no valid answer at all on 8 articles
        if name == SLOW:
            scores[:, ::2] = np.nan  # half its answers invalid, and those take 30 s
            seconds = _slow_when_invalid
        write_model_results(root / "sentiments", name, scores.tolist(), seconds=seconds)
    config = root / "config.yaml"
    config.write_text("models_to_test: [not-here:7b]\ncomparison_pairs:\n  - ['not-here:7b', 'absent:1b']\n"
                      "bootstrap_resamples: 200\nseed: 3\n", encoding="utf-8")
    args = ["--config", str(config), "--sentiments-dir", str(root / "sentiments"), "--output-dir", str(root / "out"),
            "-q"]
    codes = (generate_model_comparison_report.main(args), generate_heatmaps.main(args))
    book = root / "out" / "model_comparison_report.xlsx"
    names = load_workbook(book, read_only=True).sheetnames
    sheets = {name: read_sheet(book, name, na_text="n/a").apply(_numeric_or_as_is) for name in names}
    return {"codes": codes, "book": book, "heatmaps": root / "out" / "heatmaps", **sheets}


def test_a_foreign_results_folder_is_reported_not_failed(report):
    assert report["codes"] == (0, 0)  # configured pairs match no model here: warned, compared with the best
    best = report["Leaderboard"]["Model"].iloc[0]
    assert set(report["Pairwise"]["Model A"]) == {best} and report["Pairwise"]["Model B"].nunique() == MODELS - 1


def test_the_first_sheet_answers_which_model_is_best(report):
    book = load_workbook(report["book"], read_only=True)
    assert book.sheetnames[0] == "Leaderboard"
    board = report["Leaderboard"]
    assert list(board["Rank"]) == sorted(board["Rank"])
    last = board.iloc[-1]
    assert last["Model"] == FEW and last["Valid JSON vs Best"].startswith("worse")
    assert last["Valid JSON Items"] == ARTICLES and last["Sentiment Items"] == ARTICLES - 8
    assert "ICC" in last["Notes"] and np.isnan(last["ICC(2,1)"])  # too few complete answers for an ICC
    tied = board["Valid JSON vs Best"].str.startswith(("best", "tied")).sum()
    assert tied == MODELS - 2  # everyone with every answer valid ties; FEW and SLOW do not


def test_latency_counts_invalid_answers(report):
    board = report["Leaderboard"].set_index("Model")
    slow = board.loc[SLOW]
    assert slow["Inference Rate (s)"] == pytest.approx(5.0)  # the older tool's definition, valid answers
    assert slow["Latency All (s)"] == pytest.approx(17.5) and slow["Latency Invalid (s)"] == pytest.approx(30.0)
    assert slow["Latency vs Best"].startswith("worse")
    assert slow["Valid JSON vs Best"].startswith("worse p = ")  # 50% valid on every article: 19 of 19 items lower


def test_blocked_tests_find_the_effect_the_unblocked_ones_miss(report):
    omnibus = report["Omnibus"].set_index("Test")
    appendix = report["Appendix (unblocked)"].set_index("Test")
    assert appendix.loc["One-way ANOVA", "p-value"] > 0.05
    primary = omnibus.loc["Two-way ANOVA on per-item means"]
    assert primary["Role"] == "primary" and primary["p-value"] < 0.001
    assert omnibus.loc["Linear mixed model (item + model × item)", "p-value"] < 0.001
    friedman = omnibus.loc["Friedman"]
    assert friedman["p-value"] < 0.001 and friedman["Items"] == ARTICLES and friedman["Models"] == MODELS - 1
    assert FEW in friedman["Notes"] and "left out" in friedman["Notes"]
    assert "Greenhouse" in omnibus.loc["Repeated-measures ANOVA (GG)", "Notes"]
    assert "Pseudo-replication" in appendix.loc["Linear mixed model (item only)", "Reading"]


def test_the_omnibus_sheet_opens_with_one_sentence_per_question(report):
    head, _ = sheet_lines(report["book"], "Omnibus")
    assert head[0].startswith("Models differ in mean sentiment: F(33, ")
    assert "p < 0.0001" in head[0] and "partial η²" in head[0] and f"{MODELS} models × {ARTICLES} items" in head[0]
    assert head[1].startswith(("Models differ in valid-JSON rate: Q(", "No difference between models is shown in "
                               "valid-JSON rate: Q("))


def test_the_leaderboard_says_how_many_models_share_the_top_group(report):
    head, foot = sheet_lines(report["book"], "Leaderboard")
    board = report["Leaderboard"]
    top = (board["Group"].astype(str).str.contains("a")).sum()
    assert head[0].startswith(f"Top group: {top} of ") and top >= MODELS - 2
    assert any(line.startswith("Power (Valid JSON Rate)") for line in foot)


def test_post_hoc_is_paired_and_holm_adjusted(report):
    posthoc = report["Post-hoc"]
    assert len(posthoc) == MODELS * (MODELS - 1) // 2
    assert (posthoc["Holm p"] >= posthoc["p (paired t)"] - 1e-12).all()
    significant = posthoc[posthoc["Significant (Holm)"] == "yes"]
    assert len(significant) and (significant["Holm p"] < 0.05).all()
    high = posthoc[posthoc["Model A"].isin(HIGH) ^ posthoc["Model B"].isin(HIGH)]
    assert (high["Significant (Holm)"] == "yes").mean() > 0.8  # the three upbeat models stand out


def test_summary_is_sorted_like_the_leaderboard_and_says_what_is_missing(report):
    summary, board = report["Summary"], report["Leaderboard"]
    assert list(summary["Model"]) == list(board["Model"])
    few = summary.set_index("Model").loc[FEW]
    assert few["Mean Sentiment Items"] == ARTICLES - 8 and "over 11 of 19 items" in few["Notes"]
    others = summary[summary["Model"] != FEW]["Mean Sentiment (item-adjusted)"]
    assert np.isfinite(few["Mean Sentiment (item-adjusted)"]) and others.notna().all()


def test_highlighting_uses_adjusted_p_only(report):
    ws = load_workbook(report["book"])["Post-hoc"]
    header = [c.value for c in ws[1]]
    raw, adjusted = header.index("p (paired t)"), header.index("Holm p")  # no lines above this table
    for row in ws.iter_rows(min_row=2):
        assert not row[raw].font.bold
        if isinstance(row[adjusted].value, float):
            assert row[adjusted].font.bold == (row[adjusted].value < 0.05)


def test_figures_include_the_leaderboard_and_every_quantization(report):
    names = {p.name for p in report["heatmaps"].glob("*.png")}
    assert "leaderboard.png" in names and "mean_sentiment_family_quantization_heatmap.png" in names
