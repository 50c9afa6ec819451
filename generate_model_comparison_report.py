#!/usr/bin/env python
"""The model comparison workbook: consistency, bootstrap summaries, ANOVA and pairwise tests."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from utils.reports.cli import build_parser, run_script
from utils.reports.pipeline import run_comparison

DESCRIPTION = """\
Compare the models of a sentiment run and write report_output_file (an Excel workbook)
plus one CSV per sheet in report_output_csv_folder. Sheets:
  Summary      per model: metrics over articles with 95% bootstrap CIs (seeded)
  Consistency  per model: ICC(2,1) across iterations and the label flip rate
  ANOVA        omnibus tests over all models (ANOVA, Welch, Kruskal-Wallis, Friedman,
               repeated-measures ANOVA, Brown-Forsythe) and Tukey HSD pairs
  Pairwise     per pair: paired t, Wilcoxon, Welch (raw scores), mean difference with CI,
               Cohen's d_z and Holm-adjusted p-values, for mean sentiment, variance, speed
  Per Article  the two models of each pair side by side per article
  Accuracy, Confusion, Calibration, Significance   only for labelled datasets: accuracy,
               F1, MCC, ECE/Brier per model with a majority-class baseline; confusion
               matrices; reliability bins; Cochran's Q, McNemar exact (Holm) and paired
               bootstrap CIs per pair
  Method       what data each test uses and its null hypothesis
The article is the unit of analysis; iterations are repeated measures. Values that
cannot be computed read "n/a" with the reason in the row's Notes. The metrics CSV is
(re)written first when it is missing or older than the results.
Pairs come from comparison_pairs in the config (names as written there: ':' or '_',
any case), every pair with --all-pairs or when the config lists none."""

EXAMPLES = """\
python generate_model_comparison_report.py
python generate_model_comparison_report.py --all-pairs --company NVDA
python generate_model_comparison_report.py --company FPB-AllAgree
python generate_model_comparison_report.py --sentiments-dir old_run/sentiments --output-dir old_run/reports -v
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison report; return the exit code."""
    parser = build_parser("generate_model_comparison_report.py", DESCRIPTION, EXAMPLES, all_pairs=True)
    return run_script(argv, parser, run_comparison)


if __name__ == "__main__":
    sys.exit(main())
