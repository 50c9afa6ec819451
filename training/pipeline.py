"""``training all``: dataset → fine-tune → export → Modelfiles → (register) → base vs fine-tune on the
test split and on news articles.

The comparison goes through the harness's own run and report functions
(:mod:`utils.run.pipeline`, :mod:`utils.reports.pipeline`): every model over exactly the
held-out test split, then the metrics and comparison report, so the fine-tune (zero-shot,
every quantization) and its base (five-shot) are scored by the same code, with the same paired significance tests, as any other model. The
news comparison (``evaluate-news``) runs the same models over the configured tickers'
articles (by default the shipped synthetic samples, whose intended sentiment gives accuracy
sheets marked synthetic) for ``news_iterations``, so its workbook adds consistency across
iterations to validity, latency and mean sentiment.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from training.config import TrainingConfig
from utils.cli import EXIT_FAILURES, EXIT_OK
from utils.config import Config
from utils.errors import HarnessError
from utils.io import write_text_atomic
from utils.reports.model_labels import ModelLabel
from utils.reports.pipeline import ReportSettings, run_comparison

log = logging.getLogger(__name__)

PROJECT_ARTICLES = Path(__file__).resolve().parent.parent / "data" / "articles"
_LEVEL_NAMES = {"all": "AllAgree", "75": "75Agree", "66": "66Agree", "50": "50Agree"}


def base_entry(config: TrainingConfig) -> dict[str, Any]:
    """The base model as a five-shot llama_cpp entry (the harness needs a GGUF to run it)."""
    spec = config.base_model
    entry: dict[str, Any] = {"name": f"{spec.name}:{config.evaluate.base_quantization}", "backend": "llama_cpp",
                             "family": spec.name, "quantization": config.evaluate.base_quantization,
                             "prompt_mode": "five_shot"}
    if spec.package_resource:
        entry["package_resource"] = spec.package_resource
    elif spec.gguf_path:
        entry["path"] = str(spec.gguf_path)
    else:
        raise HarnessError("evaluate: the base model is a Hugging Face folder; give base_model.gguf_path "
                           "or package_resource so the harness can run it in llama.cpp")
    return entry


def evaluation_config(config: TrainingConfig, quants: list[str]) -> Path:
    """Write the harness config of the comparison run on the test split (base five-shot + each
    export zero-shot)."""
    return _harness_config(config, quants, "config.yaml", "the test split", {
        "iterations": config.evaluate.iterations,
        "sentiment_save_folder": "sentiments",
        "report_output_file": "reports/model_comparison_report.xlsx",
        "report_output_csv_file": "reports/model_metrics.csv",
        "report_output_csv_folder": "reports",
        "heatmaps_folder": "heatmaps",
    })


def news_evaluation_config(config: TrainingConfig, quants: list[str]) -> Path:
    """Write the harness config of the news comparison: the same models over the configured
    tickers' articles, its results and workbook beside the test split's (``news_*`` names)."""
    return _harness_config(config, quants, "config-news.yaml", "news articles", {
        "iterations": config.evaluate.news_iterations,
        "articles_folder": str(PROJECT_ARTICLES),
        "sentiment_save_folder": "news_sentiments",
        "report_output_file": "reports/news_comparison_report.xlsx",
        "report_output_csv_file": "reports/news_metrics.csv",
        "report_output_csv_folder": "reports/news",
        "heatmaps_folder": "heatmaps/news",
    })


def _harness_config(config: TrainingConfig, quants: list[str], name: str, what: str,
                    keys: dict[str, Any]) -> Path:
    """Write ``name`` in the evaluation folder: base five-shot and every export zero-shot, all
    with the training prompt set, the base compared with each export and F16 with the others."""
    from training.register import models_to_test_entries

    base = base_entry(config)
    tuned = [e for e in models_to_test_entries(config, quants) if e["backend"] == "llama_cpp"]
    if not tuned:
        raise HarnessError("evaluate: no exported GGUF to compare with the base (run: python -m training export)")
    data = {
        "models_to_test": [base, *tuned],
        "comparison_pairs": [[base["name"], e["name"]] for e in tuned]
        + [[tuned[0]["name"], e["name"]] for e in tuned[1:]],
        "num_tokens_to_predict": 160,
        "context_window_size": 4096,
        "messages_folder": str(config.prompts_folder),
        **keys,
    }
    folder = config.evaluate.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    write_text_atomic(path, f"# Written by `python -m training`: the base model five-shot against the fine-tune "
                            f"zero-shot on {what}.\n" + yaml.safe_dump(data, sort_keys=False))
    return path


def evaluate(config: TrainingConfig, quants: list[str], show_progress: bool = False) -> int:
    """Run the harness over the test split and write the comparison report; returns the worst exit code."""
    from utils.config import load_config
    from utils.run.pipeline import RunOptions, run_dataset

    if config.dataset.fpb_path is None:
        raise HarnessError("evaluate: needs dataset.fpb_path (the test split is scored on FinancialPhraseBank)")
    harness = load_config(evaluation_config(config, quants))
    outcome = run_dataset(harness, "fpb", config.dataset.fpb_path, RunOptions(show_progress=show_progress),
                          agreement=config.evaluate.agreement, limit=config.evaluate.limit,
                          split="test", split_file=config.data_dir / "splits.json")
    subject = f"FPB-{_LEVEL_NAMES[config.evaluate.agreement]}-test"
    report_code = comparison_report(harness, subject)
    print(f"comparison report: {harness.report_output_file}")
    return max(outcome.exit_code, report_code)


def report_settings(harness: Config, subject: str | None) -> ReportSettings:
    """The report settings of a harness config written here (its paths are absolute), for one
    subject (None: every subject of its results)."""
    specs = harness.models_to_test
    return ReportSettings(
        sentiments_dir=harness.sentiment_save_folder, metrics_csv=harness.report_output_csv_file,
        report_xlsx=harness.report_output_file, csv_folder=harness.report_output_csv_folder,
        heatmaps_dir=harness.heatmaps_folder, subject=subject, models=[s.folder_name for s in specs],
        labels={s.folder_name: ModelLabel(s.folder_name, s.family, s.quantization, s.prompt_mode, s.backend)
                for s in specs},
        pairs=[(p[0], p[1]) for p in harness.comparison_pairs], seed=harness.seed,
        resamples=harness.bootstrap_resamples, neutral_band=harness.neutral_band,
    )


def comparison_report(harness: Config, subject: str | None) -> int:
    """The comparison workbook of ``subject``: 0, or 1 when some result files had to be skipped."""
    outcome = run_comparison(report_settings(harness, subject))
    for problem in outcome.problems:
        log.warning("%s", problem)
    return EXIT_FAILURES if outcome.problems else EXIT_OK


def evaluate_news(config: TrainingConfig, quants: list[str], show_progress: bool = False) -> int:
    """Base five-shot and every export zero-shot over the configured tickers' articles for
    ``news_iterations``, then the news comparison workbook; returns the worst exit code."""
    from utils.config import load_config
    from utils.news.snapshot_store import legacy_path
    from utils.run.pipeline import RunOptions, run_inputs, selected_models
    from utils.run.sources import news_input

    settings = config.evaluate
    if not settings.news_tickers:
        print("news comparison: no evaluate.news_tickers, skipped")
        return EXIT_OK
    harness = load_config(news_evaluation_config(config, quants))
    inputs = []
    for ticker in settings.news_tickers:
        pinned = str(legacy_path(harness.articles_folder, ticker)) if settings.news_articles == "samples" else None
        source = news_input(ticker, harness, offline=True, snapshot=pinned)
        if settings.news_limit is not None and settings.news_limit < len(source.items):
            source = replace(source, items=list(source.items)[:settings.news_limit],
                             source={**source.source, "limit": settings.news_limit})
        inputs.append(source)
    outcome = run_inputs(harness, inputs, selected_models(harness, None), RunOptions(show_progress=show_progress))
    report_code = comparison_report(harness, None)
    print(f"news comparison report: {harness.report_output_file}")
    return max(outcome.exit_code, report_code)


def run_all(config: TrainingConfig, append_to: Path | None = None, register: bool = True,
            show_progress: bool = False) -> int:
    """Every step in order; registration is skipped with a warning when no Ollama answers."""
    from training.dataset import build_dataset
    from training.export import export_all
    from training.finetune import finetune
    from training.modelfiles import write_modelfiles

    counts = build_dataset(config).counts
    print(f"dataset: {counts}")
    print(f"fine-tuned: {finetune(config, show_progress=show_progress).merged_dir}")
    files = export_all(config)
    for quant, path in files.items():
        print(f"{quant}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    for path in write_modelfiles(config):
        print(f"wrote {path}")
    if register:
        _register_or_warn(config, append_to)
    else:  # the GGUF entries still reach the harness config: a plain run then asks as the chain did
        from training.register import print_local_entries

        print_local_entries(config, append_to)
    code = max(evaluate(config, list(files), show_progress), evaluate_news(config, list(files), show_progress))
    return EXIT_OK if code == EXIT_OK else EXIT_FAILURES


def _register_or_warn(config: TrainingConfig, append_to: Path | None) -> None:
    from training.register import print_local_entries, register_all

    try:
        register_all(config, append_to=append_to)
    except HarnessError as exc:
        log.warning("skipping Ollama registration: %s", exc)
        print_local_entries(config, append_to)
