"""Ground truth in the reports: the Accuracy, Confusion, Calibration and Significance sheets,
and the accuracy columns of the metrics summary and CSV.

The numbers come from :mod:`utils.labelled.accuracy` (rows of values); this module turns
them into cells ("n/a" with the reasons in a notes column) and sheets, the Accuracy sheet's
columns, formats and colour scales coming from the metric registry
(:data:`utils.reports.metrics.LABEL_METRIC_LIST`). Everything here applies only when the
results carry gold labels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from utils.labelled import accuracy
from utils.na import NA_TEXT, NotAvailable
from utils.reports.context import ReportContext
from utils.reports.excel import SheetTable
from utils.reports.metrics import ITEM, LABEL_METRIC_LIST, LABEL_METRICS, MODEL, SUBJECT
from utils.reports.sheet_style import COUNT, HIGHER_IS_BETTER, LOWER_IS_BETTER, THREE

SUMMARY_COLUMNS = ["Accuracy", "Macro-F1", "Labelled Items"]
ARTICLE_COLUMNS = ["Gold Label", "Accuracy"]

_WORDS = {"f1": "F1", "mcc": "MCC", "ece": "ECE", "mae": "MAE", "ci": "CI", "df": "df", "a": "A", "b": "B",
          "macro-f1": "Macro-F1", "weighted-f1": "Weighted-F1", "fleiss": "Fleiss'"}
_RENAMES = {"subject": "Dataset", "p_value": "p-value", "p_holm": "Holm p"}
_TEXT_COLUMNS = {"model", "subject", "gold", "test", "model_a", "model_b", "notes", "gold_labels"}
# Counts outside the metric registry (bins, tables of counts, the tests' settings).
_COUNT_COLUMNS = {"bin", "total", "a_right_b_wrong", "a_wrong_b_right", "resamples", "seed", "df"}

COLUMNS = {
    "Accuracy": ["model", "subject", *[m.key for m in LABEL_METRIC_LIST], "notes"],
    "Confusion": ["model", "subject", "gold", *[f"pred_{p}" for p in accuracy.PREDICTED], "total"],
    "Calibration": ["model", "subject", *accuracy.BIN_COLUMNS],
    "Significance": [
        "subject", "test", "model_a", "model_b", "items", "statistic", "df", "p_value", "p_holm",
        "a_right_b_wrong", "a_wrong_b_right", *accuracy.BOOTSTRAP_COLUMNS, "resamples", "seed", "notes",
    ],
}
NO_LABELS_NOTE = "no answers with a gold label in these results"


# --- cells --------------------------------------------------------------------------------


def cells(values: accuracy.Row) -> dict[str, Any]:
    """A row of values as cells: NotAvailable (and any stray NaN) as 'n/a', the reasons in 'notes'
    after the row's own note."""
    reasons: dict[str, list[str]] = {}
    row: dict[str, Any] = {}
    for name, value in values.items():
        if name == "notes":
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = NotAvailable("the computation gave no finite number")
        if isinstance(value, NotAvailable):
            reasons.setdefault(value.reason, []).append(name)
            value = NA_TEXT
        row[name] = value.item() if isinstance(value, np.generic) else value
    notes = [values["notes"]] if values.get("notes") else []
    notes += [f"{', '.join(names)}: {reason}" for reason, names in reasons.items()]
    row["notes"] = "; ".join(notes)
    return row


def table_frame(name: str, rows: list[accuracy.Row]) -> pd.DataFrame:
    """The rows of one accuracy table as the sheet's DataFrame: all-number columns numeric, the
    others objects with None for 'not applicable'; an empty Accuracy table says why in a row."""
    columns = COLUMNS[name]
    shown = [cells(row) for row in rows]
    if not shown and name == "Accuracy":
        shown = [{"model": NA_TEXT, "notes": NO_LABELS_NOTE}]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in shown], columns=columns, dtype=object)
    for column in columns:
        values = frame[column].tolist()
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            frame[column] = pd.to_numeric(frame[column])
    return frame


def accuracy_frames(answers: pd.DataFrame, pairs: Iterable[Sequence[str]] | None, *, resamples: int,
                    seed: int) -> dict[str, pd.DataFrame]:
    """The Accuracy, Confusion, Calibration and Significance sheets' frames of prepared answers
    (:func:`utils.labelled.accuracy.prepare_answers`); ``pairs``: result-folder names, None: every pair."""
    tables = accuracy.accuracy_tables(answers, pairs, resamples=resamples, seed=seed)
    return {name: table_frame(name, rows) for name, rows in tables.items()}


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
        metric = LABEL_METRICS.get(column)
        if metric is not None:
            formats[column_title(column)] = metric.number_format
            if metric.higher_is_better is not None:
                scales[column_title(column)] = HIGHER_IS_BETTER if metric.higher_is_better else LOWER_IS_BETTER
        else:
            formats[column_title(column)] = COUNT if column in _COUNT_COLUMNS or column.startswith("pred_") else THREE
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


