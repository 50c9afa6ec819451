"""The statistics of every report (news and labelled alike), each answering a value or "n/a" with a reason.

The one home of the significance tests, the one Holm adjustment (:func:`holm`), the
power of the design and the letter groups of the Leaderboard. Every function takes plain arrays and returns a :class:`TestResult` or :class:`Estimate`;
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

from utils.labels import labels_from_scores
from utils.na import NotAvailable

Values = Sequence[float] | np.ndarray  # numbers, as a sequence or an array
Groups = Sequence[Values]

ALPHA = 0.05
POWER = 0.8
P_FLOOR = 1e-4  # smaller p-values are shown as "< 0.0001": tails that far out rest on the model, not the items
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


def _finite(values: Values) -> np.ndarray:
    """The finite values of ``values`` as a float array."""
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def _clean_groups(groups: Groups) -> list[np.ndarray]:
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
    values: Values, resamples: int, seed: int, level: float = 0.95
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


def flip_rate(scores_by_item: Groups, band: float) -> Estimate:
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


def one_way_anova(groups: Groups) -> TestResult:
    """Classic one-way ANOVA (equal variances) with eta² as effect size."""
    arrays = _clean_groups(groups)
    problem = _group_problem(arrays)
    if problem:
        return na(problem, sum(g.size for g in arrays))
    n = sum(g.size for g in arrays)
    if all(np.ptp(g) <= _EPS for g in arrays):
        return na("no variation inside any group: F undefined", n)
    stat, p = sps.f_oneway(*arrays)
    pooled = np.concatenate(arrays)
    ss_between = sum(g.size * (g.mean() - pooled.mean()) ** 2 for g in arrays)
    eta2 = ss_between / ((pooled - pooled.mean()) ** 2).sum()
    return TestResult(_float(stat), _float(p), (len(arrays) - 1, n - len(arrays)), n, float(eta2))


def welch_anova(groups: Groups) -> TestResult:
    """Welch's heteroscedastic one-way ANOVA."""
    arrays = _clean_groups(groups)
    problem = _group_problem(arrays)
    n = sum(g.size for g in arrays)
    if problem:
        return na(problem, n)
    variances = np.array([g.var(ddof=1) for g in arrays])
    if (variances <= _EPS).any():
        return na("a group has zero variance: Welch weights undefined", n)
    k = len(arrays)
    sizes = np.array([g.size for g in arrays], dtype=float)
    means = np.array([g.mean() for g in arrays])
    weights = sizes / variances
    centre = (weights * means).sum() / weights.sum()
    between = (weights * (means - centre) ** 2).sum() / (k - 1)
    lam = ((1 - weights / weights.sum()) ** 2 / (sizes - 1)).sum()
    stat = between / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    p = sps.f.sf(stat, k - 1, df2)
    return TestResult(float(stat), float(p), (k - 1, float(df2)), n)


def kruskal_wallis(groups: Groups) -> TestResult:
    """Kruskal–Wallis H test with epsilon² effect size (ties rounded, see :func:`round_ties`)."""
    arrays = [round_ties(g) for g in _clean_groups(groups)]
    n = sum(g.size for g in arrays)
    problem = _group_problem(arrays, min_size=1)
    if problem:
        return na(problem, n)
    stat, p = sps.kruskal(*arrays)
    eps2 = stat / ((n**2 - 1) / (n + 1)) if n > 1 else None
    return TestResult(_float(stat), _float(p), (len(arrays) - 1,), n, eps2)


