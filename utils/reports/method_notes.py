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
               "labelled, else valid-JSON rate, then label disagreement; --rank-by to choose). A model is ranked on "
               "a criterion only with a value on at least 80% of the criterion's items (label disagreement: items "
               "with two valid answers); below that it is shown, 'not ranked', and ranks after the others. " + UNIT,
               "Values equal to 9 decimals share a rank; ranks inside one Group are not evidence of an order."),
    MethodNote("Leaderboard", "Group (compact letter display)", "The ranking's first criterion, every pair of "
               "ranked models, on the items both answered (the test as in 'vs Best').",
               "Models sharing a letter are not significantly different; group 'a' holds the best. The first "
               "lines say how many models are in the top group.", "Holm over every pair of ranked models."),
    MethodNote("Leaderboard", "vs Best (tied with best)", "Per criterion, the best ranked model's per-item values "
               "against each other ranked model's, on the items both answered (the Items column counts them). "
               "Valid JSON and accuracy: exact sign test on per-item shares (items where one model is higher count "
               "for it; two-sided binomial p; McNemar's exact test when one answer per item). Label disagreement "
               "and latency: paired t-test. " + UNIT,
               "H0: neither model is higher on more items (sign test) / the mean per-item difference is 0 (t). "
               "'tied': adjusted p >= 0.05; 'tied (equal)': equal means.",
               "Holm over the comparisons with the best (over every pair for the ranking criterion, as the Group "
               "column); equal comparisons count with p = 1."),
    MethodNote("Leaderboard", "Power of the design", "The ranking criterion's and mean sentiment's per-item "
               "values on the largest complete block; the SD of one per-item difference between two models is "
               "√(2·MS_error) of the items + models ANOVA (it holds the model × item interaction and the noise of "
               "a mean over the iterations: clustered by item).",
               "Smallest difference a paired t-test finds 80% of the time, two-sided, at α = 0.05 and at α/m (m: "
               "the Holm family; Holm's first step), and the items needed for a stated difference (2 points of "
               "accuracy or valid JSON, 0.05 of mean sentiment or disagreement); statsmodels TTestPower."),
    MethodNote("Leaderboard", "leaderboard.png", "The ranking criterion's difference of each ranked model to the "
               "best, with a simultaneous interval: level 1 − 0.05/m (Bonferroni over the m comparisons of the "
               "family), from the verdict's own test (the sign test inverted: median per-item difference; or the "
               "paired t: mean).", "An interval clear of 0 is always a 'worse' verdict; Holm can also call "
               "'worse' a model whose interval touches 0."),
    MethodNote("Omnibus", "Reading the sheet", "One primary test per question, stated in one sentence above the "
               "table; the other rows are sensitivity checks of the same question with a line on when and why "
               "they can disagree.", "p-values below 0.0001 are shown as '< 0.0001' (a permutation p is never "
               "below 1/(shuffles + 1)): tails further out rest on the model's assumptions, not on the items."),
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
    MethodNote("Omnibus", "Two-way ANOVA on per-item means (primary, mean sentiment)", "One mean sentiment per "
               "(model, item) cell over its valid answers; item + model, type II sums of squares; the error is the "
               "model × item interaction plus the noise of a cell mean, so a model's iterations of one item count "
               "once.", "H0: no model effect once item differences are removed (F); effect: partial η². It is the "
               "test the mixed model with a model × item variance component reduces to on balanced data. Unequal "
               "residual variances per model enter only through the cell means (the RM-ANOVA with GG checks it)."),
    MethodNote("Omnibus", "Cochran's Q on per-item shares (primary: valid JSON, accuracy, label disagreement)",
               "Per (model, item), the share of yes answers (valid JSON, correct label) or the label disagreement, "
               "on the largest complete block. Q = n(k − 1)·SS_models / SS_within-items: Cochran's Q itself on "
               "0/1 values; effect Q / (n(k − 1)), the partial η².",
               "H0: within each item the models' values are exchangeable. p: seeded permutation (each item's "
               "values shuffled across models, bootstrap_resamples shuffles), floor 1/(shuffles + 1)."),
    MethodNote("Omnibus", "Linear mixed model (item + model × item)", "Every valid sentiment; model fixed, random "
               "item intercept and a model × item variance component (REML, statsmodels MixedLM).",
               "H0: all model effects are 0 (Wald χ², df = models − 1). Sensitivity check of the primary test."),
    MethodNote("Post-hoc", "Paired t-test per pair", "Per-item mean sentiment of both models on the items both "
               "answered.", "H0: the mean per-item difference A − B is 0.", "Holm over every pair of models."),
    MethodNote("Pairwise", "Exact sign test (valid-JSON rate) / paired t-test (the other metrics)", "Per-item "
               "values (valid-JSON share, mean sentiment, sentiment variance, inference rate) of both models on the "
               "items both have a value for.", "H0: neither model is higher on more items (sign test; McNemar's "
               "exact test with one answer per item) / the mean per-item difference A − B is 0 (t).",
               "Holm per metric over the pairs in the sheet, every pair counted (equal pairs with p = 1)."),
    MethodNote("Pairwise", "Wilcoxon signed-rank test", "The same per-item differences, rounded to 9 decimals; "
               "zero differences dropped.", "H0: the differences are symmetric around 0.",
               "Holm per metric over the pairs in the sheet."),
    MethodNote("Pairwise", "Mean difference with 95% CI; Cohen's d_z", "The per-item differences A − B.",
               "CI: mean ± t(0.975, n−1)·SD/√n; d_z = mean difference / SD of the differences."),
    MethodNote("Appendix", "Linear mixed model (item only)", "Every valid sentiment with a random item intercept "
               "only, as earlier reports fitted it.", "Without the model × item effect each iteration counts as "
               "independent evidence of the model effect (pseudo-replication): it rejects far too often. Kept for "
               "comparison only."),
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
