"""The comparison report's tables, computed from the results: pure functions on DataFrames.

:class:`ReportContext` holds the long answers table, the per-article metrics and the
resolved model pairs; each ``*_table`` function turns it into one sheet's DataFrame.
Numbers that cannot be computed are left empty (NaN/None) and the row's ``Notes``
says why; the workbook writes them as "n/a".
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from utils.reports import stats
from utils.reports.methods import MethodNote, register_method
from utils.reports.metrics import METRICS, Metric, article_metrics
from utils.reports.model_labels import ModelLabel, match_model

log = logging.getLogger(__name__)

ARTICLE_INDEX = ["Ticker", "Article Key"]
NOT_APPLICABLE = ""  # a cell left blank by design: the statistic does not apply to that row


@dataclass(frozen=True)
class PairSpec:
    """A requested comparison: the folders it resolved to, or why it could not be run."""

    requested: tuple[str, str]
    a: str | None = None
    b: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when both models were found and differ."""
        return bool(self.a and self.b and not self.note)

    @property
    def label(self) -> str:
        """'A vs B' with resolved names where known."""
        return f"{self.a or self.requested[0]} vs {self.b or self.requested[1]}"


@dataclass
class ReportContext:
    """Everything the report's sheets are computed from."""

    frame: pd.DataFrame
    articles: pd.DataFrame
    labels: dict[str, ModelLabel] = field(default_factory=dict)
    pairs: list[PairSpec] = field(default_factory=list)
    seed: int = 42
    resamples: int = 2000
    neutral_band: float = 0.2

    _matrices: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # tables other modules derive once

    @cached_property
    def models(self) -> list[str]:
        """Model folders with at least one answer, sorted."""
        return sorted(self.articles["Model Name"].unique()) if not self.articles.empty else []

    @cached_property
    def by_model(self) -> dict[str, pd.DataFrame]:
        """Each model's per-article metrics, indexed by (Ticker, Article Key)."""
        return {str(m): rows.set_index(ARTICLE_INDEX) for m, rows in self.articles.groupby("Model Name")}

    def metric_matrix(self, column: str) -> pd.DataFrame:
        """Articles × models table of one per-article metric (NaN where missing); cached."""
        if column not in self._matrices:
            if self.articles.empty:
                return pd.DataFrame()
            table = self.articles.pivot(index=ARTICLE_INDEX, columns="Model Name", values=column)
            self._matrices[column] = table.reindex(columns=self.models).astype(float)
        return self._matrices[column]

    @cached_property
    def _raw_by_article(self) -> dict[tuple[str, str], dict[tuple[str, str], np.ndarray]]:
        """(model, column) → {(subject, key) → valid raw values}, for the raw columns of METRICS."""
        valid = self.frame[self.frame["valid"].astype(bool)]
        out: dict = {}
        for column in {m.raw_column for m in METRICS.values() if m.raw_column}:
            values = pd.to_numeric(valid[column], errors="coerce")
            for (model, subject, key), group in values.groupby([valid["model"], valid["subject"], valid["key"]]):
                out.setdefault((model, column), {})[(subject, key)] = group.dropna().to_numpy(dtype=float)
        return out

    def raw_values(self, model: str, column: str, articles: pd.Index | None = None) -> np.ndarray:
        """Valid answers' raw ``column`` values of one model, optionally only some articles."""
        by_article = self._raw_by_article.get((model, column), {})
        wanted = by_article.keys() if articles is None else [a for a in articles if a in by_article]
        parts = [by_article[a] for a in wanted]
        return np.concatenate(parts) if parts else np.array([], dtype=float)


def build_context(frame: pd.DataFrame, labels: dict[str, ModelLabel], **settings) -> ReportContext:
    """A ReportContext with the per-article metrics computed (pairs are set by the caller)."""
    return ReportContext(frame=frame, articles=article_metrics(frame, labels), labels=labels, **settings)


