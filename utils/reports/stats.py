"""Statistical tests for the comparison report, each answering a value or "n/a" with a reason.

Every function takes plain arrays and returns a :class:`TestResult` or :class:`Estimate`;
none raises on degenerate input (too few values, zero variance, identical scores).
Instead the result carries ``note``, a short reason that the report shows next to "n/a".
Nothing here reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
_EPS = 1e-12


@dataclass(frozen=True)
class TestResult:
    """A test statistic with its p-value, or n/a with ``note`` saying why."""

    statistic: float | None = None
    p_value: float | None = None
    df: tuple[float, ...] = ()
    n: int = 0
    effect: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when the test produced a p-value."""
        return self.p_value is not None

    @property
    def significant(self) -> bool:
        """True when p < ALPHA."""
        return self.ok and self.p_value < ALPHA  # type: ignore[operator]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional confidence interval, or n/a with ``note``."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is a value."""
        return self.value is not None


@dataclass(frozen=True)
class PairResult:
    """One Tukey HSD comparison between groups ``a`` and ``b`` (difference = a − b)."""

    a: str
    b: str
    diff: float | None
    low: float | None
    high: float | None
    p_value: float | None
    note: str = ""


def na(reason: str, n: int = 0) -> TestResult:
    """A TestResult that is n/a for ``reason``."""
    return TestResult(n=n, note=reason)


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite values of ``values`` as a float array."""
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def _clean_groups(groups: Sequence[Sequence[float]]) -> list[np.ndarray]:
    """Each group without NaNs; empty groups dropped."""
    cleaned = [_finite(g) for g in groups]
    return [g for g in cleaned if g.size]


def _float(value: float) -> float | None:
    """``value`` as a float, or None when it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else None


def _group_problem(groups: list[np.ndarray], min_size: int = 2) -> str:
    """Why these groups cannot be compared by a between-groups test ('' when they can)."""
    if len(groups) < 2:
        return f"needs at least 2 groups with data (got {len(groups)})"
    small = sum(1 for g in groups if g.size < min_size)
    if small:
        return f"{small} group(s) have fewer than {min_size} values"
    pooled = np.concatenate(groups)
    if np.ptp(pooled) <= _EPS:
        return "all scores are identical"
    return ""


# --- summaries ---------------------------------------------------------------------------


def population_variance(values: Sequence[float]) -> Estimate:
    """Population variance (ddof=0) of the finite values; n/a below two values."""
    arr = _finite(values)
    if arr.size < 2:
        return Estimate(n=int(arr.size), note=f"{arr.size} valid answer(s): variance needs 2")
    return Estimate(value=float(np.var(arr)), n=int(arr.size))


def bootstrap_mean_ci(
    values: Sequence[float], resamples: int, seed: int, level: float = 0.95
) -> Estimate:
    """Mean with a percentile bootstrap CI (resampling the values, seeded)."""
    arr = _finite(values)
    if arr.size == 0:
        return Estimate(note="no values")
    mean = float(arr.mean())
    if arr.size < 2:
        return Estimate(value=mean, n=1, note="1 article: no confidence interval")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = arr[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(value=mean, low=float(low), high=float(high), n=int(arr.size))


# --- consistency -------------------------------------------------------------------------


def complete_block(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The largest complete sub-matrix found by dropping the emptiest rows or columns.

    Returns (sub-matrix, kept row indices, kept column indices).
    """
    rows = np.arange(matrix.shape[0])
    cols = np.arange(matrix.shape[1])
    sub = np.asarray(matrix, dtype=float)
    while sub.size and np.isnan(sub).any():
        row_missing = np.isnan(sub).mean(axis=1)
        col_missing = np.isnan(sub).mean(axis=0)
        if row_missing.max() >= col_missing.max():
            keep = row_missing < row_missing.max()
            sub, rows = sub[keep], rows[keep]
        else:
            keep = col_missing < col_missing.max()
            sub, cols = sub[:, keep], cols[keep]
    return sub, rows, cols


def _icc_components(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean squares (rows, columns, error) of one or a stack of n×k matrices."""
    n, k = matrix.shape[-2:]
    grand = matrix.mean(axis=(-2, -1), keepdims=True)
    row_means = matrix.mean(axis=-1, keepdims=True)
    col_means = matrix.mean(axis=-2, keepdims=True)
    ss_rows = k * ((row_means - grand) ** 2).sum(axis=(-2, -1))
    ss_cols = n * ((col_means - grand) ** 2).sum(axis=(-2, -1))
    ss_total = ((matrix - grand) ** 2).sum(axis=(-2, -1))
    ss_err = ss_total - ss_rows - ss_cols
    return ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))


