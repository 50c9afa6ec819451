"""Ground truth in the reports: accuracy sheets, Method notes, figures and summary columns.

The numbers come from :mod:`utils.labelled.accuracy` and the figures from
:mod:`utils.reports.accuracy_plots`; this module only wires them into the three report steps.
Everything here applies only when the results carry gold labels (a labelled dataset
run); a news-only report is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from utils.labelled import accuracy
from utils.reports.accuracy_plots import accuracy_plots
from utils.reports.comparison import ReportContext
from utils.reports.heatmaps import register_heatmaps
from utils.reports.methods import MethodNote, register_method
from utils.reports.workbook import GREEN, RED, YELLOW, ColourScale, SheetTable, register_sheet

THREE = "0.000"
COUNT = "0"
HIGHER_IS_BETTER = ColourScale(RED, GREEN, YELLOW)
LOWER_IS_BETTER = ColourScale(GREEN, RED, YELLOW)
SUMMARY_COLUMNS = ["Accuracy", "Macro-F1", "Labelled Items"]
ARTICLE_COLUMNS = ["Gold Label", "Accuracy"]

_WORDS = {"f1": "F1", "mcc": "MCC", "ece": "ECE", "mae": "MAE", "ci": "CI", "df": "df", "a": "A", "b": "B",
          "macro-f1": "Macro-F1", "weighted-f1": "Weighted-F1", "fleiss": "Fleiss'"}
_RENAMES = {"subject": "Dataset", "p_value": "p-value", "p_holm": "Holm p"}
_TEXT_COLUMNS = {"model", "subject", "gold", "test", "model_a", "model_b", "notes"}
_COUNT_COLUMNS = {"items", "iterations", "answers", "invalid", "calibrated_answers", "bin", "total",
                  "a_right_b_wrong", "a_wrong_b_right", "resamples", "seed", "df"}
_HIGHER = {"accuracy", "accuracy_valid_only", "macro_f1", "weighted_f1", "mcc", "majority_vote_accuracy",
           "fleiss_kappa", "spearman"}
_LOWER = {"invalid_rate", "mae", "ece", "brier"}


@dataclass(frozen=True)
class _Settings:
    """The three Config values :func:`utils.accuracy.accuracy_sheets` reads."""

    neutral_band: float
    bootstrap_resamples: int
    seed: int


def has_gold_labels(ctx: ReportContext) -> bool:
    """True when at least one answer in the report carries a gold label."""
    frame = ctx.frame
    return "gold_label" in frame.columns and bool(frame["gold_label"].notna().any())


def labelled_answers(ctx: ReportContext) -> pd.DataFrame:
    """One row per labelled answer (``utils.accuracy.prepare_answers``), computed once per report."""
    key = "accuracy:answers"
    if key not in ctx.cache:
        ctx.cache[key] = accuracy.prepare_answers(ctx.frame, ctx.neutral_band)
    return ctx.cache[key]


def report_pairs(ctx: ReportContext) -> list[tuple[str, str]]:
    """The report's comparison pairs as folder names (unresolved ones as requested, to be noted)."""
    pairs = [(p.a, p.b) if p.ok else p.requested for p in ctx.pairs]
    return [(a, b) for a, b in pairs if a and b and a != b]


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame] | None:
    """The Accuracy, Confusion, Calibration and Significance tables; None without gold labels."""
    if not has_gold_labels(ctx):
        return None
    pairs = report_pairs(ctx)
    key = f"accuracy:sheets:{pairs!r}"
    if key not in ctx.cache:
        settings = _Settings(ctx.neutral_band, ctx.resamples, ctx.seed)
        ctx.cache[key] = accuracy.accuracy_sheets(ctx.frame, pairs, settings)  # type: ignore[arg-type]
    return ctx.cache[key]


# --- sheets -------------------------------------------------------------------------------


def column_title(name: str) -> str:
    """A sheet header for a snake_case column: 'accuracy_diff_ci_low' -> 'Accuracy Diff CI Low'."""
    if name in _RENAMES:
        return _RENAMES[name]
    if name.startswith("pred_"):
        return f"Predicted {name.removeprefix('pred_')}"
    words = name.replace("macro_f1", "macro-f1").replace("weighted_f1", "weighted-f1").split("_")
    return " ".join(_WORDS.get(word, word.capitalize()) for word in words)


