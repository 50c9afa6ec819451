"""``training all``: dataset → fine-tune → export → Modelfiles → (register) → base vs fine-tune on the test split.

The comparison goes through the harness's own run and report functions
(:mod:`utils.run.pipeline`, :mod:`utils.reports.pipeline`): every model over exactly the
held-out test split, then the metrics and comparison report, so the fine-tune (zero-shot,
every quantization) and its base (five-shot) are scored by the same code, with the same paired significance tests, as any other model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from training.config import TrainingConfig
from utils.cli import EXIT_FAILURES, EXIT_OK
from utils.config import Config
from utils.errors import HarnessError
from utils.reports.model_labels import ModelLabel
from utils.reports.pipeline import ReportSettings, run_comparison

log = logging.getLogger(__name__)

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
    """Write the harness config of the comparison run (base five-shot + each export zero-shot)."""
    from training.register import models_to_test_entries

    base = base_entry(config)
    tuned = [e for e in models_to_test_entries(config, quants) if e["backend"] == "llama_cpp"]
    folder = config.evaluate.output_dir
    data = {
        "models_to_test": [base, *tuned],
        "comparison_pairs": [[base["name"], e["name"]] for e in tuned]
        + [[tuned[0]["name"], e["name"]] for e in tuned[1:]],
        "sample_size": config.evaluate.iterations,
        "num_tokens_to_predict": 160,
        "context_window_size": 4096,
        "messages_folder": str(config.prompts_folder),
        "sentiment_save_folder": "sentiments",
        "report_output_file": "reports/model_comparison_report.xlsx",
        "report_output_csv_file": "reports/model_metrics.csv",
        "report_output_csv_folder": "reports",
        "heatmaps_folder": "heatmaps",
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text("# Written by `python -m training all`: the base model five-shot against the fine-tune zero-shot.\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
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


def report_settings(harness: Config, subject: str) -> ReportSettings:
    """The report settings of a harness config written here (its paths are absolute), for one subject."""
    specs = harness.models_to_test
    return ReportSettings(
        sentiments_dir=harness.sentiment_save_folder, metrics_csv=harness.report_output_csv_file,
        report_xlsx=harness.report_output_file, csv_folder=harness.report_output_csv_folder,
        heatmaps_dir=harness.heatmaps_folder, company=subject, models=[s.folder_name for s in specs],
        labels={s.folder_name: ModelLabel(s.folder_name, s.family, s.quantization, s.prompt_mode, s.backend)
                for s in specs},
        pairs=[tuple(p) for p in harness.comparison_pairs], seed=harness.seed,
        resamples=harness.bootstrap_resamples, neutral_band=harness.neutral_band,
    )


def comparison_report(harness: Config, subject: str) -> int:
    """The comparison workbook of ``subject``: 0, or 1 when some result files had to be skipped."""
    outcome = run_comparison(report_settings(harness, subject))
    for problem in outcome.problems:
        log.warning("%s", problem)
    return EXIT_FAILURES if outcome.problems else EXIT_OK


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
    code = evaluate(config, list(files), show_progress)
    return EXIT_OK if code == EXIT_OK else EXIT_FAILURES


def _register_or_warn(config: TrainingConfig, append_to: Path | None) -> None:
    from training.register import register_all

    try:
        register_all(config, append_to=append_to)
    except HarnessError as exc:
        log.warning("skipping Ollama registration: %s", exc)
