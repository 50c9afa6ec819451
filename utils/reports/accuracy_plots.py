"""Accuracy figures: per-class F1 heatmaps and reliability diagrams, one PNG per subject.

They draw the tables made by ``utils.labelled.accuracy`` ("Accuracy" and "Calibration" sheets)
and never compute a metric themselves. Figures are built on ``matplotlib.figure.Figure``
directly, so no pyplot state or GUI backend is involved.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from utils.labels import LABELS
from utils.na import NA_TEXT

log = logging.getLogger(__name__)

_DPI = 150


def plot_file_name(prefix: str, subject: str) -> str:
    """A safe PNG file name such as ``accuracy_f1_FPB-AllAgree.png``."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9._-]+', '_', str(subject))}.png"


def f1_matrix(accuracy: pd.DataFrame, subject: str) -> pd.DataFrame:
    """Models as rows, per-class F1 and macro-F1 as columns (NaN where the sheet says n/a)."""
    rows = accuracy[accuracy["subject"] == subject].set_index("model")
    columns = {f"f1_{label}": label for label in LABELS} | {"macro_f1": "macro F1"}
    matrix = rows[list(columns)].rename(columns=columns)
    return matrix.apply(pd.to_numeric, errors="coerce").astype(float)


def f1_heatmap(accuracy: pd.DataFrame, subject: str, folder: Path, title: str | None = None) -> Path:
    """Write the per-class F1 by model heatmap of one subject; the PNG's path (``title``: the
    subject as the title names it)."""
    matrix = f1_matrix(accuracy, subject)
    labels = matrix.map(lambda v: NA_TEXT if math.isnan(v) else f"{v:.2f}")
    figure = Figure(figsize=(2.5 + 1.4 * matrix.shape[1], 1.4 + 0.5 * matrix.shape[0]))
    ax = figure.add_subplot()
    sns.heatmap(
        matrix, ax=ax, vmin=0.0, vmax=1.0, cmap="viridis", annot=labels.to_numpy(), fmt="",
        linewidths=0.5, cbar_kws={"label": "F1"},
    )
    ax.set_title(f"F1 by class against gold labels: {title or subject}")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelrotation=0)
    return _save(figure, Path(folder) / plot_file_name("accuracy_f1", subject))


def _reliability_panel(ax, bins: pd.DataFrame, title: str) -> None:
    """Draw one model's reliability diagram: accuracy per confidence bin against the diagonal."""
    width = 1.0 / 10
    centres = (bins["confidence_from"] + bins["confidence_to"]) / 2
    ax.bar(centres, bins["accuracy"], width=width * 0.9, color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.scatter(bins["mean_confidence"], bins["accuracy"], color="tab:orange", s=12, zorder=3, label="mean confidence")
    for x, y, n in zip(centres, bins["accuracy"], bins["answers"]):
        ax.annotate(str(int(n)), (x, y), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="stated confidence", ylabel="share correct", title=title)


def reliability_figure(calibration: pd.DataFrame, accuracy: pd.DataFrame, subject: str, folder: Path,
                       title: str | None = None) -> Path | None:
    """Write a grid of reliability diagrams (one panel per model) for one subject; its path or None."""
    table = calibration[calibration["subject"] == subject]
    models = sorted(table["model"].unique())
    if not models:
        return None
    ece = accuracy[accuracy["subject"] == subject].set_index("model")["ece"]
    columns = min(3, len(models))
    rows = math.ceil(len(models) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.8 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for ax, model in zip(axes, models):
        value = pd.to_numeric(pd.Series([ece.get(model)]), errors="coerce").iloc[0]
        shown = NA_TEXT if pd.isna(value) else f"{value:.3f}"
        _reliability_panel(ax, table[table["model"] == model], f"{model}\nECE {shown}")
    for ax in axes[len(models):]:
        ax.set_visible(False)
    # below the panels: inside one it hides the bars of low-confidence bins
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    figure.suptitle(f"Reliability of stated confidence (numbers: answers per bin): {title or subject}")
    return _save(figure, Path(folder) / plot_file_name("reliability", subject))


def accuracy_plots(sheets: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Write every F1 heatmap and reliability grid for the sheets of ``accuracy_sheets``; their paths."""
    accuracy, calibration = sheets["Accuracy"], sheets["Calibration"]
    written: list[Path] = []
    subjects = sorted(s for s in accuracy["subject"].dropna().unique())
    if not subjects:
        log.info("no labelled results: no accuracy figures written")
    synthetic = (set(accuracy.loc[accuracy["gold_labels"].eq("synthetic"), "subject"])
                 if "gold_labels" in accuracy else set())
    for subject in subjects:
        title = f"{subject} (SYNTHETIC labels)" if subject in synthetic else subject
        written.append(f1_heatmap(accuracy, subject, folder, title))
        reliability = reliability_figure(calibration, accuracy, subject, folder, title)
        if reliability is None:
            log.info("%s: no answers with a confidence, no reliability diagram", subject)
        else:
            written.append(reliability)
    return written


def _save(figure: Figure, path: Path) -> Path:
    """Save the figure as PNG, creating the folder; the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path
