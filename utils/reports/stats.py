"""Statistical tests for the comparison report, each answering a value or "n/a" with a reason.

Every function takes plain arrays and returns a :class:`TestResult` or :class:`Estimate`;
none raises on degenerate input (too few values, zero variance, identical scores).
Instead the result carries ``na``, a :class:`~utils.na.NotAvailable` saying why, which the
report shows as "n/a" with the reason in the row's notes. Nothing here reads or writes files.

The design behind the blocked tests: every model reads the same items (articles or
sentences), so the item is a block and iterations are repeated measures of one item.
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from utils.labelled.labels import labels_from_scores
from utils.na import NotAvailable

ALPHA = 0.05
_EPS = 1e-12
TIE_DECIMALS = 9  # values equal to 9 decimals are ties for rank tests (0.1 + 0.2 ties 0.3)
MIN_ICC_ITEMS = 5
MIN_ICC_ITERATIONS = 3


@dataclass(frozen=True)
class TestResult:
    """A test statistic with its p-value, or n/a (``na``) saying why."""

    statistic: float | None = None
    p_value: float | None = None
    df: tuple[float, ...] = ()
    n: int = 0
    effect: float | None = None
    na: NotAvailable | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the test produced a p-value."""
        return self.p_value is not None

    @property
    def note(self) -> str:
        """The reason the test is n/a ('' when it is not)."""
        return self.na.reason if self.na else ""

    @property
    def significant(self) -> bool:
        """True when p < ALPHA."""
        return self.ok and self.p_value < ALPHA  # type: ignore[operator]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional confidence interval, or n/a (``na``) saying why."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    na: NotAvailable | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is a value."""
        return self.value is not None

    @property
    def note(self) -> str:
        """Why the estimate (or its interval) is n/a ('' when it is not)."""
        return self.na.reason if self.na else ""


def na(reason: str, n: int = 0, **extra) -> TestResult:
    """A TestResult that is n/a for ``reason``."""
    return TestResult(n=n, na=NotAvailable(reason), extra=extra)


def missing(reason: str, n: int = 0, **fields) -> Estimate:
    """An Estimate that is n/a (or lacks its interval) for ``reason``."""
    return Estimate(n=n, na=NotAvailable(reason), **fields)


class _LazyScipyStats:
    """scipy.stats, imported on first use (it takes a second or two to import: the metrics step needs none of it)."""

    def __getattr__(self, name: str):
        from scipy import stats

        return getattr(stats, name)


sps = _LazyScipyStats()


