"""The Omnibus, Post-hoc and Appendix sheets: do the models differ at all, and which pairs do.

One primary test per question, chosen by the design: every model read the same items, so
the item is the block, and a model's iterations of one item are repeated measures of one
(model, item) cell, never independent evidence. Mean sentiment: the two-way ANOVA on
per-(model, item) means, whose error is the model × item interaction (the test a mixed
model with a model × item variance component reduces to). Yes/no outcomes (valid JSON,
a correct label) and label disagreement: Cochran's Q on per-item shares with a
permutation p (models shuffled within items). Every other test is a sensitivity check,
with one line on when and why it can disagree. Post-hoc comparisons are paired on items
and Holm-adjusted over every pair. Tests treating models as independent groups, and the
mixed model without the model × item effect, live only on the Appendix sheet. Pure computation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils import stats
from utils.reports.context import ReportContext, join_notes
from utils.reports.metrics import ITEM_INDEX
from utils.reports.registry import by_name

OMNIBUS_COLUMNS = [
    "Question", "Role", "Test", "Metric", "Data", "Models", "Items", "N", "Statistic", "df", "Effect Size",
    "Effect Measure", "p-value", "Significant", "Reading", "Notes",
]
PRIMARY, SENSITIVITY, EARLIER = "primary", "sensitivity", "earlier reports"
Run = Callable[[ReportContext], tuple[stats.TestResult, int, int, str]]


@dataclass(frozen=True)
class OmnibusTest:
    """A test over all models: the question it answers, the data it uses and how to run it.

    ``why`` (sensitivity tests) says when and why it can disagree with the primary test.
    """

    name: str
    question: str
    metric: str
    data: str
    effect_measure: str
    run: Run
    role: str = SENSITIVITY
    why: str = ""
    labelled: bool = False  # only when the results carry gold labels


# --- data --------------------------------------------------------------------------------


def _names(names: list[str]) -> str:
    """Up to five names, then '...'."""
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def block_matrix(ctx: ReportContext, column: str) -> tuple[np.ndarray, list[str], str]:
    """The largest complete items × models block of one per-item metric, its models and a note."""
    matrix = ctx.metric_matrix(column) if column in ctx.metric_matrices else ctx.criterion_matrices[column]
    block = stats.maximal_complete_block(matrix.to_numpy(float))
    kept = [str(matrix.columns[i]) for i in block.cols]
    notes = []
    if block.dropped_cols.size:
        dropped = [str(matrix.columns[i]) for i in block.dropped_cols]
        notes.append(f"{len(dropped)} model(s) left out to keep more items (they miss items the others "
                     f"answered): {_names(dropped)}")
    if block.dropped_rows.size:
        notes.append(f"{block.dropped_rows.size} of {matrix.shape[0]} item(s) left out (not answered by every "
                     "model kept)")
    return matrix.to_numpy(float)[np.ix_(block.rows, block.cols)], kept, "; ".join(notes)


def _cells(ctx: ReportContext, column: str) -> pd.DataFrame:
    """Long (item, model, value) rows of one per-item metric."""
    long = ctx.metric_matrix(column).stack().rename("value").reset_index()
    long["item"] = long[ITEM_INDEX[0]].astype(str) + "/" + long[ITEM_INDEX[1]].astype(str)
    return long.rename(columns={"Model Name": "model"})[["item", "model", "value"]]


def _answers(ctx: ReportContext) -> pd.DataFrame:
    """Long (item, model, value) rows of every valid sentiment."""
    frame = ctx.frame[ctx.frame["valid"].astype(bool)]
    return pd.DataFrame({"item": frame["subject"].astype(str) + "/" + frame["key"].astype(str),
                         "model": frame["model"], "value": pd.to_numeric(frame["sentiment"], errors="coerce")})


MIXED_MODEL_LIMIT = 350_000  # answers × models: the model × item fit's cost grows with both (34 × 19 × 14 × 34 fits)


def _interaction_skipped(data: pd.DataFrame) -> str:
    """Why the mixed model with a model × item effect is not fitted ('' when it is)."""
    models = data["model"].nunique()
    counts = data.groupby(["model", "item"]).size()
    if len(counts) == models * data["item"].nunique() and counts.nunique() == 1:
        return ("not refitted: every model × item cell has the same number of valid answers, and then its Wald "
                "χ² is exactly (models − 1) × the primary F")
    if len(data) * models > MIXED_MODEL_LIMIT:
        return (f"not fitted: {len(data)} answers × {models} models is past {MIXED_MODEL_LIMIT:,} (minutes of "
                "fitting); the primary test is its equivalent on cell means")
    return ""


def _mixed(interaction: bool) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        data = _answers(ctx)
        skipped = _interaction_skipped(data.dropna(subset=["value"])) if interaction else ""
        if skipped:
            return stats.na(skipped, len(data)), data["model"].nunique(), data["item"].nunique(), ""
        result = stats.mixed_model(data, interaction=interaction)
        shares = [(name, result.extra.get(key)) for name, key in (("items", "item_share"),
                                                                   ("model × item cells", "cell_share"))]
        parts = [f"{name} {share:.0%}" for name, share in shares
                 if share is not None and np.isfinite(share) and (interaction or name == "items")]
        note = ("share of the answer variance: " + ", ".join(parts)) if parts else ""
        return result, data["model"].nunique(), data["item"].nunique(), join_notes(
            [("", note), ("", result.extra.get("warning", ""))])
    return run


def _run_two_way(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
    cells = _cells(ctx, "Mean Sentiment")
    result = stats.two_way_anova(cells)
    share = result.extra.get("item_share")
    note = f"items account for {share:.0%} of the total sum of squares" if share is not None else ""
    return result, cells["model"].nunique(), cells["item"].nunique(), note


def _on_block(test: Callable[[np.ndarray], stats.TestResult], column: str) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        matrix, kept, note = block_matrix(ctx, column)
        result = test(matrix)
        if "epsilon" in result.extra:
            correction = (f"Greenhouse–Geisser ε = {result.extra['epsilon']:.3f}; "
                          f"uncorrected p = {result.extra['p_uncorrected']:.2g}")
            note = join_notes([("", note), ("", correction)])
        return result, len(kept), matrix.shape[0], note
    return run


def _q(column: str, permutation: bool) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        matrix, kept, note = block_matrix(ctx, column)
        result = stats.cochran_q(matrix, ctx.resamples if permutation else 0, ctx.seed)
        if permutation and result.ok:
            note = join_notes([("", note), ("", f"permutation p over {ctx.resamples} shuffles (seed {ctx.seed}); "
                                                f"asymptotic χ² p = {result.extra['p_chi2']:.2g}")])
        return result, len(kept), matrix.shape[0], note
    return run


def _on_groups(test: Callable, column: str) -> Run:
    def run(ctx: ReportContext) -> tuple[stats.TestResult, int, int, str]:
        matrix = ctx.metric_matrix(column)
        groups = [matrix[m].dropna().to_numpy() for m in matrix.columns]
        kept = [g for g in groups if g.size]
        return test(kept), len(kept), matrix.shape[0], "models treated as independent groups"
    return run


SENTIMENT, VALID, CONSISTENCY, ACCURACY = "mean sentiment", "valid-JSON rate", "label disagreement", "accuracy"
BLOCKED = "per-item values; items as blocks"
SHARES = "per-item shares; items as blocks"
OMNIBUS_TESTS = by_name([
    OmnibusTest("Two-way ANOVA on per-item means", SENTIMENT, "Mean Sentiment",
                "one mean per (model, item); the model × item interaction is the error", "partial η²",
                _run_two_way, PRIMARY),
    OmnibusTest("Linear mixed model (item + model × item)", SENTIMENT, "Sentiment",
                "every valid answer; random item and model × item effects", "", _mixed(True),
                why="The same question on every answer: it weights a cell by its valid answers where the primary "
                    "weights cells equally, and its Wald χ² treats the variances as known, so with few items it "
                    "is a little more ready to reject."),
    OmnibusTest("Friedman", SENTIMENT, "Mean Sentiment", BLOCKED, "Kendall's W",
                _on_block(stats.friedman, "Mean Sentiment"),
                why="Ranks within each item: it ignores how large the differences are (robust to an outlying "
                    "item, blind to one big difference) and needs a complete block, so it may drop models or items."),
    OmnibusTest("Repeated-measures ANOVA (GG)", SENTIMENT, "Mean Sentiment", BLOCKED, "partial η²",
                _on_block(stats.rm_anova, "Mean Sentiment"),
                why="Corrects the primary's F for unequal variances of the model differences; with fewer items "
                    "than models ε is estimated badly (it cannot exceed (items − 1)/(models − 1)), so it is often "
                    "far more cautious."),
    OmnibusTest("Cochran's Q (valid JSON)", VALID, "Valid JSON Rate", SHARES + "; permutation p", "partial η²",
                _q("Valid JSON Rate", True), PRIMARY),
    OmnibusTest("Cochran's Q, χ² p (valid JSON)", VALID, "Valid JSON Rate", SHARES + "; asymptotic χ²",
                "partial η²", _q("Valid JSON Rate", False),
                why="Same statistic with the χ² approximation, which fails when most items give every model the "
                    "same share (ties at 100%): its p can be far smaller than the permutation p."),
    OmnibusTest("Friedman (valid JSON)", VALID, "Valid JSON Rate", SHARES, "Kendall's W",
                _on_block(stats.friedman, "Valid JSON Rate"),
                why="Ranks of heavily tied shares with an asymptotic χ² p: unreliable for the same reason."),
    OmnibusTest("Cochran's Q (accuracy)", ACCURACY, "Accuracy", SHARES + "; permutation p", "partial η²",
                _q("accuracy", True), PRIMARY, labelled=True),
    OmnibusTest("Friedman (accuracy)", ACCURACY, "Accuracy", SHARES, "Kendall's W", _on_block(stats.friedman,
                "accuracy"), labelled=True,
                why="Ranks within items with an asymptotic χ² p: blind to the size of differences, unreliable "
                    "with many tied shares."),
    OmnibusTest("Cochran's Q (consistency)", CONSISTENCY, "Label Disagreement", BLOCKED + "; permutation p",
                "partial η²", _q("consistency", True), PRIMARY),
    OmnibusTest("Friedman (consistency)", CONSISTENCY, "Label Disagreement", BLOCKED, "Kendall's W",
                _on_block(stats.friedman, "consistency"),
                why="Ranks within items with an asymptotic χ² p: blind to the size of differences, unreliable when "
                    "most items have no disagreement at all."),
], lambda t: t.name, "omnibus test")

APPENDIX_TESTS = by_name([
    OmnibusTest("Linear mixed model (item only)", SENTIMENT, "Sentiment",
                "every valid answer; random item intercept only (earlier reports)", "", _mixed(False),
                role=EARLIER, why="Pseudo-replication: without the model × item effect each iteration counts as "
                "independent evidence of the model effect, so it rejects far too often."),
    OmnibusTest("One-way ANOVA", SENTIMENT, "Mean Sentiment", "per-item mean sentiment; models as independent "
                "groups", "η²", _on_groups(stats.one_way_anova, "Mean Sentiment"), role=EARLIER),
    OmnibusTest("Welch's ANOVA", SENTIMENT, "Mean Sentiment", "as the one-way ANOVA", "",
                _on_groups(stats.welch_anova, "Mean Sentiment"), role=EARLIER),
    OmnibusTest("Kruskal–Wallis", SENTIMENT, "Mean Sentiment", "as the one-way ANOVA, ranks", "ε²",
                _on_groups(stats.kruskal_wallis, "Mean Sentiment"), role=EARLIER),
    OmnibusTest("Brown–Forsythe", SENTIMENT, "Mean Sentiment", "as the one-way ANOVA, spread", "",
                _on_groups(stats.brown_forsythe, "Mean Sentiment"), role=EARLIER),
], lambda t: t.name, "appendix test")


# --- tables ------------------------------------------------------------------------------


def _df_text(df: tuple[float, ...]) -> str | None:
    """Degrees of freedom as text: '3, 76' or '3, 30.09'."""
    if not df:
        return None
    return ", ".join(str(int(d)) if float(d).is_integer() else f"{d:.2f}" for d in df)


def effect_words(eta2: float | None) -> str:
    """Cohen's words for a partial η²: negligible < 0.01 ≤ small < 0.06 ≤ medium < 0.14 ≤ large."""
    if eta2 is None or not np.isfinite(eta2):
        return "an effect of unknown size"
    size = "negligible" if eta2 < 0.01 else "small" if eta2 < 0.06 else "medium" if eta2 < 0.14 else "large"
    return f"a {size} effect (partial η² {eta2:.2f})"