def resolve_pairs(requested: list[tuple[str, str]], models: list[str], all_pairs: bool) -> list[PairSpec]:
    """The pairs to compare: the requested ones (matched to folders), or every pair."""
    if all_pairs or not requested:
        if not all_pairs:
            log.info("no comparison_pairs configured: comparing every pair of %d models", len(models))
        return [PairSpec((a, b), a, b) for a, b in itertools.combinations(models, 2)]
    specs: list[PairSpec] = []
    seen: set[tuple[str, str]] = set()
    for first, second in requested:
        spec = _resolve_pair(first, second, models)
        if spec.ok and (spec.a, spec.b) in seen:
            continue
        seen.add((spec.a, spec.b))  # type: ignore[arg-type]
        if spec.note:
            log.warning("comparison pair %s vs %s: %s", first, second, spec.note)
        specs.append(spec)
    return specs


def _resolve_pair(first: str, second: str, models: list[str]) -> PairSpec:
    """One requested pair matched against the model folders."""
    a, b = match_model(first, models), match_model(second, models)
    unknown = [name for name, found in ((first, a), (second, b)) if found is None]
    if unknown:
        shown = ", ".join(models[:8]) + (" ..." if len(models) > 8 else "")
        names = " and ".join(repr(n) for n in unknown)
        return PairSpec((first, second), a, b, f"unknown model {names}: no results folder matches (found: {shown})")
    if a == b:
        return PairSpec((first, second), a, b, "the pair names the same model twice")
    return PairSpec((first, second), a, b)


def join_notes(notes: list[tuple[str, str]]) -> str:
    """'what: why' notes merged so that one reason lists everything it applies to."""
    by_reason: dict[str, list[str]] = {}
    for what, why in notes:
        if why:
            by_reason.setdefault(why, []).append(what)
    return "; ".join(f"{', '.join(whats)}: {why}" if whats[0] else why for why, whats in by_reason.items())


# --- Summary -----------------------------------------------------------------------------


def summary_columns() -> list[str]:
    """Column names of the Summary sheet."""
    metric_columns = [c for m in METRICS.values() for c in (m.column, f"{m.column} CI Low", f"{m.column} CI High")]
    return ["Model", "Family", "Quantization", "Prompt Mode", "Articles", "Iterations", "Answers",
            *metric_columns, "Notes"]


def summary_table(ctx: ReportContext) -> pd.DataFrame:
    """Per model: each metric averaged over articles with a seeded 95% bootstrap CI."""
    rows = [_summary_row(ctx, model) for model in ctx.models]
    return pd.DataFrame(rows, columns=summary_columns())


def _summary_row(ctx: ReportContext, model: str) -> list:
    """One Summary row."""
    sub = ctx.articles[ctx.articles["Model Name"] == model]
    label = ctx.labels.get(model) or ModelLabel(model)
    iterations = ctx.frame.loc[ctx.frame["model"] == model, "iteration"].nunique()
    row: list = [model, label.family, label.quantization, label.prompt_mode,
                 len(sub), iterations, int(sub["Answers"].sum())]
    notes = []
    for metric in METRICS.values():
        est = stats.bootstrap_mean_ci(sub[metric.column], ctx.resamples, ctx.seed)
        row += [est.value, est.low, est.high]
        note = "no article has a value (see Notes in the metrics CSV)" if est.note == "no values" else est.note
        notes.append((metric.column, note))
    return row + [join_notes(notes)]


# --- Consistency -------------------------------------------------------------------------

CONSISTENCY_COLUMNS = [
    "Model", "Articles", "Iterations", "ICC(2,1)", "ICC CI Low", "ICC CI High", "ICC Articles",
    "ICC Iterations", "Label Flip Rate", "Articles Flipped", "Articles Compared",
    "Mean Within-Article SD", "Mean Sentiment Variance", "Notes",
]

register_method(MethodNote(
    "Consistency", "ICC(2,1)",
    "Valid sentiment scores of one model as an articles × iterations matrix (articles = targets, "
    "iterations = raters); articles or iterations with missing answers are dropped until the "
    "matrix is complete.",
    "Two-way random effects, absolute agreement, single measurement (Shrout & Fleiss): the share "
    "of score variance due to differences between articles. 1 = every iteration gives each "
    "article the same score. CI: seeded percentile bootstrap over articles.",
))
register_method(MethodNote(
    "Consistency", "Label Flip Rate",
    "Articles with 2+ valid answers; each score labelled positive (>= band), negative (<= -band) "
    "or neutral (|score| < band, config neutral_band).",
    "Share of those articles whose label is not the same in every iteration.",
))