def _icc_value(matrix: np.ndarray) -> np.ndarray:
    """ICC(2,1) of one or a stack of n×k matrices (NaN where undefined)."""
    n, k = matrix.shape[-2:]
    msr, msc, mse = _icc_components(matrix)
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(denom) > _EPS, (msr - mse) / denom, np.nan)


def icc_2_1(matrix: np.ndarray, resamples: int = 0, seed: int = 0) -> Estimate:
    """ICC(2,1) (two-way random, absolute agreement, single rater) of an articles × iterations matrix.

    Rows are targets (articles), columns raters (iterations). Rows or columns with
    missing values are dropped first (see :func:`complete_block`). With ``resamples``
    the CI is a seeded percentile bootstrap over articles.
    """
    matrix = np.asarray(matrix, dtype=float)
    if not np.isfinite(matrix).any():
        return Estimate(note="no valid answers", extra={"articles": 0, "iterations": 0})
    sub, rows, cols = complete_block(matrix)
    n, k = (sub.shape if sub.ndim == 2 else (0, 0))
    extra = {"articles": int(n), "iterations": int(k)}
    if k < 2:
        return Estimate(n=int(n), note=f"needs 2+ iterations with answers (got {k})", extra=extra)
    if n < 2:
        return Estimate(n=int(n), note=f"needs 2+ articles answered in every iteration (got {n})", extra=extra)
    if np.ptp(sub) <= _EPS:
        return Estimate(n=int(n), note="all scores are identical: reliability undefined", extra=extra)
    value = float(_icc_value(sub))
    if not resamples:
        return Estimate(value=value, n=int(n), extra=extra)
    rng = np.random.default_rng(seed)
    boot = _icc_value(sub[rng.integers(0, n, size=(resamples, n))])
    boot = boot[np.isfinite(boot)]
    if boot.size < resamples / 2:
        return Estimate(value=value, n=int(n), note="bootstrap CI undefined (too many constant resamples)", extra=extra)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Estimate(value=value, low=float(low) + 0.0, high=float(high) + 0.0, n=int(n), extra=extra)  # no -0.0


def sentiment_label(score: float, band: float) -> str:
    """'positive', 'neutral' or 'negative': neutral when |score| < band."""
    if abs(score) < band:
        return "neutral"
    return "positive" if score > 0 else "negative"


def flip_rate(scores_by_article: Sequence[Sequence[float]], band: float) -> Estimate:
    """Share of articles (with 2+ valid answers) whose label differs between iterations."""
    usable = [_finite(s) for s in scores_by_article]
    usable = [s for s in usable if s.size >= 2]
    if not usable:
        return Estimate(note="no article has 2+ valid answers")
    flips = sum(1 for s in usable if len({sentiment_label(x, band) for x in s}) > 1)
    return Estimate(value=flips / len(usable), n=len(usable), extra={"flipped": flips})


# --- omnibus tests -----------------------------------------------------------------------


def one_way_anova(groups: Sequence[Sequence[float]]) -> TestResult:
    """Classic one-way ANOVA (equal variances) with eta² as effect size."""
    groups = _clean_groups(groups)
    problem = _group_problem(groups)
    if problem:
        return na(problem, sum(g.size for g in groups))
    n = sum(g.size for g in groups)
    if all(np.ptp(g) <= _EPS for g in groups):
        return na("no variation inside any group: F undefined", n)
    stat, p = sps.f_oneway(*groups)
    pooled = np.concatenate(groups)
    ss_between = sum(g.size * (g.mean() - pooled.mean()) ** 2 for g in groups)
    eta2 = ss_between / ((pooled - pooled.mean()) ** 2).sum()
    return TestResult(_float(stat), _float(p), (len(groups) - 1, n - len(groups)), n, float(eta2))


def welch_anova(groups: Sequence[Sequence[float]]) -> TestResult:
    """Welch's heteroscedastic one-way ANOVA."""
    groups = _clean_groups(groups)
    problem = _group_problem(groups)
    n = sum(g.size for g in groups)
    if problem:
        return na(problem, n)
    variances = np.array([g.var(ddof=1) for g in groups])
    if (variances <= _EPS).any():
        return na("a group has zero variance: Welch weights undefined", n)
    k = len(groups)
    sizes = np.array([g.size for g in groups], dtype=float)
    means = np.array([g.mean() for g in groups])
    weights = sizes / variances
    centre = (weights * means).sum() / weights.sum()
    between = (weights * (means - centre) ** 2).sum() / (k - 1)
    lam = ((1 - weights / weights.sum()) ** 2 / (sizes - 1)).sum()
    stat = between / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    p = sps.f.sf(stat, k - 1, df2)
    return TestResult(float(stat), float(p), (k - 1, float(df2)), n)


