"""Heatmap PNGs: article × model per metric (with a Mean row), and family × quantization.

Figures are built on :class:`matplotlib.figure.Figure` objects (no pyplot state), sized
from the number of cells and the length of the labels, and saved with a tight bounding
box so long model names are never clipped. Heatmap sets are registered with
:func:`register_heatmaps`, so later issues can add their own (e.g. per-class F1).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from utils.reports.comparison import ReportContext
from utils.reports.metrics import METRICS, Metric, model_summary
from utils.reports.model_labels import quantization_rank

log = logging.getLogger(__name__)

CELL_WIDTH_IN = 0.62
CELL_HEIGHT_IN = 0.36
CHAR_IN = 0.075
DPI = 110
MAX_TITLE_CHARS = 42
NA_COLOUR = "#e6e6e6"

HeatmapBuilder = Callable[[ReportContext, Path], list[Path]]
HEATMAP_SETS: dict[str, HeatmapBuilder] = {}


def register_heatmaps(name: str) -> Callable[[HeatmapBuilder], HeatmapBuilder]:
    """Decorator adding a set of heatmaps drawn by ``generate_heatmaps.py``."""
    def decorate(build: HeatmapBuilder) -> HeatmapBuilder:
        HEATMAP_SETS[name] = build
        return build
    return decorate


def draw_all(ctx: ReportContext, folder: Path) -> list[Path]:
    """Every registered heatmap set drawn into ``folder``; the PNG paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, build in HEATMAP_SETS.items():
        paths = build(ctx, folder)
        log.debug("heatmap set %s: %d file(s)", name, len(paths))
        written.extend(paths)
    return written


# --- data --------------------------------------------------------------------------------


def article_label(key: str, title: str, with_ticker: str | None = None) -> str:
    """'key  Title shortened…' (prefixed by the ticker when several are shown)."""
    title = " ".join(str(title or "").split())
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    label = f"{key}  {title}" if title else key
    return f"{with_ticker}: {label}" if with_ticker else label


def article_model_table(articles: pd.DataFrame, metric: Metric) -> pd.DataFrame:
    """Articles × models values of ``metric`` plus a final 'Mean' row (mean over articles)."""
    several = articles["Ticker"].nunique() > 1
    labels = [article_label(k, t, s if several else None)
              for s, k, t in zip(articles["Ticker"], articles["Article Key"], articles["Title"])]
    table = (articles.assign(_label=labels)
             .pivot_table(index="_label", columns="Model Name", values=metric.column,
                          aggfunc="mean", dropna=False, sort=True))
    table = table.reindex(columns=sorted(articles["Model Name"].unique()))
    table.loc["Mean"] = table.mean(axis=0, skipna=True)
    table.index.name, table.columns.name = "Article", "Model"
    return table.astype(float)


def family_quantization_table(articles: pd.DataFrame, metric: Metric) -> pd.DataFrame | None:
    """Families × quantizations: mean over the models in each cell of their article-averaged metric."""
    summary = model_summary(articles)
    known = summary[(summary["Family"].fillna("") != "") & (summary["Quantization"].fillna("") != "")]
    if known.empty:
        return None
    table = known.pivot_table(index="Family", columns="Quantization", values=metric.column, aggfunc="mean",
                              dropna=False)
    table = table.reindex(columns=sorted(table.columns, key=quantization_rank))
    return table.astype(float)


# --- drawing -----------------------------------------------------------------------------


def figure_size(table: pd.DataFrame) -> tuple[float, float]:
    """Width and height (inches) giving each cell room for its value and each label its text."""
    rows, cols = table.shape
    row_label = max((len(str(i)) for i in table.index), default=4)
    col_label = max((len(str(c)) for c in table.columns), default=4)
    width = 2.8 + cols * CELL_WIDTH_IN + row_label * CHAR_IN
    height = 2.0 + rows * CELL_HEIGHT_IN + col_label * CHAR_IN * 0.75
    return max(width, 6.0), max(height, 3.5)


