"""Ground truth in the reports: the Accuracy, Confusion, Calibration and Significance sheets,
and the accuracy columns of the metrics summary and CSV.

The numbers come from :mod:`utils.labelled.accuracy`; this module turns them into sheets.
Everything here applies only when the results carry gold labels.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from utils.labelled import accuracy
from utils.na import NotAvailable
from utils.reports.context import ReportContext
from utils.reports.excel import SheetTable
from utils.reports.metrics import ITEM, MODEL, SUBJECT
from utils.reports.sheet_style import COUNT, HIGHER_IS_BETTER, LOWER_IS_BETTER, THREE

SUMMARY_COLUMNS = ["Accuracy", "Macro-F1", "Labelled Items"]
ARTICLE_COLUMNS = ["Gold Label", "Accuracy"]

_WORDS = {"f1": "F1", "mcc": "MCC", "ece": "ECE", "mae": "MAE", "ci": "CI", "df": "df", "a": "A", "b": "B",
          "macro-f1": "Macro-F1", "weighted-f1": "Weighted-F1", "fleiss": "Fleiss'"}
_RENAMES = {"subject": "Dataset", "p_value": "p-value", "p_holm": "Holm p"}
_TEXT_COLUMNS = {"model", "subject", "gold", "test", "model_a", "model_b", "notes", "gold_labels"}
_COUNT_COLUMNS = {"items", "iterations", "answers", "invalid", "calibrated_answers", "bin", "total",
                  "a_right_b_wrong", "a_wrong_b_right", "resamples", "seed", "df"}
_HIGHER = {"accuracy", "accuracy_valid_only", "macro_f1", "weighted_f1", "mcc", "majority_vote_accuracy",
           "fleiss_kappa", "spearman"}
_LOWER = {"invalid_rate", "mae", "ece", "brier"}


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
                      p_columns=[column_title(c) for c in p_columns],
                      highlight_columns=[column_title(c) for c in p_columns if c == "p_holm"], freeze=freeze)


# --- metrics step: per-model and per-item columns ----------------------------------------


def summary_columns(ctx: ReportContext) -> pd.DataFrame | None:
    """Per model over all its labelled answers: Accuracy, Macro-F1, Labelled Items; None without labels."""
    answers = ctx.labelled_answers
    if answers.empty:
        return None
    rows = []
    for model, group in answers.groupby("model", sort=True):
        values = {"Accuracy": accuracy.accuracy(group["gold"], group["predicted"]),
                  "Macro-F1": accuracy.macro_f1(group["gold"], group["predicted"]),
                  "Labelled Items": group[["subject", "key"]].drop_duplicates().shape[0]}
        rows.append({MODEL: model, **{k: _number(v) for k, v in values.items()}})
    frame = pd.DataFrame(rows, columns=[MODEL, *SUMMARY_COLUMNS])
    if ctx.synthetic_label_subjects:
        synthetic = set(ctx.synthetic_label_subjects)
        subjects = answers.groupby("model")["subject"].agg(lambda s: set(map(str, s)))
        frame["Gold Labels"] = [("synthetic" if subjects[m] <= synthetic else "partly synthetic")
                                if subjects[m] & synthetic else "" for m in frame[MODEL]]
    return frame


def with_summary_columns(summary: pd.DataFrame, ctx: ReportContext) -> pd.DataFrame:
    """The per-model summary with the accuracy columns before Notes (unchanged without labels)."""
    extra = summary_columns(ctx)
    if extra is None:
        return summary
    merged = summary.merge(extra, on=MODEL, how="left")
    order = [c for c in summary.columns if c != "Notes"] + SUMMARY_COLUMNS + ["Gold Labels", "Notes"]
    return merged[[c for c in order if c in merged.columns]]


def with_article_columns(articles: pd.DataFrame, ctx: ReportContext) -> pd.DataFrame:
    """The per-item metrics with Gold Label and Accuracy (share of its answers right) appended."""
    answers = ctx.labelled_answers
    if answers.empty:
        return articles
    per_item = (answers.groupby(["model", "subject", "key"], sort=False)
                .agg(**{"Gold Label": ("gold", "first"), "Accuracy": ("correct", "mean")})
                .reset_index()
                .rename(columns={"model": MODEL, "subject": SUBJECT, "key": ITEM}))
    if ctx.synthetic_label_subjects:
        per_item["Gold Labels"] = per_item[SUBJECT].map(
            lambda s: "synthetic" if str(s) in ctx.synthetic_label_subjects else "")
    return articles.merge(per_item, on=[MODEL, SUBJECT, ITEM], how="left")


def _number(value: Any) -> float | None:
    """A metric value as a float, None where it is not available."""
    return None if isinstance(value, NotAvailable) else float(value)


