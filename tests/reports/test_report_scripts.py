"""The three report scripts end to end through main(argv), on result trees built here."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from scipy import stats as sps

import generate_heatmaps
import generate_model_comparison_report
import generate_model_metrics
from tests.helpers import read_sheet as sheet
from utils.reports import cli as report_cli
from utils.reports.metrics import CSV_COLUMNS, METRIC_LIST, REQUIRED_METRICS

SCRIPTS = [generate_model_metrics, generate_model_comparison_report, generate_heatmaps]
COMPARISON_SHEETS = ["Leaderboard", "Summary", "Consistency", "Omnibus", "Post-hoc", "Pairwise", "Per Article",
                     "Appendix (unblocked)", "Method"]

CONFIG = """\
models_to_test:
  - {{name: "llama3:8b-q4_K_M", backend: ollama, family: llama3-8b, quantization: q4_K_M}}
  - {{name: "llama3:8b-q8_0", backend: ollama, family: llama3-8b, quantization: q8_0}}
  - {{name: "old-tool-model", backend: ollama}}
comparison_pairs:
{pairs}
seed: 11
bootstrap_resamples: 300
sentiment_save_folder: sentiments
report_output_file: reports/model_comparison_report.xlsx
report_output_csv_file: reports/model_metrics.csv
report_output_csv_folder: reports
heatmaps_folder: heatmaps
"""
DEFAULT_PAIRS = """\
  - ['LLAMA3:8B-Q4_K_M', 'llama3_8b-q8_0']
  - ['llama3:8b-q4_K_M', 'old-tool-model']