def round_ties(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to TIE_DECIMALS, so float noise does not split exact ties in ranks."""
    return np.round(np.asarray(values, dtype=float), TIE_DECIMALS)


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


def bootstrap_mean_ci(
    values: Sequence[float], resamples: int, seed: int, level: float = 0.95
) -> Estimate:
    """Mean with a percentile bootstrap CI (resampling the values, seeded)."""
    arr = _finite(values)
    if arr.size == 0:
        return missing("no values")
    mean = float(arr.mean())
    if arr.size < 2:
        return missing("1 item: no confidence interval", 1, value=mean)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = arr[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Estimate(value=mean, low=float(low), high=float(high), n=int(arr.size))


# --- complete blocks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A complete sub-matrix: the kept row and column positions, and what was dropped."""

    rows: np.ndarray
    cols: np.ndarray
    dropped_rows: np.ndarray
    dropped_cols: np.ndarray

    @property
    def cells(self) -> int:
        """Number of cells in the block."""
        return int(self.rows.size * self.cols.size)


def maximal_complete_block(matrix: np.ndarray) -> Block:
    """A complete sub-matrix of ``matrix`` (NaN = missing) keeping as many cells as it can find.

    Candidates: drop the emptiest columns one at a time (keeping the rows complete over
    the columns left), and likewise drop the emptiest rows one at a time; the candidate
    with most cells wins, ties going to more columns (models). It finds the best block
    when the gaps concentrate in a few rows or a few columns, the usual case: one model
    with few valid answers, or one item most models could not answer.
    """
    present = np.isfinite(np.asarray(matrix, dtype=float))
    n, k = present.shape
    best = (0, 0, np.arange(0), np.arange(0))
    for axis in (1, 0):
        counts = present.sum(axis=1 - axis) if axis == 1 else present.sum(axis=1)
        order = np.argsort(counts, kind="stable")  # emptiest first
        for drop in range(present.shape[axis]):
            kept = np.sort(order[drop:])
            if axis == 1:
                rows = np.flatnonzero(present[:, kept].all(axis=1))
                cols = kept
            else:
                cols = np.flatnonzero(present[kept].all(axis=0))
                rows = kept
            cells = rows.size * cols.size
            if (cells, cols.size) > best[:2]:
                best = (cells, cols.size, rows, cols)
    rows, cols = best[2], best[3]
    return Block(rows, cols, np.setdiff1d(np.arange(n), rows), np.setdiff1d(np.arange(k), cols))


# --- consistency -------------------------------------------------------------------------


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


def _clean_zero(value: float) -> float:
    """``value`` with float noise around 0 (|x| < 1e-12) and -0.0 shown as 0.0."""
    return 0.0 if abs(value) < _EPS else float(value)


def icc_2_1(matrix: np.ndarray, resamples: int = 0, seed: int = 0,
            min_items: int = MIN_ICC_ITEMS, min_iterations: int = MIN_ICC_ITERATIONS) -> Estimate:
    """ICC(2,1) (two-way random, absolute agreement, single rater) of an items × iterations matrix.

    Rows are targets (items), columns raters (iterations). Rows or columns with missing
    values are dropped first (:func:`maximal_complete_block`); below ``min_items`` ×
    ``min_iterations`` the ICC is n/a (a 3 × 3 block gives an ICC whose CI spans 0 to 1).
    With ``resamples`` the CI is a seeded percentile bootstrap over items.
    """
    matrix = np.asarray(matrix, dtype=float)
    if not np.isfinite(matrix).any():
        return missing("no valid answers", extra={"items": 0, "iterations": 0})
    block = maximal_complete_block(matrix)
    sub = matrix[np.ix_(block.rows, block.cols)]
    n, k = sub.shape
    extra = {"items": int(n), "iterations": int(k)}
    if k < min_iterations or n < min_items:
        return missing(f"needs {min_items}+ items × {min_iterations}+ iterations with every answer valid "
                       f"(largest complete block: {n} × {k})", int(n), extra=extra)
    if np.ptp(sub) <= _EPS:
        return missing("all scores are identical: reliability undefined", int(n), extra=extra)
    value = _clean_zero(float(_icc_value(sub)))
    if not resamples:
        return Estimate(value=value, n=int(n), extra=extra)
    rng = np.random.default_rng(seed)
    boot = _icc_value(sub[rng.integers(0, n, size=(resamples, n))])
    boot = boot[np.isfinite(boot)]
    if boot.size < resamples / 2:
        return missing("bootstrap CI undefined (too many constant resamples)", int(n), value=value, extra=extra)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Estimate(value=value, low=_clean_zero(low), high=_clean_zero(high), n=int(n), extra=extra)


def flip_rate(scores_by_item: Sequence[Sequence[float]], band: float) -> Estimate:
    """Share of items (with 2+ valid answers) whose label is not the same in every iteration.

    It grows with the number of valid answers per item; :func:`label_disagreement` does not.
    """
    usable = [s for s in (_finite(x) for x in scores_by_item) if s.size >= 2]
    if not usable:
        return missing("no item has 2+ valid answers")
    flips = sum(1 for s in usable if len(set(labels_from_scores(s, band))) > 1)
    return Estimate(value=flips / len(usable), n=len(usable), extra={"flipped": flips})


def item_disagreement(matrix: np.ndarray, band: float) -> np.ndarray:
    """Per item (row), the share of pairs of valid answers whose labels differ (NaN below 2 answers).

    The chance that two answers drawn from an item's iterations disagree: it does not
    depend on how many answers are valid. Vectorised over a items × iterations matrix.
    """
    matrix = np.asarray(matrix, dtype=float)
    labels = labels_from_scores(matrix, band).reshape(matrix.shape)
    counts = np.stack([(labels == lab).sum(axis=1) for lab in ("negative", "neutral", "positive")], axis=1)
    valid = counts.sum(axis=1).astype(float)
    same = (counts * (counts - 1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid >= 2, 1.0 - same / (valid * (valid - 1)), np.nan)


def label_disagreement(matrix: np.ndarray, band: float) -> Estimate:
    """Mean over items of :func:`item_disagreement` (items with 2+ valid answers)."""
    per_item = item_disagreement(matrix, band)
    usable = per_item[np.isfinite(per_item)]
    if not usable.size:
        return missing("no item has 2+ valid answers")
    return Estimate(value=_clean_zero(float(usable.mean())), n=int(usable.size))


# --- between-groups tests (the appendix: they ignore that every model read the same items) ---


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
    """Kruskal–Wallis H test with epsilon² effect size (ties rounded, see :func:`round_ties`)."""
    groups = [round_ties(g) for g in _clean_groups(groups)]
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


# --- blocked tests: items as blocks ------------------------------------------------------


def _block_problem(matrix: np.ndarray, min_groups: int) -> str:
    """Why a blocks × groups matrix cannot be tested ('' when it can)."""
    n, k = matrix.shape
    if k < min_groups:
        return f"needs {min_groups}+ models (got {k})"
    if n < 2:
        return f"needs 2+ items answered by every model (got {n})"
    if np.ptp(matrix) <= _EPS:
        return "all scores are identical"
    return ""


def friedman(matrix: np.ndarray) -> TestResult:
    """Friedman test on a complete items × models matrix, with Kendall's W (ties rounded)."""
    matrix = round_ties(matrix)
    problem = _block_problem(matrix, 3)
    if problem:
        return na(problem, matrix.shape[0])
    if all(np.ptp(row) <= _EPS for row in matrix):
        return na("every item got the same score from all models", matrix.shape[0])
    stat, p = sps.friedmanchisquare(*matrix.T)
    n, k = matrix.shape
    w = stat / (n * (k - 1))
    return TestResult(_float(stat), _float(p), (k - 1,), n, _float(w))


def greenhouse_geisser_epsilon(matrix: np.ndarray) -> float:
    """Greenhouse–Geisser ε of a complete subjects × conditions matrix (1 = sphericity holds)."""
    k = matrix.shape[1]
    cov = np.cov(matrix, rowvar=False, ddof=1)
    centred = cov - cov.mean(axis=0) - cov.mean(axis=1)[:, None] + cov.mean()
    denominator = (k - 1) * (centred**2).sum()
    return float(np.trace(centred) ** 2 / denominator) if denominator > _EPS else 1.0


def rm_anova(matrix: np.ndarray) -> TestResult:
    """One-way repeated-measures ANOVA (items as subjects, models as the factor), GG-corrected.

    ``p_value`` is the Greenhouse–Geisser corrected p; the uncorrected p and ε are in ``extra``.
    Effect: partial η².
    """
    matrix = np.asarray(matrix, dtype=float)
    problem = _block_problem(matrix, 2)
    if problem:
        return na(problem, matrix.shape[0])
    n, k = matrix.shape
    grand = matrix.mean()
    ss_models = n * ((matrix.mean(axis=0) - grand) ** 2).sum()
    ss_items = k * ((matrix.mean(axis=1) - grand) ** 2).sum()
    ss_error = ((matrix - grand) ** 2).sum() - ss_models - ss_items
    df1, df2 = k - 1, (k - 1) * (n - 1)
    if ss_error <= _EPS:
        return na("no residual variation (models differ by a constant on every item): F undefined", n)
    stat = (ss_models / df1) / (ss_error / df2)
    eps = greenhouse_geisser_epsilon(matrix)
    p_gg = sps.f.sf(stat, eps * df1, eps * df2)
    return TestResult(float(stat), float(p_gg), (eps * df1, eps * df2), n, float(ss_models / (ss_models + ss_error)),
                      extra={"epsilon": eps, "p_uncorrected": float(sps.f.sf(stat, df1, df2))})


def two_way_anova(cells: pd.DataFrame) -> TestResult:
    """Two-way ANOVA (item + model, no interaction) on per-item means; type II sums of squares.

    ``cells`` has columns item, model, value (one row per answered cell; missing cells
    allowed). Blocking on the item removes the item-to-item differences from the error.
    Effect: partial η² of the model term.
    """
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    data = cells.dropna(subset=["value"])
    k, n = data["model"].nunique(), data["item"].nunique()
    if k < 2 or n < 2:
        return na(f"needs 2+ models and 2+ items with values (got {k} and {n})", len(data))
    if len(data) <= k + n - 1:
        return na("no residual degrees of freedom (every cell is needed to fit the effects)", len(data))
    if np.ptp(data["value"].to_numpy(float)) <= _EPS:
        return na("all scores are identical", len(data))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # a small SVD: extra BLAS threads only wait for each other
        fit = smf.ols("value ~ C(item) + C(model)", data=data).fit()
    if fit.ssr <= _EPS:
        return na("no residual variation: F undefined", len(data))
    table = anova_lm(fit, typ=2)
    row = table.loc["C(model)"]
    effect = row["sum_sq"] / (row["sum_sq"] + table.loc["Residual", "sum_sq"])
    item_share = table.loc["C(item)", "sum_sq"] / table["sum_sq"].sum()
    return TestResult(_float(row["F"]), _float(row["PR(>F)"]), (row["df"], table.loc["Residual", "df"]),
                      len(data), float(effect), extra={"item_share": float(item_share)})


def mixed_model(answers: pd.DataFrame) -> TestResult:
    """Linear mixed model score ~ model + (1 | item), every valid answer; Wald χ² of the model effect.

    ``answers`` has columns item, model, value (one row per answer; iterations are repeated
    observations of one item). Fitted by REML with statsmodels' MixedLM; ``extra`` holds the
    item variance share and the model means adjusted for items (intercept + effect).
    """
    from statsmodels.regression.mixed_linear_model import MixedLM
    from threadpoolctl import threadpool_limits

    data = answers.dropna(subset=["value"])
    models = sorted(data["model"].unique())
    k, n = len(models), data["item"].nunique()
    if k < 2 or n < 2:
        return na(f"needs 2+ models and 2+ items with valid answers (got {k} and {n})", len(data))
    values = data["value"].to_numpy(float)
    if np.ptp(values) <= _EPS:
        return na("all scores are identical", len(data))
    codes = pd.Categorical(data["model"], categories=models).codes
    design = np.zeros((len(data), k))
    design[:, 0] = 1.0
    rows = np.flatnonzero(codes > 0)
    design[rows, codes[rows]] = 1.0
    # MixedLM does many small matrix products per item: multi-threaded BLAS only adds
    # synchronisation (10× slower on a busy 2-core machine), so it runs on one thread.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("always")
        model = MixedLM(values, design, groups=data["item"].to_numpy())
        fit = None
        for method in ("lbfgs", "powell"):  # powell needs no gradient: it survives a zero item variance
            try:
                fit = model.fit(reml=True, method=method)
                break
            except (np.linalg.LinAlgError, ValueError) as exc:
                error = exc
        if fit is None:
            return na(f"the mixed model could not be fitted: {error}", len(data))
    beta = np.asarray(fit.fe_params)[1:]
    cov = np.asarray(fit.cov_params())[1:k, 1:k]
    try:
        chi2 = float(beta @ np.linalg.solve(cov, beta))
    except np.linalg.LinAlgError:
        return na("the model effects' covariance is singular", len(data))
    item_var = float(np.asarray(fit.cov_re).ravel()[0])
    share = item_var / (item_var + float(fit.scale)) if item_var + fit.scale > 0 else float("nan")
    adjusted = dict(zip(models, float(fit.fe_params[0]) + np.concatenate([[0.0], beta])))
    notes = sorted({str(w.message).split("\n")[0] for w in caught if "converge" in str(w.message).lower()})
    return TestResult(_float(chi2), _float(sps.chi2.sf(chi2, k - 1)), (k - 1,), len(data),
                      extra={"item_share": share, "adjusted_means": adjusted, "items": n,
                             "warning": "; ".join(notes)})


# --- paired tests on items ---------------------------------------------------------------


def paired_differences(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """a − b over the positions where both are finite."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both = np.isfinite(a_arr) & np.isfinite(b_arr)
    return a_arr[both] - b_arr[both]


def _paired_problem(d: np.ndarray) -> str:
    """Why a paired t-based analysis of differences ``d`` is impossible ('' when it is not)."""
    if d.size < 2:
        return f"needs 2+ shared items (got {d.size})"
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


@dataclass(frozen=True)
class PairedColumns:
    """Paired t-tests of many column pairs at once (arrays, NaN where a test is n/a)."""

    n: np.ndarray
    diff: np.ndarray
    low: np.ndarray
    high: np.ndarray
    t: np.ndarray
    p: np.ndarray
    reasons: list[str]


def paired_t_columns(matrix: np.ndarray, left: np.ndarray, right: np.ndarray, level: float = 0.95) -> PairedColumns:
    """Paired t-tests of column ``left[i]`` − column ``right[i]`` of an items × models matrix.

    Each pair uses the items where both columns have a value; the mean difference gets a
    t-based CI. Vectorised over pairs (thousands of pairs of a 100-model report at once).
    """
    matrix = np.asarray(matrix, dtype=float)
    d = matrix[:, left] - matrix[:, right]
    shared = np.isfinite(d)
    n = shared.sum(axis=0)
    filled = np.where(shared, d, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = filled.sum(axis=0) / n
        var = np.where(shared, (d - mean) ** 2, 0.0).sum(axis=0) / (n - 1)
        se = np.sqrt(var / n)
        t = mean / se
        p = 2 * sps.t.sf(np.abs(t), n - 1)
        half = sps.t.ppf(0.5 + level / 2, n - 1) * se
    spread = np.where(shared, d, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        constant = (np.nanmax(spread, axis=0) - np.nanmin(spread, axis=0)) <= _EPS
    reasons = []
    for count, flat, m in zip(n, constant, mean):
        if count < 2:
            reasons.append(f"needs 2+ shared items (got {count})")
        elif flat:
            reasons.append("all differences are zero: no variance" if abs(m) <= _EPS
                           else "all differences are equal: no variance")
        else:
            reasons.append("")
    bad = np.array([bool(r) for r in reasons], dtype=bool)
    mean = np.where(n > 0, mean, np.nan)
    return PairedColumns(n, mean, np.where(bad, np.nan, mean - half), np.where(bad, np.nan, mean + half),
                         np.where(bad, np.nan, t), np.where(bad, np.nan, p), reasons)


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Wilcoxon signed-rank test of a − b (ties rounded, zero differences dropped)."""
    d = round_ties(paired_differences(a, b))
    nonzero = d[d != 0]
    if d.size < 2:
        return na(f"needs 2+ shared items (got {d.size})", int(d.size))
    if nonzero.size == 0:
        return na("all differences are zero", int(d.size))
    stat, p = sps.wilcoxon(nonzero)
    return TestResult(_float(stat), _float(p), (), int(nonzero.size))


def mean_difference_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of a − b over shared positions with a t-based CI."""
    d = paired_differences(a, b)
    if d.size == 0:
        return missing("no shared items")
    mean = float(d.mean())
    if d.size < 2:
        return missing("1 shared item: no confidence interval", 1, value=mean)
    half = sps.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return Estimate(value=mean, low=float(mean - half), high=float(mean + half), n=int(d.size))


def cohens_dz(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """Cohen's d_z: mean difference over the SD of differences (paired)."""
    d = paired_differences(a, b)
    problem = _paired_problem(d)
    if problem:
        return missing(problem, int(d.size))
    return Estimate(value=float(d.mean() / d.std(ddof=1)), n=int(d.size))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (statsmodels); None/NaN entries stay None and are not counted."""
    from statsmodels.stats.multitest import multipletests

    present = [i for i, p in enumerate(p_values) if p is not None and not (isinstance(p, float) and math.isnan(p))]
    adjusted: list[float | None] = [None] * len(p_values)
    if present:
        gc.freeze()  # multipletests runs gc.collect() for Holm: freezing makes that skip the report's heap
        try:
            values = multipletests([float(p_values[i]) for i in present], method="holm")[1]  # type: ignore[arg-type]
        finally:
            gc.unfreeze()
        for i, p in zip(present, values):
            adjusted[i] = float(p)
    return adjusted