def brown_forsythe(groups: Groups) -> TestResult:
    """Brown–Forsythe test (Levene centred on the median) for equal spread across groups."""
    arrays = _clean_groups(groups)
    n = sum(g.size for g in arrays)
    problem = _group_problem(arrays)
    if problem:
        return na(problem, n)
    deviations = [np.abs(g - np.median(g)) for g in arrays]
    if np.ptp(np.concatenate(deviations)) <= _EPS:
        return na("all arrays have the same constant spread", n)
    stat, p = sps.levene(*arrays, center="median")
    return TestResult(_float(stat), _float(p), (len(arrays) - 1, n - len(arrays)), n)


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
    """Two-way ANOVA (item + model) on per-(model, item) means; type II sums of squares.

    ``cells`` has columns item, model, value (one row per answered cell; missing cells
    allowed). Blocking on the item removes the item-to-item differences from the error,
    and the error is the model × item interaction (with the iteration noise of a mean):
    the test the mixed model with a model × item variance component reduces to, one
    value per item and model, so iterations are never counted as items.
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
    values = data["value"].to_numpy(float)
    total = float(((values - values.mean()) ** 2).sum())  # type II sums of squares need not add up to it
    return TestResult(_float(row["F"]), _float(row["PR(>F)"]), (row["df"], table.loc["Residual", "df"]),
                      len(data), float(effect),
                      extra={"item_share": float(table.loc["C(item)", "sum_sq"] / total),
                             "ms_error": float(table.loc["Residual", "sum_sq"] / table.loc["Residual", "df"]),
                             "models": k, "items": n})


def mixed_model(answers: pd.DataFrame, interaction: bool = True) -> TestResult:
    """Linear mixed model score ~ model + (1 | item) [+ (1 | model:item)] on every valid answer; Wald χ².

    ``answers`` has columns item, model, value (one row per answer; iterations are repeated
    observations of one item). With ``interaction`` (the default) each model × item cell
    gets its own random effect, a variance component within the item: a model reading one
    item its own way is then one piece of evidence, not one per iteration. Without it the
    cell-to-cell differences fall into the residual and every iteration counts as
    independent evidence of the model effect (pseudo-replication; earlier reports did
    this). Fitted by REML with statsmodels' MixedLM; ``extra`` holds the variance shares,
    the model means adjusted for items (intercept + effect) and any convergence warning.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec
    from threadpoolctl import threadpool_limits

    data = answers.dropna(subset=["value"]).sort_values(["item", "model"], kind="stable")
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
    groups = data["item"].to_numpy()
    vc = None
    if interaction:
        names, matrices = [], []
        for _, index in pd.Series(np.arange(len(data))).groupby(groups, sort=False):
            present = np.unique(codes[index.to_numpy()])
            names.append([models[c] for c in present])
            matrices.append((codes[index.to_numpy()][:, None] == present[None, :]).astype(float))
        vc = VCSpec(["model:item"], [names], [matrices])
    # MixedLM does many small matrix products per item: multi-threaded BLAS only adds
    # synchronisation (10× slower on a busy 2-core machine), so it runs on one thread.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("always")
        model = MixedLM(values, design, groups=groups, exog_re=np.ones((len(data), 1)), exog_vc=vc)
        fit, error = None, None
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
    cell_var = float(np.asarray(fit.vcomp).ravel()[0]) if interaction else 0.0
    total = item_var + cell_var + float(fit.scale)
    adjusted = dict(zip(models, float(fit.fe_params[0]) + np.concatenate([[0.0], beta])))
    notes = sorted({str(w.message).split("\n")[0] for w in caught if "converge" in str(w.message).lower()})
    return TestResult(_float(chi2), _float(sps.chi2.sf(chi2, k - 1)), (k - 1,), len(data),
                      extra={"item_share": item_var / total if total > 0 else float("nan"),
                             "cell_share": cell_var / total if total > 0 else float("nan"),
                             "variances": {"item": item_var, "model:item": cell_var, "residual": float(fit.scale)},
                             "adjusted_means": adjusted, "items": n, "warning": "; ".join(notes)})


# --- paired tests on items ---------------------------------------------------------------


def paired_differences(a: Values, b: Values) -> np.ndarray:
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


def paired_t(a: Values, b: Values) -> TestResult:
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
    a_items: np.ndarray | None = None  # sign tests: items where A is higher
    b_items: np.ndarray | None = None  # sign tests: items where B is higher


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


def family_p(tests: PairedColumns) -> np.ndarray:
    """The p-values a Holm family adjusts: a pair equal on every shared item has p = 1 (it is
    a comparison of the family, with no evidence of a difference); NaN only where untestable."""
    zero = np.array([r.startswith("all differences are zero") for r in tests.reasons], dtype=bool)
    return np.where(zero, 1.0, tests.p)


def wilcoxon_signed_rank(a: Values, b: Values) -> TestResult:
    """Wilcoxon signed-rank test of a − b (ties rounded, zero differences dropped)."""
    d = round_ties(paired_differences(a, b))
    nonzero = d[d != 0]
    if d.size < 2:
        return na(f"needs 2+ shared items (got {d.size})", int(d.size))
    if nonzero.size == 0:
        return na("all differences are zero", int(d.size))
    stat, p = sps.wilcoxon(nonzero)
    return TestResult(_float(stat), _float(p), (), int(nonzero.size))


def mean_difference_ci(a: Values, b: Values, level: float = 0.95) -> Estimate:
    """Mean of a − b over shared positions with a t-based CI."""
    d = paired_differences(a, b)
    if d.size == 0:
        return missing("no shared items")
    mean = float(d.mean())
    if d.size < 2:
        return missing("1 shared item: no confidence interval", 1, value=mean)
    half = sps.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return Estimate(value=mean, low=float(mean - half), high=float(mean + half), n=int(d.size))