def kruskal_wallis(groups: Sequence[Sequence[float]]) -> TestResult:
    """Kruskal–Wallis H test with epsilon² effect size."""
    groups = _clean_groups(groups)
    n = sum(g.size for g in groups)
    problem = _group_problem(groups, min_size=1)
    if problem:
        return na(problem, n)
    stat, p = sps.kruskal(*groups)
    eps2 = stat / ((n**2 - 1) / (n + 1)) if n > 1 else None
    return TestResult(_float(stat), _float(p), (len(groups) - 1,), n, eps2)


def brown_forsythe(groups: Sequence[Sequence[float]]) -> TestResult:
    """Brown–Forsythe test (Levene centred on the median) for equal spread across groups."""
    groups = _clean_groups(groups)
    n = sum(g.size for g in groups)
    problem = _group_problem(groups)
    if problem:
        return na(problem, n)
    deviations = [np.abs(g - np.median(g)) for g in groups]
    if np.ptp(np.concatenate(deviations)) <= _EPS:
        return na("all groups have the same constant spread", n)
    stat, p = sps.levene(*groups, center="median")
    return TestResult(_float(stat), _float(p), (len(groups) - 1, n - len(groups)), n)


def _block_problem(matrix: np.ndarray, min_groups: int) -> str:
    """Why a blocks × groups matrix cannot be tested ('' when it can)."""
    n, k = matrix.shape
    if k < min_groups:
        return f"needs {min_groups}+ models (got {k})"
    if n < 2:
        return f"needs 2+ articles answered by every model (got {n})"
    if np.ptp(matrix) <= _EPS:
        return "all scores are identical"
    return ""


def friedman(matrix: np.ndarray) -> TestResult:
    """Friedman test on a complete articles × models matrix, with Kendall's W."""
    matrix = np.asarray(matrix, dtype=float)
    problem = _block_problem(matrix, 3)
    if problem:
        return na(problem, matrix.shape[0])
    if all(np.ptp(row) <= _EPS for row in matrix):
        return na("every article got the same score from all models", matrix.shape[0])
    stat, p = sps.friedmanchisquare(*matrix.T)
    n, k = matrix.shape
    w = stat / (n * (k - 1))
    return TestResult(_float(stat), _float(p), (k - 1,), n, _float(w))


def rm_anova(matrix: np.ndarray) -> TestResult:
    """One-way repeated-measures ANOVA (articles as subjects, models as the factor); partial eta²."""
    matrix = np.asarray(matrix, dtype=float)
    problem = _block_problem(matrix, 2)
    if problem:
        return na(problem, matrix.shape[0])
    n, k = matrix.shape
    grand = matrix.mean()
    ss_models = n * ((matrix.mean(axis=0) - grand) ** 2).sum()
    ss_articles = k * ((matrix.mean(axis=1) - grand) ** 2).sum()
    ss_error = ((matrix - grand) ** 2).sum() - ss_models - ss_articles
    df1, df2 = k - 1, (k - 1) * (n - 1)
    if ss_error <= _EPS:
        return na("no residual variation (models differ by a constant on every article): F undefined", n)
    stat = (ss_models / df1) / (ss_error / df2)
    p = sps.f.sf(stat, df1, df2)
    return TestResult(float(stat), float(p), (df1, df2), n, float(ss_models / (ss_models + ss_error)))


