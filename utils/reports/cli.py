"""The command line shared by the three report scripts: options, settings, logging, exit codes.

Exit codes (the same for the three scripts, and as in :mod:`utils.cli`):

* 0: everything was read and written;
* 1: the files were written, but some input was unreadable and skipped (a broken or
  truncated result file, a model folder without result files); the warnings name each one.
  Comparison pairs naming models absent from the results are a warning, not an error;
* 2: nothing was written: bad command line, bad config, no results to read, or an
  output file that cannot be written (one line on stderr says which);
* 130: interrupted.
"""

from __future__ import annotations

import argparse
import logging
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from utils.cli import EXIT_FAILURES, EXIT_OK, EXIT_USAGE, run_cli, setup_logging
from utils.config import DEFAULT_CONFIG_PATH, Config, load_config
from utils.errors import ConfigError
from utils.reports.criteria import RANK_CHOICES
from utils.reports.model_labels import ModelLabel
from utils.reports.pipeline import ReportSettings, StepOutcome

log = logging.getLogger(__name__)

EXIT_SKIPPED = EXIT_FAILURES
EXIT_ERROR = EXIT_USAGE

COMMON_EPILOG = """\
models:
  The models are those listed in the config (models_to_test). With --sentiments-dir, or
  when the config lists none, every model folder found in the results folder is used.

exit codes:
  0 success; 1 files written but some input was skipped (see the warnings);
  2 nothing written: bad command line, bad config or no results (message on stderr);
  130 interrupted.
"""

Step = Callable[[ReportSettings], StepOutcome]


def build_parser(prog: str, description: str, examples: str, all_pairs: bool = False) -> argparse.ArgumentParser:
    """The argument parser of one report script."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n" + textwrap.indent(textwrap.dedent(examples).strip(), "  ") + "\n\n" + COMMON_EPILOG,
    )
    parser.add_argument("--config", metavar="PATH", type=Path,
                        help=f"config file (default: {DEFAULT_CONFIG_PATH.name} next to the scripts)")
    parser.add_argument("--sentiments-dir", metavar="DIR", type=Path,
                        help="results folder to read (default: sentiment_save_folder from the config); "
                             "every model folder in it is reported")
    parser.add_argument("--output-dir", metavar="DIR", type=Path,
                        help="write CSV and XLSX files into DIR and PNGs into DIR/heatmaps "
                             "(default: the paths in the config)")
    parser.add_argument("--subject", "--company", dest="subject", metavar="NAME",
                        help="only results for this subject, a ticker or a dataset name, e.g. NVDA "
                             "(default: all; --company is the older name)")
    if all_pairs:
        parser.add_argument("--all-pairs", action="store_true",
                            help="compare every pair of models, not only comparison_pairs from the config")
        parser.add_argument("--rank-by", choices=RANK_CHOICES, default="auto",
                            help="Leaderboard order (default auto: accuracy when labelled, else valid-JSON "
                                 "rate then label disagreement)")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", help="also log debug details")
    noise.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    return parser


def read_config(path: Path | None, sentiments_dir: Path | None) -> Config | None:
    """The config at ``path`` (or the default one); None when no default exists but results were given."""
    if path is not None:
        return load_config(path)
    if DEFAULT_CONFIG_PATH.is_file():
        return load_config(DEFAULT_CONFIG_PATH)
    if sentiments_dir is not None:
        log.info("no %s found: using default settings", DEFAULT_CONFIG_PATH)
        return None
    raise ConfigError(f"{DEFAULT_CONFIG_PATH}: config file not found (pass --config, or --sentiments-dir "
                      "to report on a results folder with default settings)")


def _defaults() -> dict:
    """The Config field defaults, for running without a config file."""
    return {name: info.get_default(call_default_factory=True) for name, info in Config.model_fields.items()
            if name != "models_to_test"}


def _absolute(path: Path | str) -> Path:
    """``path`` anchored at the working directory when relative (config paths already are absolute)."""
    path = Path(path)
    return path if path.is_absolute() else Path.cwd() / path


def settings_from_args(args: argparse.Namespace) -> ReportSettings:
    """ReportSettings from the command line and the config (paths already resolved)."""
    config = read_config(args.config, args.sentiments_dir)
    values = config.model_dump() if config is not None else _defaults()
    paths = {k: _absolute(values[k]) for k in ("sentiment_save_folder", "report_output_file",
                                             "report_output_csv_file", "report_output_csv_folder",
                                             "heatmaps_folder")}
    if args.output_dir is not None:
        out = args.output_dir
        paths.update(report_output_file=out / paths["report_output_file"].name,
                     report_output_csv_file=out / paths["report_output_csv_file"].name,
                     report_output_csv_folder=out, heatmaps_folder=out / "heatmaps")
    specs = config.models_to_test if config is not None else []
    use_folders = args.sentiments_dir is None and bool(specs)
    return ReportSettings(
        sentiments_dir=args.sentiments_dir or paths["sentiment_save_folder"],
        metrics_csv=paths["report_output_csv_file"], report_xlsx=paths["report_output_file"],
        csv_folder=paths["report_output_csv_folder"], heatmaps_dir=paths["heatmaps_folder"],
        subject=args.subject, models=[s.folder_name for s in specs] if use_folders else None,
        labels={s.folder_name: ModelLabel(s.folder_name, s.family, s.quantization, s.prompt_mode, s.backend)
                for s in specs},
        pairs=[tuple(p) for p in values["comparison_pairs"]], all_pairs=getattr(args, "all_pairs", False),
        seed=values["seed"], resamples=values["bootstrap_resamples"], neutral_band=values["neutral_band"],
        rank_by=getattr(args, "rank_by", "auto"),
    )


def run_script(argv: Sequence[str] | None, parser: argparse.ArgumentParser, step: Step) -> int:
    """Parse ``argv``, run ``step`` and turn the outcome into an exit code."""
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return run_cli(lambda: _run_step(step, args))


def _run_step(step: Step, args: argparse.Namespace) -> int:
    """Run ``step`` with settings from ``args``; EXIT_SKIPPED when some input was skipped."""
    outcome = step(settings_from_args(args))
    for path in outcome.written:
        log.info("written: %s", path)
    if outcome.problems:
        log.warning("%d input problem(s) skipped; the reports cover the rest", len(outcome.problems))
        return EXIT_SKIPPED
    return EXIT_OK
