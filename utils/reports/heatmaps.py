"""Figures: article × model heatmaps per metric (with a Mean row), family × quantization
heatmaps, the leaderboard figure, and the accuracy figures of labelled results.

Figures are built on :class:`matplotlib.figure.Figure` objects (no pyplot state), sized
from the number of cells and the length of the labels, and saved with a tight bounding
box so long model names are never clipped. :data:`HEATMAP_SETS` lists every set drawn
by ``generate_heatmaps.py``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from utils.labelled import accuracy
from utils.reports import accuracy_sheets
from utils.reports.accuracy_plots import accuracy_plots
from utils.reports.context import ReportContext
from utils.reports.leaderboard import Figure as LeaderboardFigure
from utils.reports.leaderboard import primary_differences
from utils.reports.metrics import (
    ITEM,
    MODEL,
    REQUIRED_METRICS,
    SUBJECT,
    Metric,
    model_summary,
)
from utils.reports.model_labels import UNKNOWN, quantization_rank
from utils.reports.registry import by_name

log = logging.getLogger(__name__)

CELL_WIDTH_IN = 0.62
CELL_HEIGHT_IN = 0.36
CHAR_IN = 0.075
DPI = 110
MAX_TITLE_CHARS = 42
NA_COLOUR = "#e6e6e6"
ANNOTATE_ALL_CELLS = 400



@dataclass(frozen=True)
class FigureJob:
    """One figure to draw: a pure drawing function and its (picklable) arguments."""

    draw: Callable[..., Path | list[Path]]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> list[Path]:
        out = self.draw(*self.args, **self.kwargs)
        return list(out) if isinstance(out, list) else [out]


HeatmapBuilder = Callable[[ReportContext, Path], list[FigureJob]]


def draw_all(ctx: ReportContext, folder: Path, workers: int | None = None) -> list[Path]:
    """Every heatmap set drawn into ``folder``; the PNG paths written, in set order.

    The tables are computed here; the figures are drawn by up to ``workers`` processes
    (default: the number of cores, at most 2), since drawing text dominates the time.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jobs: list[FigureJob] = []
    for name, (_, build) in HEATMAP_SETS.items():
        found = build(ctx, folder)
        log.debug("heatmap set %s: %d figure(s)", name, len(found))
        jobs.extend(found)
    workers = workers or min(2, os.cpu_count() or 1)
    if workers < 2 or len(jobs) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [path for job in jobs for path in job()]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return [path for paths in pool.map(_run_job, jobs) for path in paths]


def _run_job(job: FigureJob) -> list[Path]:
    """Draw one figure (in a worker process)."""
    return job()


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
    several = articles[SUBJECT].nunique() > 1
    labels = [article_label(k, t, s if several else None)
              for s, k, t in zip(articles[SUBJECT], articles[ITEM], articles["Title"])]
    table = (articles.assign(_label=labels)
             .pivot_table(index="_label", columns=MODEL, values=metric.column,
                          aggfunc="mean", dropna=False, sort=True))
    table = table.reindex(columns=sorted(articles[MODEL].unique()))
    table.loc["Mean"] = table.mean(axis=0, skipna=True)
    table.index.name, table.columns.name = "Article", "Model"
    return table.astype(float)


def family_quantization_table(articles: pd.DataFrame, metric: Metric) -> pd.DataFrame | None:
    """Families × quantizations: mean over the models in each cell of their article-averaged metric."""
    summary = model_summary(articles)
    summary["Family"] = summary["Family"].fillna("").replace("", np.nan).fillna(summary[MODEL])
    summary["Quantization"] = summary["Quantization"].fillna("").replace("", UNKNOWN)
    known = summary
    if (known["Quantization"] == UNKNOWN).all():
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
            vmax=_limit(values, metric.vmax, max), annot=False, linewidths=0.5, linecolor="white",
            mask=np.isnan(values),
            # tick labels are set in _label_axes: asking seaborn for them costs a full draw (overlap check)
            xticklabels=False, yticklabels=False, cbar_kws={"label": metric.column, "shrink": 0.6},
        )
    _write_values(ax, _annotations(values, mean_row))
    _mark_missing(ax, values)
    _label_axes(ax, table, title, mean_row)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight", pad_inches=0.3)
    log.info("wrote %s", path)
    return path


def _annotations(values: np.ndarray, mean_row: bool) -> np.ndarray:
    """The number written in each cell: every cell of a small table, only the Mean row of a big one.

    Drawing text is most of a heatmap's time; past ANNOTATE_ALL_CELLS cells the colours and
    the workbook carry the per-article numbers.
    """
    text = np.where(np.isfinite(values), np.char.mod("%.2f", np.nan_to_num(values)), "")
    if values.size > ANNOTATE_ALL_CELLS:
        text[: -1 if mean_row else None] = ""
    return text


