"""Per (model, item) metrics and per-model summaries, computed from the long results table.

Each metric's definition is its ``description`` (the older tool's five are defined as it
defined them, plus n/a for degenerate cases); docs/reports.md lists both registries, generated
from them by tools/gen_docs.py.

Every metric is declared once in :data:`METRIC_LIST`, which drives the computation, the
CSV columns, the workbooks and the heatmaps; the metrics against gold labels (computed by
:mod:`utils.labelled.accuracy`) are declared in :data:`LABEL_METRIC_LIST`, which gives the
Accuracy sheet its columns, formats and colour scales. Nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.labels import LABELS
from utils.reports.model_labels import ModelLabel
from utils.reports.registry import by_name

# The key columns of the per-item table (names kept from the older tool's CSV).
MODEL = "Model Name"
SUBJECT = "Ticker"  # the article ticker, or the labelled dataset's name
ITEM = "Article Key"
ITEM_INDEX = [SUBJECT, ITEM]


@dataclass(frozen=True)
class Metric:
    """One per-item metric: how it is computed from the answers, its column and how it is shown.

    ``source`` is a per-answer value (see :func:`answer_values`) and ``how`` the aggregation
    over an item's answers ('mean', 'var', 'std', 'min', 'max'); ``min_values`` answers with
    a value are needed, else the cell is n/a.
    """

    key: str
    column: str
    source: str
    how: str = "mean"
    higher_is_better: bool | None = None
    cmap: str = "viridis"
    vmin: float | None = None
    vmax: float | None = None
    center: float | None = None
    number_format: str = "0.00"
    min_values: int = 1
    required: bool = False  # one of the older tool's five CSV metrics (in the Summary and heatmaps)
    pairwise: bool = False  # compared model against model in the Pairwise sheet
    description: str = ""


METRIC_LIST = [
    Metric("inference_rate", "Inference Rate (s)", "time_valid", higher_is_better=False, cmap="YlOrRd",
           required=True, pairwise=True,
           description="mean time_taken of the valid answers, s (the older tool's definition)"),
    Metric("valid_json_rate", "Valid JSON Rate", "valid", higher_is_better=True, cmap="RdYlGn", vmin=0, vmax=1,
           required=True, pairwise=True,
           description="valid answers / answers"),
    Metric("sentiment_variance", "Sentiment Variance", "sentiment", "var", higher_is_better=False, cmap="YlOrRd",
           min_values=2, required=True, pairwise=True,
           description="population variance (ddof 0) of the valid sentiments across iterations; n/a below 2 valid answers"),
    Metric("mean_sentiment", "Mean Sentiment", "sentiment", cmap="RdBu", vmin=-1, vmax=1, center=0.0,
           required=True, pairwise=True,
           description="mean sentiment of the valid answers (a tendency, neither end is better)"),
    Metric("mean_confidence", "Mean Confidence", "confidence", higher_is_better=True, cmap="Blues", vmin=0, vmax=1,
           required=True,
           description="mean confidence of the valid answers"),
    Metric("sentiment_std", "Sentiment Std", "sentiment", "std", min_values=2,
           description="standard deviation (ddof 0) of the valid sentiments across iterations; n/a below 2"),
    Metric("min_sentiment", "Min Sentiment", "sentiment", "min",
           description="lowest valid sentiment across iterations"),
    Metric("max_sentiment", "Max Sentiment", "sentiment", "max",
           description="highest valid sentiment across iterations"),
    Metric("tokens_per_second", "Tokens/s", "tokens_per_second", higher_is_better=True,
           description="per valid answer, completion tokens / time_taken, averaged"),
    Metric("mean_completion_tokens", "Mean Completion Tokens", "completion_tokens",
           description="mean completion tokens of the valid answers"),
    Metric("latency_all", "Latency All (s)", "time_all", higher_is_better=False, cmap="YlOrRd",
           description="mean time_taken of all answers, s"),
    Metric("latency_invalid", "Latency Invalid (s)", "time_invalid", higher_is_better=False,
           description="mean time_taken of the invalid answers, s"),
    Metric("bare_json_rate", "Bare JSON Rate", "bare_json", higher_is_better=True,
           description="share of the valid answers (that record it) that are a bare JSON object, no text around it"),
]
METRICS: dict[str, Metric] = by_name(METRIC_LIST, lambda m: m.key, "metric")
REQUIRED_METRICS = [m for m in METRIC_LIST if m.required]
BY_COLUMN = {m.column: m for m in METRIC_LIST}


@dataclass(frozen=True)
class LabelMetric:
    """One per-(model, subject) figure against the gold labels: its key in the rows of
    :func:`utils.labelled.accuracy.accuracy_table`, what it is, and how the sheet shows it.

    ``higher_is_better`` gives the colour scale (None: none); ``number_format`` is an Excel format.
    """

    key: str
    description: str
    higher_is_better: bool | None = None
    number_format: str = "0.000"


_COUNT = "0"


def _per_class(label: str) -> list[LabelMetric]:
    """Precision, recall, F1 and support of one gold class."""
    return [
        LabelMetric(f"precision_{label}", f"share of '{label}' answers whose gold label is '{label}'", True),
        LabelMetric(f"recall_{label}", f"share of gold '{label}' answers answered '{label}'", True),
        LabelMetric(f"f1_{label}", f"harmonic mean of the precision and recall of '{label}'", True),
        LabelMetric(f"support_{label}", f"answers whose gold label is '{label}'", None, _COUNT),
    ]


# In the Accuracy sheet's column order (between model, subject and notes).
LABEL_METRIC_LIST = [
    LabelMetric("items", "labelled items answered", None, _COUNT),
    LabelMetric("iterations", "iterations with answers", None, _COUNT),
    LabelMetric("answers", "answers (items x iterations)", None, _COUNT),
    LabelMetric("invalid", "answers that are not valid JSON in the contract", None, _COUNT),
    LabelMetric("invalid_rate", "invalid answers / answers", False),
    LabelMetric("accuracy", "share of answers whose label is the gold label (invalid answers are wrong)", True),
    LabelMetric("accuracy_valid_only", "accuracy over the valid answers only", True),
    LabelMetric("macro_f1", "unweighted mean F1 over the classes in gold or answers", True),
    LabelMetric("weighted_f1", "mean F1 over the classes, weighted by gold support", True),
    LabelMetric("mcc", "multiclass Matthews correlation (Gorodkin's R_K)", True),
    LabelMetric("majority_vote_accuracy", "accuracy of the majority vote over the iterations, per item", True),
    LabelMetric("fleiss_kappa", "Fleiss' kappa of the labels across iterations", True),
    LabelMetric("mae", "mean |sentiment - gold score| over the valid answers", False),
    LabelMetric("spearman", "Spearman correlation of sentiment with the gold score", True),
    LabelMetric("ece", "expected calibration error of the confidence (10 equal-width bins)", False),
    LabelMetric("brier", "mean squared difference of confidence and correctness", False),
    LabelMetric("calibrated_answers", "valid answers with a confidence in [0, 1]", None, _COUNT),
    *[metric for label in LABELS for metric in _per_class(label)],
]
LABEL_METRICS: dict[str, LabelMetric] = by_name(LABEL_METRIC_LIST, lambda m: m.key, "label metric")

CSV_COLUMNS = [MODEL, ITEM] + [m.column for m in REQUIRED_METRICS]
LABEL_COLUMNS = {"Family": "family", "Quantization": "quantization", "Prompt Mode": "prompt_mode",
                 "Backend": "backend"}
EXTRA_COLUMNS = [
    SUBJECT, "Answers", "Valid Answers", *[m.column for m in METRIC_LIST if not m.required],
    "Finish Reasons", *LABEL_COLUMNS, "Title", "Notes",
]
ARTICLE_COLUMNS = CSV_COLUMNS + EXTRA_COLUMNS
SUMMARY_COLUMNS = [
    MODEL, "Family", "Quantization", "Prompt Mode", "Articles", "Answers", "Valid Answers",
    *[m.column for m in REQUIRED_METRICS], "Tokens/s", "Latency All (s)", "Notes",
]


def answer_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Per answer, every metric ``source``: valid-only values NaN on invalid answers."""
    valid = frame["valid"].astype(bool)

    def number(column: str) -> pd.Series:
        if column not in frame:
            return pd.Series(np.nan, index=frame.index)
        return pd.to_numeric(frame[column], errors="coerce").astype(float)

    seconds = number("time_taken")
    tokens = number("completion_tokens").where(valid)
    bare = frame["bare_json"] if "bare_json" in frame else pd.Series(None, index=frame.index, dtype=object)
    return pd.DataFrame({
        "valid": valid.astype(float),
        "sentiment": number("sentiment").where(valid),
        "confidence": number("confidence").where(valid),
        "time_valid": seconds.where(valid),
        "time_all": seconds,
        "time_invalid": seconds.where(~valid),
        "completion_tokens": tokens,
        "tokens_per_second": tokens / seconds.where(valid & (seconds > 0)),
        "bare_json": bare.where(valid & bare.notna()).map(lambda v: np.nan if pd.isna(v) else float(bool(v)))
        .astype(float),
    }, index=frame.index)


