"""A whole run as a function: the subjects' items, every model over them, one exit code.

generate_model_sentiments.py is a command line over :func:`run_news` and
:func:`run_dataset`; ``python -m training`` calls them directly with the harness config it
wrote. Each returns a :class:`RunOutcome`: the summary of every subject's run and the exit
code of the worst one (0 all units done, 1 some units failed).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from utils.cli import EXIT_FAILURES, EXIT_OK
from utils.config import Config, ModelSpec
from utils.run.prompts import PromptTemplates, load_templates
from utils.run.runner import RunPlan, RunSummary, run_benchmark, summary_table
from utils.run.sources import RunInput, dataset_input, news_input

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """What the command line may change about a run (None: the config's value)."""

    models: Sequence[str] | None = None  # configured model names; None: every model
    iterations: int | None = None
    output_dir: Path | None = None
    force: bool = False
    keep_stale: bool = False
    show_progress: bool = False
    print_summary: bool = True


@dataclass
class RunOutcome:
    """Per subject, what happened to each unit; ``exit_code`` the worst of them."""

    summaries: dict[str, RunSummary] = field(default_factory=dict)
    inputs: list[RunInput] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILURES if any(s.failed for s in self.summaries.values()) else EXIT_OK


def selected_models(config: Config, names: Sequence[str] | None) -> list[ModelSpec]:
    """The configured models called ``names`` (ConfigError on an unknown one), else all of them."""
    return [config.model(name) for name in names] if names else list(config.models_to_test)


def news_inputs(config: Config, tickers: Sequence[str], *, refresh: bool = False, offline: bool = False,
                snapshot: str | None = None, labels: Path | None = None) -> list[RunInput]:
    """Every ticker's articles, settled before any model runs (a bad ticker or snapshot stops
    the command at once, not after the first ticker's inference)."""
    return [news_input(ticker, config, refresh=refresh, offline=offline, snapshot=snapshot, labels=labels)
            for ticker in tickers or [config.ticker_symbol.upper()]]


def run_news(config: Config, tickers: Sequence[str], options: RunOptions | None = None, *,
             refresh: bool = False, offline: bool = False, snapshot: str | None = None,
             labels: Path | None = None) -> RunOutcome:
    """Every model over each ticker's article snapshot, ticker after ticker (``labels``: a
    ``key,label`` CSV of gold labels for its articles)."""
    options = options or RunOptions()
    models = selected_models(config, options.models)
    inputs = news_inputs(config, tickers, refresh=refresh, offline=offline, snapshot=snapshot, labels=labels)
    return run_inputs(config, inputs, models, options)


def run_dataset(config: Config, kind: str, path: Path | None, options: RunOptions | None = None, *,
                agreement: str = "all", limit: int | None = None, sample_seed: int | None = None,
                split: str | None = None, split_file: Path | None = None) -> RunOutcome:
    """Every model over a labelled dataset (FinancialPhraseBank or a text,label CSV)."""
    options = options or RunOptions()
    models = selected_models(config, options.models)
    source = dataset_input(kind, path, config, agreement=agreement, limit=limit, sample_seed=sample_seed,
                           split=split, split_file=split_file)
    return run_inputs(config, [source], models, options)


def run_inputs(config: Config, inputs: Sequence[RunInput], models: Sequence[ModelSpec],
               options: RunOptions) -> RunOutcome:
    """Every model over each input in turn."""
    outcome = RunOutcome(inputs=list(inputs))
    templates = load_templates(config.messages_folder)
    for source in inputs:
        outcome.summaries[source.subject] = run_input(config, source, models, options, templates)
    return outcome


def run_input(config: Config, source: RunInput, models: Sequence[ModelSpec], options: RunOptions,
              templates: PromptTemplates) -> RunSummary:
    """Every model over one subject's items; the summary (printed unless told not to)."""
    plan = RunPlan(
        config=config,
        templates=templates,
        subject=source.subject,
        company_name=source.company_name,
        items=source.items,
        models=models,
        iterations=options.iterations or config.iterations,
        output_dir=options.output_dir or config.sentiment_save_folder,
        source=source.source,
        force=options.force,
        keep_stale=options.keep_stale,
    )
    log.info("%d model(s) x %d iteration(s) x %d item(s) of %s -> %s", len(models), plan.iterations,
             len(plan.items), plan.subject, plan.output_dir)
    summary = run_benchmark(plan, show_progress=options.show_progress)
    if options.print_summary:
        print(summary_table(summary))
    if summary.failed:
        print(f"{plan.subject}: {len(summary.failed)} unit(s) failed; fix the cause and rerun to resume.",
              file=sys.stderr)
    return summary
