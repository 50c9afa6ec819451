"""utils.reports.stats, cross-checked against pingouin, statsmodels, scipy and hand-worked values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from utils.reports import stats

pg = pytest.importorskip("pingouin")
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.weightstats import DescrStatsW

warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def groups(rng) -> list[np.ndarray]:
    return [rng.normal(0.1 * i, 0.5 + 0.3 * i, size=12 + 3 * i) for i in range(4)]


def long_frame(groups: list[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame([(f"g{i}", v) for i, g in enumerate(groups) for v in g], columns=["group", "value"])


def block_frame(matrix: np.ndarray) -> pd.DataFrame:
    n, k = matrix.shape
    return pd.DataFrame([(i, f"m{j}", matrix[i, j]) for i in range(n) for j in range(k)],
                        columns=["article", "model", "score"])


# --- ICC ---------------------------------------------------------------------------------


def test_icc_matches_hand_worked_example():
    # rows 1..3 differ by 2, columns by 1, no error: MSR=8, MSC=1.5, MSE=0 → 8 / (8 + 2·1.5/3)
    estimate = stats.icc_2_1(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), min_items=2, min_iterations=2)
    assert estimate.value == pytest.approx(8 / 9)
    small = stats.icc_2_1(np.array([[1.0, 2.0, 1.5], [3.0, 4.0, 3.1], [5.0, 6.0, 5.2]]))
    assert small.value is None and "5+ items × 3+ iterations" in small.note  # a 3 × 3 block is too small


def test_icc_matches_pingouin_absolute_agreement(rng):
    matrix = rng.normal(size=(15, 1)) + rng.normal(0, 0.6, size=(15, 6))
    table = pg.intraclass_corr(block_frame(matrix), targets="article", raters="model", ratings="score")
    expected = table.loc[table["Type"].isin(["ICC2", "ICC(A,1)"]), "ICC"].iloc[0]
    estimate = stats.icc_2_1(matrix, resamples=500, seed=1)
    assert estimate.value == pytest.approx(expected, abs=1e-10)
    assert estimate.low < estimate.value < estimate.high
    assert stats.icc_2_1(matrix, resamples=500, seed=1) == estimate  # seeded


def test_icc_drops_incomplete_articles():
    matrix = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [0.5, np.nan]])
    estimate = stats.icc_2_1(matrix, min_items=2, min_iterations=2)
    assert estimate.value == pytest.approx(8 / 9)
    assert estimate.extra == {"items": 3, "iterations": 2}


@pytest.mark.parametrize("matrix, reason", [
    (np.full((5, 3), 0.4), "identical"),
    (np.arange(5.0).reshape(5, 1), "3+ iterations"),
    (np.array([[0.1, 0.2, 0.3]]), "5+ items"),
    (np.full((4, 3), np.nan), "no valid answers"),
])
def test_icc_degenerate_cases_are_na_with_reason(matrix, reason):
    estimate = stats.icc_2_1(matrix, resamples=100, seed=0)
    assert estimate.value is None and reason in estimate.note


# --- flip rate, variance, bootstrap ------------------------------------------------------


def test_flip_rate_counts_articles_whose_label_changes():
    scores = [[0.5, 0.6, 0.7], [0.5, 0.1, 0.6], [-0.3, -0.9], [0.05, -0.05], [0.9]]
    estimate = stats.flip_rate(scores, band=0.2)
    # article 2 flips (positive → neutral); article 4 stays neutral; the last has one answer
    assert estimate.value == pytest.approx(1 / 4)
    assert estimate.n == 4 and estimate.extra["flipped"] == 1


def test_flip_rate_band_edges():
    assert stats.flip_rate([[0.2, 0.1999]], 0.2).value == 1.0  # the band rule of utils.labelled.labels
    assert stats.flip_rate([[0.3]], 0.2).note == "no item has 2+ valid answers"


def test_label_disagreement_does_not_depend_on_the_number_of_valid_answers():
    # the same 50/50 split of labels with 2, 4 and 10 valid answers: pairwise disagreement of the
    # population is 0.5 for every size; the flip rate is 1.0 for all three anyway
    rows = [[0.5, -0.5] + [np.nan] * 8, [0.5, -0.5] * 2 + [np.nan] * 6, [0.5, -0.5] * 5]
    per_item = stats.item_disagreement(np.array(rows), 0.2)
    assert per_item == pytest.approx([1.0, 4 / 6, 25 / 45])  # exact pair shares, unbiased for 1/2 · n/(n-1)
    assert stats.item_disagreement(np.array([[0.5, 0.6, np.nan]]), 0.2)[0] == 0.0
    assert np.isnan(stats.item_disagreement(np.array([[0.5, np.nan, np.nan]]), 0.2)[0])


def test_bootstrap_is_seeded_and_brackets_the_mean(rng):
    values = rng.normal(size=30)
    first = stats.bootstrap_mean_ci(values, 1000, seed=3)
    assert first == stats.bootstrap_mean_ci(values, 1000, seed=3)
    assert first.low < values.mean() < first.high
    assert first.value == pytest.approx(values.mean())
    assert stats.bootstrap_mean_ci([np.nan], 100, 0).note == "no values"
    single = stats.bootstrap_mean_ci([0.3], 100, 0)
    assert single.value == 0.3 and single.low is None and "1 item" in single.note


# --- omnibus -----------------------------------------------------------------------------


def test_one_way_anova_matches_statsmodels_and_pingouin(groups):
    result = stats.one_way_anova(groups)
    sm = anova_oneway(groups, use_var="equal")
    pg_table = pg.anova(long_frame(groups), dv="value", between="group")
    assert result.statistic == pytest.approx(sm.statistic)
    assert result.p_value == pytest.approx(sm.pvalue)
    assert result.effect == pytest.approx(pg_table["np2"].iloc[0])
    assert result.df == (3, sum(len(g) for g in groups) - 4)


def test_welch_anova_matches_statsmodels_and_pingouin(groups):
    result = stats.welch_anova(groups)
    sm = anova_oneway(groups, use_var="unequal", welch_correction=True)
    pg_table = pg.welch_anova(long_frame(groups), dv="value", between="group")
    assert result.statistic == pytest.approx(sm.statistic)
    assert result.p_value == pytest.approx(sm.pvalue)
    assert result.statistic == pytest.approx(pg_table["F"].iloc[0])
    assert result.df[1] == pytest.approx(pg_table["ddof2"].iloc[0])


def test_kruskal_matches_pingouin(groups):
    result = stats.kruskal_wallis(groups)
    pg_table = pg.kruskal(long_frame(groups), dv="value", between="group")
    assert result.statistic == pytest.approx(pg_table["H"].iloc[0])
    assert result.p_value == pytest.approx(pg_table["p_unc" if "p_unc" in pg_table else "p-unc"].iloc[0])


def test_brown_forsythe_is_anova_on_absolute_deviations_from_median(groups):
    result = stats.brown_forsythe(groups)
    deviations = [np.abs(g - np.median(g)) for g in groups]
    sm = anova_oneway(deviations, use_var="equal")
    assert result.statistic == pytest.approx(sm.statistic)
    assert result.p_value == pytest.approx(sm.pvalue)


def test_rm_anova_matches_statsmodels_and_pingouin(rng):
    matrix = rng.normal(size=(12, 1)) + rng.normal([0.0, 0.2, 0.5], 0.4, size=(12, 3))
    result = stats.rm_anova(matrix)
    sm = AnovaRM(block_frame(matrix), "score", "article", within=["model"]).fit().anova_table
    assert result.statistic == pytest.approx(sm["F Value"].iloc[0])
    assert result.extra["p_uncorrected"] == pytest.approx(sm["Pr > F"].iloc[0])
    pg_table = pg.rm_anova(block_frame(matrix), dv="score", within="model", subject="article", correction=True)
    assert result.statistic == pytest.approx(pg_table["F"].iloc[0])
    assert result.extra["epsilon"] == pytest.approx(pg_table["eps"].iloc[0])
    gg = "p_GG_corr" if "p_GG_corr" in pg_table else "p-GG-corr"
    assert result.p_value == pytest.approx(pg_table[gg].iloc[0])


def test_friedman_matches_scipy_and_pingouin(rng):
    matrix = rng.normal(size=(10, 1)) + rng.normal([0.0, 0.3, 0.6, 0.1], 0.5, size=(10, 4))
    result = stats.friedman(matrix)
    scipy_result = sps.friedmanchisquare(*matrix.T)
    pg_table = pg.friedman(block_frame(matrix), dv="score", within="model", subject="article")
    assert result.statistic == pytest.approx(scipy_result.statistic)
    assert result.p_value == pytest.approx(pg_table["p_unc" if "p_unc" in pg_table else "p-unc"].iloc[0])
    assert result.effect == pytest.approx(pg_table["W"].iloc[0])


@pytest.mark.parametrize("function", [
    stats.one_way_anova, stats.welch_anova, stats.kruskal_wallis, stats.brown_forsythe,
])
@pytest.mark.parametrize("data, reason", [
    ([[0.5, 0.5, 0.5], [0.5, 0.5]], "identical"),
    ([[0.1, 0.2, 0.3]], "2 groups"),
    ([[], [0.1, 0.3]], "2 groups"),
])
def test_between_group_tests_report_na_with_reason(function, data, reason):
    result = function(data)
    assert result.p_value is None and result.statistic is None
    assert reason in result.note


def test_anova_with_no_variation_inside_groups_is_na():
    result = stats.one_way_anova([[0.1, 0.1], [0.5, 0.5]])
    assert result.p_value is None and "F undefined" in result.note
    assert "zero variance" in stats.welch_anova([[0.1, 0.1], [0.5, 0.7]]).note


@pytest.mark.parametrize("function", [stats.friedman, stats.rm_anova])
def test_blocked_tests_report_na_with_reason(function):
    assert "identical" in function(np.full((5, 3), 0.2)).note
    assert "items" in function(np.array([[0.1, 0.2, 0.3]])).note
    shifted = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6], [0.0, 0.2, 0.4]])
    assert function(shifted).p_value is None or function is stats.friedman


def test_friedman_needs_three_models():
    assert "3+ models" in stats.friedman(np.array([[0.1, 0.2], [0.3, 0.1]])).note


# --- two-sample tests --------------------------------------------------------------------


def test_paired_t_and_effect_size_match_scipy_and_hand(rng):
    a, b = rng.normal(size=20), rng.normal(0.3, 1, size=20)
    result = stats.paired_t(a, b)
    scipy_result = sps.ttest_rel(a, b)
    d = a - b
    assert result.statistic == pytest.approx(scipy_result.statistic)
    assert result.p_value == pytest.approx(scipy_result.pvalue)
    assert result.effect == pytest.approx(d.mean() / d.std(ddof=1))
    assert stats.cohens_dz(a, b).value == pytest.approx(d.mean() / d.std(ddof=1))
    assert result.p_value == pytest.approx(pg.ttest(a, b, paired=True)["p_val" if "p_val" in
                                           pg.ttest(a, b, paired=True) else "p-val"].iloc[0])


def test_paired_tests_use_shared_positions_only():
    a = [0.1, 0.5, np.nan, 0.4, 0.9]
    b = [0.2, np.nan, 0.3, 0.1, 0.2]
    shared_a, shared_b = [0.1, 0.4, 0.9], [0.2, 0.1, 0.2]
    assert stats.paired_t(a, b).statistic == pytest.approx(sps.ttest_rel(shared_a, shared_b).statistic)
    assert stats.mean_difference_ci(a, b).n == 3


def test_wilcoxon_matches_scipy_and_pingouin(rng):
    a, b = rng.normal(size=15), rng.normal(0.5, 1, size=15)
    result = stats.wilcoxon_signed_rank(a, b)
    assert result.statistic == pytest.approx(sps.wilcoxon(a, b).statistic)
    assert result.p_value == pytest.approx(sps.wilcoxon(a, b).pvalue)
    pg_table = pg.wilcoxon(a, b)
    assert result.p_value == pytest.approx(pg_table["p_val" if "p_val" in pg_table else "p-val"].iloc[0])


def test_wilcoxon_hand_worked_exact():
    # differences 1, 2, 3 (all positive): W = min(6, 0) = 0; exact two-sided p = 2/8
    result = stats.wilcoxon_signed_rank([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert result.statistic == 0 and result.p_value == pytest.approx(0.25)


def test_mean_difference_ci_matches_statsmodels(rng):
    a, b = rng.normal(size=18), rng.normal(0.2, 1, size=18)
    estimate = stats.mean_difference_ci(a, b)
    low, high = DescrStatsW(a - b).tconfint_mean(alpha=0.05)
    assert (estimate.low, estimate.high) == pytest.approx((low, high))
    assert estimate.value == pytest.approx((a - b).mean())


@pytest.mark.parametrize("a, b, reason", [
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "all differences are zero"),
    ([0.6, 0.7, 0.8], [0.5, 0.6, 0.7], "all differences are equal"),
    ([0.6], [0.5], "2+ shared items"),
    ([0.6, np.nan], [np.nan, 0.5], "2+ shared items"),
])
def test_paired_degenerate_cases_are_na_with_reason(a, b, reason):
    for result in (stats.paired_t(a, b), stats.cohens_dz(a, b)):
        assert reason in result.note
    wilcoxon = stats.wilcoxon_signed_rank(a, b)
    assert wilcoxon.p_value is None or reason == "all differences are equal"


def test_holm_matches_statsmodels_and_keeps_gaps():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    expected = multipletests(p, method="holm")[1]
    assert stats.holm(p) == pytest.approx(list(expected))
    with_gap = stats.holm([0.01, None, 0.04])
    assert with_gap[1] is None
    assert with_gap[0] == pytest.approx(0.02) and with_gap[2] == pytest.approx(0.04)
    assert stats.holm([]) == []


def test_no_function_returns_nan():
    data = [[0.5, 0.5], [0.5, 0.5]]
    results = [stats.one_way_anova(data), stats.welch_anova(data), stats.kruskal_wallis(data),
               stats.brown_forsythe(data), stats.paired_t(*data), stats.wilcoxon_signed_rank(*data)]
    for result in results:
        for value in (result.statistic, result.p_value, result.effect):
            assert value is None or math.isfinite(value)
        assert result.note


# --- blocked analyses (issue 10) ---------------------------------------------------------


def item_effect_data(rng, models=6, items=19, iterations=4, effect=0.15):
    """A strong item effect and a small model effect: long (item, model, value) answers."""
    item = rng.normal(0, 0.6, items)
    shift = np.linspace(0, effect, models)
    rows = [(f"i{i}", f"m{m}", item[i] + shift[m] + rng.normal(0, 0.15))
            for m in range(models) for i in range(items) for _ in range(iterations)]
    return pd.DataFrame(rows, columns=["item", "model", "value"])


def test_blocked_analysis_finds_the_model_effect_one_way_anova_misses(rng):
    answers = item_effect_data(rng)
    cells = answers.groupby(["item", "model"], as_index=False)["value"].mean()
    groups = [g["value"].to_numpy() for _, g in cells.groupby("model")]
    assert stats.one_way_anova(groups).p_value > 0.05
    two_way = stats.two_way_anova(cells)
    mixed = stats.mixed_model(answers)
    assert two_way.p_value < 0.001 and mixed.p_value < 0.001
    # independent implementations: pingouin's two-way ANOVA and statsmodels' formula MixedLM
    # on complete cells the additive two-way ANOVA's F is the uncorrected repeated-measures F
    pg_table = pg.rm_anova(cells, dv="value", within="model", subject="item", correction=False)
    assert two_way.statistic == pytest.approx(pg_table["F"].iloc[0])
    import statsmodels.formula.api as smf

    fit = smf.mixedlm("value ~ C(model)", answers, groups=answers["item"]).fit(reml=True)
    names = [n for n in fit.fe_params.index if n.startswith("C(model)")]
    wald = fit.wald_test(", ".join(f"{n} = 0" for n in names), scalar=True)
    assert mixed.statistic == pytest.approx(float(wald.statistic), rel=1e-3)


def test_maximal_block_drops_the_model_with_few_answers_not_the_items():
    matrix = np.ones((19, 34))
    matrix[:8, 5] = np.nan  # one model misses 8 of 19 items
    block = stats.maximal_complete_block(matrix)
    assert list(block.dropped_cols) == [5] and block.rows.size == 19 and block.cells == 19 * 33
    matrix = np.ones((19, 34))
    matrix[3, :20] = np.nan  # one item most models could not answer
    block = stats.maximal_complete_block(matrix)
    assert list(block.dropped_rows) == [3] and block.cols.size == 34


def test_friedman_on_the_block_matches_scipy(rng):
    matrix = rng.normal(size=(12, 1)) + rng.normal([0.0, 0.3, 0.6, 0.1, 0.2], 0.3, size=(12, 5))
    matrix[:4, 2] = np.nan
    block = stats.maximal_complete_block(matrix)
    sub = matrix[np.ix_(block.rows, block.cols)]
    assert stats.friedman(sub).p_value == pytest.approx(sps.friedmanchisquare(*sub.T).pvalue)


def test_rank_tests_treat_float_noise_as_ties():
    result = stats.wilcoxon_signed_rank([0.1 + 0.2, 0.3, -0.3, 0.5, 0.7, 0.4, 0.9], [0] * 7)
    assert result.statistic == 2.0 and result.p_value == pytest.approx(0.0625)
    noisy = stats.kruskal_wallis([[0.1 + 0.2, 0.5], [0.3, 0.7]])
    assert noisy.statistic == pytest.approx(sps.kruskal([0.3, 0.5], [0.3, 0.7]).statistic)


def test_paired_columns_match_scipy_paired_t(rng):
    matrix = rng.normal(size=(15, 4))
    matrix[2, 1] = np.nan
    result = stats.paired_t_columns(matrix, np.array([0, 1]), np.array([1, 3]))
    for position, (a, b) in enumerate([(0, 1), (1, 3)]):
        both = np.isfinite(matrix[:, a]) & np.isfinite(matrix[:, b])
        expected = sps.ttest_rel(matrix[both, a], matrix[both, b])
        assert result.p[position] == pytest.approx(expected.pvalue)
        assert result.n[position] == both.sum()