def article_metrics(frame: pd.DataFrame, labels: dict[str, ModelLabel] | None = None) -> pd.DataFrame:
    """One row per (model, subject, item) with ARTICLE_COLUMNS, sorted by model then item."""
    if frame.empty:
        return pd.DataFrame(columns=ARTICLE_COLUMNS)
    values = answer_values(frame)
    keys = [frame["model"].rename(MODEL), frame["subject"].rename(SUBJECT), frame["key"].rename(ITEM)]
    grouped = values.groupby(keys, sort=True, dropna=False)
    out = pd.DataFrame({"Answers": grouped.size(), "Valid Answers": grouped["valid"].sum().astype(int)})
    for metric in METRIC_LIST:
        column = grouped[metric.source]
        kwargs = {"ddof": 0} if metric.how in ("var", "std") else {}
        result = getattr(column, metric.how)(**kwargs)
        if metric.min_values > 1:
            result = result.where(column.count() >= metric.min_values)
        out[metric.column] = result.astype(float)
    out["Finish Reasons"] = _finish_reasons(frame, keys).reindex(out.index).fillna("")
    out["Title"] = _titles(frame, keys).reindex(out.index).fillna("")
    out = out.reset_index()
    for column, attr in LABEL_COLUMNS.items():
        names = {m: getattr((labels or {}).get(m) or ModelLabel(m), attr) or "" for m in out[MODEL].unique()}
        out[column] = out[MODEL].map(names)
    out["Notes"] = _article_notes(out)
    return out[ARTICLE_COLUMNS].reset_index(drop=True)


