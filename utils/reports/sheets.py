"""The sheets of the metrics workbook and of the comparison workbook, listed in order.

Each builder turns a :class:`~utils.reports.context.ReportContext` into a
:class:`~utils.reports.excel.SheetTable` (or None when the sheet does not apply).
:data:`METRICS_SHEETS` and :data:`COMPARISON_SHEETS` are the registries: adding a sheet
is one function here and one line in a list.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from utils import stats
from utils.reports import accuracy_sheets, leaderboard, omnibus, pairwise, summary
from utils.reports.context import ReportContext
from utils.reports.excel import SheetTable
from utils.reports.method_notes import METHOD_COLUMNS, method_rows
from utils.reports.metrics import ARTICLE_COLUMNS, model_summary
from utils.reports.registry import by_name
from utils.reports.sheet_style import (
    COUNT,
    DIVERGING,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    PERCENT,
    THREE,
    TWO,
    metric_formats,
    metric_scales,
)

SheetBuilder = Callable[[ReportContext], "SheetTable | None"]


# --- metrics workbook (generate_model_metrics.py) ----------------------------------------


def metrics_summary_sheet(ctx: ReportContext) -> SheetTable:
    """Per model: metrics averaged over items."""
    frame = accuracy_sheets.with_summary_columns(model_summary(ctx.articles), ctx)
    formats = {**metric_formats(list(frame.columns)), "Articles": COUNT, "Answers": COUNT, "Valid Answers": COUNT}
    if "Accuracy" in frame.columns:
        formats.update({"Accuracy": THREE, "Macro-F1": THREE, "Labelled Items": COUNT})
    scales = {**metric_scales(list(frame.columns)),
              **{c: HIGHER_IS_BETTER for c in ("Accuracy", "Macro-F1") if c in frame.columns}}
    return SheetTable("Summary", frame, formats=formats, scales=scales)


def metrics_article_sheet(ctx: ReportContext) -> SheetTable:
    """Per (model, item): the CSV's columns at 2 decimals."""
    frame = ctx.articles[ARTICLE_COLUMNS]
    formats = {**metric_formats(ARTICLE_COLUMNS), "Answers": COUNT, "Valid Answers": COUNT}
    return SheetTable("Per Article", frame, formats=formats, scales=metric_scales(ARTICLE_COLUMNS),
                      wrap_columns=["Notes"], freeze="C2")


# --- comparison workbook (generate_model_comparison_report.py) ---------------------------


def leaderboard_sheet(ctx: ReportContext) -> SheetTable:
    """Which model is best per criterion, and which are tied with it."""
    board = leaderboard.leaderboard(ctx)
    frame = board.table
    formats = {c: THREE for c in ("Accuracy", "Macro-F1", "Valid JSON Rate", "Label Disagreement", "ICC(2,1)",
                                   "Mean Sentiment")}
    formats.update({c: TWO for c in ("Latency All (s)", "Latency Invalid (s)", "Inference Rate (s)", "Tokens/s")})
    formats.update({c: COUNT for c in frame.columns if c.endswith("Items") or c == "Rank"})
    scales = {"Accuracy": HIGHER_IS_BETTER, "Macro-F1": HIGHER_IS_BETTER, "Valid JSON Rate": HIGHER_IS_BETTER,
              "Label Disagreement": LOWER_IS_BETTER, "ICC(2,1)": HIGHER_IS_BETTER,
              "Latency All (s)": LOWER_IS_BETTER, "Tokens/s": HIGHER_IS_BETTER, "Mean Sentiment": DIVERGING}
    return SheetTable("Leaderboard", frame, formats=formats, scales={k: v for k, v in scales.items() if k in frame},
                      freeze="D2", head=board.head, foot=board.foot)


def summary_sheet(ctx: ReportContext) -> SheetTable:
    """Per model, in Leaderboard order: each metric over items with its 95% bootstrap CI and item count."""
    frame = summary.summary_frame(ctx)
    columns = list(frame.columns)
    formats = {**metric_formats(columns), "Rank": COUNT, "Articles": COUNT, "Iterations": COUNT, "Answers": COUNT,
               "Mean Sentiment (item-adjusted)": TWO, "Latency All (s)": TWO, "Latency Invalid (s)": TWO}
    scales = {**metric_scales(columns), "Mean Sentiment (item-adjusted)": DIVERGING}
    return SheetTable("Summary", frame, formats=formats, scales=scales, freeze="C2")


def consistency_sheet(ctx: ReportContext) -> SheetTable:
    """Per model: ICC(2,1), label disagreement and flip rate."""
    frame = summary.consistency_table(ctx)
    formats = {"ICC(2,1)": THREE, "ICC CI Low": THREE, "ICC CI High": THREE, "Label Flip Rate": PERCENT,
               "Label Disagreement": PERCENT, "Mean Within-Article SD": THREE, "Mean Sentiment Variance": THREE}
    formats.update({c: COUNT for c in ("Articles", "Iterations", "ICC Articles", "ICC Iterations",
                                        "Articles Flipped", "Articles Compared", "Disagreement Items")})
    scales = {"ICC(2,1)": HIGHER_IS_BETTER, "Label Flip Rate": LOWER_IS_BETTER, "Label Disagreement": LOWER_IS_BETTER,
              "Mean Within-Article SD": LOWER_IS_BETTER, "Mean Sentiment Variance": LOWER_IS_BETTER}
    return SheetTable("Consistency", frame, formats=formats, scales=scales)