"""


@pytest.fixture
def project(tmp_path, write_results) -> Path:
    """A config and a results tree: two models in this project's format, one in the original's."""
    rng = np.random.default_rng(5)
    base = rng.uniform(-1, 1, size=(8, 1))
    results = tmp_path / "sentiments"
    write_results(results, "llama3_8b-q4_K_M", np.clip(base + rng.normal(0, 0.1, (8, 4)), -1, 1).tolist(),
                  seconds=lambda r, i: 1.0 + 0.1 * r + 0.01 * i)
    write_results(results, "llama3_8b-q8_0", np.clip(base + rng.normal(0.2, 0.1, (8, 4)), -1, 1).tolist(),
                  seconds=lambda r, i: 2.0 + 0.05 * r * r)
    write_results(results, "old-tool-model", np.clip(base + rng.normal(0, 0.3, (8, 4)), -1, 1).tolist(),
                  bare=True, seconds=lambda r, i: 3.0 + (r % 3))
    (tmp_path / "config.yaml").write_text(CONFIG.format(pairs=DEFAULT_PAIRS))
    return tmp_path


def run(script, *args: str) -> int:
    return script.main([*map(str, args)])


# --- generate_model_metrics.py -----------------------------------------------------------


def test_metrics_csv_and_workbook(project):
    assert run(generate_model_metrics, "--config", project / "config.yaml") == 0
    csv = pd.read_csv(project / "reports" / "model_metrics.csv")
    assert list(csv.columns[:7]) == CSV_COLUMNS
    assert set(csv["Model Name"]) == {"llama3_8b-q4_K_M", "llama3_8b-q8_0", "old-tool-model"}
    assert len(csv) == 24
    row = csv[(csv["Model Name"] == "llama3_8b-q8_0") & (csv["Article Key"] == "a0000002")].iloc[0]
    assert row["Inference Rate (s)"] == pytest.approx(2.2)
    assert row["Valid JSON Rate"] == 1.0
    assert (row["Family"], row["Quantization"]) == ("llama3-8b", "q8_0")
    assert row["Mean Sentiment"] != round(row["Mean Sentiment"], 2)  # full precision
    book = load_workbook(project / "reports" / "model_metrics.xlsx")
    assert book.sheetnames == ["Summary", "Per Article"]
    assert book["Per Article"]["C2"].number_format == "0.00"


def test_broken_input_is_skipped_with_exit_code_1(project, capsys):
    (project / "sentiments" / "llama3_8b-q8_0" / "NVDA_9.json").write_text('{"average_sentiment": 0.1, "sent')
    (project / "sentiments" / "llama3_8b-q8_0" / "NVDA_8.json").write_text('{"average_sentiment": 0.1}')
    (project / "sentiments" / "empty_model").mkdir()
    code = run(generate_model_metrics, "--sentiments-dir", project / "sentiments", "--config", project / "config.yaml")
    assert code == report_cli.EXIT_SKIPPED == 1
    err = capsys.readouterr().err
    assert "NVDA_9.json: not valid JSON" in err
    assert "NVDA_8.json: missing key 'sentiments'" in err
    assert "empty_model: model folder has no result files" in err
    csv = pd.read_csv(project / "reports" / "model_metrics.csv")
    assert len(csv) == 24  # the rest was processed


def test_no_results_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text(CONFIG.format(pairs="  []"))
    assert run(generate_model_metrics, "--config", tmp_path / "config.yaml") == report_cli.EXIT_ERROR == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "results folder not found" in err[0]


def test_bad_config_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("models_to_test: []\nbogus: 1\n")
    assert run(generate_heatmaps, "--config", tmp_path / "config.yaml") == report_cli.EXIT_ERROR
    assert "config.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--subject", "--company"])  # --company: the older name, kept
def test_subject_filter(project, write_results, capsys, option):
    write_results(project / "sentiments", "llama3_8b-q4_K_M", [[0.1, 0.2]], subject="AAPL", keys=["zz"])
    assert run(generate_model_metrics, "--config", project / "config.yaml", option, "aapl") == 1
    assert "no result files for 'aapl' for model 'old-tool-model'" in capsys.readouterr().err
    csv = pd.read_csv(project / "reports" / "model_metrics.csv")
    assert list(csv["Article Key"]) == ["zz"] and list(csv["Ticker"]) == ["AAPL"]


def test_without_a_config_file_results_dir_is_enough(tmp_path, write_results, monkeypatch):
    monkeypatch.setattr(report_cli, "DEFAULT_CONFIG_PATH", tmp_path / "absent.yaml")
    monkeypatch.chdir(tmp_path)
    write_results(tmp_path / "old", "a", [[0.1, 0.3], [0.2, 0.2]], bare=True)
    assert run(generate_model_metrics, "--sentiments-dir", tmp_path / "old") == 0
    assert (tmp_path / "reports" / "model_metrics.csv").is_file()


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_documents_every_option(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--config", "--sentiments-dir", "--output-dir", "--subject", "--company", "--verbose", "--quiet",
                   "examples:", "exit codes"):
        assert option in text
    assert ("--all-pairs" in text) == (script is generate_model_comparison_report)


# --- generate_model_comparison_report.py -------------------------------------------------


def test_comparison_report(project):
    assert run(generate_model_comparison_report, "--config", project / "config.yaml") == 0
    path = project / "reports" / "model_comparison_report.xlsx"
    assert load_workbook(path).sheetnames == COMPARISON_SHEETS
    assert (project / "reports" / "model_metrics.csv").is_file()  # metrics step ran first
    pairwise = sheet(path, "Pairwise")
    assert set(pairwise["Pair"]) == {"llama3_8b-q4_K_M vs llama3_8b-q8_0", "llama3_8b-q4_K_M vs old-tool-model"}
    assert set(pairwise["Metric"]) == {m.column for m in METRIC_LIST if m.pairwise}
    csv = pd.read_csv(project / "reports" / "model_metrics.csv")
    a = csv[csv["Model Name"] == "llama3_8b-q4_K_M"].set_index("Article Key")["Mean Sentiment"]
    b = csv[csv["Model Name"] == "llama3_8b-q8_0"].set_index("Article Key")["Mean Sentiment"]
    row = pairwise[(pairwise["Model B"] == "llama3_8b-q8_0") & (pairwise["Metric"] == "Mean Sentiment")].iloc[0]
    expected = sps.ttest_rel(a, b.loc[a.index])
    assert row["Test"] == "paired t" and row["Statistic"] == pytest.approx(expected.statistic)
    assert row["p"] == pytest.approx(expected.pvalue)
    assert row["Mean Diff (A−B)"] == pytest.approx((a - b.loc[a.index]).mean())
    p_values = pairwise[pairwise["Metric"] == "Mean Sentiment"]["p"].astype(float)
    holm = pairwise[pairwise["Metric"] == "Mean Sentiment"]["Holm p"].astype(float)
    assert holm.max() == pytest.approx(min(1.0, max(p_values.max(), 2 * p_values.min())))
    per_article = sheet(path, "Per Article")
    assert len(per_article) == 16 and per_article["Mean Sentiment A"].notna().all()
    assert (project / "reports" / "model_comparison_report_pairwise.csv").is_file()
    assert (project / "reports" / "model_comparison_report_appendix_unblocked.csv").is_file()  # no brackets in names


def test_summary_ci_and_consistency(project):
    assert run(generate_model_comparison_report, "--config", project / "config.yaml") == 0
    path = project / "reports" / "model_comparison_report.xlsx"
    summary = sheet(path, "Summary").set_index("Model")
    row = summary.loc["llama3_8b-q4_K_M"]
    assert row["Mean Sentiment CI Low"] < row["Mean Sentiment"] < row["Mean Sentiment CI High"]
    assert row["Iterations"] == 4 and row["Articles"] == 8
    consistency = sheet(path, "Consistency").set_index("Model")
    assert consistency.loc["llama3_8b-q4_K_M", "ICC(2,1)"] > consistency.loc["old-tool-model", "ICC(2,1)"]
    omnibus = sheet(path, "Omnibus")
    assert {"Linear mixed model (item + model × item)", "Two-way ANOVA on per-item means", "Friedman",
            "Repeated-measures ANOVA (GG)", "Cochran's Q (valid JSON)"} <= set(omnibus["Test"])
    assert omnibus["Role"].iloc[0] == "primary" and omnibus["Test"].iloc[0] == "Two-way ANOVA on per-item means"
    appendix = set(sheet(path, "Appendix (unblocked)")["Test"])
    assert {"One-way ANOVA", "Welch's ANOVA", "Kruskal–Wallis", "Linear mixed model (item only)"} <= appendix
    method = sheet(path, "Method")
    assert len(method) >= 15 and method["Correction"].str.contains("Holm").any()


def test_rank_by_chooses_the_leaderboard_order(project):
    config = project / "config.yaml"
    assert run(generate_model_comparison_report, "--config", config, "--rank-by", "latency") == 0
    board = sheet(project / "reports" / "model_comparison_report.xlsx", "Leaderboard")
    latency = pd.to_numeric(board["Latency All (s)"])
    assert latency.iloc[0] == latency.min() and board["Latency vs Best"].iloc[0] == "best"


def test_unknown_pair_is_reported_not_fatal(project, capsys):
    (project / "config.yaml").write_text(CONFIG.format(pairs="  - ['llama3:8b-q4_K_M', 'ghost:7b']\n"))
    assert run(generate_model_comparison_report, "--config", project / "config.yaml") == report_cli.EXIT_OK
    pairwise = sheet(project / "reports" / "model_comparison_report.xlsx", "Pairwise")
    best = sheet(project / "reports" / "model_comparison_report.xlsx", "Leaderboard")["Model"].iloc[0]
    assert (pairwise["Model A"] == best).all() and len(set(pairwise["Model B"])) >= 1  # against the best
    err = capsys.readouterr().err
    assert err.count("ghost:7b") == 1 and "comparing every model with the best-ranked one" in err


def test_metrics_csv_is_rewritten_only_when_stale(project):
    config = project / "config.yaml"
    csv = project / "reports" / "model_metrics.csv"
    assert run(generate_model_metrics, "--config", config) == 0
    old = time.time() - 100
    os.utime(csv, (old + 50, old + 50))
    for path in (project / "sentiments").rglob("*.json"):
        os.utime(path, (old, old))
    assert run(generate_model_comparison_report, "--config", config) == 0
    assert csv.stat().st_mtime == pytest.approx(old + 50, abs=0.01)  # current: left alone
    os.utime(next((project / "sentiments").rglob("*.json")), None)  # a result newer than the CSV
    assert run(generate_model_comparison_report, "--config", config) == 0
    assert csv.stat().st_mtime > old + 60


@pytest.mark.slow  # renders every heatmap
def test_heatmaps_script_writes_pngs(project):
    out = project / "out"
    assert run(generate_heatmaps, "--config", project / "config.yaml", "--output-dir", out, "-q") == 0
    pngs = sorted(p.name for p in (out / "heatmaps").glob("*.png"))
    assert len(pngs) == 2 * len(REQUIRED_METRICS) + 1
    assert (out / "model_metrics.csv").is_file()


# --- scale -------------------------------------------------------------------------------


@pytest.mark.slow  # the three reports over 30 models x 14 iterations x 20 articles
def test_thirty_models_fourteen_iterations_twenty_articles(tmp_path, write_results):
    rng = np.random.default_rng(3)
    base = rng.uniform(-1, 1, size=(20, 1))
    families = ["llama3-8b", "mistral-7b", "qwen2-7b", "phi3-mini", "gemma2-9b", "tinyllama-1b", "smollm2-1b"]
    quantizations = ["q4_K_M", "q5_K_M", "q8_0", "f16", "q4_1"]
    names = [f"{f}-{q}" for f in families for q in quantizations][:31]
    for name in names:
        scores = np.clip(base + rng.normal(0, 0.2, (20, 14)), -1, 1)
        scores[rng.random(scores.shape) < 0.05] = np.nan
        write_results(tmp_path / "sentiments", name, scores.tolist(), seconds=lambda r, i: 1.0 + (r * i) % 7 / 10)
    pairs = "  - ['LLAMA3-8B-q4_K_M', 'llama3-8b-q8_0']\n  - ['mistral-7b-q4_K_M', 'MISTRAL-7B-F16']\n"
    (tmp_path / "config.yaml").write_text(CONFIG.format(pairs=pairs))
    args = ["--config", tmp_path / "config.yaml", "--sentiments-dir", tmp_path / "sentiments", "-q"]
    started = time.monotonic()
    for script in SCRIPTS:
        assert run(script, *args) == 0
    elapsed = time.monotonic() - started
    csv = pd.read_csv(tmp_path / "reports" / "model_metrics.csv")
    assert len(csv) == 31 * 20
    book = load_workbook(tmp_path / "reports" / "model_comparison_report.xlsx", read_only=True)
    assert book.sheetnames == COMPARISON_SHEETS
    assert len(list(book["Summary"].iter_rows())) == 32
    assert len(list(book["Pairwise"].iter_rows())) == 1 + 2 * 4  # 2 pairs x 4 compared metrics
    assert len(list((tmp_path / "heatmaps").glob("*.png"))) == 2 * len(REQUIRED_METRICS) + 1
    print(f"three scripts on 31 models: {elapsed:.1f} s")