def _write_values(ax, text: np.ndarray) -> None:
    """Write each non-empty ``text`` cell on the heatmap, dark on light colours and white on dark.

    Only the cells that carry a number become text objects (seaborn's own annotation makes
    one per cell, empty or not, and text is what a big figure spends its time on).
    """
    mesh = ax.collections[0]
    mesh.update_scalarmappable()
    colours = np.asarray(mesh.get_facecolors()).reshape(*text.shape, 4)
    rgb = np.where(colours[..., :3] <= 0.03928, colours[..., :3] / 12.92,
                   ((colours[..., :3] + 0.055) / 1.055) ** 2.4)
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])  # WCAG relative luminance
    for row, col in zip(*np.nonzero(text != "")):
        ax.text(col + 0.5, row + 0.5, text[row, col], ha="center", va="center", fontsize=8,
                color=".15" if luminance[row, col] > 0.408 else "w")


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


# --- the sets ----------------------------------------------------------------------------


def article_heatmaps(ctx: ReportContext, folder: Path) -> list[FigureJob]:
    """One article × model heatmap per metric."""
    if ctx.articles.empty:
        return []
    jobs = []
    for metric in REQUIRED_METRICS:
        table = article_model_table(ctx.articles, metric)
        title = f"{metric.column} per article and model (last row: mean over articles)"
        jobs.append(FigureJob(draw_heatmap, (table, metric, title, folder / f"{metric.key}_heatmap.png")))
    return jobs


def family_quantization_heatmaps(ctx: ReportContext, folder: Path) -> list[FigureJob]:
    """One family × quantization heatmap per metric ('unknown' where a quantization is not known)."""
    jobs = []
    for metric in REQUIRED_METRICS:
        table = family_quantization_table(ctx.articles, metric)
        if table is None:
            log.info("no family × quantization heatmaps: no model has a known quantization "
                     "(set them in config.yaml or use names like 'llama3-8b-q4_K_M')")
            return []
        title = f"{metric.column} by family and quantization (mean over models and articles)"
        path = folder / f"{metric.key}_family_quantization_heatmap.png"
        jobs.append(FigureJob(draw_heatmap, (table, metric, title, path), {"mean_row": False}))
    return jobs


def leaderboard_figure(ctx: ReportContext, folder: Path) -> list[FigureJob]:
    """Each model's difference to the best on the ranking criterion, with simultaneous intervals of its test."""
    if len(ctx.models) < 2:
        return []
    figure = primary_differences(ctx)
    if figure.best is None:
        return []
    return [FigureJob(draw_leaderboard, (figure, folder / "leaderboard.png"))]


def draw_leaderboard(data: LeaderboardFigure, path: Path) -> Path:
    """Draw the leaderboard figure from :func:`~utils.reports.leaderboard.primary_differences`."""
    result = data.table
    order = result.index[::-1]
    diff = result.loc[order, "diff"].to_numpy(float)
    low = result.loc[order, "low"].to_numpy(float)
    high = result.loc[order, "high"].to_numpy(float)
    verdict = result.loc[order, "verdict"].astype(str)
    tied = verdict.str.startswith(("best", "tied")).to_numpy()
    ranked = np.isfinite(diff)
    figure = Figure(figsize=(9, 1.9 + 0.28 * len(order)), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    y = np.arange(len(order))
    has_ci = np.isfinite(low) & np.isfinite(high)
    ax.hlines(y[has_ci], low[has_ci], high[has_ci], color="#777777", linewidth=1.5)
    ax.scatter(diff[ranked], y[ranked], c=np.where(tied, "#2b8cbe", "#d7301f")[ranked], zorder=3, s=22)
    ax.axvline(0, color="black", linewidth=1)
    labels = []
    for model in order:
        mean = result.loc[model, "mean"]
        text = f"{mean:.3f}" if pd.notna(mean) else "n/a"
        labels.append(f"{model}  ({text})" if np.isfinite(result.loc[model, "diff"]) or model == data.best
                      else f"{model}  ({text}, not ranked)")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(f"{data.column}: {data.interval} to the best model {data.best}\n"
                  f"simultaneous {data.level:.2%} intervals (Bonferroni over {data.comparisons} comparisons): "
                  "an interval clear of 0 is always red", fontsize=9)
    ax.set_title(f"Leaderboard by {data.column}: blue = best or tied with best, red = worse (Holm)", fontsize=11)
    figure.savefig(path, bbox_inches="tight", pad_inches=0.3)
    log.info("wrote %s", path)
    return path


def accuracy_figures(ctx: ReportContext, folder: Path) -> list[FigureJob]:
    """Per dataset: the per-class F1 heatmap and the reliability diagrams (none without labels)."""
    if not ctx.has_gold_labels:
        return []
    answers = ctx.labelled_answers  # the figures need no significance tests: skip the bootstrap
    tables = {"Accuracy": ctx.mark_synthetic(accuracy_sheets.table_frame("Accuracy", accuracy.accuracy_table(answers))),
              "Calibration": accuracy_sheets.table_frame("Calibration", accuracy.calibration_table(answers))}
    return [FigureJob(accuracy_plots, (tables, folder))]


HEATMAP_SETS: dict[str, tuple[str, HeatmapBuilder]] = by_name([
    ("article × model", article_heatmaps), ("family × quantization", family_quantization_heatmaps),
    ("leaderboard", leaderboard_figure), ("accuracy", accuracy_figures),
], lambda e: e[0], "heatmap set")
