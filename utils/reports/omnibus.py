"""The Omnibus, Post-hoc and Appendix sheets: do the models differ at all, and which pairs do.

The primary tests block on the item (every model read the same items, iterations are
repeated measures): a linear mixed model on every valid answer, a two-way ANOVA on
per-item means, and Friedman and repeated-measures ANOVA (Greenhouse–Geisser) on the
largest complete items × models block. Post-hoc comparisons are paired on items and
Holm-adjusted over every pair. Tests treating models as independent groups live only on
the Appendix sheet. Pure computation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.reports import stats
from utils.reports.context import ReportContext, join_notes
from utils.reports.metrics import ITEM_INDEX
from utils.reports.registry import by_name

OMNIBUS_COLUMNS = [
    "Test", "Metric", "Data", "Models", "Items", "N", "Statistic", "df", "Effect Size", "Effect Measure",
    "p-value", "Significant", "Notes",
]
Run = Callable[[ReportContext], tuple[stats.TestResult, int, int, str]]


@dataclass(frozen=True)
class OmnibusTest:
    """A test over all models: its name, the data it uses and how to run it."""

    name: str
    metric: str
    data: str
    effect_measure: str
    run: Run


# --- data --------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    """Up to five names, then '...'."""
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def block_matrix(ctx: ReportContext, column: str) -> tuple[np.ndarray, list[str], str]:
    """The largest complete items × models block of one per-item metric, its models and a note."""
    matrix = ctx.metric_matrix(column) if column in ctx.metric_matrices else ctx.criterion_matrices[column]
    block = stats.maximal_complete_block(matrix.to_numpy(float))
    kept = [str(matrix.columns[i]) for i in block.cols]
    notes = []
    if block.dropped_cols.size:
        dropped = [str(matrix.columns[i]) for i in block.dropped_cols]
        notes.append(f"{len(dropped)} model(s) left out to keep more items (they miss items the others "
                     f"answered): {_names(dropped)}")
    if block.dropped_rows.size:
        notes.append(f"{block.dropped_rows.size} of {matrix.shape[0]} item(s) left out (not answered by every "
                     "model kept)")
    return matrix.to_numpy(float)[np.ix_(block.rows, block.cols)], kept, "; ".join(notes)


def _cells(ctx: ReportContext, column: str) -> pd.DataFrame:
    """Long (item, model, value) rows of one per-item metric."""
    long = ctx.metric_matrix(column).stack().rename("value").reset_index()
    long["item"] = long[ITEM_INDEX[0]].astype(str) + "/" + long[ITEM_INDEX[1]].astype(str)
    return long.rename(columns={"Model Name": "model"})[["item", "model", "value"]]


def _answers(ctx: ReportContext) -> pd.DataFrame:
    """Long (item, model, value) rows of every valid sentiment."""
    frame = ctx.frame[ctx.frame["valid"].astype(bool)]
    return pd.DataFrame({"item": frame["subject"].astype(str) + "/" + frame["key"].astype(str),
                         "model": frame["model"], "value": pd.to_numeric(frame["sentiment"], errors="coerce")})


def _run_mixed(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
    data = _answers(ctx)
    result = stats.mixed_model(data)
    share = result.extra.get("item_share")
    note = f"items explain {share:.0%} of the answer variance" if share is not None and not np.isnan(share) else ""
    return result, data["model"].nunique(), data["item"].nunique(), join_notes([("", note),
                                                                               ("", result.extra.get("warning", ""))])


def _run_two_way(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
    cells = _cells(ctx, "Mean Sentiment")
    result = stats.two_way_anova(cells)
    share = result.extra.get("item_share")
    note = f"items explain {share:.0%} of the sum of squares" if share is not None else ""
    return result, cells["model"].nunique(), cells["item"].nunique(), note


def _on_block(test: Callable[[np.ndarray], stats.TestResult], column: str) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        matrix, kept, note = block_matrix(ctx, column)
        result = test(matrix)
        if "epsilon" in result.extra:
            correction = (f"Greenhouse–Geisser ε = {result.extra['epsilon']:.3f}; "
                          f"uncorrected p = {result.extra['p_uncorrected']:.3g}")
            note = join_notes([("", note), ("", correction)])
        return result, len(kept), matrix.shape[0], note
    return run


def _on_groups(test: Callable, column: str) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        matrix = ctx.metric_matrix(column)
        groups = [matrix[m].dropna().to_numpy() for m in matrix.columns]
        kept = [g for g in groups if g.size]
        return test(kept), len(kept), matrix.shape[0], "models treated as independent groups"
    return run


BLOCKED = "per-item values; items as blocks"
OMNIBUS_TESTS = by_name([
    OmnibusTest("Linear mixed model", "Sentiment", "every valid answer; random item intercept", "",
                _run_mixed),
    OmnibusTest("Two-way ANOVA (item + model)", "Mean Sentiment", "per-item mean sentiment", "partial η²",
                _run_two_way),
    OmnibusTest("Friedman", "Mean Sentiment", BLOCKED, "Kendall's W", _on_block(stats.friedman, "Mean Sentiment")),
    OmnibusTest("Repeated-measures ANOVA (GG)", "Mean Sentiment", BLOCKED, "partial η²",
                _on_block(stats.rm_anova, "Mean Sentiment")),
    OmnibusTest("Friedman (valid JSON)", "Valid JSON Rate", BLOCKED, "Kendall's W",
                _on_block(stats.friedman, "Valid JSON Rate")),
    OmnibusTest("Friedman (consistency)", "Label Disagreement", BLOCKED, "Kendall's W",
                _on_block(stats.friedman, "consistency")),
], lambda t: t.name, "omnibus test")

APPENDIX_TESTS = by_name([
    OmnibusTest("One-way ANOVA", "Mean Sentiment", "per-item mean sentiment; models as independent groups", "η²",
                _on_groups(stats.one_way_anova, "Mean Sentiment")),
    OmnibusTest("Welch's ANOVA", "Mean Sentiment", "as the one-way ANOVA", "",
                _on_groups(stats.welch_anova, "Mean Sentiment")),
    OmnibusTest("Kruskal–Wallis", "Mean Sentiment", "as the one-way ANOVA, ranks", "ε²",
                _on_groups(stats.kruskal_wallis, "Mean Sentiment")),
    OmnibusTest("Brown–Forsythe", "Mean Sentiment", "as the one-way ANOVA, spread", "",
                _on_groups(stats.brown_forsythe, "Mean Sentiment")),
], lambda t: t.name, "appendix test")


# --- tables ------------------------------------------------------------------------------


def _df_text(df: tuple[float, ...]) -> str | None:
    """Degrees of freedom as text: '3, 76' or '3, 30.09'."""
    if not df:
        return None
    return ", ".join(str(int(d)) if float(d).is_integer() else f"{d:.2f}" for d in df)


def _row(ctx: ReportContext, test: OmnibusTest) -> dict:
    result, models, items, data_note = test.run(ctx)
    return {
        "Test": test.name, "Metric": test.metric, "Data": test.data, "Models": models, "Items": items,
        "N": result.n, "Statistic": result.statistic, "df": _df_text(result.df),
        "Effect Size": result.effect if test.effect_measure else None, "Effect Measure": test.effect_measure,
        "p-value": result.p_value, "Significant": None if not result.ok else ("yes" if result.significant else "no"),
        "Notes": join_notes([("", result.note), ("", data_note)]),
    }


def omnibus_table(ctx: ReportContext) -> pd.DataFrame:
    """Every blocked omnibus test."""
    return pd.DataFrame([_row(ctx, t) for t in OMNIBUS_TESTS.values()], columns=OMNIBUS_COLUMNS)


def appendix_table(ctx: ReportContext) -> pd.DataFrame:
    """The unblocked tests of earlier reports, kept for comparison only."""
    return pd.DataFrame([_row(ctx, t) for t in APPENDIX_TESTS.values()], columns=OMNIBUS_COLUMNS)


POSTHOC_COLUMNS = ["Model A", "Model B", "Shared Items", "Mean Diff (A−B)", "Diff CI Low", "Diff CI High",
                   "t", "p (paired t)", "Holm p", "Significant (Holm)", "Notes"]


def posthoc_table(ctx: ReportContext, column: str = "Mean Sentiment") -> pd.DataFrame:
    """Every pair of models: paired t on per-item values over shared items, Holm over all pairs."""
    matrix = ctx.metric_matrix(column)
    k = matrix.shape[1]
    if k < 2:
        return pd.DataFrame([{"Notes": "needs 2+ models"}], columns=POSTHOC_COLUMNS)
    left, right = np.triu_indices(k, 1)
    tests = stats.paired_t_columns(matrix.to_numpy(float), left, right)
    adjusted = np.array([np.nan if p is None else p
                         for p in stats.holm([None if np.isnan(p) else float(p) for p in tests.p])], dtype=float)
    names = np.asarray(matrix.columns, dtype=object)
    return pd.DataFrame({
        "Model A": names[left], "Model B": names[right], "Shared Items": tests.n,
        "Mean Diff (A−B)": tests.diff, "Diff CI Low": tests.low, "Diff CI High": tests.high, "t": tests.t,
        "p (paired t)": tests.p, "Holm p": adjusted,
        "Significant (Holm)": np.where(np.isnan(adjusted), None, np.where(adjusted < stats.ALPHA, "yes", "no")),
        "Notes": tests.reasons,
    }, columns=POSTHOC_COLUMNS)
