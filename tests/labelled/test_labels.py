"""The one neutral-band rule that turns a sentiment score into a label."""

from __future__ import annotations

import numpy as np
import pytest

from utils.labels import INVALID, label_from_score, labels_from_scores

CASES = [
    (0.19, 0.2, "neutral"), (-0.19, 0.2, "neutral"), (0.2, 0.2, "positive"), (-0.2, 0.2, "negative"),
    (0.0, 0.0, "negative"), (0.5, 0.6, "neutral"), (-0.99, 0.2, "negative"), (0.3, 0.5, "neutral"),
    (None, 0.2, INVALID), (float("nan"), 0.2, INVALID),
]


@pytest.mark.parametrize("score, band, label", CASES)
def test_label_from_score_uses_the_neutral_band(score, band, label):
    assert label_from_score(score, band) == label


@pytest.mark.parametrize("band", [0.0, 0.2, 0.5])
def test_vectorised_labels_follow_the_same_rule(band):
    scores = np.array([c[0] if c[0] is not None else np.nan for c in CASES] + list(np.linspace(-1, 1, 41)))
    expected = [label_from_score(None if np.isnan(s) else float(s), band) for s in scores]
    assert list(labels_from_scores(scores, band)) == expected