def _p_floor(result: stats.TestResult) -> float:
    return max(stats.P_FLOOR, result.extra.get("p_floor", 0.0))


def sentence(test: OmnibusTest, result: stats.TestResult, models: int, items: int) -> str:
    """The primary test's answer to its question in one sentence."""
    if not result.ok:
        return f"Do the models differ in {test.question}? Not testable: {result.note}."
    symbol = "F" if len(result.df) == 2 else "Q"
    statistic = f"{symbol}({_df_text(result.df)}) = {result.statistic:.2f}, {stats.format_p(result.p_value, _p_floor(result))}"
    verb = "Models differ in" if result.significant else "No difference between models is shown in"
    return f"{verb} {test.question}: {statistic}, {effect_words(result.effect)}; {models} models × {items} items."


def _row(ctx: ReportContext, test: OmnibusTest, primary: dict[str, stats.TestResult]) -> tuple[dict, str]:
    result, models, items, data_note = test.run(ctx)
    reading = ""
    if test.role == PRIMARY:
        primary[test.question] = result
        reading = sentence(test, result, models, items)
    elif test.why:
        main = primary.get(test.question)
        if main is not None and main.ok and result.ok:
            agree = "agrees with" if main.significant == result.significant else "disagrees with"
            reading = f"{agree.capitalize()} the primary test at 0.05. {test.why}"
        else:
            reading = test.why
    row = {
        "Question": test.question, "Role": test.role, "Test": test.name, "Metric": test.metric, "Data": test.data,
        "Models": models, "Items": items, "N": result.n, "Statistic": result.statistic, "df": _df_text(result.df),
        "Effect Size": result.effect if test.effect_measure else None, "Effect Measure": test.effect_measure,
        "p-value": result.p_value, "Significant": None if not result.ok else ("yes" if result.significant else "no"),
        "Reading": reading, "Notes": join_notes([("", result.note), ("", data_note)]),
    }
    return row, reading if test.role == PRIMARY else ""