def tukey_hsd(groups: Sequence[Sequence[float]], names: Sequence[str]) -> tuple[TestResult, list[PairResult]]:
    """Tukey–Kramer HSD over all pairs of groups: (status, one PairResult per pair).

    Computed here rather than with scipy.stats.tukey_hsd because that evaluates the
    studentized range for the full k×k matrix, which takes seconds for 35 models.
    """
    cleaned = [_finite(g) for g in groups]
    kept = [(name, g) for name, g in zip(names, cleaned) if g.size >= 2]
    status = _tukey_problem(cleaned, kept)
    if status:
        return na(status, sum(g.size for g in cleaned)), []
    k = len(kept)
    sizes = np.array([g.size for _, g in kept], dtype=float)
    means = np.array([g.mean() for _, g in kept])
    df = sizes.sum() - k
    mse = sum(((g - g.mean()) ** 2).sum() for _, g in kept) / df
    i, j = np.triu_indices(k, 1)
    se = np.sqrt(mse / 2 * (1 / sizes[i] + 1 / sizes[j]))
    diff = means[i] - means[j]
    p = sps.studentized_range.sf(np.abs(diff) / se, k, df)
    half = sps.studentized_range.ppf(0.95, k, df) * se
    pairs = [
        PairResult(kept[a][0], kept[b][0], float(d), float(d - h), float(d + h), float(min(1.0, pv)))
        for a, b, d, h, pv in zip(i, j, diff, half, p)
    ]
    return TestResult(n=int(sizes.sum()), df=(k, float(df))), pairs


def _tukey_problem(cleaned: list[np.ndarray], kept: list[tuple[str, np.ndarray]]) -> str:
    """Why Tukey HSD cannot run ('' when it can)."""
    if len(kept) < 2:
        return f"needs 2+ models with 2+ articles each (got {len(kept)})"
    if all(np.ptp(g) <= _EPS for _, g in kept):
        return "no variation inside any group: HSD undefined"
    return ""


# --- two-sample tests --------------------------------------------------------------------


def paired_differences(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """a − b over the positions where both are finite."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a_arr) & np.isfinite(b_arr)
    return a_arr[both] - b_arr[both]


def _paired_problem(d: np.ndarray) -> str:
    """Why a paired t-based analysis of differences ``d`` is impossible ('' when it is not)."""
    if d.size < 2:
        return f"needs 2+ shared articles (got {d.size})"
    if np.ptp(d) <= _EPS:
        what = "all differences are zero" if np.abs(d).max() <= _EPS else "all differences are equal"
        return f"{what}: no variance"
    return ""


def paired_t(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Paired t-test of a − b over shared positions, with Cohen's d_z as effect."""
    d = paired_differences(a, b)
    problem = _paired_problem(d)
    if problem:
        return na(problem, int(d.size))
    sd = d.std(ddof=1)
    stat = d.mean() / (sd / math.sqrt(d.size))
    p = 2 * sps.t.sf(abs(stat), d.size - 1)
    return TestResult(float(stat), float(p), (d.size - 1,), int(d.size), float(d.mean() / sd))


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Wilcoxon signed-rank test of a − b (zero differences dropped)."""
    d = paired_differences(a, b)
    nonzero = d[np.abs(d) > _EPS]
    if d.size < 2:
        return na(f"needs 2+ shared articles (got {d.size})", int(d.size))
    if nonzero.size == 0:
        return na("all differences are zero", int(d.size))
    stat, p = sps.wilcoxon(nonzero)
    return TestResult(_float(stat), _float(p), (), int(nonzero.size))


def welch_t(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Welch's unequal-variance t-test of two independent samples."""
    a_arr, b_arr = _finite(a), _finite(b)
    n = int(a_arr.size + b_arr.size)
    if a_arr.size < 2 or b_arr.size < 2:
        return na(f"needs 2+ values per model (got {a_arr.size} and {b_arr.size})", n)
    if np.ptp(a_arr) <= _EPS and np.ptp(b_arr) <= _EPS:
        return na("both samples are constant: t undefined", n)
    va, vb = a_arr.var(ddof=1) / a_arr.size, b_arr.var(ddof=1) / b_arr.size
    stat = (a_arr.mean() - b_arr.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a_arr.size - 1) + vb**2 / (b_arr.size - 1))
    return TestResult(float(stat), float(2 * sps.t.sf(abs(stat), df)), (float(df),), n)


def mean_difference_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of a − b over shared positions with a t-based CI."""
    d = paired_differences(a, b)
    if d.size == 0:
        return Estimate(note="no shared articles")
    mean = float(d.mean())
    if d.size < 2:
        return Estimate(value=mean, n=1, note="1 shared article: no confidence interval")
    half = sps.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return Estimate(value=mean, low=float(mean - half), high=float(mean + half), n=int(d.size))


def cohens_dz(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """Cohen's d_z: mean difference over the SD of differences (paired)."""
    d = paired_differences(a, b)
    problem = _paired_problem(d)
    if problem:
        return Estimate(n=int(d.size), note=problem)
    return Estimate(value=float(d.mean() / d.std(ddof=1)), n=int(d.size))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values; None entries stay None and are not counted."""
    indexed = [(p, i) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    m = len(indexed)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