def consistency_table(ctx: ReportContext) -> pd.DataFrame:
    """Per model: ICC(2,1) over iterations and the positive/neutral/negative flip rate."""
    return pd.DataFrame([_consistency_row(ctx, m) for m in ctx.models], columns=CONSISTENCY_COLUMNS)


def iteration_matrix(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    """Articles × iterations table of one model's valid sentiments (NaN where invalid/missing)."""
    sub = frame[frame["model"] == model]
    scores = sub.groupby(["subject", "key", "iteration"])["sentiment"].first()
    return scores.unstack("iteration").astype(float)


def _consistency_row(ctx: ReportContext, model: str) -> list:
    """One Consistency row."""
    matrix = iteration_matrix(ctx.frame, model)
    icc = stats.icc_2_1(matrix.to_numpy(), ctx.resamples, ctx.seed)
    flips = stats.flip_rate([row[~np.isnan(row)] for row in matrix.to_numpy()], ctx.neutral_band)
    sub = ctx.articles[ctx.articles["Model Name"] == model]
    notes = [("ICC", icc.note), ("flip rate", flips.note)]
    if icc.ok and icc.extra["articles"] < matrix.shape[0]:
        notes.append(("ICC", f"{matrix.shape[0] - icc.extra['articles']} article(s) without an answer "
                             "in every iteration left out"))
    return [
        model, matrix.shape[0], matrix.shape[1], icc.value, icc.low, icc.high,
        icc.extra.get("articles"), icc.extra.get("iterations"), flips.value,
        flips.extra.get("flipped"), flips.n or None, sub["Sentiment Std"].mean(),
        sub["Sentiment Variance"].mean(), join_notes(notes),
    ]


# --- Pairwise ----------------------------------------------------------------------------

PAIR_TESTS = {"paired t": "p (paired t)", "Wilcoxon": "p (Wilcoxon)", "Welch": "p (Welch, raw)"}
PAIRWISE_COLUMNS = [
    "Pair", "Model A", "Model B", "Metric", "Shared Articles", "Mean A", "Mean B",
    "Mean Diff (A−B)", "Diff CI Low", "Diff CI High", "Cohen's dz", "t (paired)", "df (paired)",
    "p (paired t)", "Holm p (paired t)", "Wilcoxon W", "p (Wilcoxon)", "Holm p (Wilcoxon)",
    "t (Welch, raw)", "df (Welch)", "p (Welch, raw)", "Holm p (Welch, raw)", "Notes",
]

register_method(MethodNote(
    "Pairwise", "Paired t-test",
    "Per-article values (mean sentiment, sentiment variance or inference rate) of both models on "
    "the articles both have a value for; one difference per article.",
    "The mean per-article difference A − B is 0.",
))
register_method(MethodNote(
    "Pairwise", "Wilcoxon signed-rank test",
    "The same per-article differences; zero differences are dropped.",
    "The differences are symmetric around 0 (no systematic shift between the models).",
))
register_method(MethodNote(
    "Pairwise", "Welch's t-test (raw scores)",
    "Every valid raw answer (sentiment or time_taken) of each model on the shared articles, kept "
    "for continuity with earlier reports. Not computed for variance (a per-article quantity).",
    "The two models' raw means are equal (unequal variances allowed).",
    pools_raw_scores=True,
))
register_method(MethodNote(
    "Pairwise", "Mean difference with 95% CI; Cohen's d_z",
    "The per-article differences A − B.",
    "CI: mean ± t(0.975, n−1)·SD/√n. d_z = mean difference / SD of the differences.",
))
register_method(MethodNote(
    "Pairwise", "Holm-adjusted p",
    "The p-values of one test and one metric across every pair in the sheet.",
    "Holm's step-down correction controls the family-wise error rate at 5%.",
))


def pairwise_table(ctx: ReportContext) -> pd.DataFrame:
    """Per pair and compared metric: paired t, Wilcoxon, Welch (raw), mean difference, d_z, Holm."""
    metrics = [m for m in METRICS.values() if m.pairwise]
    rows: list[dict] = []
    for pair in ctx.pairs:
        if not pair.ok:
            rows.append({"Pair": pair.label, "Model A": pair.requested[0], "Model B": pair.requested[1],
                         "Notes": pair.note})
            continue
        rows.extend(_pair_row(ctx, pair, metric) for metric in metrics)
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
    return _add_holm(table)


def _pair_row(ctx: ReportContext, pair: PairSpec, metric: Metric) -> dict:
    """One Pairwise row: every test of one metric for one pair."""
    matrix = ctx.metric_matrix(metric.column)
    a, b = matrix[pair.a].to_numpy(), matrix[pair.b].to_numpy()
    shared = np.isfinite(a) & np.isfinite(b)
    t, w = stats.paired_t(a, b), stats.wilcoxon_signed_rank(a, b)
    ci, dz = stats.mean_difference_ci(a, b), stats.cohens_dz(a, b)
    welch = _welch_raw(ctx, pair, metric, matrix.index[shared])
    raw = metric.raw_column is not None
    notes = [("paired t", t.note), ("Wilcoxon", w.note), ("mean diff CI", ci.note),
             ("Cohen's dz", dz.note), ("Welch", welch.note), ("", _coverage_note(pair, a, b))]
    return {
        "Pair": pair.label, "Model A": pair.a, "Model B": pair.b, "Metric": metric.column,
        "Shared Articles": int(shared.sum()),
        "Mean A": a[shared].mean() if shared.any() else None,
        "Mean B": b[shared].mean() if shared.any() else None,
        "Mean Diff (A−B)": ci.value, "Diff CI Low": ci.low, "Diff CI High": ci.high,
        "Cohen's dz": dz.value, "t (paired)": t.statistic, "df (paired)": t.df[0] if t.df else None,
        "p (paired t)": t.p_value, "Wilcoxon W": w.statistic, "p (Wilcoxon)": w.p_value,
        "t (Welch, raw)": welch.statistic if raw else NOT_APPLICABLE,
        "df (Welch)": (welch.df[0] if welch.df else None) if raw else NOT_APPLICABLE,
        "p (Welch, raw)": welch.p_value if raw else NOT_APPLICABLE, "Notes": join_notes(notes),
    }


def _welch_raw(ctx: ReportContext, pair: PairSpec, metric: Metric, shared: pd.Index) -> stats.TestResult:
    """Welch's t-test on the raw answers behind ``metric`` over the shared articles."""
    if metric.raw_column is None:
        return stats.TestResult()  # not applicable: the metric exists only per article
    if len(shared) == 0:
        return stats.na("no shared articles")
    a = ctx.raw_values(pair.a, metric.raw_column, shared)  # type: ignore[arg-type]
    b = ctx.raw_values(pair.b, metric.raw_column, shared)  # type: ignore[arg-type]
    return stats.welch_t(a, b)


def _coverage_note(pair: PairSpec, a: np.ndarray, b: np.ndarray) -> str:
    """A note when the two models do not have values for the same articles."""
    only_a = int((np.isfinite(a) & ~np.isfinite(b)).sum())
    only_b = int((~np.isfinite(a) & np.isfinite(b)).sum())
    parts = [f"{n} article(s) with a value only for {name}" for n, name in ((only_a, pair.a), (only_b, pair.b)) if n]
    return ("left out: " + ", ".join(parts)) if parts else ""


def _add_holm(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with Holm-adjusted columns filled per metric across pairs."""
    for p_column in PAIR_TESTS.values():
        holm_column = f"Holm {p_column}"
        table[holm_column] = np.nan
        table[holm_column] = table[holm_column].astype(object)
        for _, index in table.groupby("Metric", dropna=True).groups.items():
            column = list(table.loc[index, p_column])
            if all(v == NOT_APPLICABLE for v in column):
                table.loc[index, holm_column] = NOT_APPLICABLE
                continue
            raw = [None if _is_missing(v) else float(v) for v in column]
            table.loc[index, holm_column] = [np.nan if v is None else v for v in stats.holm(raw)]
    return table


def _is_missing(value: object) -> bool:
    """True for None, NaN and the not-applicable marker."""
    return value is None or value == NOT_APPLICABLE or (isinstance(value, float) and np.isnan(value))


# --- Per Article -------------------------------------------------------------------------

PER_ARTICLE_SOURCES = {
    "Mean Sentiment": "Mean Sentiment", "Variance": "Sentiment Variance",
    "Confidence": "Mean Confidence", "Inference Rate (s)": "Inference Rate (s)",
    "Valid JSON Rate": "Valid JSON Rate",
}
PER_ARTICLE_COLUMNS = [
    "Pair", "Model A", "Model B", "Ticker", "Article Key", "Title",
    "Mean Sentiment A", "Mean Sentiment B", "Sentiment Diff (A−B)",
    "Variance A", "Variance B", "Confidence A", "Confidence B",
    "Inference Rate (s) A", "Inference Rate (s) B", "Valid JSON Rate A", "Valid JSON Rate B", "Notes",
]


def per_article_table(ctx: ReportContext) -> pd.DataFrame:
    """For each resolved pair, both models' per-article metrics side by side."""
    sides: dict[tuple[str, str], pd.DataFrame] = {}
    for pair in ctx.pairs:
        if pair.ok:
            for model, suffix in ((pair.a, "A"), (pair.b, "B")):
                if (model, suffix) not in sides:
                    sides[(model, suffix)] = _side(ctx, model, suffix)  # type: ignore[arg-type]
    frames = [_pair_articles(sides, pair) for pair in ctx.pairs if pair.ok]
    if not frames:
        why = "no comparison pair could be resolved (see Pairwise)" if ctx.pairs else "fewer than 2 models"
        return pd.DataFrame([{"Pair": "", "Notes": why}], columns=PER_ARTICLE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PER_ARTICLE_COLUMNS]


def _side(ctx: ReportContext, model: str, suffix: str) -> pd.DataFrame:
    """One model's per-article metrics indexed by article, columns suffixed ' A' or ' B'."""
    sub = ctx.by_model[model]
    out = pd.DataFrame({f"{name} {suffix}": sub[source] for name, source in PER_ARTICLE_SOURCES.items()})
    out[f"_valid {suffix}"] = sub["Valid Answers"]
    out[f"_title {suffix}"] = sub["Title"]
    return out


def _pair_articles(sides: dict[tuple[str, str], pd.DataFrame], pair: PairSpec) -> pd.DataFrame:
    """Rows of the Per Article sheet for one pair, from the models' side tables."""
    joined = sides[(pair.a, "A")].join(sides[(pair.b, "B")], how="outer").reset_index()  # type: ignore[index]
    joined["Sentiment Diff (A−B)"] = joined["Mean Sentiment A"] - joined["Mean Sentiment B"]
    joined["Title"] = joined["_title A"].fillna(joined["_title B"]).fillna("")
    joined["Pair"], joined["Model A"], joined["Model B"] = pair.label, pair.a, pair.b
    sides = [[_side_note(model, v, t, c) for v, t, c in
              zip(joined[f"_valid {x}"], joined[f"Inference Rate (s) {x}"], joined[f"Confidence {x}"])]
             for model, x in ((pair.a, "A"), (pair.b, "B"))]
    joined["Notes"] = [join_notes([("", a), ("", b)]) for a, b in zip(*sides)]
    return joined


def _side_note(model: str, valid: float, rate: float, confidence: float) -> str:
    """Why one side of a Per Article row has n/a values ('' when it has none)."""
    if pd.isna(valid):
        return f"{model} has no answers for this article"
    if valid == 0:
        return f"{model}: no valid answers"
    missing = [("1 valid answer, variance needs 2", valid == 1), ("no time recorded", pd.isna(rate)),
               ("no confidence recorded", pd.isna(confidence))]
    reasons = [text for text, applies in missing if applies]
    return f"{model}: {', '.join(reasons)}" if reasons else ""
