"""utils.stats, cross-checked against pingouin, statsmodels, scipy and hand-worked values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from utils import stats

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
    assert stats.flip_rate([[0.2, 0.1999]], 0.2).value == 1.0  # the band rule of utils.labels
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


SHIFTED = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6], [0.0, 0.2, 0.4]])  # models differ by a constant on every item


def test_rm_anova_of_a_constant_shift_has_no_residual_and_is_na():
    result = stats.rm_anova(SHIFTED)
    assert result.p_value is None and "no residual variation" in result.note


def test_friedman_of_a_constant_shift_is_perfect_agreement():
    # the same ranks on every item: Kendall's W = 1 and the statistic n (k - 1) = 6, as scipy says
    result = stats.friedman(SHIFTED)
    assert result.effect == pytest.approx(1.0) and result.statistic == pytest.approx(6.0)
    assert result.p_value == pytest.approx(sps.friedmanchisquare(*SHIFTED.T).pvalue)


def test_friedman_with_no_ranking_on_any_item_is_na():
    # each item got one score from every model (the scores differ between items): nothing to rank
    result = stats.friedman(np.array([[0.1, 0.1, 0.1], [0.5, 0.5, 0.5], [0.9, 0.9, 0.9]]))
    assert result.p_value is None and "every item got the same score from all models" in result.note


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
    t, dz = stats.paired_t(a, b), stats.cohens_dz(a, b)
    assert reason in t.note and reason in dz.note
    assert t.p_value is None and t.statistic is None and dz.value is None


@pytest.mark.parametrize("a, b, p, reason", [
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], None, "all differences are zero"),
    ([0.6, 0.7, 0.8], [0.5, 0.6, 0.7], "scipy", ""),  # three equal positive differences: tested, as scipy does
    ([0.6], [0.5], None, "2+ shared items"),
    ([0.6, np.nan], [np.nan, 0.5], None, "2+ shared items"),
])
def test_wilcoxon_degenerate_cases(a, b, p, reason):
    result = stats.wilcoxon_signed_rank(a, b)
    if p is None:
        assert result.p_value is None and reason in result.note
    else:
        expected = sps.wilcoxon(stats.round_ties(np.subtract(a, b))).pvalue
        assert result.p_value == pytest.approx(expected) and result.n == 3


def test_wilcoxon_drops_a_difference_that_is_zero_but_for_float_noise():
    # 0.1 + 0.2 - 0.3 is 5.6e-17, not 0: unrounded it would count as a positive difference
    a, b = [0.1 + 0.2, 0.5, 0.9, 0.8, 0.2], [0.3, 0.1, 0.2, 0.4, 0.6]
    result = stats.wilcoxon_signed_rank(a, b)
    assert result.n == 4
    assert result.p_value == pytest.approx(sps.wilcoxon([0.4, 0.7, 0.4, -0.4]).pvalue)


def test_holm_matches_statsmodels_and_keeps_gaps():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    expected = multipletests(p, method="holm")[1]
    assert list(stats.holm(p)) == pytest.approx(list(expected))
    with_gap = stats.holm([0.01, None, 0.04])
    assert np.isnan(with_gap[1])
    assert with_gap[0] == pytest.approx(0.02) and with_gap[2] == pytest.approx(0.04)
    assert stats.holm([]).size == 0
    # arrays, Series and object columns with NaN all go through the same Holm
    assert list(stats.holm(np.array([0.01, np.nan, 0.04]))) == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)
    series = pd.Series([0.04, "n/a", 0.01, 1.0], dtype=object)
    assert list(stats.holm(series)) == pytest.approx([0.08, np.nan, 0.03, 1.0], nan_ok=True)


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
    assert stats.mixed_model(answers, interaction=False).statistic == pytest.approx(float(wald.statistic), rel=1e-3)


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


# --- issue 18: exact tests, Cochran's Q, the mixed model without pseudo-replication, power, groups ---


def test_sign_test_on_one_answer_per_item_is_mcnemars_exact_test(rng):
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = rng.random(30) < 0.7, rng.random(30) < 0.4
    result = stats.sign_test(a.astype(float), b.astype(float))
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    expected = mcnemar(table, exact=True)
    assert result.p_value == pytest.approx(expected.pvalue) and result.statistic == expected.statistic
    assert stats.mcnemar_exact(a, b).p_value == pytest.approx(expected.pvalue)


def test_sign_test_on_shares_is_a_binomial_test_on_the_items(rng):
    a, b = rng.integers(10, 15, 19) / 14, rng.integers(11, 15, 19) / 14
    result = stats.sign_test(a, b)
    higher, lower = int((a > b).sum()), int((a < b).sum())
    assert result.extra == {"a_better": higher, "b_better": lower} and result.n == 19
    assert result.p_value == pytest.approx(sps.binomtest(higher, higher + lower).pvalue)


def test_one_discordant_item_is_an_exact_test_not_t_equal_to_one():
    # the case: one item differs (a model invalid on 10 of 14 iterations of one article)
    best = np.ones(19)
    other = np.ones(19)
    other[4] = 4 / 14
    t = stats.paired_t(other, best)
    assert t.statistic == pytest.approx(-1.0) and t.p_value == pytest.approx(2 * sps.t.sf(1, 18))  # what it was: 0.33
    exact = stats.sign_test(other, best)
    assert exact.p_value == pytest.approx(1.0) == sps.binomtest(0, 1).pvalue  # one item is no evidence
    columns = stats.sign_test_columns(np.column_stack([other, best]), np.array([0]), np.array([1]))
    assert columns.p[0] == pytest.approx(1.0) and columns.n[0] == 19
    assert stats.sign_test(best, best).p_value == 1.0  # equal: p = 1, a member of the Holm family


def test_cochran_q_matches_statsmodels_and_its_effect_is_partial_eta_squared(rng):
    from statsmodels.stats.contingency_tables import cochrans_q

    binary = (rng.random((25, 4)) < [0.9, 0.8, 0.6, 0.5]).astype(float)
    result = stats.cochran_q(binary)
    expected = cochrans_q(binary)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue) == pytest.approx(result.extra["p_chi2"])
    shares = rng.integers(0, 15, (19, 5)) / 14
    frame = block_frame(shares)
    table = pg.rm_anova(frame, dv="score", within="model", subject="article", effsize="np2")
    assert stats.cochran_q(shares).effect == pytest.approx(table["np2"].iloc[0])


def test_cochran_q_permutation_p_agrees_with_scipys_permutation_test(rng):
    shares = np.clip(rng.integers(9, 15, (19, 4)) / 14 + [[0, 0, 0, -0.1]], 0, 1)
    mine = stats.cochran_q(shares, resamples=2000, seed=1)
    statistic = lambda *columns: stats.cochran_q(np.column_stack(columns)).statistic  # noqa: E731
    theirs = sps.permutation_test(tuple(shares.T), statistic, permutation_type="samples", n_resamples=2000,
                                  alternative="greater", random_state=2, vectorized=False)
    assert mine.p_value == pytest.approx(theirs.pvalue, abs=0.03)  # two Monte Carlo estimates of one p
    assert mine.extra["p_floor"] == pytest.approx(1 / 2001)
    ties = np.ones((19, 4))
    ties[:3, 3] = 0.0  # every model right on 16 items, one wrong on 3: Q = 9, χ²(3) p = 0.029 ...
    heavy = stats.cochran_q(ties, resamples=2000, seed=0)
    assert heavy.statistic == pytest.approx(9.0) and heavy.extra["p_chi2"] == pytest.approx(sps.chi2.sf(9, 3))
    # ... while the exact p is the chance that the 3 wrong answers fall on one model: 4 · (1/4)³ = 1/16
    assert heavy.p_value == pytest.approx(1 / 16, abs=0.015) and heavy.extra["p_chi2"] < 0.05 < heavy.p_value


def interaction_values(rng, models=6, items=19, iterations=14, interaction=0.15, noise=0.1):
    """Strong model × item interaction, no model effect at all: a models × items × iterations array."""
    item = rng.normal(0, 0.5, items)
    cell = rng.normal(0, interaction, (models, items))
    return item[None, :, None] + cell[:, :, None] + rng.normal(0, noise, (models, items, iterations))


def interaction_answers(rng, **shape):
    """:func:`interaction_values` as long (item, model, value) answers."""
    values = interaction_values(rng, **shape)
    m, i, _ = np.indices(values.shape)
    return pd.DataFrame({"item": [f"i{x}" for x in i.ravel()], "model": [f"m{x}" for x in m.ravel()],
                         "value": values.ravel()})


def test_the_primary_test_holds_its_level_where_the_old_mixed_model_rejects():
    shape = {"models": 20, "iterations": 30, "interaction": 0.15, "noise": 0.05}
    old = [stats.mixed_model(interaction_answers(np.random.default_rng(seed), **shape), interaction=False).p_value
           for seed in range(3)]
    assert max(old) < 1e-20  # iterations counted as independent evidence: "significant" with no model effect
    first = interaction_answers(np.random.default_rng(0), **shape)
    cells = first.groupby(["item", "model"], as_index=False)["value"].mean()
    matrix = cells.pivot(index="item", columns="model", values="value").to_numpy()
    primary = stats.two_way_anova(cells)
    assert primary.p_value == pytest.approx(stats.rm_anova(matrix).extra["p_uncorrected"])  # the same F test
    rejected = 0
    for seed in range(200):  # the fast route to the primary's p on complete cells
        values = interaction_values(np.random.default_rng(seed), **shape).mean(axis=2).T
        rejected += stats.rm_anova(values).extra["p_uncorrected"] < 0.01
    assert rejected <= 4  # about 1% of 200 seeds at the 0.01 level, as a calibrated test should


def test_mixed_model_with_interaction_matches_a_formula_fit_and_does_not_reject():
    import statsmodels.formula.api as smf

    answers = interaction_answers(np.random.default_rng(11), models=4, items=12, iterations=5)
    mine = stats.mixed_model(answers)
    fit = smf.mixedlm("value ~ C(model)", answers, groups=answers["item"], re_formula="1",
                      vc_formula={"cell": "0 + C(model)"}).fit(reml=True)
    names = [n for n in fit.fe_params.index if n.startswith("C(model)")]
    wald = fit.wald_test(", ".join(f"{n} = 0" for n in names), scalar=True)
    assert mine.statistic == pytest.approx(float(wald.statistic), rel=1e-3)
    assert mine.extra["variances"]["model:item"] == pytest.approx(float(fit.vcomp[0]), rel=1e-3)
    assert mine.p_value > 0.01 and stats.mixed_model(answers, interaction=False).p_value < 0.01
    cells = answers.groupby(["item", "model"], as_index=False)["value"].mean()
    primary = stats.two_way_anova(cells)  # balanced cells: the Wald χ² is (models − 1) × the primary's F
    assert mine.statistic == pytest.approx(3 * primary.statistic, rel=1e-4)


def test_power_matches_pingouin_and_the_pairwise_variances(rng):
    matrix = rng.normal(0, 0.5, (19, 1)) + rng.normal(0, 0.1, (19, 8))
    power = stats.paired_power(matrix, target=0.05, iterations=14, comparisons=28)
    pairs = [(i, j) for i in range(8) for j in range(i + 1, 8)]
    mean_var = np.mean([np.var(matrix[:, i] - matrix[:, j], ddof=1) for i, j in pairs])
    assert power.sd_difference == pytest.approx(math.sqrt(mean_var))  # the SD a pair's differences have
    d = power.detectable / power.sd_difference
    assert pg.power_ttest(d=d, n=19, contrast="paired") == pytest.approx(0.8, abs=1e-3)
    family = power.detectable_family / power.sd_difference
    assert pg.power_ttest(d=family, n=19, contrast="paired", alpha=0.05 / 28) == pytest.approx(0.8, abs=1e-3)
    needed = pg.power_ttest(d=0.05 / power.sd_difference, power=0.8, contrast="paired")
    assert power.items_needed == math.ceil(needed)
    assert power.detectable < power.detectable_family
    assert isinstance(stats.paired_power(np.ones((10, 3)), 0.05, 3), stats.NotAvailable)


def test_letter_groups_keep_their_promise_on_random_patterns(rng):
    for _ in range(40):
        k = int(rng.integers(2, 12))
        upper = np.triu(rng.random((k, k)) < rng.random(), 1)
        significant = upper | upper.T
        letters = stats.letter_groups(significant)
        for i in range(k):
            for j in range(i + 1, k):
                share = bool(set(letters[i]) & set(letters[j]))
                assert share != significant[i, j], (significant.astype(int), letters)
    assert stats.letter_groups(np.zeros((26, 26), dtype=bool)) == ["a"] * 26
    # three clear levels: {0, 1} above {2, 3} above {4}, neighbours 1 and 2 not told apart
    sig = np.ones((5, 5), dtype=bool)
    for i, j in [(0, 1), (2, 3), (1, 2)]:
        sig[i, j] = sig[j, i] = False
    np.fill_diagonal(sig, False)
    assert stats.letter_groups(sig) == ["a", "ab", "bc", "c", "d"]


def test_sign_test_interval_holds_zero_exactly_when_the_test_does_not_reject(rng):
    branches = set()
    for _ in range(60):
        n = int(rng.integers(6, 25))
        a = rng.integers(8, 15, n) / 14
        b = np.clip(a - rng.choice([0, 0, 1 / 14, 2 / 14], n) * rng.choice([1, -1, 1], n), 0, 1)
        level = 0.95
        interval = stats.sign_test_interval(a, b, level)
        test = stats.sign_test(a, b)
        if interval.low is None:
            continue
        branches.add(test.p_value >= 1 - level)
        if test.p_value >= 1 - level:
            assert interval.low <= 0 <= interval.high, (a - b, interval)
        else:
            assert not interval.low < 0 < interval.high, (a - b, interval)  # at most an end of it
    assert branches == {True, False}  # both verdicts were met
    assert stats.sign_test_interval([1.0] * 4, [0.0] * 4).low is None  # 4 items cannot exclude 0 at 95%


@pytest.mark.parametrize("p, floor, text", [
    (0.66, stats.P_FLOOR, "p = 0.66"), (0.034, stats.P_FLOOR, "p = 0.034"), (1.9e-94, stats.P_FLOOR, "p < 0.0001"),
    (4.1e-4, stats.P_FLOOR, "p = 0.00041"), (1 / 2001, 1 / 2001, "p < 0.0005"), (None, stats.P_FLOOR, "p n/a"),
])
def test_p_values_are_never_shown_below_the_floor(p, floor, text):
    assert stats.format_p(p, floor) == text
