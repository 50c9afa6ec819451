#!/usr/bin/env python
"""Benchmark GGUF models on the sentiment of financial news (or a labelled dataset)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from utils.cli import EXIT_OK, run_cli, setup_logging
from utils.config import DEFAULT_CONFIG_PATH, load_config
from utils.labelled.splits import DEFAULT_SPLIT_FILE
from utils.run.pipeline import RunOptions, news_inputs, run_dataset, run_news, selected_models

EXAMPLES = """\
examples:
  python generate_model_sentiments.py --subject NVDA
  python generate_model_sentiments.py --subject NVDA MSFT AAPL      # each ticker in turn
  python generate_model_sentiments.py -c NVDA --snapshot 2026-11-24 # pin an earlier snapshot
  python generate_model_sentiments.py -c MSFT --models smollm2-135m-instruct:q4_1 --iterations 5
  python generate_model_sentiments.py -c AMD --refresh          # scrape fresh news first
  python generate_model_sentiments.py -c AMD --fetch-only       # only build the article snapshot
  python generate_model_sentiments.py -c AMD --labels amd_labels.csv  # score accuracy on your labels
  python generate_model_sentiments.py --dataset fpb --dataset-path ../shared/data/FinancialPhraseBank-v1.0 --limit 60
  python generate_model_sentiments.py --dataset csv --dataset-path data/labelled/sample.csv

