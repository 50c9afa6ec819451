"""utils.reports.workbook (formatting, sheet registry) and the comparison workbook read back with openpyxl."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from tests.helpers import _sheet_parts as sheet_parts
from utils.na import NOT_APPLICABLE
from utils.reports.context import build_context
from utils.reports.excel import NA, ColourScale, SheetTable, write_workbook
from utils.reports.results_table import load_results_frame
from utils.reports.sheets import COMPARISON_SHEETS, build_sheets, sheet_list

SHEET_NAMES = ["Leaderboard", "Summary", "Consistency", "Omnibus", "Post-hoc", "Pairwise", "Per Article",
               "Appendix (unblocked)", "Method"]


@pytest.fixture
def sample_table() -> SheetTable:
    frame = pd.DataFrame({
        "Model": ["alpha", "a-much-longer-model-name-q4_K_M"],
        "Mean Sentiment": [0.123456, np.nan],
        "p-value": [0.0001, 0.2],
        "Notes": ["", "no valid answers"],
    })
    return SheetTable("Demo", frame, formats={"Mean Sentiment": "0.00"}, p_columns=["p-value"],
                      highlight_columns=["p-value"],
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
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"


def test_raw_p_values_are_not_highlighted(tmp_path):
    frame = pd.DataFrame({"p (paired t)": [0.001], "Holm p": [0.2]})
    table = SheetTable("P", frame, p_columns=["p (paired t)"], highlight_columns=["Holm p"])
    ws = load_workbook(write_workbook(tmp_path / "p.xlsx", [table]))["P"]
    assert not ws["A2"].font.bold and ws["A2"].fill.fgColor.rgb in (None, "00000000")
    assert not ws["B2"].font.bold


def test_sheet_list_keeps_order_skips_none_and_refuses_duplicates():
    def second(ctx):
        return SheetTable("Second", pd.DataFrame({"x": [ctx]}))

    def first(ctx):
        return SheetTable("First", pd.DataFrame({"x": [1]}))

    builders = sheet_list([("First", first), ("Second", second), ("Never", lambda ctx: None)])
    assert [t.name for t in build_sheets(builders, 5)] == ["First", "Second"]
    with pytest.raises(ValueError, match="'First' is listed twice"):
        sheet_list([("First", first), ("First", second)])
    assert next(iter(COMPARISON_SHEETS)) == "Leaderboard"


def degenerate_context(tmp_path, write_results):
    """Models covering the degenerate cases of the issue."""
    rng = np.random.default_rng(0)
    base = rng.uniform(-0.6, 0.6, size=(6, 1))
    write_results(tmp_path, "normal-q4_K_M", np.clip(base + rng.normal(0, 0.1, (6, 3)), -1, 1).tolist())
    write_results(tmp_path, "noisy-q8_0", np.clip(base + rng.normal(0, 0.3, (6, 3)), -1, 1).tolist())
    write_results(tmp_path, "none_valid", [[None] * 3] * 6)
    write_results(tmp_path, "one_iteration", (base + 0.1).tolist())
    write_results(tmp_path, "identical", [[0.5] * 3] * 6)
    write_results(tmp_path, "missing_articles", (base[:3] + rng.normal(0, 0.1, (3, 3))).tolist())
    pairs = [("normal-q4_K_M", "NOISY-Q8_0"), ("identical", "none_valid"), ("identical", "one_iteration"),
             ("normal-q4_K_M", "missing_articles"), ("normal-q4_K_M", "ghost")]
    return build_context(load_results_frame(tmp_path).frame, {}, pairs=pairs, seed=1, resamples=200)


def test_comparison_workbook_has_every_sheet_and_no_silent_nan(tmp_path, write_results):
    ctx = degenerate_context(tmp_path / "results", write_results)
    path = write_workbook(tmp_path / "report.xlsx", build_sheets(COMPARISON_SHEETS, ctx))
    book = load_workbook(path)
    assert book.sheetnames == SHEET_NAMES
    for name in SHEET_NAMES:
        ws = book[name]
        _, header, rows, _ = sheet_parts(path, name)
        assert ws.freeze_panes and ws.auto_filter.ref
        for row in rows:
            values = dict(zip(header, row))
            assert not any(isinstance(v, float) and np.isnan(v) for v in row)
            if NA in row:
                assert values.get("Notes"), f"{name}: n/a without a reason in {values}"


def test_degenerate_rows_say_why(tmp_path, write_results):
    ctx = degenerate_context(tmp_path / "results", write_results)
    book = load_workbook(write_workbook(tmp_path / "r.xlsx", build_sheets(COMPARISON_SHEETS, ctx)))
    consistency = {r[0]: r for r in book["Consistency"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in book["Consistency"][1]]
    notes = header.index("Notes")
    assert "identical" in consistency["identical"][notes]
    assert "3+ iterations" in consistency["one_iteration"][notes]
    assert "no valid answers" in consistency["none_valid"][notes]
    pairwise = pd.DataFrame(book["Pairwise"].iter_rows(min_row=2, values_only=True),
                            columns=[c.value for c in book["Pairwise"][1]])  # no lines above this table
    assert "ghost" not in set(pairwise["Model B"])  # a pair naming no model here is warned about, not a row
    noisy = pairwise[(pairwise["Model B"] == "noisy-q8_0") & (pairwise["Metric"] == "Mean Sentiment")].iloc[0]
    assert noisy["Shared Articles"] == 6 and isinstance(noisy["p"], float)
    missing = pairwise[(pairwise["Model B"] == "missing_articles") & (pairwise["Metric"] == "Mean Sentiment")]
    assert missing.iloc[0]["Shared Articles"] == 3 and "left out: 3 article(s)" in missing.iloc[0]["Notes"]


def test_workbook_opens_in_libreoffice(tmp_path, write_results):
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice is not installed")
    ctx = degenerate_context(tmp_path / "results", write_results)
    path = write_workbook(tmp_path / "r.xlsx", build_sheets(COMPARISON_SHEETS, ctx))
    subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                   check=True, capture_output=True, timeout=180)
    assert (tmp_path / "r.pdf").stat().st_size > 1000
    if shutil.which("pdftotext") is None:
        return
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(tmp_path / "r.pdf"), "-"],
                           check=True, capture_output=True, text=True).stdout
    # the first printed page is the Leaderboard, whole rows wide: rank, model and verdict columns together
    assert "Rank" in first and "Best" in first  # headers wrap, so their words stand on separate lines
    assert ctx.best_model in first and "Notes" in first


def test_blank_by_design_cells_and_wrapped_row_heights(tmp_path):
    frame = pd.DataFrame({"Test": ["a", "b"], "Mean Diff": [NOT_APPLICABLE, np.nan], "p-value": [0.5, NOT_APPLICABLE],
                          "Notes": ["short", "a long reason " * 30]})
    table = SheetTable("T", frame, formats={"Mean Diff": "0.00"}, p_columns=["p-value"])
    ws = load_workbook(write_workbook(tmp_path / "t.xlsx", [table]))["T"]
    assert ws["B2"].value is None and ws["B3"].value == NA  # blank by design vs could not compute
    assert ws["C3"].value is None
    assert ws.row_dimensions[3].height > 15 and ws["D3"].alignment.wrap_text