def sheet_table(name: str, frame: pd.DataFrame, p_columns: tuple[str, ...] = (), freeze: str = "C2") -> SheetTable:
    """``frame`` as a formatted sheet: titled headers, counts as integers, rates at 3 decimals."""
    formats, scales = {}, {}
    for column in frame.columns:
        if column in _TEXT_COLUMNS or column in p_columns:
            continue
        formats[column_title(column)] = COUNT if column in _COUNT_COLUMNS or column.startswith(
            ("support_", "pred_")) else THREE
        if column in _HIGHER or column.startswith(("f1_", "precision_", "recall_")):
            scales[column_title(column)] = HIGHER_IS_BETTER
        elif column in _LOWER:
            scales[column_title(column)] = LOWER_IS_BETTER
    titled = frame.rename(columns=column_title)
    return SheetTable(name, titled, formats=formats, scales=scales,
                      p_columns=[column_title(c) for c in p_columns], freeze=freeze)


@register_sheet("comparison", "Accuracy", order=60)
def accuracy_sheet(ctx: ReportContext) -> SheetTable | None:
    """Per model and dataset: accuracy, F1, MCC, agreement, calibration; plus the majority baseline."""
    found = tables(ctx)
    return None if found is None else sheet_table("Accuracy", found["Accuracy"])


@register_sheet("comparison", "Confusion", order=61)
def confusion_sheet(ctx: ReportContext) -> SheetTable | None:
    """Per model and dataset: gold labels down, predicted labels (and invalid) across."""
    found = tables(ctx)
    return None if found is None else sheet_table("Confusion", found["Confusion"], freeze="D2")


@register_sheet("comparison", "Calibration", order=62)
def calibration_sheet(ctx: ReportContext) -> SheetTable | None:
    """Per model and dataset: the reliability-diagram bins of stated confidence."""
    found = tables(ctx)
    return None if found is None else sheet_table("Calibration", found["Calibration"], freeze="D2")


@register_sheet("comparison", "Significance", order=63)
def significance_sheet(ctx: ReportContext) -> SheetTable | None:
    """Cochran's Q over all models, then McNemar and paired bootstrap per pair."""
    found = tables(ctx)
    if found is None:
        return None
    return sheet_table("Significance", found["Significance"], p_columns=("p_value", "p_holm"), freeze="E2")


# --- metrics step: per-model and per-item columns ----------------------------------------


def summary_columns(ctx: ReportContext) -> pd.DataFrame | None:
    """Per model over all its labelled answers: Accuracy, Macro-F1, Labelled Items; None without labels."""
    answers = labelled_answers(ctx)
    if answers.empty:
        return None
    rows = []
    for model, group in answers.groupby("model", sort=True):
        values = {"Accuracy": accuracy.accuracy(group["gold"], group["predicted"]),
                  "Macro-F1": accuracy.macro_f1(group["gold"], group["predicted"]),
                  "Labelled Items": group[["subject", "key"]].drop_duplicates().shape[0]}
        rows.append({"Model Name": model, **{k: _number(v) for k, v in values.items()}})
    return pd.DataFrame(rows, columns=["Model Name", *SUMMARY_COLUMNS])


def with_summary_columns(summary: pd.DataFrame, ctx: ReportContext) -> pd.DataFrame:
    """The per-model summary with the accuracy columns before Notes (unchanged without labels)."""
    extra = summary_columns(ctx)
    if extra is None:
        return summary
    merged = summary.merge(extra, on="Model Name", how="left")
    order = [c for c in summary.columns if c != "Notes"] + SUMMARY_COLUMNS + ["Notes"]
    return merged[[c for c in order if c in merged.columns]]


