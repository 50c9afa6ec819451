"""python -m training <step>: dataset, finetune, export, modelfiles, register, entries, evaluate, evaluate-news, or all of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from utils.cli import EXIT_OK, run_cli, setup_logging
from utils.errors import ConfigError
from training.config import DEFAULT_TRAINING_CONFIG, load_training_config

STEPS = ("dataset", "finetune", "export", "modelfiles", "register", "entries", "evaluate", "evaluate-news", "all",
         "fetch-converter", "build-tools")

EXAMPLES = """\
examples:
  python -m training dataset                       # splits + chat JSONL under training/output/data
  python -m training finetune --set finetune.max_steps=20
  python -m training export                        # F16 + the configured quantizations
  python -m training modelfiles                    # Modelfiles/<run>-<quant>.Modelfile
  python -m training register --append-config config.yaml
  python -m training entries --append-config config.yaml   # the GGUF entries alone, no Ollama
  python -m training evaluate                      # base vs the exported GGUFs on the test split
  python -m training evaluate-news                 # the same models over news articles (evaluate.news_*)
  python -m training all                           # everything, then base vs fine-tune on the test split and news
  python -m training fetch-converter               # unpack llama.cpp's HF->GGUF converter (once)
  python -m training build-tools                   # build llama-quantize, llama-imatrix (export), llama-bench, llama-batched-bench
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=STEPS, help="what to do")
    parser.add_argument("--config", type=Path, default=DEFAULT_TRAINING_CONFIG, metavar="PATH",
                        help="training configuration (default: training/config.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. finetune.max_steps=10 (YAML value; repeatable)")
    parser.add_argument("--append-config", type=Path, metavar="PATH",
                        help="register/entries/all: append the models_to_test entries to this harness config")
    parser.add_argument("--skip-register", action="store_true",
                        help="all: do not call Ollama (the GGUF entries are still printed, and appended with --append-config)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")
    return parser


def parse_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict with YAML-parsed values."""
    overrides = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. finetune.max_steps=10")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def run_step(step: str, args: argparse.Namespace) -> int:
    """Run one step (or the chain) with the loaded config; returns an exit code."""
    config = load_training_config(args.config, parse_overrides(args.set))
    show = not args.quiet and sys.stderr.isatty()
    if step == "dataset":
        from training.dataset import build_dataset

        result = build_dataset(config)
        print(f"dataset: {result.counts} -> {result.split_file.parent}")
    elif step == "finetune":
        from training.finetune import finetune

        print(f"fine-tuned: {finetune(config, show_progress=show).merged_dir}")
    elif step == "export":
        from training.export import export_all

        for quant, path in export_all(config).items():
            print(f"{quant}: {path}")
    elif step == "modelfiles":
        from training.modelfiles import write_modelfiles

        for path in write_modelfiles(config):
            print(f"wrote {path}")
    elif step == "register":
        from training.register import register_all

        register_all(config, append_to=args.append_config)
    elif step == "entries":
        from training.register import print_local_entries

        print_local_entries(config, append_to=args.append_config)
    elif step == "evaluate":
        from training.naming import exported_ggufs
        from training.pipeline import evaluate

        return evaluate(config, list(exported_ggufs(config)), show)
    elif step == "evaluate-news":
        from training.naming import exported_ggufs
        from training.pipeline import evaluate_news

        return evaluate_news(config, list(exported_ggufs(config)), show)
    elif step == "build-tools":
        from training.llama_tools import ensure_tools

        print(f"llama.cpp tools: {ensure_tools(config.export.tools_cache)}")
    elif step == "fetch-converter":
        from training.converter import ensure_converter

        print(f"converter: {ensure_converter(config.export.converter_cache)}")
    else:
        from training.pipeline import run_all

        return run_all(config, append_to=args.append_config, register=not args.skip_register, show_progress=show)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_cli(lambda: run_step(args.step, args))


if __name__ == "__main__":
    sys.exit(main())