def cohens_dz(a: Values, b: Values) -> Estimate:
    """Cohen's d_z: mean difference over the SD of differences (paired)."""
    d = paired_differences(a, b)
    problem = _paired_problem(d)
    if problem:
        return missing(problem, int(d.size))
    return Estimate(value=float(d.mean() / d.std(ddof=1)), n=int(d.size))


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values (statsmodels) of any sequence or array of p-values.

    None and NaN entries stay NaN and are not counted in the family; every other entry is,
    equal comparisons (p = 1) included. The one Holm of the project: every sheet calls it.
    """
    from statsmodels.stats.multitest import multipletests

    raw = pd.to_numeric(pd.Series(list(np.ravel(np.asarray(p_values, dtype=object))), dtype=object),
                        errors="coerce").to_numpy(float)
    adjusted = np.full(raw.shape, np.nan)
    present = np.isfinite(raw)
    if present.any():
        gc.freeze()  # multipletests runs gc.collect() for Holm: freezing makes that skip the report's heap
        try:
            adjusted[present] = multipletests(raw[present], method="holm")[1]
        finally:
            gc.unfreeze()
    return adjusted


def format_p(p: float | None, floor: float = P_FLOOR) -> str:
    """'p = 0.034', 'p = 0.66' or 'p < 0.0001': two significant digits, never below ``floor``."""
    if p is None or not math.isfinite(p):
        return "p n/a"
    if p < floor or (floor > P_FLOOR and p <= floor):
        return f"p < {floor:.2g}"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


# --- exact and permutation tests for yes/no outcomes -------------------------------------


def sign_test_columns(matrix: np.ndarray, left: np.ndarray, right: np.ndarray) -> PairedColumns:
    """Exact sign tests of column ``left[i]`` against ``right[i]`` of an items × models matrix.

    Each pair uses the items where both columns have a value; an item counts for A when
    A's value is higher, for B when B's is, and not at all when they are equal. p is the
    two-sided binomial p of the split (1 when no item differs). On 0/1 values (one answer
    per item) this is McNemar's exact test; on per-item shares it is its generalisation
    that keeps the item as the unit (a model's iterations of one item are not independent).
    ``t`` holds the statistic min(A items, B items); the CI is the t-based CI of the mean
    difference, shown beside the exact verdict.
    """
    matrix = np.asarray(matrix, dtype=float)
    d = matrix[:, left] - matrix[:, right]
    shared = np.isfinite(d)
    n = shared.sum(axis=0)
    rounded = np.where(shared, round_ties(np.where(shared, d, 0.0)), 0.0)
    a_items = (rounded > 0).sum(axis=0)
    b_items = (rounded < 0).sum(axis=0)
    discordant = a_items + b_items
    p = np.where(discordant > 0, np.minimum(1.0, 2 * sps.binom.cdf(np.minimum(a_items, b_items), discordant, 0.5)),
                 1.0)
    t_based = paired_t_columns(matrix, left, right)
    reasons = ["" if count else "no shared items" for count in n]
    p = np.where(n > 0, p, np.nan)
    low = np.where(discordant > 0, t_based.low, np.where(n > 0, 0.0, np.nan))
    high = np.where(discordant > 0, t_based.high, np.where(n > 0, 0.0, np.nan))
    return PairedColumns(n, t_based.diff, low, high, np.minimum(a_items, b_items).astype(float), p, reasons,
                         a_items=a_items, b_items=b_items)


def sign_test(a: Values, b: Values) -> TestResult:
    """Exact sign test of a − b over shared items (see :func:`sign_test_columns`)."""
    matrix = np.column_stack([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    result = sign_test_columns(matrix, np.array([0]), np.array([1]))
    if not result.n[0]:
        return na("no shared items")
    assert result.a_items is not None and result.b_items is not None  # sign_test_columns sets them
    extra = {"a_better": int(result.a_items[0]), "b_better": int(result.b_items[0])}
    return TestResult(float(result.t[0]), float(result.p[0]), (), int(result.n[0]), float(result.diff[0]),
                      extra=extra)


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> TestResult:
    """McNemar's exact test on paired yes/no outcomes (statsmodels): statistic = the smaller discordant count."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if not len(a):
        return na("no item answered by both models")
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[int(np.sum(a & b)), int(np.sum(a & ~b))], [int(np.sum(~a & b)), int(np.sum(~a & ~b))]]
    result = mcnemar(table, exact=True)
    return TestResult(float(result.statistic), float(result.pvalue), (), len(a),
                      extra={"a_right_b_wrong": table[0][1], "a_wrong_b_right": table[1][0]})


