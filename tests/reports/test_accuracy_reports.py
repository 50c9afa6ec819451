"""Ground truth through the three report scripts: accuracy sheets, summary columns, figures.

The synthetic tests write labelled result trees here (gold_label/gold_score on every
item). One test runs the real SmolLM2 on 30 FinancialPhraseBank sentences and reports
on them; it skips where the shared copy of the dataset is absent (never redistributed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread
from openpyxl import load_workbook

import generate_heatmaps
import generate_model_comparison_report
import generate_model_metrics
import generate_model_sentiments
from tests.helpers import SMOLLM2, write_config
from tests.helpers import read_sheet as sheet
from utils.reports.metrics import CSV_COLUMNS

PROJECT = Path(__file__).resolve().parents[2]
FPB_DIR = PROJECT.parent / "shared" / "data" / "FinancialPhraseBank-v1.0"
GOLD = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
ITEMS = [(f"k{i:07d}", label) for i, label in enumerate(["negative", "neutral", "positive"] * 4)]
WRONG = {"negative": 0.8, "neutral": -0.9, "positive": 0.0}  # always the wrong label
ACCURACY_SHEETS = ["Accuracy", "Confusion", "Calibration", "Significance"]

CONFIG = """\
models_to_test: [oracle, contrarian, shaky]
comparison_pairs:
  - [oracle, contrarian]
  - [oracle, shaky]
