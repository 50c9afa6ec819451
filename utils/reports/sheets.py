"""The sheets of the metrics workbook and of the comparison workbook, registered by name.

Each function turns a :class:`~utils.comparison.ReportContext` into a
:class:`~utils.workbook.SheetTable`; the formatting hints come from the metric registry.
"""

from __future__ import annotations

import pandas as pd

from utils.reports import accuracy_sheets as accuracy_report
from utils.reports import comparison
from utils.reports import omnibus
from utils.reports.comparison import ReportContext
from utils.reports.methods import METHOD_COLUMNS, method_rows
from utils.reports.metrics import ARTICLE_COLUMNS, MEAN_SENTIMENT, METRICS, model_summary
from utils.reports.workbook import ColourScale, SheetTable, register_sheet

TWO = "0.00"
THREE = "0.000"
COUNT = "0"
PERCENT = "0.0%"
LOWER_IS_BETTER = ColourScale("63BE7B", "F8696B", "FFEB84")
HIGHER_IS_BETTER = ColourScale("F8696B", "63BE7B", "FFEB84")
DIVERGING = ColourScale.for_metric(MEAN_SENTIMENT)


def _metric_formats(columns: list[str], number_format: str = TWO) -> dict[str, str]:
    """``number_format`` for every metric column (and its CI columns) present in ``columns``."""
    return {c: number_format for c in columns
            if any(c == m.column or c.startswith(f"{m.column} CI") for m in METRICS.values())}


def _metric_scales(columns: list[str]) -> dict[str, ColourScale]:
    """A colour scale for every metric column present in ``columns``."""
    return {m.column: ColourScale.for_metric(m) for m in METRICS.values() if m.column in columns}


# --- metrics workbook (generate_model_metrics.py) ----------------------------------------


@register_sheet("metrics", "Summary", order=10)
def metrics_summary_sheet(ctx: ReportContext) -> SheetTable:
    """Per model: metrics averaged over articles."""
    frame = accuracy_report.with_summary_columns(model_summary(ctx.articles), ctx)
    formats = {**_metric_formats(list(frame.columns)), "Tokens/s": TWO,
               "Articles": COUNT, "Answers": COUNT, "Valid Answers": COUNT}
    if "Accuracy" in frame.columns:
        formats.update({"Accuracy": THREE, "Macro-F1": THREE, "Labelled Items": COUNT})
    scales = {**_metric_scales(list(frame.columns)),
              **{c: HIGHER_IS_BETTER for c in ("Accuracy", "Macro-F1") if c in frame.columns}}
    return SheetTable("Summary", frame, formats=formats, scales=scales)


@register_sheet("metrics", "Per Article", order=20)
def metrics_article_sheet(ctx: ReportContext) -> SheetTable:
    """Per (model, article): the CSV's columns at 2 decimals."""
    frame = ctx.articles[ARTICLE_COLUMNS]
    extra = {c: TWO for c in ("Sentiment Std", "Min Sentiment", "Max Sentiment", "Tokens/s",
                              "Mean Completion Tokens")}
    formats = {**_metric_formats(ARTICLE_COLUMNS), **extra, "Answers": COUNT, "Valid Answers": COUNT}
    return SheetTable("Per Article", frame, formats=formats, scales=_metric_scales(ARTICLE_COLUMNS),
                      wrap_columns=["Notes"], freeze="C2")


# --- comparison workbook (generate_model_comparison_report.py) ---------------------------


@register_sheet("comparison", "Summary", order=10)
def summary_sheet(ctx: ReportContext) -> SheetTable:
    """Per model: each metric over articles with its 95% bootstrap CI."""
    frame = comparison.summary_table(ctx)
    columns = list(frame.columns)
    formats = {**_metric_formats(columns), "Articles": COUNT, "Iterations": COUNT, "Answers": COUNT}
    return SheetTable("Summary", frame, formats=formats, scales=_metric_scales(columns))


@register_sheet("comparison", "Consistency", order=20)
def consistency_sheet(ctx: ReportContext) -> SheetTable:
    """Per model: ICC(2,1) and label flip rate."""
    frame = comparison.consistency_table(ctx)
    formats = {"ICC(2,1)": THREE, "ICC CI Low": THREE, "ICC CI High": THREE, "Label Flip Rate": PERCENT,
               "Mean Within-Article SD": THREE, "Mean Sentiment Variance": THREE}
    formats.update({c: COUNT for c in ("Articles", "Iterations", "ICC Articles", "ICC Iterations",
                                        "Articles Flipped", "Articles Compared")})
    scales = {"ICC(2,1)": HIGHER_IS_BETTER, "Label Flip Rate": LOWER_IS_BETTER,
              "Mean Within-Article SD": LOWER_IS_BETTER, "Mean Sentiment Variance": LOWER_IS_BETTER}
    return SheetTable("Consistency", frame, formats=formats, scales=scales)


@register_sheet("comparison", "ANOVA", order=30)
def anova_sheet(ctx: ReportContext) -> SheetTable:
    """Omnibus tests over all models, then Tukey HSD pairs."""
    frame = omnibus.anova_table(ctx)
    formats = {c: THREE for c in ("Statistic", "Effect Size", "Mean Diff", "CI Low", "CI High")}
    formats.update({"Models": COUNT, "N": COUNT})
    return SheetTable("ANOVA", frame, formats=formats, p_columns=["p-value"],
                      wrap_columns=["Notes", "Data"], align_top=True)


@register_sheet("comparison", "Pairwise", order=40)
def pairwise_sheet(ctx: ReportContext) -> SheetTable:
    """Per configured pair and metric: paired tests with Holm-adjusted p-values."""
    frame = comparison.pairwise_table(ctx)
    p_columns = [c for c in frame.columns if c.startswith(("p (", "Holm p"))]
    formats = {c: THREE for c in ("Mean A", "Mean B", "Mean Diff (A−B)", "Diff CI Low", "Diff CI High",
                                  "t (paired)", "t (Welch, raw)")}
    formats.update({"Cohen's dz": TWO, "Wilcoxon W": "0.0", "df (paired)": COUNT, "df (Welch)": "0.0",
                    "Shared Articles": COUNT})
    return SheetTable("Pairwise", frame, formats=formats, p_columns=p_columns, freeze="E2")


@register_sheet("comparison", "Per Article", order=50)
def per_article_sheet(ctx: ReportContext) -> SheetTable:
    """Per pair and article: both models side by side."""
    frame = comparison.per_article_table(ctx)
    numeric = [c for c in frame.columns if c.endswith((" A", " B", "(A−B)"))]
    formats = {c: TWO for c in numeric}
    scales = {c: DIVERGING for c in ("Mean Sentiment A", "Mean Sentiment B")}
    scales["Sentiment Diff (A−B)"] = ColourScale("F8696B", "5A8AC6", "FFFFFF", -1.0, 0.0, 1.0)
    scales.update({c: LOWER_IS_BETTER for c in ("Variance A", "Variance B")})
    return SheetTable("Per Article", frame, formats=formats, scales=scales, freeze="F2")


@register_sheet("comparison", "Method", order=100)
def method_sheet(ctx: ReportContext) -> SheetTable:
    """One line per statistic: the data it uses and its null hypothesis."""
    frame = pd.DataFrame(method_rows(ctx), columns=METHOD_COLUMNS)
    return SheetTable("Method", frame, wrap_columns=["Statistic", "Data Used", "Null Hypothesis / Definition"],
                      freeze="C2", align_top=True)

