"""The Method sheet: for each statistic, the data it uses, its unit, its null hypothesis and correction.

Every line is written here, in one list, next to the sheet it explains. Lines marked
``labelled`` appear only in reports whose results carry gold labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from utils.reports.registry import by_name

METHOD_COLUMNS = ["Sheet", "Statistic", "Data Used", "Null Hypothesis / Definition", "Correction"]
UNIT = "Unit: the item (article or sentence); iterations are repeated measures of one item."
HOLM = "Holm step-down over the family named; 'Significant' and the green highlight use the adjusted p only."
VOTES = ("Per item, the majority vote of the model's iterations (invalid answers vote; a tie is 'neutral'); "
         "only items answered by every compared model.")


@dataclass(frozen=True)
class MethodNote:
    """One line of the Method sheet."""

    sheet: str
    statistic: str
    data: str
    hypothesis: str
    correction: str = "none"
    labelled: bool = False  # shown only when the results carry gold labels

    def row(self) -> list[str]:
        """The note as a Method sheet row."""
        return [self.sheet, self.statistic, self.data, self.hypothesis, self.correction]


METHOD_NOTES = [
    MethodNote("Leaderboard", "Rank", "Each model's mean over its items of the primary criterion (accuracy when "
               "labelled, else valid-JSON rate, then label disagreement; --rank-by to choose). " + UNIT,
               "Values equal to 9 decimals share a rank."),
    MethodNote("Leaderboard", "vs Best (tied with best)", "Per criterion, the best model's per-item values against "
               "each other model's, on the items both answered (paired t-test). " + UNIT,
               "H0: the mean per-item difference to the best model is 0. 'tied with best': adjusted p >= 0.05.",
               "Holm over the comparisons with the best model of that criterion."),
    MethodNote("Leaderboard", "Label Disagreement", "Per item, valid answers' labels (neutral band); items with 2+ "
               "valid answers.", "Share of pairs of answers whose labels differ, averaged over items; unlike the "
               "flip rate it does not grow with the number of valid answers."),
    MethodNote("Leaderboard", "Latency All / Invalid, Inference Rate", "time_taken of every answer / of the "
               "invalid ones / of the valid ones (the older tool's Inference Rate), averaged per item then over "
               "items.", "Definitions."),
    MethodNote("Summary", "Metrics and 95% bootstrap CI", "Per-item values of each model (model_metrics.csv), "
               "averaged over the items it answered; items resampled (bootstrap_resamples, seeded). " + UNIT,
               "Percentile interval of the resampled means: it shows item-to-item spread, not a test."),
    MethodNote("Summary", "Mean Sentiment (item-adjusted)", "Per-item mean sentiments of every model.",
               "Grand mean plus the model's mean deviation from each item's mean over models: comparable "
               "between models that answered different items."),
    MethodNote("Consistency", "ICC(2,1)", "Valid sentiments of one model as an items × iterations matrix, "
               "reduced to its largest complete block; needs 5+ items × 3+ iterations.",
               "Two-way random effects, absolute agreement, single measurement (Shrout & Fleiss); CI: seeded "
               "percentile bootstrap over items."),
    MethodNote("Consistency", "Label Flip Rate", "Items with 2+ valid answers, labelled with the neutral band.",
               "Share of those items whose label is not the same in every iteration (grows with the number of "
               "valid answers; see Label Disagreement)."),
    MethodNote("Omnibus", "Linear mixed model", "Every valid sentiment; model as a fixed effect, a random "
               "intercept per item; iterations are repeated observations (REML, statsmodels MixedLM).",
               "H0: all model effects are 0 (Wald χ², df = models − 1)."),
    MethodNote("Omnibus", "Two-way ANOVA (item + model)", "Per-item mean sentiment of every answered item × "
               "model cell; type II sums of squares.", "H0: no model effect once item differences are removed."),
    MethodNote("Omnibus", "Friedman", "Per-item values on the largest complete items × models block: models "
               "missing items are dropped when that keeps more cells than dropping items (the Notes say which).",
               "H0: within each item the models' ranks are exchangeable. Ties: values equal to 9 decimals."),
    MethodNote("Omnibus", "Repeated-measures ANOVA (GG)", "As Friedman: items are subjects, models the "
               "within factor.", "H0: equal model means.", "Greenhouse–Geisser ε on the degrees of freedom."),
    MethodNote("Post-hoc", "Paired t-test per pair", "Per-item mean sentiment of both models on the items both "
               "answered.", "H0: the mean per-item difference A − B is 0.", "Holm over every pair of models."),
    MethodNote("Pairwise", "Paired t-test", "Per-item values (mean sentiment, sentiment variance, inference "
               "rate, valid-JSON rate) of both models on the items both have a value for.",
               "H0: the mean per-item difference A − B is 0.", "Holm per metric over the pairs in the sheet."),
    MethodNote("Pairwise", "Wilcoxon signed-rank test", "The same per-item differences, rounded to 9 decimals; "
               "zero differences dropped.", "H0: the differences are symmetric around 0.",
               "Holm per metric over the pairs in the sheet."),
    MethodNote("Pairwise", "Mean difference with 95% CI; Cohen's d_z", "The per-item differences A − B.",
               "CI: mean ± t(0.975, n−1)·SD/√n; d_z = mean difference / SD of the differences."),
    MethodNote("Appendix", "One-way ANOVA, Welch, Kruskal–Wallis, Brown–Forsythe", "Per-item mean sentiments "
               "with models as independent groups, although every model read the same items: item-to-item "
               "differences inflate the error, so these tests miss model effects the blocked tests find.",
               "H0: equal means / distributions / spreads. Kept only for comparison with earlier reports."),
    MethodNote("Accuracy", "Accuracy, Macro-F1, Weighted-F1, MCC, per-class precision/recall/F1",
               "Every answer of every iteration against the human label; a score maps to a label with the neutral "
               "band; an invalid answer is always wrong.", "Definitions; MCC = Gorodkin's R_K. Baseline: always the "
               "most frequent gold label.", labelled=True),
    MethodNote("Accuracy", "MAE, Spearman", "Valid answers' sentiment against the numeric gold score.",
               "MAE = mean |sentiment − gold|; Spearman's rho, H0: no monotonic association.", labelled=True),
    MethodNote("Accuracy", "Majority Vote Accuracy, Fleiss' kappa", "Per item, the labels of the model's "
               "iterations (invalid a category); kappa uses items answered in every iteration.",
               "Kappa: agreement across iterations beyond chance.", labelled=True),
    MethodNote("Calibration", "ECE, Brier score, reliability diagram", "Valid answers with a confidence in "
               "[0, 1] against correctness; 10 equal-width bins.", "ECE = answer-weighted mean |accuracy − "
               "confidence| over bins; Brier = mean (confidence − correct)².", labelled=True),
    MethodNote("Significance", "Cochran's Q", "Items × models majority-vote correctness. " + VOTES,
               "H0: every model has the same probability of being right.", labelled=True),
    MethodNote("Significance", "McNemar exact test", "Per pair, majority-vote correctness. " + VOTES,
               "H0: 'A right, B wrong' and 'A wrong, B right' are equally likely.",
               "Holm over one dataset's pairs.", labelled=True),
    MethodNote("Significance", "Paired bootstrap 95% CI (accuracy and macro-F1 difference)", "Per pair, items "
               "resampled (bootstrap_resamples, seeded). " + VOTES, "Percentile interval of A − B.",
               labelled=True),
]
by_name(METHOD_NOTES, lambda n: f"{n.sheet}: {n.statistic}", "Method line")


def method_rows(labelled: bool) -> list[list[str]]:
    """Every Method line that applies (labelled lines only when ``labelled``), in order."""
    return [note.row() for note in METHOD_NOTES if labelled or not note.labelled]
