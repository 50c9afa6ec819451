"""The ANOVA sheet: omnibus tests over all models, then Tukey HSD pairs.

Each test is registered once in :data:`OMNIBUS_TESTS` with the data it uses and its
Method-sheet note, so adding a test is one ``register_omnibus`` call. Pure computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from utils.reports import stats
from utils.reports.comparison import NOT_APPLICABLE, ReportContext, join_notes
from utils.reports.methods import MethodNote, register_method

ANOVA_COLUMNS = [
    "Test", "Comparison", "Metric", "Data", "Models", "N", "Statistic", "df", "Effect Size",
    "Effect Measure", "p-value", "Significant", "Mean Diff", "CI Low", "CI High", "Notes",
]

Groups = tuple[list[str], list[np.ndarray], str]


@dataclass(frozen=True)
class OmnibusTest:
    """A test over all models: how to get its data and run it."""

    name: str
    metric: str
    data: str
    effect_measure: str
    run: Callable[[ReportContext], tuple[stats.TestResult, int, str]]


OMNIBUS_TESTS: list[OmnibusTest] = []


def register_omnibus(test: OmnibusTest, method: MethodNote) -> OmnibusTest:
    """Add ``test`` to the ANOVA sheet and its note to the Method sheet."""
    OMNIBUS_TESTS.append(test)
    register_method(method)
    return test


# --- data --------------------------------------------------------------------------------


def _dropped_note(dropped: list[str], why: str) -> str:
    """'N model(s) left out (why): names' or ''."""
    if not dropped:
        return ""
    shown = ", ".join(dropped[:5]) + (" ..." if len(dropped) > 5 else "")
    return f"{len(dropped)} model(s) left out ({why}): {shown}"


def article_groups(ctx: ReportContext, column: str) -> Groups:
    """Per model, its per-article values of ``column`` (models without any left out)."""
    matrix = ctx.metric_matrix(column)
    names, groups, dropped = [], [], []
    for model in matrix.columns:
        values = matrix[model].dropna().to_numpy()
        (names if values.size else dropped).append(model)
        if values.size:
            groups.append(values)
    return names, groups, _dropped_note(dropped, f"no {column}")


def raw_groups(ctx: ReportContext) -> Groups:
    """Per model, every valid raw sentiment score (iterations pooled)."""
    names, groups, dropped = [], [], []
    for model in ctx.models:
        values = ctx.raw_values(model, "sentiment")
        (names if values.size else dropped).append(model)
        if values.size:
            groups.append(values)
    return names, groups, _dropped_note(dropped, "no valid answers")


def spread_groups(ctx: ReportContext) -> Groups:
    """Per model, per article: mean absolute deviation of the valid scores from their median."""
    valid = ctx.frame[ctx.frame["valid"].astype(bool)].dropna(subset=["sentiment"])
    by_article = valid.groupby(["model", "subject", "key"])["sentiment"]
    spread = by_article.apply(lambda s: np.abs(s - s.median()).mean() if s.size >= 2 else np.nan)
    per_model = {m: g.dropna().to_numpy() for m, g in spread.groupby(level="model")}
    names, groups, dropped = [], [], []
    for model in ctx.models:
        values = per_model.get(model, np.array([]))
        (names if values.size else dropped).append(model)
        if values.size:
            groups.append(values)
    return names, groups, _dropped_note(dropped, "no article with 2+ valid answers")


def complete_matrix(ctx: ReportContext, column: str) -> tuple[np.ndarray, str]:
    """Articles × models values of ``column`` restricted to articles every model has."""
    matrix = ctx.metric_matrix(column)
    empty = [m for m in matrix.columns if matrix[m].isna().all()]
    matrix = matrix.drop(columns=empty)
    complete = matrix.dropna()
    notes = [_dropped_note(empty, f"no {column}")]
    if len(complete) < len(matrix):
        notes.append(f"{len(matrix) - len(complete)} article(s) not answered by every model left out")
    return complete.to_numpy(), "; ".join(n for n in notes if n)


def _on_groups(test: Callable, getter: Callable[[ReportContext], Groups]) -> Callable:
    """A runner applying a between-groups ``test`` to the groups from ``getter``."""
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, str]:
        names, groups, note = getter(ctx)
        return test(groups), len(names), note
    return run


def _on_matrix(test: Callable, column: str) -> Callable:
    """A runner applying a blocked ``test`` to the complete articles × models matrix."""
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, str]:
        matrix, note = complete_matrix(ctx, column)
        return test(matrix), matrix.shape[1] if matrix.ndim == 2 else 0, note
    return run


def _means(ctx: ReportContext) -> Groups:
    """Per-article mean sentiments grouped by model."""
    return article_groups(ctx, "Mean Sentiment")


def _variances(ctx: ReportContext) -> Groups:
    """Per-article sentiment variances grouped by model."""
    return article_groups(ctx, "Sentiment Variance")


MEANS = "per-article mean sentiment; models as groups"
H0_EQUAL = "All models give the same mean sentiment."

register_omnibus(
    OmnibusTest("One-way ANOVA", "Mean Sentiment", MEANS, "η²", _on_groups(stats.one_way_anova, _means)),
    MethodNote("ANOVA", "One-way ANOVA", "Each model's per-article mean sentiments (one value per "
               "article) as independent groups.", H0_EQUAL + " Assumes equal variances."),
)
register_omnibus(
    OmnibusTest("Welch's ANOVA", "Mean Sentiment", MEANS, "", _on_groups(stats.welch_anova, _means)),
    MethodNote("ANOVA", "Welch's ANOVA", "As the one-way ANOVA.", H0_EQUAL + " Unequal variances allowed."),
)
register_omnibus(
    OmnibusTest("Kruskal–Wallis", "Mean Sentiment", MEANS, "ε²", _on_groups(stats.kruskal_wallis, _means)),
    MethodNote("ANOVA", "Kruskal–Wallis H", "As the one-way ANOVA, using ranks.",
               "All models' per-article means come from the same distribution."),
)
register_omnibus(
    OmnibusTest("Friedman", "Mean Sentiment", "per-article mean sentiment; articles as blocks",
                "Kendall's W", _on_matrix(stats.friedman, "Mean Sentiment")),
    MethodNote("ANOVA", "Friedman test (blocked)", "Per-article means of the articles every model "
               "answered; each article is a block, so differences between articles are removed.",
               "Within each article, the models' ranks are exchangeable (no model reads systematically "
               "higher). Needs 3+ models."),
)
register_omnibus(
    OmnibusTest("Repeated-measures ANOVA", "Mean Sentiment", "per-article mean sentiment; articles as subjects",
                "partial η²", _on_matrix(stats.rm_anova, "Mean Sentiment")),
    MethodNote("ANOVA", "Repeated-measures ANOVA (blocked)", "As the Friedman test: articles are the "
               "subjects, models the within-subject factor (no sphericity correction).", H0_EQUAL),
)
register_omnibus(
    OmnibusTest("One-way ANOVA (raw scores)", "Sentiment", "every valid answer; iterations pooled",
                "η²", _on_groups(stats.one_way_anova, raw_groups)),
    MethodNote("ANOVA", "One-way ANOVA on raw scores", "Every valid sentiment score of each model, "
               "iterations pooled, for continuity with earlier reports. Iterations of one article "
               "are not independent, so this p-value is optimistic.", H0_EQUAL, pools_raw_scores=True),
)
register_omnibus(
    OmnibusTest("Brown–Forsythe (equal spread)", "Mean Sentiment", MEANS, "",
                _on_groups(stats.brown_forsythe, _means)),
    MethodNote("ANOVA", "Brown–Forsythe on per-article means", "Each model's per-article means.",
               "All models' per-article means are equally spread (the equal-variance assumption of "
               "the one-way ANOVA; if rejected, read Welch's ANOVA)."),
)
register_omnibus(
    OmnibusTest("Brown–Forsythe (consistency)", "Sentiment Spread",
                "per-article mean |score − article median|; models as groups", "η²",
                _on_groups(stats.one_way_anova, spread_groups)),
    MethodNote("ANOVA", "Brown–Forsythe test of consistency", "For each model and article with 2+ "
               "valid answers, the mean absolute deviation of the iterations' scores from that "
               "article's median; one-way ANOVA of these per-article spreads across models.",
               "All models are equally consistent across iterations."),
)
register_omnibus(
    OmnibusTest("Kruskal–Wallis", "Sentiment Variance", "per-article sentiment variance; models as groups",
                "ε²", _on_groups(stats.kruskal_wallis, _variances)),
    MethodNote("ANOVA", "Kruskal–Wallis on per-article variances", "Each model's per-article "
               "variances (articles with 2+ valid answers).",
               "All models' per-article variances come from the same distribution (equal consistency)."),
)
register_method(MethodNote(
    "ANOVA", "Tukey HSD", "Per-article mean sentiments, models as independent groups (Tukey–Kramer "
    "for unequal article counts).", "Each pair of models has the same mean; p-values and 95% CIs "
    "are adjusted for all pairs.",
))


# --- table -------------------------------------------------------------------------------


def _df_text(df: tuple[float, ...]) -> str | None:
    """Degrees of freedom as text: '3, 76' or '3, 30.09'."""
    if not df:
        return None
    return ", ".join(str(int(d)) if float(d).is_integer() else f"{d:.2f}" for d in df)


def _omnibus_row(ctx: ReportContext, test: OmnibusTest) -> dict:
    """One ANOVA-sheet row for a registered test."""
    result, models, data_note = test.run(ctx)
    return {
        "Test": test.name, "Comparison": "all models", "Metric": test.metric, "Data": test.data,
        "Models": models, "N": result.n, "Statistic": result.statistic, "df": _df_text(result.df),
        "Effect Size": result.effect if test.effect_measure else NOT_APPLICABLE,
        "Effect Measure": test.effect_measure, "p-value": result.p_value, "Significant": _yes_no(result),
        "Mean Diff": NOT_APPLICABLE, "CI Low": NOT_APPLICABLE, "CI High": NOT_APPLICABLE,
        "Notes": join_notes([("", result.note), ("", data_note)]),
    }


def _yes_no(result: stats.TestResult) -> str | None:
    """'yes'/'no' for p < 0.05, None when there is no p-value."""
    return None if not result.ok else ("yes" if result.significant else "no")


def _tukey_rows(ctx: ReportContext) -> list[dict]:
    """Tukey HSD rows (or one n/a row) on per-article mean sentiment."""
    names, groups, note = article_groups(ctx, "Mean Sentiment")
    status, pairs = stats.tukey_hsd(groups, names)
    base = {"Test": "Tukey HSD", "Metric": "Mean Sentiment", "Data": "per-article mean sentiment",
            "Statistic": NOT_APPLICABLE, "Effect Size": NOT_APPLICABLE}
    if not pairs:
        return [{**base, "Comparison": "all pairs", "Models": len(names), "N": status.n,
                 "Notes": join_notes([("", status.note), ("", note)])}]
    return [
        {**base, "Comparison": f"{p.a} − {p.b}", "Models": 2, "N": status.n, "df": _df_text(status.df[1:]),
         "p-value": p.p_value, "Significant": None if p.p_value is None else ("yes" if p.p_value < stats.ALPHA else "no"),
         "Mean Diff": p.diff, "CI Low": p.low, "CI High": p.high, "Notes": note}
        for p in pairs
    ]


def anova_table(ctx: ReportContext) -> pd.DataFrame:
    """Every registered omnibus test, then the Tukey HSD pairs."""
    rows = [_omnibus_row(ctx, test) for test in OMNIBUS_TESTS] + _tukey_rows(ctx)
    return pd.DataFrame(rows, columns=ANOVA_COLUMNS)
