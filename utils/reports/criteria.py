"""What "best" means: the Leaderboard's criteria as items × models matrices, and the ranking.

Each ranked criterion is measured per item (one value per item and model), so two models
can be compared on the items both answered with a paired test. Pure computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils import stats
from utils.reports.metrics import ITEM_INDEX, MODEL

RANK_CHOICES = ("auto", "accuracy", "valid_json_rate", "consistency", "latency")
MIN_COVERAGE = 0.8  # a model is ranked on a criterion only with a value on this share of its items
YES_NO = ("accuracy", "valid_json_rate")  # per-item shares of yes/no answers: exact sign tests


@dataclass(frozen=True)
class Criterion:
    """One Leaderboard criterion measured per item."""

    key: str
    column: str
    higher_is_better: bool | None  # None: shown, never ranked (a tendency, not a quality)
    unit: str  # what one item's value is, for the Method sheet
    needs: str = "a value"  # what an item needs to count for this criterion (the coverage rule)


CRITERIA = [
    Criterion("accuracy", "Accuracy", True, "share of the item's answers whose label matches the gold label",
              "a gold label and an answer"),
    Criterion("valid_json_rate", "Valid JSON Rate", True, "valid answers / answers for the item"),
    Criterion("consistency", "Label Disagreement", False,
              "share of pairs of the item's valid answers whose labels differ", "two valid answers"),
    Criterion("latency", "Latency All (s)", False, "mean time_taken of all the item's answers"),
    Criterion("tokens_per_second", "Tokens/s", True, "mean completion tokens per second of valid answers"),
    Criterion("mean_sentiment", "Mean Sentiment", None, "mean sentiment of the item's valid answers"),
]
BY_KEY = {c.key: c for c in CRITERIA}


def item_matrix(items: pd.DataFrame, column: str, models: list[str]) -> pd.DataFrame:
    """Items × models table of one per-item column (NaN where missing)."""
    if items.empty:
        return pd.DataFrame(columns=models, dtype=float)
    table = items.pivot(index=ITEM_INDEX, columns=MODEL, values=column)
    return table.reindex(columns=models).astype(float)


def disagreement_matrix(frame: pd.DataFrame, models: list[str], band: float, index: pd.Index) -> pd.DataFrame:
    """Items × models per-item label disagreement (:func:`stats.item_disagreement`), vectorised."""
    valid = frame[frame["valid"].astype(bool)]
    scores = pd.to_numeric(valid["sentiment"], errors="coerce")
    wide = scores.groupby([valid["model"], valid["subject"], valid["key"], valid["iteration"]]).first()
    if wide.empty:
        return pd.DataFrame(np.nan, index=index, columns=models)
    table = wide.unstack("iteration")
    values = stats.item_disagreement(table.to_numpy(float), band)
    series = pd.Series(values, index=table.index)
    out = series.unstack("model") if "model" in series.index.names else series.unstack(0)
    out.index.names = ITEM_INDEX
    return out.reindex(index=index, columns=models).astype(float)


def accuracy_matrix(answers: pd.DataFrame, models: list[str], index: pd.Index) -> pd.DataFrame:
    """Items × models share of correct answers (labelled results only)."""
    if answers.empty:
        return pd.DataFrame(np.nan, index=index, columns=models)
    share = answers.groupby(["subject", "key", "model"])["correct"].mean().unstack("model")
    share.index.names = ITEM_INDEX
    return share.reindex(index=index, columns=models).astype(float)


def eligible(matrix: pd.DataFrame, share: float = MIN_COVERAGE) -> pd.Series:
    """Per model, whether it has a value on at least ``share`` of the criterion's items.

    The criterion's items are those at least one model has a value for (for label
    disagreement: items with two valid answers), so a model with a third of the data is
    shown but not ranked, and cannot be a criterion's best.
    """
    items = int(matrix.notna().any(axis=1).sum())
    counts = matrix.notna().sum(axis=0)
    return (counts >= share * items) & (counts > 0) if items else counts > 0


def primary_keys(rank_by: str, labelled: bool) -> list[str]:
    """The criteria the ranking sorts by, first to last."""
    if rank_by == "auto":
        return ["accuracy", "valid_json_rate", "consistency"] if labelled else ["valid_json_rate", "consistency"]
    return [rank_by]


def rank_models(summaries: dict[str, pd.Series], keys: list[str], models: list[str]) -> pd.Series:
    """Rank (1 = best) of each model by the criteria ``keys``; values equal to TIE_DECIMALS tie.

    ``summaries`` maps a criterion key to each model's value (mean over its items);
    models without a value rank last.
    """
    columns = {}
    for position, key in enumerate(keys):
        criterion = BY_KEY[key]
        values = stats.round_ties(summaries[key].reindex(models).to_numpy(float))
        sign = -1.0 if criterion.higher_is_better else 1.0
        columns[f"k{position}"] = np.where(np.isfinite(values), sign * values, np.inf)
    table = pd.DataFrame(columns, index=models)
    ordered = table.sort_values(list(columns), kind="stable")
    keys_in_order = pd.Series(list(map(tuple, ordered.to_numpy())), index=ordered.index)
    groups = keys_in_order.ne(keys_in_order.shift()).cumsum()  # equal keys share a group
    positions = pd.Series(np.arange(1, len(ordered) + 1), index=ordered.index)
    return positions.groupby(groups).transform("min").astype(int)
