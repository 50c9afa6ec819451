"""The report context: everything the sheets and figures are computed from, built once.

:func:`build_context` reads nothing: it takes the long answers table and the settings,
computes the per-item metrics, resolves the comparison pairs and returns a frozen
:class:`ReportContext`. Derived tables are cached properties, computed on first use.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from utils.labelled import accuracy
from utils import stats
from utils.reports import criteria
from utils.reports.metrics import ITEM_INDEX, METRIC_LIST, MODEL, article_metrics
from utils.reports.model_labels import ModelLabel, match_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairSpec:
    """A comparison: the folders it resolved to, or why it could not be run."""

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

    @property
    def models(self) -> tuple[str, str]:
        """The two result folders compared; ValueError for a pair that was not resolved."""
        if self.a is None or self.b is None:
            raise ValueError(f"the pair {self.label} was not resolved: {self.note}")
        return self.a, self.b


@dataclass(frozen=True)
class ReportOptions:
    """The settings the computations read (seeded bootstrap, neutral band, ranking)."""

    seed: int = 42
    resamples: int = 2000
    neutral_band: float = 0.2
    rank_by: str = "auto"


@dataclass(frozen=True)
class ReportContext:
    """The answers, the per-item metrics, the model labels and the resolved pairs; never mutated."""

    frame: pd.DataFrame
    articles: pd.DataFrame  # one row per (model, subject, item): see utils.reports.metrics
    labels: dict[str, ModelLabel] = field(default_factory=dict)
    requested_pairs: tuple[tuple[str, str], ...] = ()
    all_pairs: bool = False
    settings: ReportOptions = ReportOptions()

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def resamples(self) -> int:
        return self.settings.resamples

    @property
    def neutral_band(self) -> float:
        return self.settings.neutral_band

    @cached_property
    def models(self) -> list[str]:
        """Model folders with at least one answer, sorted."""
        return sorted(self.articles[MODEL].unique()) if not self.articles.empty else []

    @cached_property
    def by_model(self) -> dict[str, pd.DataFrame]:
        """Each model's per-item metrics, indexed by (Ticker, Article Key)."""
        return {str(m): rows.set_index(ITEM_INDEX) for m, rows in self.articles.groupby(MODEL)}

    @cached_property
    def item_index(self) -> pd.Index:
        """Every (subject, item) any model answered, sorted."""
        return pd.MultiIndex.from_frame(self.articles[ITEM_INDEX].drop_duplicates()).sort_values()

    @cached_property
    def metric_matrices(self) -> dict[str, pd.DataFrame]:
        """Items × models table of every per-item metric, by column name."""
        return {m.column: criteria.item_matrix(self.articles, m.column, self.models).reindex(self.item_index)
                for m in METRIC_LIST}

    def metric_matrix(self, column: str) -> pd.DataFrame:
        """Items × models table of one per-item metric (NaN where missing)."""
        return self.metric_matrices[column]

    @cached_property
    def iteration_matrices(self) -> dict[str, pd.DataFrame]:
        """Per model, its items × iterations table of valid sentiments (NaN where invalid or missing)."""
        frame = self.frame
        scores = pd.to_numeric(frame["sentiment"], errors="coerce").where(frame["valid"].astype(bool))
        wide = scores.groupby([frame["model"], frame["subject"], frame["key"], frame["iteration"]]).first()
        table = wide.unstack("iteration")
        return {str(m): rows.droplevel(0) for m, rows in table.groupby(level=0)}

    @cached_property
    def icc(self) -> dict[str, stats.Estimate]:
        """Per model, ICC(2,1) across iterations with its bootstrap CI."""
        return {m: stats.icc_2_1(self.iteration_matrices[m].dropna(axis=1, how="all").to_numpy(),
                                 self.resamples, self.seed) for m in self.models}

    @cached_property
    def labelled_answers(self) -> pd.DataFrame:
        """One row per labelled answer (:func:`utils.labelled.accuracy.prepare_answers`)."""
        return accuracy.prepare_answers(self.frame, self.neutral_band)

    @cached_property
    def has_gold_labels(self) -> bool:
        """True when at least one answer carries a gold label."""
        return not self.labelled_answers.empty

    @cached_property
    def synthetic_label_subjects(self) -> list[str]:
        """Subjects whose gold labels are synthetic (the shipped sample articles' intended sentiment)."""
        if "gold_origin" not in self.frame or self.frame.empty:
            return []
        rows = self.frame[self.frame["gold_label"].notna() & self.frame["gold_origin"].eq("synthetic")]
        return sorted(str(s) for s in rows["subject"].unique())

    @cached_property
    def ranks_by_accuracy(self) -> bool:
        """Whether ``rank_by: auto`` ranks by accuracy: gold labels, none of them synthetic.

        Synthetic labels were written with the articles to make them easy to read; accuracy
        on them is shown (marked synthetic) but is no evidence for ranking real models.
        """
        return self.has_gold_labels and not self.synthetic_label_subjects

    @cached_property
    def accuracy_tables(self) -> dict[str, list[accuracy.Row]] | None:
        """The Accuracy, Confusion, Calibration and Significance tables (rows of values, computed
        once for the four sheets); None without gold labels."""
        if not self.has_gold_labels:
            return None
        pairs = [p.models for p in self.pairs if p.ok]
        return accuracy.accuracy_tables(self.labelled_answers, pairs, resamples=self.resamples, seed=self.seed)

    def mark_synthetic(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with a ``gold_labels`` column ("synthetic" on synthetically labelled subjects'
        rows; on every row of a table without subjects when any label is synthetic)."""
        synthetic = self.synthetic_label_subjects
        if not synthetic:
            return table
        marked = table.copy()
        if "subject" in marked:
            marked["gold_labels"] = marked["subject"].map(lambda s: "synthetic" if str(s) in synthetic else "")
        else:
            marked["gold_labels"] = "synthetic"
        return marked

    @cached_property
    def criterion_matrices(self) -> dict[str, pd.DataFrame]:
        """Items × models matrix of every Leaderboard criterion (accuracy only when labelled)."""
        out = {c.key: self.metric_matrix(c.column) for c in criteria.CRITERIA if c.column in self.metric_matrices}
        out["consistency"] = criteria.disagreement_matrix(self.frame, self.models, self.neutral_band, self.item_index)
        if self.has_gold_labels:
            out["accuracy"] = criteria.accuracy_matrix(self.labelled_answers, self.models, self.item_index)
        return out

    @cached_property
    def ranking(self) -> pd.Series:
        """Rank of each model (1 = best) by the primary criteria, in rank order."""
        keys = [k for k in criteria.primary_keys(self.settings.rank_by, self.ranks_by_accuracy)
                if k in self.criterion_matrices]
        means = {k: self.criterion_matrices[k].mean(axis=0).where(criteria.eligible(self.criterion_matrices[k]))
                 for k in keys}  # too little data for a criterion: ranked after those with enough
        return criteria.rank_models(means, keys or ["valid_json_rate"], self.models)

    @cached_property
    def best_model(self) -> str | None:
        """The model ranked first (None without models)."""
        return str(self.ranking.index[0]) if len(self.ranking) else None

    @cached_property
    def pairs(self) -> list[PairSpec]:
        """The comparison pairs (see :func:`resolve_pairs`)."""
        return resolve_pairs(list(self.requested_pairs), self.models, self.all_pairs, self.best_model)


def build_context(frame: pd.DataFrame, labels: dict[str, ModelLabel], pairs: list[tuple[str, str]] | None = None,
                  all_pairs: bool = False, **settings) -> ReportContext:
    """A ReportContext with the per-item metrics computed."""
    return ReportContext(frame=frame, articles=article_metrics(frame, labels), labels=labels,
                         requested_pairs=tuple(tuple(p) for p in (pairs or [])),  # type: ignore[misc]
                         all_pairs=all_pairs, settings=ReportOptions(**settings))


def resolve_pairs(requested: list[tuple[str, str]], models: list[str], all_pairs: bool,
                  best: str | None = None) -> list[PairSpec]:
    """The pairs to compare.

    ``--all-pairs``: every pair. Otherwise the requested pairs matched to model folders
    (':' or '_', any case); requested pairs naming no model here (a results folder from
    another run) are warned about once and left out. When no requested pair resolves, each
    model is compared with the best-ranked one.
    """
    if all_pairs:
        return [PairSpec((a, b), a, b) for a, b in itertools.combinations(models, 2)]
    specs: list[PairSpec] = []
    unknown: list[str] = []
    seen: set[tuple[str, str]] = set()
    for first, second in requested:
        a, b = match_model(first, models), match_model(second, models)
        if a is None or b is None:
            unknown.append(f"{first} vs {second}")
        elif a == b:
            log.warning("comparison pair %s vs %s names the same model twice: left out", first, second)
        elif (a, b) not in seen:
            seen.add((a, b))
            specs.append(PairSpec((first, second), a, b))
    if unknown:
        log.warning("%d configured comparison pair(s) name models without results here, left out: %s",
                    len(unknown), "; ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else ""))
    if specs or best is None:
        return specs
    if requested:
        log.warning("no configured comparison pair matches these results: comparing every model with the "
                    "best-ranked one, %s", best)
    return [PairSpec((best, m), best, m) for m in models if m != best]


def join_notes(notes: list[tuple[str, str]]) -> str:
    """'what: why' notes merged so that one reason lists everything it applies to."""
    by_reason: dict[str, list[str]] = {}
    for what, why in notes:
        if why:
            by_reason.setdefault(why, []).append(what)
    return "; ".join(f"{', '.join(whats)}: {why}" if whats[0] else why for why, whats in by_reason.items())
