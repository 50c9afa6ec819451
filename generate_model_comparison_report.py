#!/usr/bin/env python
"""The model comparison workbook: the leaderboard, blocked tests, pairwise comparisons, consistency."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from utils.reports.cli import build_parser, run_script
from utils.reports.pipeline import run_comparison

DESCRIPTION = """\
Compare the models of a sentiment run and write report_output_file (an Excel workbook)
plus one CSV per sheet in report_output_csv_folder. Every model reads the same items, so
items are blocks and iterations repeated measures; tests are paired or blocked on items,
and families of p-values are Holm-adjusted (only adjusted p is highlighted). Sheets:
  Leaderboard  models ranked (accuracy when labelled, else valid-JSON rate then label
               disagreement; --rank-by) with letter groups and the size of the top group;
               per criterion the best model (among those with 80% of the items) and which
               are tied with it (exact sign test for yes/no criteria, paired t otherwise,
               Holm), with the items each test used; the power of the design at its foot
  Summary      per model, in Leaderboard order: metrics over items with 95% bootstrap
               CIs, item counts and an item-adjusted mean sentiment
  Consistency  ICC(2,1) across iterations, label disagreement and flip rate
  Omnibus      one primary test per question, stated in a sentence (two-way ANOVA on
               per-(model, item) means for sentiment, Cochran's Q for yes/no outcomes),
               then sensitivity checks (mixed model with model x item effects, Friedman,
               Greenhouse-Geisser RM-ANOVA)
  Post-hoc     every pair of models, paired on items, Holm over all pairs
  Pairwise     per configured pair: paired t, Wilcoxon, mean difference with CI,
               Cohen's d_z, Holm p and Significant (Holm); pairs naming no model here
               are warned about and replaced by comparisons with the best model
  Per Article  the two models of each pair side by side per article
  Accuracy, Confusion, Calibration, Significance   only for labelled datasets
  Appendix (unblocked)  tests treating models as independent groups, for comparison only
  Method       per statistic: data, unit, null hypothesis, correction
Values that cannot be computed read "n/a" with the reason in the row's Notes. The
metrics CSV is (re)written first when it is missing or older than the results.
Pairs come from comparison_pairs in the config (names as written there: ':' or '_',
any case); without them each model is compared with the best; --all-pairs: every pair."""

EXAMPLES = """\
python generate_model_comparison_report.py
python generate_model_comparison_report.py --all-pairs --subject NVDA
python generate_model_comparison_report.py --subject FPB-AllAgree
python generate_model_comparison_report.py --sentiments-dir old_run/sentiments --output-dir old_run/reports -v
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison report; return the exit code."""
    parser = build_parser("generate_model_comparison_report.py", DESCRIPTION, EXAMPLES, all_pairs=True)
    return run_script(argv, parser, run_comparison)


if __name__ == "__main__":
    sys.exit(main())
