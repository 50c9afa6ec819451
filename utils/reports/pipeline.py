"""The three report steps, end to end: read the results, compute, write files.

This is the I/O edge of the reports; the numbers come from pure modules
(:mod:`utils.reports.metrics`, :mod:`utils.reports.leaderboard`, :mod:`utils.reports.omnibus` ...). Each step
returns a :class:`StepOutcome` listing what it wrote and what input it had to skip.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from utils.errors import ReportError
from utils.reports import accuracy_sheets
from utils.reports.context import ReportContext, build_context
from utils.reports.excel import write_workbook
from utils.reports.metrics import CSV_COLUMNS, ITEM, MODEL, SUBJECT
from utils.reports.model_labels import ModelLabel, resolve_label
from utils.reports.results_table import LoadedResults, load_results_frame
from utils.reports.sheets import COMPARISON_SHEETS, METRICS_SHEETS, build_sheets

log = logging.getLogger(__name__)


@dataclass
class ReportSettings:
    """Where the results are, where reports go, and the report options."""

    sentiments_dir: Path
    metrics_csv: Path
    report_xlsx: Path
    csv_folder: Path
    heatmaps_dir: Path
    subject: str | None = None  # a ticker or a dataset name; None: every subject
    models: list[str] | None = None  # result folder names; None: every folder found
    labels: dict[str, ModelLabel] = field(default_factory=dict)  # from the config, by folder
    pairs: list[tuple[str, str]] = field(default_factory=list)
    all_pairs: bool = False
    seed: int = 42
    resamples: int = 2000
    neutral_band: float = 0.2
    rank_by: str = "auto"

    @property
    def metrics_xlsx(self) -> Path:
        """The metrics workbook, next to the metrics CSV."""
        return self.metrics_csv.with_suffix(".xlsx")


@dataclass
class StepOutcome:
    """What a report step wrote and which input problems it skipped."""

    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- input -------------------------------------------------------------------------------


def load_context(settings: ReportSettings) -> tuple[ReportContext, LoadedResults]:
    """The results read into a ReportContext; ReportError when there is nothing to report."""
    loaded = load_results_frame(settings.sentiments_dir, settings.subject, settings.models)
    if loaded.frame.empty:
        raise ReportError(_nothing_found(settings, loaded))
    recorded = _file_labels(loaded.frame)
    labels = {folder: resolve_label(folder, settings.labels.get(folder), recorded.get(folder))
              for folder in loaded.models}
    subjects = sorted(loaded.frame["subject"].unique())
    log.info("read %d result file(s): %d model(s), subject(s) %s",
             loaded.files_read, len(loaded.models), ", ".join(map(str, subjects)))
    ctx = build_context(loaded.frame, labels, pairs=settings.pairs, all_pairs=settings.all_pairs,
                        seed=settings.seed, resamples=settings.resamples, neutral_band=settings.neutral_band,
                        rank_by=settings.rank_by)
    return ctx, loaded


def _nothing_found(settings: ReportSettings, loaded: LoadedResults) -> str:
    """The error message when no answers were read."""
    where = settings.sentiments_dir
    if not Path(where).is_dir():
        return f"{where}: results folder not found (run generate_model_sentiments.py, or pass --sentiments-dir)"
    what = f" for {settings.subject!r}" if settings.subject else ""
    models = f" of model(s) {', '.join(settings.models)}" if settings.models else ""
    skipped = f"; {len(loaded.problems)} problem(s), first: {loaded.problems[0]}" if loaded.problems else ""
    return f"{where}: no readable result files{what}{models}{skipped}"


def _file_labels(frame: pd.DataFrame) -> dict[str, ModelLabel]:
    """Per model folder: family/quantization/prompt mode/backend as first recorded in its result files."""
    columns = ["family", "quantization", "prompt_mode", "backend"]
    present = frame[columns].astype(object).where(frame[columns].notna() & (frame[columns].astype(str) != ""))
    first = present.groupby(frame["model"]).first()
    return {str(model): ModelLabel(str(model), *(None if pd.isna(v) else str(v) for v in row))
            for model, row in first.iterrows()}


# --- metrics step ------------------------------------------------------------------------


def write_metrics(ctx: ReportContext, settings: ReportSettings) -> list[Path]:
    """Write model_metrics.csv (full precision) and model_metrics.xlsx; the paths written."""
    settings.metrics_csv.parent.mkdir(parents=True, exist_ok=True)
    try:
        accuracy_sheets.with_article_columns(ctx.articles, ctx).to_csv(settings.metrics_csv, index=False)
    except OSError as exc:
        raise ReportError(f"{settings.metrics_csv}: cannot write: {exc.strerror or exc}") from None
    log.info("wrote %s (%d rows)", settings.metrics_csv, len(ctx.articles))
    book = write_workbook(settings.metrics_xlsx, build_sheets(METRICS_SHEETS, ctx))
    return [settings.metrics_csv, book]


def run_metrics(settings: ReportSettings) -> StepOutcome:
    """generate_model_metrics.py: per (model, article) metrics to CSV and XLSX."""
    ctx, loaded = load_context(settings)
    return StepOutcome(write_metrics(ctx, settings), list(loaded.problems))


def metrics_csv_is_current(ctx: ReportContext, loaded: LoadedResults, csv_path: Path) -> bool:
    """True when ``csv_path`` exists, is newer than every result file read and has the same rows."""
    if not csv_path.is_file():
        return False
    newest = max((Path(p).stat().st_mtime for p in loaded.frame["file"].unique() if Path(p).exists()), default=0)
    if csv_path.stat().st_mtime < newest:
        return False
    keys = [MODEL, SUBJECT, ITEM]
    try:
        existing = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError):
        return False
    if list(existing.columns[:7]) != CSV_COLUMNS or not set(keys) <= set(existing.columns):
        return False
    current = ctx.articles[keys].astype(str)
    return _row_keys(existing[keys]) == _row_keys(current)


def _row_keys(frame: pd.DataFrame) -> set[tuple]:
    """The rows of ``frame`` as a set of tuples."""
    return set(map(tuple, frame.to_numpy().tolist()))


def ensure_metrics(ctx: ReportContext, loaded: LoadedResults, settings: ReportSettings) -> list[Path]:
    """Run the metrics step when its CSV is missing or stale; the paths written (if any)."""
    if metrics_csv_is_current(ctx, loaded, settings.metrics_csv):
        log.debug("%s is up to date", settings.metrics_csv)
        return []
    log.info("%s is missing or stale: writing the metrics first", settings.metrics_csv)
    return write_metrics(ctx, settings)


# --- comparison and heatmap steps --------------------------------------------------------


def run_comparison(settings: ReportSettings) -> StepOutcome:
    """generate_model_comparison_report.py: the comparison workbook plus one CSV per sheet."""
    ctx, loaded = load_context(settings)
    written = ensure_metrics(ctx, loaded, settings)
    tables = build_sheets(COMPARISON_SHEETS, ctx)
    written.append(write_workbook(settings.report_xlsx, tables))
    stem = settings.report_xlsx.stem
    settings.csv_folder.mkdir(parents=True, exist_ok=True)
    for table in tables:
        path = settings.csv_folder / f"{stem}_{_file_word(table.name)}.csv"
        try:
            table.frame.to_csv(path, index=False)
        except OSError as exc:
            raise ReportError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    return StepOutcome(written, list(loaded.problems))


def run_heatmaps(settings: ReportSettings) -> StepOutcome:
    """generate_heatmaps.py: every heatmap set (and the leaderboard figure) as PNGs."""
    from utils.reports import (
        heatmaps,  # matplotlib and seaborn: only this step needs them
    )

    ctx, loaded = load_context(settings)
    written = ensure_metrics(ctx, loaded, settings)
    written += heatmaps.draw_all(ctx, settings.heatmaps_dir)
    return StepOutcome(written, list(loaded.problems))


def _file_word(sheet_name: str) -> str:
    """A sheet name as a shell-friendly file-name part: "Appendix (unblocked)" -> "appendix_unblocked"."""
    return re.sub(r"[^a-z0-9-]+", "_", sheet_name.lower()).strip("_")