def _finish_reasons(frame: pd.DataFrame, keys: list[pd.Series]) -> pd.Series:
    """Per item, 'reason count' pairs of the recorded finish reasons, alphabetical ('length 1, stop 3')."""
    if "finish_reason" not in frame or not frame["finish_reason"].notna().any():
        return pd.Series(dtype=object)
    counts = frame["finish_reason"].groupby(keys).value_counts().sort_index()
    text = counts.index.get_level_values(-1).astype(str) + " " + counts.astype(str).to_numpy()
    return pd.Series(text, index=counts.index).groupby(level=[0, 1, 2]).agg(", ".join)


def _titles(frame: pd.DataFrame, keys: list[pd.Series]) -> pd.Series:
    """Per item, its first non-empty title, else its first URL."""
    parts = []
    for column in ("title", "url"):
        if column in frame:
            text = frame[column].where(frame[column].map(lambda v: isinstance(v, str) and bool(v.strip())))
            parts.append(text.groupby(keys).first())
    if not parts:
        return pd.Series(dtype=object)
    return parts[0].combine_first(parts[1]) if len(parts) > 1 else parts[0]


def _article_notes(out: pd.DataFrame) -> list[str]:
    """Why some metrics of each item row are n/a ('' when none are); vectorised."""
    none = out["Valid Answers"] == 0
    reasons = [
        (out["Valid Answers"] == 1, "1 valid answer: Sentiment Variance needs 2"),
        (out["Inference Rate (s)"].isna(), "no time_taken recorded: Inference Rate n/a"),
        (out["Mean Confidence"].isna(), "no confidence recorded: Mean Confidence n/a"),
        (out["Tokens/s"].isna(), "no token counts recorded: Tokens/s, Mean Completion Tokens n/a"),
    ]
    text = pd.Series("", index=out.index)
    for mask, reason in reasons:
        text = text.where(~mask, text.where(text == "", text + "; ") + reason)
    return text.where(~none, "no valid answers: metrics other than Valid JSON Rate are n/a").tolist()


def model_summary(articles: pd.DataFrame) -> pd.DataFrame:
    """One row per model: item-level metrics averaged over items (SUMMARY_COLUMNS)."""
    if articles.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = articles.groupby(MODEL, sort=True)
    numeric = [m.column for m in REQUIRED_METRICS] + ["Tokens/s", "Latency All (s)"]
    out = grouped[numeric].mean()
    out["Articles"] = grouped.size()
    out["Answers"] = grouped["Answers"].sum()
    out["Valid Answers"] = grouped["Valid Answers"].sum()
    for column in ("Family", "Quantization", "Prompt Mode"):
        out[column] = grouped[column].first()
    out = out.reset_index()
    out["Notes"] = [_summary_note(row, numeric) for _, row in out.iterrows()]
    return out[SUMMARY_COLUMNS]


def _summary_note(row: pd.Series, numeric: list[str]) -> str:
    """Why some of a model's summary metrics are n/a ('' when none are)."""
    missing = [c for c in numeric if pd.isna(row[c])]
    if not missing:
        return ""
    if row["Valid Answers"] == 0:
        return "no valid answers at all"
    return "n/a for every item: " + ", ".join(missing)