def _test_sheet(name: str, frame: pd.DataFrame, head: list[str] | None = None) -> SheetTable:
    formats = {c: THREE for c in ("Statistic", "Effect Size")}
    formats.update({"Models": COUNT, "Items": COUNT, "N": COUNT})
    return SheetTable(name, frame, formats=formats, p_columns=["p-value"], highlight_columns=["p-value"],
                      wrap_columns=["Notes", "Data", "Reading"], align_top=True, head=head or [])


def omnibus_sheet(ctx: ReportContext) -> SheetTable:
    """Do the models differ at all? One primary test per question, stated above the table; then the sensitivity tests."""
    frame, sentences = omnibus.omnibus_table(ctx)
    floor = (f"p-values below {stats.P_FLOOR:g} are shown as < {stats.P_FLOOR:g} (a permutation p never below "
             f"1/(shuffles + 1) = {1 / (ctx.resamples + 1):.2g}): with {len(ctx.item_index)} items, tails further out "
             "rest on the distributional assumptions, not on the data. Rows marked 'sensitivity' check the "
             "primary test under other assumptions; 'Reading' says when and why they can disagree.")
    return _test_sheet("Omnibus", frame, [*sentences, floor])


def posthoc_sheet(ctx: ReportContext) -> SheetTable:
    """Every pair of models, paired on items, Holm over all pairs."""
    frame = omnibus.posthoc_table(ctx)
    formats = {c: THREE for c in ("Mean Diff (A−B)", "Diff CI Low", "Diff CI High", "t")}
    formats["Shared Items"] = COUNT
    return SheetTable("Post-hoc", frame, formats=formats, p_columns=["p (paired t)"], highlight_columns=["Holm p"],
                      freeze="C2")


def pairwise_sheet(ctx: ReportContext) -> SheetTable:
    """Per pair and metric: paired tests with Holm-adjusted p-values."""
    frame = pairwise.pairwise_table(ctx)
    p_columns = [c for c in frame.columns if c == "p" or c.startswith("p (")]
    formats = {c: THREE for c in ("Mean A", "Mean B", "Mean Diff (A−B)", "Diff CI Low", "Diff CI High", "Statistic")}
    formats.update({"Cohen's dz": TWO, "Wilcoxon W": "0.0", "df": COUNT, "Shared Articles": COUNT})
    return SheetTable("Pairwise", frame, formats=formats, p_columns=p_columns,
                      highlight_columns=[c for c in frame.columns if c.startswith("Holm p")], freeze="E2")


def per_article_sheet(ctx: ReportContext) -> SheetTable:
    """Per pair and item: both models side by side."""
    frame = pairwise.per_article_table(ctx)
    numeric = [c for c in frame.columns if c.endswith((" A", " B", "(A−B)"))]
    scales = {c: DIVERGING for c in ("Mean Sentiment A", "Mean Sentiment B", "Sentiment Diff (A−B)")}
    scales.update({c: LOWER_IS_BETTER for c in ("Variance A", "Variance B")})
    return SheetTable("Per Article", frame, formats={c: TWO for c in numeric}, scales=scales, freeze="F2")


def appendix_sheet(ctx: ReportContext) -> SheetTable:
    """Unblocked tests of earlier reports (models as independent groups), for comparison only."""
    return _test_sheet("Appendix (unblocked)", omnibus.appendix_table(ctx))


def _accuracy(name: str, freeze: str = "C2", p_columns: tuple[str, ...] = ()) -> SheetBuilder:
    def build(ctx: ReportContext) -> SheetTable | None:
        found = ctx.accuracy_tables
        if found is None:
            return None
        frame = ctx.mark_synthetic(accuracy_sheets.table_frame(name, found[name]))
        return accuracy_sheets.sheet_table(name, frame, p_columns, freeze)
    build.__doc__ = f"The {name} sheet (labelled results only)."
    return build


def method_sheet(ctx: ReportContext) -> SheetTable:
    """One line per statistic: the data it uses, its null hypothesis and correction."""
    frame = pd.DataFrame(method_rows(ctx.has_gold_labels), columns=METHOD_COLUMNS)
    return SheetTable("Method", frame, wrap_columns=["Statistic", "Data Used", "Null Hypothesis / Definition",
                                                     "Correction"], freeze="C2", align_top=True)


def sheet_list(entries: list[tuple[str, SheetBuilder]]) -> dict[str, SheetBuilder]:
    """Sheet builders by sheet name, in order; a name listed twice is an error."""
    return {name: build for name, build in by_name(entries, lambda e: e[0], "sheet").values()}


METRICS_SHEETS = sheet_list([
    ("Summary", metrics_summary_sheet), ("Per Article", metrics_article_sheet),
])
COMPARISON_SHEETS = sheet_list([
    ("Leaderboard", leaderboard_sheet), ("Summary", summary_sheet), ("Consistency", consistency_sheet),
    ("Omnibus", omnibus_sheet), ("Post-hoc", posthoc_sheet), ("Pairwise", pairwise_sheet),
    ("Per Article", per_article_sheet),
    ("Accuracy", _accuracy("Accuracy")), ("Confusion", _accuracy("Confusion", "D2")),
    ("Calibration", _accuracy("Calibration", "D2")),
    ("Significance", _accuracy("Significance", "E2", ("p_value", "p_holm"))),
    ("Appendix (unblocked)", appendix_sheet), ("Method", method_sheet),
])


def build_sheets(builders: dict[str, SheetBuilder], ctx: ReportContext) -> list[SheetTable]:
    """The sheets built from ``ctx``, in order, skipping those that return None."""
    return [table for build in builders.values() if (table := build(ctx)) is not None]