def draw_heatmap(table: pd.DataFrame, metric: Metric, title: str, path: Path, mean_row: bool = True) -> Path:
    """Draw ``table`` as an annotated heatmap PNG at ``path``; return the path."""
    figure = Figure(figsize=figure_size(table), dpi=DPI)
    FigureCanvasAgg(figure)  # a real canvas caches its renderer; a bare Figure redraws per text measure
    ax = figure.add_subplot()
    ax.set_facecolor(NA_COLOUR)
    values = table.to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # seaborn 0.13 calls cmap.set_bad
        sns.heatmap(
            table, ax=ax, cmap=metric.cmap, center=metric.center, vmin=_limit(values, metric.vmin, min),
            vmax=_limit(values, metric.vmax, max), annot=table.size <= 2500, fmt=".2f",
            annot_kws={"size": 8}, linewidths=0.5, linecolor="white", mask=np.isnan(values),
            xticklabels=True, yticklabels=True, cbar_kws={"label": metric.column, "shrink": 0.6},
        )
    _mark_missing(ax, values)
    _label_axes(ax, table, title, mean_row)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight", pad_inches=0.3)
    log.info("wrote %s", path)
    return path


def _limit(values: np.ndarray, fixed: float | None, pick: Callable) -> float | None:
    """The colour limit: the metric's fixed bound, else the data's (None when there is no data)."""
    if fixed is not None:
        return fixed
    finite = values[np.isfinite(values)]
    return float(pick(finite)) if finite.size else None


def _mark_missing(ax, values: np.ndarray) -> None:
    """Write 'n/a' in cells without a value."""
    for row, col in zip(*np.where(np.isnan(values))):
        ax.text(col + 0.5, row + 0.5, "n/a", ha="center", va="center", fontsize=7, color="#555555")


def _label_axes(ax, table: pd.DataFrame, title: str, mean_row: bool) -> None:
    """Title, axis labels, rotated column labels and a rule above the Mean row."""
    ax.set_title(title, fontsize=13, pad=12)
    ax.set_xlabel(table.columns.name or "", fontsize=11)
    ax.set_ylabel(table.index.name or "", fontsize=11)
    ax.set_xticks(np.arange(table.shape[1]) + 0.5, [str(c) for c in table.columns],
                  rotation=45, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(np.arange(table.shape[0]) + 0.5, [str(i) for i in table.index], rotation=0, fontsize=9)
    if mean_row and len(table) > 1:
        ax.axhline(len(table) - 1, color="black", linewidth=2)
        ax.get_yticklabels()[-1].set_fontweight("bold")


# --- registered sets ---------------------------------------------------------------------


@register_heatmaps("article × model")
def article_heatmaps(ctx: ReportContext, folder: Path) -> list[Path]:
    """One article × model heatmap per metric."""
    if ctx.articles.empty:
        return []
    paths = []
    for metric in METRICS.values():
        table = article_model_table(ctx.articles, metric)
        title = f"{metric.column} per article and model (last row: mean over articles)"
        paths.append(draw_heatmap(table, metric, title, folder / f"{metric.slug}_heatmap.png"))
    return paths


@register_heatmaps("family × quantization")
def family_quantization_heatmaps(ctx: ReportContext, folder: Path) -> list[Path]:
    """One family × quantization heatmap per metric, where families and quantizations are known."""
    paths = []
    for metric in METRICS.values():
        table = family_quantization_table(ctx.articles, metric)
        if table is None:
            log.info("no family × quantization heatmaps: no model has both a family and a quantization "
                     "(set them in config.yaml or use names like 'llama3-8b-q4_K_M')")
            return []
        title = f"{metric.column} by family and quantization (mean over models and articles)"
        paths.append(draw_heatmap(table, metric, title, folder / f"{metric.slug}_family_quantization_heatmap.png",
                                  mean_row=False))
    return paths