def _table(ctx: ReportContext, tests: list[OmnibusTest]) -> tuple[pd.DataFrame, list[str]]:
    primary: dict[str, stats.TestResult] = {}
    rows, sentences = [], []
    for test in tests:
        if test.labelled and not ctx.has_gold_labels:
            continue
        row, line = _row(ctx, test, primary)
        if test.labelled and ctx.synthetic_label_subjects:
            row["Notes"] = join_notes([("", "gold labels of " + ", ".join(ctx.synthetic_label_subjects)
                                        + " are synthetic"), ("", row["Notes"])])
        rows.append(row)
        if line:
            sentences.append(line)
    return pd.DataFrame(rows, columns=OMNIBUS_COLUMNS), sentences


def omnibus_table(ctx: ReportContext) -> tuple[pd.DataFrame, list[str]]:
    """Every omnibus test (the primary ones first, one per question) and the primary tests' sentences."""
    return _table(ctx, sorted(OMNIBUS_TESTS.values(), key=lambda t: t.role != PRIMARY))


def appendix_table(ctx: ReportContext) -> pd.DataFrame:
    """The tests of earlier reports that ignore the design, kept for comparison only."""
    return _table(ctx, list(APPENDIX_TESTS.values()))[0]


POSTHOC_COLUMNS = ["Model A", "Model B", "Shared Items", "Mean Diff (A−B)", "Diff CI Low", "Diff CI High",
                   "t", "p (paired t)", "Holm p", "Significant (Holm)", "Notes"]


def posthoc_table(ctx: ReportContext, column: str = "Mean Sentiment") -> pd.DataFrame:
    """Every pair of models: paired t on per-item values over shared items, Holm over all pairs.

    A pair whose per-item values are equal on every shared item has p = 1 and counts in the family.
    """
    matrix = ctx.metric_matrix(column)
    k = matrix.shape[1]
    if k < 2:
        return pd.DataFrame([{"Notes": "needs 2+ models"}], columns=POSTHOC_COLUMNS)
    left, right = np.triu_indices(k, 1)
    tests = stats.paired_t_columns(matrix.to_numpy(float), left, right)
    adjusted = stats.holm(stats.family_p(tests))
    names = np.asarray(matrix.columns, dtype=object)
    return pd.DataFrame({
        "Model A": names[left], "Model B": names[right], "Shared Items": tests.n,
        "Mean Diff (A−B)": tests.diff, "Diff CI Low": tests.low, "Diff CI High": tests.high, "t": tests.t,
        "p (paired t)": tests.p, "Holm p": adjusted,
        "Significant (Holm)": [None if pd.isna(p) else "yes" if p < stats.ALPHA else "no" for p in adjusted],
        "Notes": tests.reasons,
    }, columns=POSTHOC_COLUMNS)