Results: <output dir>/<model>/<TICKER or dataset>_<iteration>.json. Finished units are
skipped on a rerun (use --force to redo them). Exit codes: 0 all units done, 1 some
units failed (see the summary), 2 configuration or input error, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subject", "-c", "--company", dest="subject", nargs="+", metavar="TICKER",
                        help="tickers to benchmark on, space or comma separated (default: ticker_symbol); "
                             "-c and --company are other names of it")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH, metavar="PATH",
                        help="configuration file (default: config.yaml next to this script)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="run only these configured models")
    parser.add_argument("--iterations", type=int, metavar="N", help="iterations per model (default: iterations in the config)")
    parser.add_argument("--output-dir", type=Path, metavar="DIR", help="results folder (default: sentiment_save_folder)")
    parser.add_argument("--force", action="store_true", help="redo units that already have a result file")
    parser.add_argument("--keep-stale", action="store_true",
                        help="keep finished units made with other settings instead of redoing them")
    parser.add_argument("--constrained-decoding", action="store_true",
                        help="constrain answers to the JSON schema (default: constrained_decoding)")
    scale = parser.add_argument_group("speed and scale")
    scale.add_argument("--workers", type=int, metavar="N", help="processes (or Ray actors) sharing the work "
                       "(default: workers); the cores are divided between them")
    scale.add_argument("--parallel", type=int, metavar="N",
                       help="items in flight per model: llama.cpp batched sequences / Ollama requests (default: parallel)")
    scale.add_argument("--executor", choices=["local", "ray"], help="where the workers run (default: executor)")
    scale.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join, e.g. 10.0.0.5:6379 (default: ray_address)")
    news = parser.add_argument_group("news articles")
    news.add_argument("--offline", action="store_true", help="never touch the network; use the cached snapshot")
    news.add_argument("--refresh", action="store_true", help="scrape the news again even if a snapshot exists")
    news.add_argument("--fetch-only", action="store_true", help="build or refresh the snapshot, run no model")
    news.add_argument("--snapshot", metavar="PATH|DATE",
                      help="read this snapshot file, or the ticker's latest snapshot of that date or time "
                           "(e.g. 2026-11-24, 2026-11-24T0930) instead of the latest")
    news.add_argument("--labels", type=Path, metavar="FILE",
                      help="gold labels for the snapshot's articles: a CSV of key,label rows (positive, "
                           "negative, neutral or mixed); the reports then score accuracy on them")
    data = parser.add_argument_group("labelled datasets (instead of news)")
    data.add_argument("--dataset", choices=["fpb", "csv"], help="fpb: FinancialPhraseBank v1.0; csv: text,label file")
    data.add_argument("--dataset-path", type=Path, metavar="PATH", help="FinancialPhraseBank folder or CSV file")
    data.add_argument("--agreement", choices=["all", "75", "66", "50"], default="all",
                      help="FinancialPhraseBank agreement level (default: all)")
    data.add_argument("--limit", type=int, metavar="N", help="stratified sample of N items")
    data.add_argument("--sample-seed", type=int, metavar="S", help="seed of that sample (default: seed)")
    data.add_argument("--split", choices=["train", "validation", "test"],
                      help="only the items of this split of the training pipeline's split file")
    data.add_argument("--split-file", type=Path, default=DEFAULT_SPLIT_FILE, metavar="PATH",
                      help="split file written by 'python -m training dataset' (default: %(default)s)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logs, llama.cpp output")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bar")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.dataset and (args.subject or args.refresh or args.fetch_only or args.snapshot):
        parser.error("--dataset cannot be combined with --subject, --refresh, --fetch-only or --snapshot")
    if args.snapshot and (args.refresh or args.fetch_only):
        parser.error("--snapshot reads an existing snapshot; it cannot be combined with --refresh or --fetch-only")
    if args.snapshot and len(tickers(args.subject)) > 1 and _is_path(args.snapshot):
        parser.error("--snapshot PATH names one ticker's file; give a date to pin several tickers")
    if args.labels and (args.dataset or args.fetch_only or len(tickers(args.subject)) > 1):
        parser.error("--labels labels one ticker's snapshot; it cannot be combined with --dataset, "
                     "--fetch-only or several tickers")
    if args.dataset and args.dataset_path is None:
        parser.error("--dataset needs --dataset-path")
    if args.split and not args.dataset:
        parser.error("--split needs --dataset")
    if args.offline and (args.refresh or args.fetch_only):
        parser.error("--offline cannot be combined with --refresh or --fetch-only")
    if args.force and args.keep_stale:
        parser.error("--force redoes every unit; it cannot be combined with --keep-stale")
    if args.ray_address and args.executor not in (None, "ray"):
        parser.error("--ray-address needs --executor ray")
    for name in ("iterations", "limit", "workers", "parallel"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")


def scale_overrides(args: argparse.Namespace) -> dict:
    """Config keys the command line overrides."""
    updates: dict = {"constrained_decoding": True} if args.constrained_decoding else {}
    if args.ray_address:
        updates.update(executor="ray", ray_address=args.ray_address)
    for name in ("workers", "parallel", "executor"):
        if getattr(args, name) is not None:
            updates[name] = getattr(args, name)
    return updates


def tickers(values: list[str] | None) -> list[str]:
    """The tickers of ``--subject NVDA MSFT`` or ``--subject NVDA,MSFT``, upper case, in order, once each."""
    names = [part.strip().upper() for value in values or [] for part in value.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def _is_path(choice: str) -> bool:
    return choice.endswith(".json") or "/" in choice or "\\" in choice


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    setup_logging(args.verbose, args.quiet)

    def run() -> int:
        config = load_config(args.config).model_copy(update=scale_overrides(args))
        options = RunOptions(models=args.models, iterations=args.iterations, output_dir=args.output_dir,
                             force=args.force, keep_stale=args.keep_stale,
                             show_progress=not args.quiet and sys.stderr.isatty())
        if args.dataset:
            return run_dataset(config, args.dataset, args.dataset_path, options, agreement=args.agreement,
                               limit=args.limit, sample_seed=args.sample_seed, split=args.split,
                               split_file=args.split_file).exit_code
        selected_models(config, args.models)  # an unknown model name stops the command before any fetch
        if args.fetch_only:
            for source in news_inputs(config, tickers(args.subject), refresh=True, offline=args.offline):
                print(f"{source.subject}: {len(source.items)} articles in {source.source['snapshot']}")
            return EXIT_OK
        return run_news(config, tickers(args.subject), options, refresh=args.refresh, offline=args.offline,
                        snapshot=args.snapshot, labels=args.labels).exit_code

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
