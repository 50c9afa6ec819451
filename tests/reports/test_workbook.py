"""utils.reports.workbook (formatting, sheet registry) and the comparison workbook read back with openpyxl."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from utils.reports import sheets as report_sheets  # noqa: F401  (registers the sheets)
from utils.reports.comparison import build_context, resolve_pairs
from utils.reports.results_table import load_results_frame
from utils.reports.workbook import NA, SHEETS, ColourScale, SheetTable, build_sheets, register_sheet, write_workbook

COMPARISON_SHEETS = ["Summary", "Consistency", "ANOVA", "Pairwise", "Per Article", "Method"]


@pytest.fixture
def sample_table() -> SheetTable:
    frame = pd.DataFrame({
        "Model": ["alpha", "a-much-longer-model-name-q4_K_M"],
        "Mean Sentiment": [0.123456, np.nan],
        "p-value": [0.0001, 0.2],
        "Notes": ["", "no valid answers"],
    })
    return SheetTable("Demo", frame, formats={"Mean Sentiment": "0.00"}, p_columns=["p-value"],
                      scales={"Mean Sentiment": ColourScale("F8696B", "63BE7B", "FFFFFF", -1, 0, 1)})


def test_sheet_formatting(tmp_path, sample_table):
    path = write_workbook(tmp_path / "demo.xlsx", [sample_table])
    ws = load_workbook(path)["Demo"]
    assert [c.value for c in ws[1]] == ["Model", "Mean Sentiment", "p-value", "Notes"]
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == "A1:D3"
    assert ws["B2"].value == pytest.approx(0.123456) and ws["B2"].number_format == "0.00"
    assert ws["B3"].value == NA
    assert ws["C2"].fill.fgColor.rgb.endswith("C6EFCE") and ws["C2"].font.bold
    assert not ws["C3"].font.bold
    assert "0.0000" in ws["C2"].number_format
    assert ws.column_dimensions["A"].width >= len("a-much-longer-model-name-q4_K_M")
    ranges = [str(r.sqref) for r in ws.conditional_formatting]
    assert ranges == ["B2:B3"]


def test_register_sheet_orders_and_skips_none(tmp_path):
    report = "test-report"

    @register_sheet(report, "Second", order=20)
    def second(ctx):
        return SheetTable("Second", pd.DataFrame({"x": [ctx]}))

    @register_sheet(report, "First", order=10)
    def first(ctx):
        return SheetTable("First", pd.DataFrame({"x": [1]}))

    @register_sheet(report, "Never", order=30)
    def never(ctx):
        return None

    assert [t.name for t in build_sheets(report, 5)] == ["First", "Second"]
    with pytest.raises(ValueError):
        register_sheet(report, "First", order=99)(first)
    SHEETS.pop(report)


def degenerate_context(tmp_path, write_results):
    """Models covering the degenerate cases of the issue."""
    rng = np.random.default_rng(0)
    base = rng.uniform(-1, 1, size=(6, 1))
    write_results(tmp_path, "normal-q4_K_M", (base + rng.normal(0, 0.1, (6, 3))).tolist())
    write_results(tmp_path, "noisy-q8_0", (base + rng.normal(0, 0.3, (6, 3))).tolist())
    write_results(tmp_path, "none_valid", [[None] * 3] * 6)
    write_results(tmp_path, "one_iteration", (base + 0.1).tolist())
    write_results(tmp_path, "identical", [[0.5] * 3] * 6)
    write_results(tmp_path, "missing_articles", (base[:3] + rng.normal(0, 0.1, (3, 3))).tolist())
    ctx = build_context(load_results_frame(tmp_path).frame, {}, seed=1, resamples=200)
    pairs = [("normal-q4_K_M", "NOISY-Q8_0"), ("identical", "none_valid"), ("identical", "one_iteration"),
             ("normal-q4_K_M", "missing_articles"), ("normal-q4_K_M", "ghost")]
    ctx.pairs = resolve_pairs(pairs, ctx.models, all_pairs=False)
    return ctx


def test_comparison_workbook_has_every_sheet_and_no_silent_nan(tmp_path, write_results):
    ctx = degenerate_context(tmp_path / "results", write_results)
    path = write_workbook(tmp_path / "report.xlsx", build_sheets("comparison", ctx))
    book = load_workbook(path)
    assert book.sheetnames == COMPARISON_SHEETS
    for name in COMPARISON_SHEETS:
        ws = book[name]
        header = [c.value for c in ws[1]]
        assert ws.freeze_panes and ws.auto_filter.ref
        for row in ws.iter_rows(min_row=2, values_only=True):
            values = dict(zip(header, row))
            assert not any(isinstance(v, float) and np.isnan(v) for v in row)
            if NA in row:
                assert values.get("Notes"), f"{name}: n/a without a reason in {values}"


def test_degenerate_rows_say_why(tmp_path, write_results):
    ctx = degenerate_context(tmp_path / "results", write_results)
    book = load_workbook(write_workbook(tmp_path / "r.xlsx", build_sheets("comparison", ctx)))
    consistency = {r[0]: r for r in book["Consistency"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in book["Consistency"][1]]
    notes = header.index("Notes")
    assert "identical" in consistency["identical"][notes]
    assert "2+ iterations" in consistency["one_iteration"][notes]
    assert "no valid answers" in consistency["none_valid"][notes]
    pairwise = pd.DataFrame(book["Pairwise"].iter_rows(min_row=2, values_only=True),
                            columns=[c.value for c in book["Pairwise"][1]])
    ghost = pairwise[pairwise["Model B"] == "ghost"].iloc[0]
    assert "unknown model 'ghost'" in ghost["Notes"]
    noisy = pairwise[(pairwise["Model B"] == "noisy-q8_0") & (pairwise["Metric"] == "Mean Sentiment")].iloc[0]
    assert noisy["Shared Articles"] == 6 and isinstance(noisy["p (paired t)"], float)
    missing = pairwise[(pairwise["Model B"] == "missing_articles") & (pairwise["Metric"] == "Mean Sentiment")]
    assert missing.iloc[0]["Shared Articles"] == 3 and "left out: 3 article(s)" in missing.iloc[0]["Notes"]


def test_workbook_opens_in_libreoffice(tmp_path, write_results):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice is not installed")
    ctx = degenerate_context(tmp_path / "results", write_results)
    path = write_workbook(tmp_path / "r.xlsx", build_sheets("comparison", ctx))
    subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=180)
    assert (tmp_path / "r.pdf").stat().st_size > 1000


def test_blank_by_design_cells_and_wrapped_row_heights(tmp_path):
    frame = pd.DataFrame({"Test": ["a", "b"], "Mean Diff": ["", np.nan], "p-value": [0.5, ""],
                          "Notes": ["short", "a long reason " * 30]})
    table = SheetTable("T", frame, formats={"Mean Diff": "0.00"}, p_columns=["p-value"])
    ws = load_workbook(write_workbook(tmp_path / "t.xlsx", [table]))["T"]
    assert ws["B2"].value is None and ws["B3"].value == NA  # blank by design vs could not compute
    assert ws["C3"].value is None
    assert ws.row_dimensions[3].height > 15 and ws["D3"].alignment.wrap_text
