"""utils.reports.heatmaps: the tables behind the PNGs, figure sizing, and PNGs that decode."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from utils.reports.context import build_context
from utils.reports.heatmaps import (
    HEATMAP_SETS,
    article_label,
    article_model_table,
    draw_all,
    family_quantization_table,
    figure_size,
)
from utils.reports.metrics import METRICS, REQUIRED_METRICS, article_metrics
from utils.reports.model_labels import resolve_label
from utils.reports.results_table import load_results_frame

MEAN_SENTIMENT, VALID_JSON_RATE = METRICS["mean_sentiment"], METRICS["valid_json_rate"]


def articles_for(root, write_results) -> pd.DataFrame:
    write_results(root, "fam-a-q4_K_M", [[0.5, 0.7], [-0.4, -0.2], [None, None]])
    write_results(root, "fam-a-q8_0", [[0.4, 0.4], [-0.6, -0.6], [0.1, None]])
    write_results(root, "fam-b-f16", [[0.9, 0.7], [0.0, 0.2], [0.3, 0.3]])
    frame = load_results_frame(root).frame
    return article_metrics(frame, {m: resolve_label(m) for m in frame["model"].unique()})


def test_article_table_has_models_as_columns_and_a_mean_row(tmp_path, write_results):
    articles = articles_for(tmp_path, write_results)
    table = article_model_table(articles, MEAN_SENTIMENT)
    assert list(table.columns) == ["fam-a-q4_K_M", "fam-a-q8_0", "fam-b-f16"]
    assert table.index[-1] == "Mean" and len(table) == 4
    assert table.loc["Mean", "fam-a-q4_K_M"] == pytest.approx(np.mean([0.6, -0.3]))  # n/a article skipped
    assert np.isnan(table.iloc[2]["fam-a-q4_K_M"])
    assert table.index[0].startswith("a0000000  Headline a0000000")


def test_family_quantization_table_orders_quantizations(tmp_path, write_results):
    articles = articles_for(tmp_path, write_results)
    table = family_quantization_table(articles, VALID_JSON_RATE)
    assert list(table.index) == ["fam-a", "fam-b"]
    assert list(table.columns) == ["q4_K_M", "q8_0", "f16"]
    assert table.loc["fam-a", "q4_K_M"] == pytest.approx(2 / 3)
    assert np.isnan(table.loc["fam-b", "q4_K_M"])


def test_family_quantization_table_is_none_without_labels(tmp_path, write_results):
    write_results(tmp_path, "plainmodel", [[0.1, 0.2]])
    assert family_quantization_table(article_metrics(load_results_frame(tmp_path).frame), MEAN_SENTIMENT) is None


def test_article_label_shortens_long_titles():
    label = article_label("abcd1234", "A very long headline " * 5, "NVDA")
    assert label.startswith("NVDA: abcd1234  A very long") and label.endswith("…") and len(label) < 70


def test_figure_grows_with_models_and_long_labels():
    small = pd.DataFrame(np.zeros((5, 3)), columns=["a", "b", "c"])
    big = pd.DataFrame(np.zeros((21, 35)), columns=[f"model-{i}-with-a-long-name-q4_K_M" for i in range(35)])
    (w1, h1), (w2, h2) = figure_size(small), figure_size(big)
    assert w2 > 3 * w1 and h2 > 2 * h1
    assert w2 >= 35 * 0.5  # half an inch per model column at least


@pytest.mark.slow  # renders every heatmap
def test_pngs_exist_decode_and_have_sensible_sizes(tmp_path, write_results):
    frame_root = tmp_path / "results"
    articles_for(frame_root, write_results)
    frame = load_results_frame(frame_root).frame
    ctx = build_context(frame, {m: resolve_label(m) for m in frame["model"].unique()})
    paths = draw_all(ctx, tmp_path / "heatmaps")
    names = {p.name for p in paths}
    for metric in REQUIRED_METRICS:
        assert f"{metric.key}_heatmap.png" in names
        assert f"{metric.key}_family_quantization_heatmap.png" in names
    for path in paths:
        image = mpimg.imread(path)
        height, width = image.shape[:2]
        assert 300 < width < 8000 and 250 < height < 8000, (path.name, width, height)
        assert image[..., :3].std() > 0.05  # not blank
    assert set(HEATMAP_SETS) >= {"article × model", "family × quantization"}
