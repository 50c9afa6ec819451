"""The Pairwise and Per Article sheets: each configured pair of models, item by item.

Every test is paired on the items both models have a value for: an exact sign test for
the valid-JSON rate (per-item shares of yes/no answers; McNemar's exact test when there
is one answer per item), a paired t-test for the other metrics, and a Wilcoxon
signed-rank test beside it. p-values are Holm-adjusted per metric across the pairs,
every pair counted (a pair equal on every item has p = 1), and only the adjusted p of the
main test decides "Significant".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from utils import stats
from utils.reports.context import PairSpec, ReportContext, join_notes
from utils.reports.metrics import METRIC_LIST, Metric

# --- Pairwise ----------------------------------------------------------------------------

YES_NO_METRICS = {"Valid JSON Rate"}
SIGN_TEST, PAIRED_T = "exact sign test", "paired t"
PAIRWISE_COLUMNS = [
    "Pair", "Model A", "Model B", "Metric", "Shared Articles", "Mean A", "Mean B",
    "Mean Diff (A−B)", "Diff CI Low", "Diff CI High", "Cohen's dz", "Test", "Statistic", "df",
    "p", "Holm p", "Significant (Holm)", "Wilcoxon W", "p (Wilcoxon)", "Holm p (Wilcoxon)", "Notes",
]


def pairwise_table(ctx: ReportContext) -> pd.DataFrame:
    """Per pair and compared metric: the main test (sign test or paired t), Wilcoxon, mean difference, d_z, Holm."""
    metrics = [m for m in METRIC_LIST if m.pairwise]
    rows: list[dict] = []
    for pair in ctx.pairs:
        if not pair.ok:
            rows.append({"Pair": pair.label, "Model A": pair.requested[0], "Model B": pair.requested[1],
                         "Notes": pair.note})
            continue
        rows.extend(_pair_row(ctx, pair, metric) for metric in metrics)
    table = _add_holm(pd.DataFrame(rows, columns=PAIRWISE_COLUMNS))
    holm = pd.to_numeric(table["Holm p"], errors="coerce")
    table["Significant (Holm)"] = [None if pd.isna(p) else "yes" if p < stats.ALPHA else "no" for p in holm]
    return table


def _main_test(metric: Metric, a: np.ndarray, b: np.ndarray) -> tuple[str, stats.TestResult]:
    """The metric's test: exact sign test for yes/no shares, else paired t (p = 1 when every difference is 0)."""
    if metric.column in YES_NO_METRICS:
        return SIGN_TEST, stats.sign_test(a, b)
    t = stats.paired_t(a, b)
    if t.note.startswith("all differences are zero"):
        return PAIRED_T, stats.TestResult(None, 1.0, (), t.n, na=t.na)
    return PAIRED_T, t


def _pair_row(ctx: ReportContext, pair: PairSpec, metric: Metric) -> dict:
    """One Pairwise row: every test of one metric for one pair."""
    matrix = ctx.metric_matrix(metric.column)
    a, b = matrix[pair.a].to_numpy(), matrix[pair.b].to_numpy()
    shared = np.isfinite(a) & np.isfinite(b)
    name, main = _main_test(metric, a, b)
    w = stats.wilcoxon_signed_rank(a, b)
    ci, dz = stats.mean_difference_ci(a, b), stats.cohens_dz(a, b)
    notes = [(name, main.note), ("Wilcoxon", w.note), ("mean diff CI", ci.note), ("Cohen's dz", dz.note),
             ("", _coverage_note(pair, a, b))]
    if name == SIGN_TEST and main.ok:
        notes.append((name, f"{main.extra['a_better']} item(s) higher for A, {main.extra['b_better']} for B"))
    w_p = 1.0 if w.note.startswith("all differences are zero") else w.p_value
    return {
        "Pair": pair.label, "Model A": pair.a, "Model B": pair.b, "Metric": metric.column,
        "Shared Articles": int(shared.sum()),
        "Mean A": a[shared].mean() if shared.any() else None,
        "Mean B": b[shared].mean() if shared.any() else None,
        "Mean Diff (A−B)": ci.value, "Diff CI Low": ci.low, "Diff CI High": ci.high,
        "Cohen's dz": dz.value, "Test": name, "Statistic": main.statistic,
        "df": main.df[0] if main.df else None, "p": main.p_value, "Wilcoxon W": w.statistic, "p (Wilcoxon)": w_p,
        "Notes": join_notes(notes),
    }


