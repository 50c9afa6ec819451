"""Per (model, article) metrics and per-model summaries, computed from the long results table.

Definitions (as in the tool this project grew from, plus n/a for degenerate cases):

* Inference Rate (s): mean ``time_taken`` of the valid answers.
* Valid JSON Rate: valid answers / answers.
* Sentiment Variance: population variance (ddof=0) of the valid sentiments across
  iterations; n/a below 2 valid answers (one answer says nothing about consistency).
* Mean Sentiment, Mean Confidence: means of the valid answers.

Each metric is declared once in :data:`METRICS`; the CSV, the workbooks and the
heatmaps iterate that registry. Nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.reports.model_labels import ModelLabel


@dataclass(frozen=True)
class Metric:
    """One per-article metric: its CSV column and how it is shown."""

    key: str
    column: str
    higher_is_better: bool | None
    cmap: str
    vmin: float | None = None
    vmax: float | None = None
    center: float | None = None
    number_format: str = "0.00"
    raw_column: str | None = None  # long-table column holding the raw per-answer values
    pairwise: bool = False  # compared model against model in the Pairwise sheet

    @property
    def slug(self) -> str:
        """File-name friendly key."""
        return self.key


METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to METRICS (in declaration order) and return it."""
    if metric.key in METRICS:
        raise ValueError(f"metric {metric.key!r} registered twice")
    METRICS[metric.key] = metric
    return metric


INFERENCE_RATE = register_metric(Metric(
    "inference_rate", "Inference Rate (s)", False, "YlOrRd",
    raw_column="time_taken", pairwise=True,
))
VALID_JSON_RATE = register_metric(Metric(
    "valid_json_rate", "Valid JSON Rate", True, "RdYlGn", vmin=0, vmax=1, pairwise=True,
))
SENTIMENT_VARIANCE = register_metric(Metric(
    "sentiment_variance", "Sentiment Variance", False, "YlOrRd", pairwise=True,
))
MEAN_SENTIMENT = register_metric(Metric(
    "mean_sentiment", "Mean Sentiment", None, "RdYlGn", vmin=-1, vmax=1, center=0.0,
    raw_column="sentiment", pairwise=True,
))
MEAN_CONFIDENCE = register_metric(Metric(
    "mean_confidence", "Mean Confidence", True, "Blues", vmin=0, vmax=1,
))

CSV_COLUMNS = ["Model Name", "Article Key"] + [m.column for m in METRICS.values()]
EXTRA_COLUMNS = [
    "Ticker", "Answers", "Valid Answers", "Sentiment Std", "Min Sentiment", "Max Sentiment",
    "Tokens/s", "Mean Completion Tokens", "Family", "Quantization", "Prompt Mode", "Backend",
    "Title", "Notes",
]
ARTICLE_COLUMNS = CSV_COLUMNS + EXTRA_COLUMNS
SUMMARY_COLUMNS = [
    "Model Name", "Family", "Quantization", "Prompt Mode", "Articles", "Answers", "Valid Answers",
    *[m.column for m in METRICS.values()], "Tokens/s", "Notes",
]


def _valid_only(frame: pd.DataFrame, column: str) -> pd.Series:
    """``column`` where the answer is valid, NaN elsewhere."""
    return pd.to_numeric(frame[column], errors="coerce").where(frame["valid"].astype(bool))


def _tokens_per_second(frame: pd.DataFrame) -> pd.Series:
    """Completion tokens per second of each valid answer (NaN when unknown)."""
    tokens = _valid_only(frame, "completion_tokens")
    seconds = _valid_only(frame, "time_taken")
    return (tokens / seconds.where(seconds > 0)).astype(float)


