#!/usr/bin/env python
"""Per (model, article) metrics of a sentiment run: model_metrics.csv and model_metrics.xlsx."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from utils.reports.cli import build_parser, run_script
from utils.reports.pipeline import run_metrics

DESCRIPTION = """\
Compute, for every model and article, the metrics of the benchmark from the result files:
  Inference Rate (s)  mean time_taken of the valid answers
  Valid JSON Rate     valid answers / answers
  Sentiment Variance  population variance (ddof=0) of the valid sentiments (n/a below 2)
  Mean Sentiment, Mean Confidence  means of the valid answers
then extra columns (latency over all answers and over invalid ones, bare-JSON rate,
finish reasons, tokens/s, labels ...), and write them to report_output_csv_file
(model_metrics.csv, full precision) and to a
workbook next to it (model_metrics.xlsx: a per-model Summary sheet and a Per Article sheet).
For results of a labelled dataset (--dataset in generate_model_sentiments.py) the CSV also
gets Gold Label and Accuracy (share of the item's answers right) after those columns, and
the Summary sheet Accuracy, Macro-F1 and Labelled Items per model.
Unreadable result files are skipped with a warning naming each file."""

EXAMPLES = """\
python generate_model_metrics.py
python generate_model_metrics.py --config config.yaml --subject NVDA
python generate_model_metrics.py --subject FPB-AllAgree             # one labelled dataset
python generate_model_metrics.py --sentiments-dir old_run/sentiments --output-dir old_run/reports
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the metrics step; return the exit code."""
    parser = build_parser("generate_model_metrics.py", DESCRIPTION, EXAMPLES)
    return run_script(argv, parser, run_metrics)


if __name__ == "__main__":
    sys.exit(main())