def with_article_columns(articles: pd.DataFrame, ctx: ReportContext) -> pd.DataFrame:
    """The per-item metrics with Gold Label and Accuracy (share of its answers right) appended."""
    answers = labelled_answers(ctx)
    if answers.empty:
        return articles
    per_item = (answers.groupby(["model", "subject", "key"], sort=False)
                .agg(**{"Gold Label": ("gold", "first"), "Accuracy": ("correct", "mean")})
                .reset_index()
                .rename(columns={"model": "Model Name", "subject": "Ticker", "key": "Article Key"}))
    return articles.merge(per_item, on=["Model Name", "Ticker", "Article Key"], how="left")


def _number(value: Any) -> float | None:
    """A metric value as a float, None where it is not available."""
    return None if isinstance(value, accuracy.NotAvailable) else float(value)


# --- figures ------------------------------------------------------------------------------


@register_heatmaps("accuracy")
def accuracy_figures(ctx: ReportContext, folder: Path) -> list[Path]:
    """Per dataset: the per-class F1 heatmap and the reliability diagrams (none without labels)."""
    if not has_gold_labels(ctx):
        return []
    answers = labelled_answers(ctx)  # the figures need no significance tests: skip the bootstrap
    sheets = {"Accuracy": accuracy.accuracy_table(answers), "Calibration": accuracy.calibration_table(answers)}
    return accuracy_plots(sheets, folder)


# --- Method sheet -------------------------------------------------------------------------


def _labelled_note(sheet: str, statistic: str, data: str, hypothesis: str) -> MethodNote:
    """Register a Method line shown only in reports whose results carry gold labels."""
    return register_method(MethodNote(sheet, statistic, data, hypothesis, applies=has_gold_labels))


VOTES = ("Per item, the majority vote of the model's iterations (invalid answers vote; a tie is "
         "'neutral'); only items answered by every compared model.")

_labelled_note(
    "Accuracy", "Accuracy, Macro-F1, Weighted-F1, MCC, per-class precision/recall/F1",
    "Every answer of every iteration against the human label; a score maps to a label with the "
    "neutral band (|sentiment| < neutral_band is neutral); an invalid answer is always wrong.",
    "Definitions: accuracy = right / answers; macro-F1 = unweighted mean F1 over classes present; "
    "MCC = Gorodkin's multiclass R_K. Majority-class baseline: always the most frequent gold label.",
)
_labelled_note(
    "Accuracy", "MAE, Spearman",
    "Valid answers' sentiment against the numeric gold score (-1, 0, 1).",
    "MAE = mean |sentiment - gold|; Spearman's rho, H0: no monotonic association.",
)
_labelled_note(
    "Accuracy", "Majority Vote Accuracy, Fleiss' kappa",
    "Per item, the labels of the model's iterations (invalid a category); kappa uses items answered "
    "in every iteration.",
    "Kappa: agreement across iterations beyond chance (1 = identical labels every time, 0 = chance).",
)
_labelled_note(
    "Calibration", "ECE, Brier score, reliability diagram",
    "Valid answers with a stated confidence in [0, 1], against correctness (0/1); 10 equal-width bins.",
    "ECE = answer-weighted mean |accuracy - mean confidence| over bins; Brier = mean (confidence - "
    "correct)^2. Perfect calibration: accuracy equals confidence in every bin.",
)
_labelled_note(
    "Significance", "Cochran's Q", "Items x models table of majority-vote correctness. " + VOTES,
    "H0: every model has the same probability of being right.",
)
_labelled_note(
    "Significance", "McNemar exact test", "Per configured pair, majority-vote correctness. " + VOTES,
    "H0: 'A right, B wrong' and 'A wrong, B right' are equally likely (two-sided binomial on the "
    "discordant items; statistic = the smaller discordant count).",
)
_labelled_note(
    "Significance", "Holm-adjusted p", "The McNemar p-values of one dataset's pairs.",
    "Holm's step-down correction: controls the family-wise error rate over the pairs.",
)
_labelled_note(
    "Significance", "Paired bootstrap 95% CI (accuracy and macro-F1 difference)",
    "Per pair, items resampled with replacement (config bootstrap_resamples, seeded with config "
    "seed). " + VOTES,
    "Percentile interval of A - B; an interval excluding 0 suggests a real difference.",
)
