"""The comparison Summary and Consistency sheets: per model, each metric with its item counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from utils.na import NOT_APPLICABLE
from utils import stats
from utils.reports.context import ReportContext, join_notes
from utils.reports.metrics import REQUIRED_METRICS
from utils.reports.model_labels import ModelLabel

SUMMARY_EXTRA = ["Latency All (s)", "Latency Invalid (s)"]


def summary_frame_columns() -> list[str]:
    """Column names of the Summary sheet."""
    metric_columns = [c for m in REQUIRED_METRICS
                      for c in (m.column, f"{m.column} CI Low", f"{m.column} CI High", f"{m.column} Items")]
    return ["Rank", "Model", "Family", "Quantization", "Prompt Mode", "Prompt Set", "Articles", "Iterations", "Answers",
            *metric_columns, "Mean Sentiment (item-adjusted)", *SUMMARY_EXTRA, "Snapshot", "Notes"]


def item_adjusted_means(matrix: pd.DataFrame) -> pd.Series:
    """Per model, its mean as if it had answered every item: the grand mean plus its mean
    deviation from each item's mean over models (the additive item + model model)."""
    item_means = matrix.mean(axis=1)
    deviations = matrix.sub(item_means, axis=0)
    return item_means.mean() + deviations.mean(axis=0)


def summary_frame(ctx: ReportContext) -> pd.DataFrame:
    """Per model, in Leaderboard order: each metric over items with a seeded 95% bootstrap CI."""
    total = len(ctx.item_index)
    adjusted = item_adjusted_means(ctx.metric_matrix("Mean Sentiment"))
    iterations = ctx.frame.groupby("model")["iteration"].nunique()
    snapshots = snapshots_read(ctx.frame)
    prompt_sets = prompt_sets_read(ctx.frame)
    shared = set(snapshots.values()) - {""}
    rows = []
    for model, rank in ctx.ranking.items():
        sub = ctx.by_model[model]
        label = ctx.labels.get(model) or ModelLabel(model)
        row: list = [rank, model, label.family, label.quantization or "unknown", label.prompt_mode,
                     prompt_sets.get(model) or None, len(sub), int(iterations.get(model, 0)), int(sub["Answers"].sum())]
        notes = []
        for metric in REQUIRED_METRICS:
            values = sub[metric.column]
            est = stats.bootstrap_mean_ci(values, ctx.resamples, ctx.seed)
            count = int(values.notna().sum())
            row += [est.value, est.low, est.high, count]
            if 0 < count < total:
                notes.append((metric.column, f"over {count} of {total} items only"))
            if est.note == "no values":
                notes.append((metric.column, "no item has a value (see Notes in the metrics CSV)"))
            elif est.note:
                notes.append((metric.column, est.note))
        row.append(adjusted.get(model) if sub["Mean Sentiment"].notna().any() else None)
        row += [sub[c].mean() for c in SUMMARY_EXTRA]
        if sub["Latency Invalid (s)"].isna().all():
            if sub["Valid JSON Rate"].eq(1).all():
                row[-1] = NOT_APPLICABLE  # blank by design: every answer was valid
            else:
                notes.append(("Latency Invalid (s)", "no time recorded for the invalid answers"))
        if sub["Mean Sentiment"].notna().sum() < total:
            notes.append(("", "means over fewer items than other models: compare Mean Sentiment (item-adjusted)"))
        read = snapshots.get(model, "")
        if len(shared) > 1 and read:
            notes.append(("Snapshot", "the models did not all read the same article snapshot"))
        rows.append(row + [read or None, join_notes(notes)])
    return pd.DataFrame(rows, columns=summary_frame_columns())


def snapshots_read(frame: pd.DataFrame) -> dict[str, str]:
    """Per model, the article snapshot(s) its result files say it read ("" for datasets and
    for files of the original tool, which record none)."""
    if "snapshot" not in frame:
        return {}
    return {model: ", ".join(sorted({str(s) for s in column.dropna() if s}))
            for model, column in frame.groupby("model")["snapshot"]}


def prompt_sets_read(frame: pd.DataFrame) -> dict[str, str]:
    """Per model, the prompt folder(s) its result files say it was asked with, relative to the
    working directory when inside it ("" when the files record none)."""
    if "prompt_set" not in frame:
        return {}
    return {model: ", ".join(sorted({_short_path(str(p)) for p in column.dropna() if p}))
            for model, column in frame.groupby("model")["prompt_set"]}


def _short_path(folder: str) -> str:
    path = Path(folder)
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return folder


CONSISTENCY_COLUMNS = [
    "Model", "Articles", "Iterations", "ICC(2,1)", "ICC CI Low", "ICC CI High", "ICC Articles",
    "ICC Iterations", "Label Disagreement", "Disagreement Items", "Label Flip Rate", "Articles Flipped",
    "Articles Compared", "Mean Within-Article SD", "Mean Sentiment Variance", "Notes",
]


def consistency_table(ctx: ReportContext) -> pd.DataFrame:
    """Per model: ICC(2,1) over iterations, the pairwise label disagreement and the flip rate."""
    disagreement = ctx.criterion_matrices["consistency"]
    rows = []
    for model in ctx.ranking.index:
        matrix = ctx.iteration_matrices.get(model, pd.DataFrame())
        values = matrix.to_numpy(float)
        icc = ctx.icc[model]
        flips = stats.flip_rate([row[~np.isnan(row)] for row in values], ctx.neutral_band)
        per_item = disagreement[model]
        sub = ctx.by_model[model]
        notes = [("ICC", icc.note), ("flip rate", flips.note)]
        if icc.ok and icc.extra["items"] < matrix.shape[0]:
            left_out = matrix.shape[0] - icc.extra["items"]
            notes.append(("ICC", f"{left_out} item(s) without a valid answer in every iteration left out"))
        rows.append([
            model, matrix.shape[0], matrix.shape[1], icc.value, icc.low, icc.high,
            icc.extra.get("items"), icc.extra.get("iterations"), per_item.mean(), int(per_item.notna().sum()),
            flips.value, flips.extra.get("flipped"), flips.n or None, sub["Sentiment Std"].mean(),
            sub["Sentiment Variance"].mean(), join_notes(notes),
        ])
    return pd.DataFrame(rows, columns=CONSISTENCY_COLUMNS)