def article_metrics(frame: pd.DataFrame, labels: dict[str, ModelLabel] | None = None) -> pd.DataFrame:
    """One row per (model, subject, article) with ARTICLE_COLUMNS, sorted by model then article."""
    if frame.empty:
        return pd.DataFrame(columns=ARTICLE_COLUMNS)
    work = frame.assign(
        _valid=frame["valid"].astype(bool).astype(int),
        _sent=_valid_only(frame, "sentiment"),
        _conf=_valid_only(frame, "confidence"),
        _time=_valid_only(frame, "time_taken"),
        _tps=_tokens_per_second(frame),
        _ctok=_valid_only(frame, "completion_tokens"),
    )
    grouped = work.groupby(["model", "subject", "key"], sort=True, dropna=False)
    out = pd.DataFrame({
        "Answers": grouped.size(),
        "Valid Answers": grouped["_valid"].sum(),
        "Inference Rate (s)": grouped["_time"].mean(),
        "Mean Sentiment": grouped["_sent"].mean(),
        "Sentiment Variance": grouped["_sent"].var(ddof=0),
        "Sentiment Std": grouped["_sent"].std(ddof=0),
        "Min Sentiment": grouped["_sent"].min(),
        "Max Sentiment": grouped["_sent"].max(),
        "Mean Confidence": grouped["_conf"].mean(),
        "Tokens/s": grouped["_tps"].mean(),
        "Mean Completion Tokens": grouped["_ctok"].mean(),
        "Title": grouped.apply(_article_title, include_groups=False),
    }).reset_index()
    out["Valid JSON Rate"] = out["Valid Answers"] / out["Answers"]
    too_few = grouped["_sent"].count().to_numpy() < 2
    out.loc[too_few, ["Sentiment Variance", "Sentiment Std"]] = np.nan
    out = out.rename(columns={"model": "Model Name", "subject": "Ticker", "key": "Article Key"})
    out = _attach_labels(out, labels or {}, frame)
    out["Notes"] = [
        _article_note(int(v), t, c, k)
        for v, t, c, k in zip(out["Valid Answers"], out["Inference Rate (s)"], out["Mean Confidence"], out["Tokens/s"])
    ]
    return out[ARTICLE_COLUMNS].reset_index(drop=True)


def _article_title(group: pd.DataFrame) -> str:
    """The first non-empty title (else URL) of an article's answers."""
    for column in ("title", "url"):
        if column in group:
            values = [v for v in group[column] if isinstance(v, str) and v.strip()]
            if values:
                return values[0]
    return ""


def _article_note(valid: int, rate: float, confidence: float, tokens: float) -> str:
    """Why some metrics of one article row are n/a ('' when none are)."""
    if valid == 0:
        return "no valid answers: metrics other than Valid JSON Rate are n/a"
    notes = []
    if valid < 2:
        notes.append("1 valid answer: Sentiment Variance needs 2")
    if pd.isna(rate):
        notes.append("no time_taken recorded: Inference Rate n/a")
    if pd.isna(confidence):
        notes.append("no confidence recorded: Mean Confidence n/a")
    if pd.isna(tokens):
        notes.append("no token counts recorded: Tokens/s, Mean Completion Tokens n/a")
    return "; ".join(notes)


def _attach_labels(out: pd.DataFrame, labels: dict[str, ModelLabel], frame: pd.DataFrame) -> pd.DataFrame:
    """``out`` with Family, Quantization, Prompt Mode and Backend columns filled per model."""
    def label(folder: str) -> ModelLabel:
        return labels.get(folder) or ModelLabel(folder)

    for column, attr in (("Family", "family"), ("Quantization", "quantization"),
                         ("Prompt Mode", "prompt_mode"), ("Backend", "backend")):
        out[column] = [getattr(label(m), attr) or "" for m in out["Model Name"]]
    return out


def model_summary(articles: pd.DataFrame) -> pd.DataFrame:
    """One row per model: article-level metrics averaged over articles (SUMMARY_COLUMNS)."""
    if articles.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = articles.groupby("Model Name", sort=True)
    out = grouped[[m.column for m in METRICS.values()] + ["Tokens/s"]].mean()
    out["Articles"] = grouped.size()
    out["Answers"] = grouped["Answers"].sum()
    out["Valid Answers"] = grouped["Valid Answers"].sum()
    for column in ("Family", "Quantization", "Prompt Mode"):
        out[column] = grouped[column].first()
    out = out.reset_index()
    out["Notes"] = [_summary_note(row) for _, row in out.iterrows()]
    return out[SUMMARY_COLUMNS]


def _summary_note(row: pd.Series) -> str:
    """Why some of a model's summary metrics are n/a ('' when none are)."""
    missing = [c for c in [*(m.column for m in METRICS.values()), "Tokens/s"] if pd.isna(row[c])]
    if not missing:
        return ""
    if row["Valid Answers"] == 0:
        return "no valid answers at all"
    return "n/a for every article: " + ", ".join(missing)
