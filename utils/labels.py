"""The sentiment labels and the one rule turning a score into a label (the neutral band)."""

from __future__ import annotations

import math

import numpy as np

LABELS = ("negative", "neutral", "positive")
LABEL_SCORES = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
INVALID = "invalid"


def label_from_score(score: float | None, neutral_band: float = 0.2) -> str:
    """'neutral' when |score| < neutral_band, else 'positive'/'negative' by sign; 'invalid' when missing."""
    if score is None or not math.isfinite(score):
        return INVALID
    if abs(score) < neutral_band:
        return "neutral"
    return "positive" if score > 0 else "negative"


def labels_from_scores(scores: np.ndarray, neutral_band: float = 0.2) -> np.ndarray:
    """:func:`label_from_score` of every score in an array (NaN gives 'invalid'), vectorised."""
    scores = np.asarray(scores, dtype=float)
    out = np.where(scores > 0, "positive", "negative").astype(object)
    out[np.abs(scores) < neutral_band] = "neutral"
    out[~np.isfinite(scores)] = INVALID
    return out