def _coverage_note(pair: PairSpec, a: np.ndarray, b: np.ndarray) -> str:
    """A note when the two models do not have values for the same articles."""
    only_a = int((np.isfinite(a) & ~np.isfinite(b)).sum())
    only_b = int((~np.isfinite(a) & np.isfinite(b)).sum())
    parts = [f"{n} article(s) with a value only for {name}" for n, name in ((only_a, pair.a), (only_b, pair.b)) if n]
    return ("left out: " + ", ".join(parts)) if parts else ""


def _add_holm(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with Holm-adjusted columns filled per metric across pairs."""
    for p_column, holm_column in (("p", "Holm p"), ("p (Wilcoxon)", "Holm p (Wilcoxon)")):
        table[holm_column] = np.nan
        for index in table.groupby("Metric", dropna=True).groups.values():
            table.loc[index, holm_column] = stats.holm(table.loc[index, p_column])
    return table


# --- Per Article -------------------------------------------------------------------------

PER_ARTICLE_SOURCES = {
    "Mean Sentiment": "Mean Sentiment", "Variance": "Sentiment Variance",
    "Confidence": "Mean Confidence", "Inference Rate (s)": "Inference Rate (s)",
    "Valid JSON Rate": "Valid JSON Rate",
}
PER_ARTICLE_COLUMNS = [
    "Pair", "Model A", "Model B", "Ticker", "Article Key", "Title",
    "Mean Sentiment A", "Mean Sentiment B", "Sentiment Diff (A−B)",
    "Variance A", "Variance B", "Confidence A", "Confidence B",
    "Inference Rate (s) A", "Inference Rate (s) B", "Valid JSON Rate A", "Valid JSON Rate B", "Notes",
]


def per_article_table(ctx: ReportContext) -> pd.DataFrame:
    """For each resolved pair, both models' per-article metrics side by side."""
    sides: dict[tuple[str, str], pd.DataFrame] = {}
    for pair in ctx.pairs:
        if pair.ok:
            for model, suffix in zip(pair.models, ("A", "B")):
                if (model, suffix) not in sides:
                    sides[(model, suffix)] = _side(ctx, model, suffix)
    frames = [_pair_articles(sides, pair) for pair in ctx.pairs if pair.ok]
    if not frames:
        why = "no comparison pair could be resolved (see Pairwise)" if ctx.pairs else "fewer than 2 models"
        return pd.DataFrame([{"Pair": "", "Notes": why}], columns=PER_ARTICLE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PER_ARTICLE_COLUMNS]


def _side(ctx: ReportContext, model: str, suffix: str) -> pd.DataFrame:
    """One model's per-article metrics indexed by article, columns suffixed ' A' or ' B'."""
    sub = ctx.by_model[model]
    out = pd.DataFrame({f"{name} {suffix}": sub[source] for name, source in PER_ARTICLE_SOURCES.items()})
    out[f"_valid {suffix}"] = sub["Valid Answers"]
    out[f"_title {suffix}"] = sub["Title"]
    return out


def _pair_articles(sides: dict[tuple[str, str], pd.DataFrame], pair: PairSpec) -> pd.DataFrame:
    """Rows of the Per Article sheet for one pair, from the models' side tables."""
    a, b = pair.models
    joined = sides[(a, "A")].join(sides[(b, "B")], how="outer").reset_index()
    joined["Sentiment Diff (A−B)"] = joined["Mean Sentiment A"] - joined["Mean Sentiment B"]
    joined["Title"] = joined["_title A"].fillna(joined["_title B"]).fillna("")
    joined["Pair"], joined["Model A"], joined["Model B"] = pair.label, a, b
    notes = [[_side_note(model, v, t, c) for v, t, c in
              zip(joined[f"_valid {x}"], joined[f"Inference Rate (s) {x}"], joined[f"Confidence {x}"])]
             for model, x in ((a, "A"), (b, "B"))]
    joined["Notes"] = [join_notes([("", note_a), ("", note_b)]) for note_a, note_b in zip(*notes)]
    return joined


def _side_note(model: str, valid: float, rate: float, confidence: float) -> str:
    """Why one side of a Per Article row has n/a values ('' when it has none)."""
    if pd.isna(valid):
        return f"{model} has no answers for this article"
    if valid == 0:
        return f"{model}: no valid answers"
    missing = [("1 valid answer, variance needs 2", valid == 1), ("no time recorded", pd.isna(rate)),
               ("no confidence recorded", pd.isna(confidence))]
    reasons = [text for text, applies in missing if applies]
    return f"{model}: {', '.join(reasons)}" if reasons else ""