def _q_statistic(matrix: np.ndarray, within: float) -> np.ndarray:
    """Cochran's Q of one or a stack of items × models matrices with within-item sum of squares ``within``."""
    n, k = matrix.shape[-2:]
    columns = matrix.mean(axis=-2)
    ss_models = n * ((columns - columns.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    return n * (k - 1) * ss_models / within


def cochran_q(matrix: np.ndarray, resamples: int = 0, seed: int = 0) -> TestResult:
    """Cochran's Q on a complete items × models matrix of 0/1 outcomes or per-item shares in [0, 1].

    Q = n (k − 1) · SS_models / SS_within-items, which on 0/1 values is Cochran's Q exactly;
    its effect size Q / (n (k − 1)) is the partial η² of the models on these items. With
    ``resamples`` the p-value is a seeded permutation p (each item's values shuffled across
    the models, the exchangeability the null hypothesis states; floor 1 / (resamples + 1)),
    else the asymptotic χ²(k − 1) p, which is kept in ``extra`` either way.
    """
    matrix = np.asarray(matrix, dtype=float)
    problem = _block_problem(matrix, 2)
    if problem:
        return na(problem, matrix.shape[0])
    n, k = matrix.shape
    within = float(((matrix - matrix.mean(axis=1, keepdims=True)) ** 2).sum())
    if within <= _EPS:
        return na("no item where the models differ", n)
    q = float(_q_statistic(matrix, within))
    p_chi2 = float(sps.chi2.sf(q, k - 1))
    extra = {"p_chi2": p_chi2}
    p = p_chi2
    if resamples:
        rng = np.random.default_rng(seed)
        chunk = max(1, min(resamples, 2_000_000 // (n * k)))
        exceed = 0
        for start in range(0, resamples, chunk):
            size = min(chunk, resamples - start)
            shuffled = rng.permuted(np.broadcast_to(matrix, (size, n, k)), axis=2)
            exceed += int((_q_statistic(shuffled, within) >= q - 1e-9 * max(q, 1.0)).sum())
        p = (exceed + 1) / (resamples + 1)
        extra.update({"resamples": resamples, "p_floor": 1 / (resamples + 1)})
    return TestResult(q, float(p), (k - 1,), n, _clean_zero(q / (n * (k - 1))), extra=extra)


def sign_test_interval(a: Values, b: Values, level: float = 0.95) -> Estimate:
    """The shifts δ that the exact sign test of (a − b) − δ does not reject at 1 − ``level``, and the median.

    The interval belongs to the test: it holds 0 whenever the sign test of a − b does not
    reject at that level, and when the test rejects, 0 is at most one of its ends (the
    interval is the closure of the accepted shifts). So a figure drawing it cannot show a
    "tied" model clear of 0. Equal values (ties at δ) do not count, as in the test.
    """
    d = round_ties(paired_differences(a, b))
    if d.size == 0:
        return missing("no shared items")
    median = float(np.median(d))
    if min(1.0, 2 * 0.5 ** d.size) >= 1 - level:
        return missing(f"{d.size} items: too few for a {level:.4g} sign-test interval (it is unbounded)",
                       int(d.size), value=median)
    values = np.unique(d)
    # the test is constant between two neighbouring differences: each gap is tested at its midpoint,
    # and an accepted gap reaches to the differences on either side (the interval is the closure)
    gaps = (values[:-1] + values[1:]) / 2
    grid = np.concatenate([values, gaps])
    reach_low = np.concatenate([values, values[:-1]])
    reach_high = np.concatenate([values, values[1:]])
    above = (d[None, :] > grid[:, None]).sum(axis=1)
    below = (d[None, :] < grid[:, None]).sum(axis=1)
    total = above + below
    p = np.where(total > 0, np.minimum(1.0, 2 * sps.binom.cdf(np.minimum(above, below), total, 0.5)), 1.0)
    kept = p >= 1 - level - 1e-12
    if not kept.any():
        return missing("no shift is accepted at this level", int(d.size), value=median)
    low, high = float(reach_low[kept].min()), float(reach_high[kept].max())
    return Estimate(value=median, low=low, high=high, n=int(d.size))


# --- bootstrap over items ------------------------------------------------------------------

_CHUNK = 500  # bootstrap resamples per matrix product; bounds memory for big files


def bootstrap_weights(n: int, resamples: int, seed: int):
    """Chunks of resample-count matrices (resamples × n): how often each of n items is drawn."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(float)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap replicates."""
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(np.asarray(values, dtype=float), [tail, 100 - tail])
    return float(low), float(high)


# --- power of the design -------------------------------------------------------------------


@dataclass(frozen=True)
class Power:
    """What a paired comparison of two models on these items can detect."""

    sd_difference: float  # SD of one per-item difference between two models
    items: int
    iterations: int
    detectable: float  # smallest difference found 80% of the time at ALPHA, one comparison
    detectable_family: float  # the same at ALPHA / comparisons (Holm's first step)
    comparisons: int
    target: float  # the stated difference
    items_needed: int | None  # items for the stated difference at ALPHA, one comparison


def paired_power(matrix: np.ndarray, target: float, iterations: int, comparisons: int = 1) -> Power | NotAvailable:
    """Power of a paired t on per-item values of an items × models matrix (statsmodels' TTestPower).

    The SD of one per-item difference between two models is estimated from the largest
    complete block as √(2 · MS_error) of the items + models ANOVA (the mean over pairs of
    models of the variance of their per-item differences): it holds the model × item
    interaction and the iteration noise of a per-item value, so the answer is clustered
    by item. Smallest detectable difference at 80% power, two-sided, at ALPHA and at
    ALPHA / ``comparisons``; items needed for ``target``.
    """
    from statsmodels.stats.power import TTestPower

    matrix = np.asarray(matrix, dtype=float)
    block = maximal_complete_block(matrix)
    sub = matrix[np.ix_(block.rows, block.cols)]
    n, k = sub.shape
    if n < 3 or k < 2:
        return NotAvailable(f"needs 3+ items answered by 2+ models (got {n} × {k})")
    _, _, ms_error = _icc_components(sub)
    sd = math.sqrt(max(2 * float(ms_error), 0.0))
    if sd <= 1e-9:
        return NotAvailable("the models' per-item values differ by a constant: no variance to plan with")
    solver = TTestPower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        effect = solver.solve_power(nobs=n, alpha=ALPHA, power=POWER, alternative="two-sided")
        family = solver.solve_power(nobs=n, alpha=ALPHA / max(comparisons, 1), power=POWER, alternative="two-sided")
        try:
            needed = solver.solve_power(effect_size=target / sd, alpha=ALPHA, power=POWER, alternative="two-sided")
            needed = int(math.ceil(float(np.ravel(needed)[0])))
        except (ValueError, RuntimeError):
            needed = None
    return Power(sd, n, iterations, float(np.ravel(effect)[0]) * sd, float(np.ravel(family)[0]) * sd,
                 max(comparisons, 1), target, needed)


# --- groups of models not told apart -------------------------------------------------------


def letter_groups(significant: np.ndarray, order: Sequence[int] | None = None) -> list[str]:
    """Compact letter display (insert-and-absorb, Piepho 2004) of a k × k 'significantly different' matrix.

    Every significantly different pair shares no letter and every other pair shares at
    least one, so models with a common letter cannot be told apart. Letters are named in
    ``order`` (the ranking): 'a' holds the first model.
    """
    significant = np.asarray(significant, dtype=bool)
    k = int(significant.shape[0])
    order = list(order) if order is not None else list(range(k))
    columns = [np.ones(k, dtype=bool)] if k else []
    for i, j in zip(*np.nonzero(np.triu(significant | significant.T, 1))):
        split = []
        for column in columns:
            if column[i] and column[j]:
                without_i, without_j = column.copy(), column.copy()
                without_i[i] = False
                without_j[j] = False
                split += [without_i, without_j]
            else:
                split.append(column)
        columns = _absorb(split)
    position: dict[int, int] = {model: rank for rank, model in enumerate(order)}
    columns.sort(key=lambda c: min(position.get(int(m), k) for m in np.flatnonzero(c)))
    letters = [_letter(i) for i in range(len(columns))]
    return ["".join(letter for letter, c in zip(letters, columns) if c[m]) for m in range(k)]


def _absorb(columns: list[np.ndarray]) -> list[np.ndarray]:
    """The columns that are not a subset of another (duplicates kept once)."""
    kept: list[np.ndarray] = []
    for index, column in enumerate(columns):
        covered = any((column <= other).all() and ((column < other).any() or other_index < index)
                      for other_index, other in enumerate(columns) if other_index != index)
        if not covered and column.any():
            kept.append(column)
    return kept


def _letter(index: int) -> str:
    """'a' … 'z', then 'a1', 'b1' …"""
    return "abcdefghijklmnopqrstuvwxyz"[index % 26] + (str(index // 26) if index >= 26 else "")
