#!/usr/bin/env python
"""Heatmap PNGs of the per-article metrics (article × model, and family × quantization)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from utils.reports.cli import build_parser, run_script
from utils.reports.pipeline import run_heatmaps

DESCRIPTION = """\
Draw heatmaps into heatmaps_folder:
  <metric>_heatmap.png                       articles × models, with a Mean row
  <metric>_family_quantization_heatmap.png   model families × quantizations
  leaderboard.png                            each model's difference to the best on the
                                             primary criterion, with its 95% CI
  accuracy_f1_<dataset>.png, reliability_<dataset>.png   labelled datasets only: F1 per
                                             class and model, reliability diagrams
for Inference Rate, Valid JSON Rate, Sentiment Variance, Mean Sentiment (diverging
palette centred at 0) and Mean Confidence. Family and quantization come from the config,
else from the result files, else from model names (e.g. 'llama3-8b-q4_K_M', 'x.Q8');
a quantization that cannot be read shows as 'unknown'. Empty cells read "n/a". The metrics CSV is
(re)written first when it is missing or older than the results."""

EXAMPLES = """\
python generate_heatmaps.py
python generate_heatmaps.py --subject NVDA --output-dir /tmp/nvda_reports
python generate_heatmaps.py --sentiments-dir old_run/sentiments --quiet
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the heatmaps; return the exit code."""
    parser = build_parser("generate_heatmaps.py", DESCRIPTION, EXAMPLES)
    return run_script(argv, parser, run_heatmaps)


if __name__ == "__main__":
    sys.exit(main())