seed: 7
bootstrap_resamples: 200
"""


def write_labelled(root: Path, model: str, scores, subject: str = "sample", iterations: int = 3,
                   confidence: float = 0.9) -> None:
    """``<root>/<model>/<subject>_<i>.json``; ``scores(label, item, iteration)`` gives each answer."""
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    for iteration in range(iterations):
        items = {}
        for row, (key, label) in enumerate(ITEMS):
            score = scores(label, row, iteration)
            items[key] = {
                "reasoning": "synthetic", "sentiment": score, "confidence": None if score is None else confidence,
                "valid": score is not None, "time_taken": 1.0 + 0.1 * row, "title": f"sentence {key}",
                "gold_label": label, "gold_score": GOLD[label],
            }
        data = {"model": model, "subject": subject, "iteration": iteration, "backend": "llama_cpp",
                "prompt_mode": "five_shot", "average_sentiment": 0.0, "time_taken": 1.0, "sentiments": items}
        (folder / f"{subject}_{iteration}.json").write_text(json.dumps(data), encoding="utf-8")


def oracle(label, row, iteration):
    """Always right."""
    return GOLD[label] * 0.9


def contrarian(label, row, iteration):
    """Always wrong."""
    return WRONG[label]


def shaky(label, row, iteration):
    """Right on even items; on odd items wrong, or invalid in the last iteration."""
    if row % 2 == 0:
        return GOLD[label] * 0.7
    return None if iteration == 2 else WRONG[label]


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """A config and a labelled results tree of three models on the 'sample' dataset."""
    results = tmp_path / "sentiments"
    for name, scores in (("oracle", oracle), ("contrarian", contrarian), ("shaky", shaky)):
        write_labelled(results, name, scores, confidence=0.6 if name == "shaky" else 0.9)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def run(script, root: Path, *extra: str) -> int:
    """``script.main`` on the tree under ``root``, writing into ``root/out``."""
    argv = ["--config", str(root / "config.yaml"), "--sentiments-dir", str(root / "sentiments"),
            "--output-dir", str(root / "out"), "-q", *extra]
    return script.main(argv)


def by_model(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("Model")


# --- comparison workbook -----------------------------------------------------------------


def test_comparison_report_has_accuracy_sheets_with_hand_worked_values(labelled):
    assert run(generate_model_comparison_report, labelled) == 0
    book_path = labelled / "out" / "model_comparison_report.xlsx"
    names = load_workbook(book_path, read_only=True).sheetnames
    assert names[0] == "Leaderboard" and names[-6:] == [*ACCURACY_SHEETS, "Appendix (unblocked)", "Method"]
    board = sheet(book_path, "Leaderboard")
    assert board["Model"].iloc[0] == "oracle" and board["Accuracy vs Best"].iloc[0] == "best"

    acc = by_model(sheet(book_path, "Accuracy"))
    assert list(acc.index) == ["contrarian", "oracle", "shaky", "majority-class baseline"]
    assert acc.loc["oracle", "Accuracy"] == 1.0 and acc.loc["oracle", "Macro-F1"] == 1.0
    assert acc.loc["contrarian", "Accuracy"] == 0.0
    # shaky: 6 of 12 items right in every iteration; 6 wrong twice and invalid once
    assert acc.loc["shaky", "Accuracy"] == pytest.approx(0.5)
    assert acc.loc["shaky", "Invalid Rate"] == pytest.approx(6 / 36)
    assert acc.loc["oracle", "ECE"] == pytest.approx(0.1) and acc.loc["oracle", "Brier"] == pytest.approx(0.01)
    assert acc.loc["majority-class baseline", "Accuracy"] == pytest.approx(1 / 3)
    assert acc.loc["oracle", "Items"] == 12 and acc.loc["oracle", "Answers"] == 36

    confusion = sheet(book_path, "Confusion")
    oracle_rows = confusion[confusion["Model"] == "oracle"].set_index("Gold")
    assert oracle_rows.loc["positive", "Predicted positive"] == 12
    assert oracle_rows.loc["positive", "Predicted negative"] == 0
    shaky_rows = confusion[confusion["Model"] == "shaky"]
    assert shaky_rows["Predicted invalid"].sum() == 6

    calibration = sheet(book_path, "Calibration")
    oracle_bins = calibration[calibration["Model"] == "oracle"]
    assert oracle_bins["Answers"].tolist() == [36] and oracle_bins["Accuracy"].tolist() == [1.0]


def test_significance_sheet_highlights_a_significant_mcnemar(labelled):
    assert run(generate_model_comparison_report, labelled) == 0
    book_path = labelled / "out" / "model_comparison_report.xlsx"
    table = sheet(book_path, "Significance")
    assert table["Test"].iloc[0] == "Cochran's Q (all models)"
    pair = table[(table["Model A"] == "oracle") & (table["Model B"] == "contrarian")].iloc[0]
    assert pair["A Right B Wrong"] == 12 and pair["A Wrong B Right"] == 0
    assert pair["p-value"] == pytest.approx(2 * 0.5 ** 12)
    assert pair["Accuracy Diff"] == 1.0
    ws = load_workbook(book_path)["Significance"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2) if r[header.index("Model B")].value == "contrarian")
    assert row[header.index("Holm p")].fill.fgColor.rgb.endswith("C6EFCE")  # adjusted p only
    assert not row[header.index("p-value")].font.bold


def test_method_sheet_explains_every_accuracy_test(labelled):
    assert run(generate_model_comparison_report, labelled) == 0
    method = sheet(labelled / "out" / "model_comparison_report.xlsx", "Method")
    statistics = " | ".join(method["Statistic"])
    assert "Holm" in " | ".join(method["Correction"])
    for name in ("McNemar exact", "Cochran's Q", "Paired bootstrap", "ECE", "Brier", "Fleiss"):
        assert name in statistics, name
    assert {"Accuracy", "Calibration", "Significance"} <= set(method["Sheet"])


def test_news_only_reports_are_unchanged(tmp_path, write_results):
    write_results(tmp_path / "sentiments", "m1", [[0.5, 0.4], [-0.2, -0.1]])
    write_results(tmp_path / "sentiments", "m2", [[0.1, 0.3], [0.2, 0.0]])
    (tmp_path / "config.yaml").write_text("models_to_test: [m1, m2]\nbootstrap_resamples: 200\n")
    for script in (generate_model_metrics, generate_model_comparison_report, generate_heatmaps):
        assert run(script, tmp_path) == 0
    out = tmp_path / "out"
    names = load_workbook(out / "model_comparison_report.xlsx", read_only=True).sheetnames
    assert not set(ACCURACY_SHEETS) & set(names)
    assert not {"Accuracy", "Calibration", "Significance"} & set(sheet(out / "model_comparison_report.xlsx",
                                                                        "Method")["Sheet"])
    assert list(pd.read_csv(out / "model_metrics.csv").columns)[-1] == "Notes"
    assert "Accuracy" not in sheet(out / "model_metrics.xlsx", "Summary").columns
    assert not list((out / "heatmaps").glob("accuracy_*.png")) + list((out / "heatmaps").glob("reliability_*"))


# --- metrics step and figures ------------------------------------------------------------


def test_metrics_add_accuracy_columns_after_the_required_ones(labelled):
    assert run(generate_model_metrics, labelled) == 0
    csv = pd.read_csv(labelled / "out" / "model_metrics.csv")
    assert list(csv.columns[:7]) == CSV_COLUMNS
    assert {"Gold Label", "Accuracy"} <= set(csv.columns)
    oracle_rows = csv[csv["Model Name"] == "oracle"]
    assert len(oracle_rows) == 12 and (oracle_rows["Accuracy"] == 1.0).all()
    summary = sheet(labelled / "out" / "model_metrics.xlsx", "Summary").set_index("Model Name")
    assert summary.loc["oracle", "Accuracy"] == 1.0 and summary.loc["oracle", "Macro-F1"] == 1.0
    assert summary.loc["contrarian", "Accuracy"] == 0.0
    assert summary.loc["shaky", "Labelled Items"] == 12
    assert list(summary.columns)[-1] == "Notes"


@pytest.mark.slow  # renders every heatmap and diagram
def test_heatmaps_add_f1_heatmap_and_reliability_diagrams(labelled):
    assert run(generate_heatmaps, labelled) == 0
    folder = labelled / "out" / "heatmaps"
    for name in ("accuracy_f1_sample.png", "reliability_sample.png"):
        image = imread(folder / name)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, name


@pytest.mark.parametrize("subject, expected, exit_code", [
    ("SAMPLE", ["sample"], 0),  # every model folder has files for it
    ("fpb-allagree", ["FPB-AllAgree"], 1),  # 'shaky' has none: reported as skipped input
    ("NVDA", [], 1),
])
def test_subject_filter_takes_a_dataset_name(labelled, write_results, subject, expected, exit_code):
    write_labelled(labelled / "sentiments", "oracle", oracle, subject="FPB-AllAgree", iterations=2)
    write_labelled(labelled / "sentiments", "contrarian", contrarian, subject="FPB-AllAgree", iterations=2)
    write_results(labelled / "sentiments", "oracle", [[0.2, 0.3]], subject="NVDA")
    code = run(generate_model_comparison_report, labelled, "--subject", subject)
    assert code == exit_code
    book_path = labelled / "out" / "model_comparison_report.xlsx"
    names = load_workbook(book_path, read_only=True).sheetnames
    if not expected:
        assert "Accuracy" not in names
        return
    acc = sheet(book_path, "Accuracy")
    assert sorted(acc["Dataset"].unique()) == expected
    assert "majority-class baseline" in set(acc["Model"])


# --- the real model -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not (FPB_DIR / "Sentences_AllAgree.txt").is_file(),
                    reason=f"FinancialPhraseBank v1.0 not found at {FPB_DIR} (not redistributed; "
                           "place a copy there to run this test)")
def test_smollm2_on_thirty_fpb_sentences_end_to_end(tmp_path):
    config = write_config(tmp_path, [SMOLLM2], iterations=1)
    started = time.perf_counter()
    code = generate_model_sentiments.main([
        "--config", str(config), "--dataset", "fpb", "--dataset-path", str(FPB_DIR), "--limit", "30",
        "--iterations", "1", "--models", SMOLLM2["name"], "--output-dir", str(tmp_path / "runs"), "-q",
    ])
    assert code == 0
    result = json.loads((tmp_path / "runs" / "smollm2-135m-instruct_q4_1" / "FPB-AllAgree_0.json").read_text())
    assert len(result["sentiments"]) == 30
    assert all(item["gold_label"] in GOLD for item in result["sentiments"].values())
    argv = ["--config", str(config), "--sentiments-dir", str(tmp_path / "runs"), "--output-dir",
            str(tmp_path / "out"), "-q"]
    assert generate_model_comparison_report.main(argv) == 0
    acc = sheet(tmp_path / "out" / "model_comparison_report.xlsx", "Accuracy").set_index("Model")
    assert list(acc.index) == ["smollm2-135m-instruct_q4_1", "majority-class baseline"]
    assert acc.loc["smollm2-135m-instruct_q4_1", "Items"] == 30
    assert 0.0 <= acc.loc["smollm2-135m-instruct_q4_1", "Accuracy"] <= 1.0
    assert acc.loc["majority-class baseline", "Accuracy"] == pytest.approx(18 / 30, abs=0.04)
    print(f"SmolLM2 on 30 FPB sentences plus report: {time.perf_counter() - started:.0f} s")
