"""Excel workbooks (openpyxl): one formatter for every sheet of every report.

A sheet is a :class:`SheetTable` (a DataFrame plus formatting hints). Every sheet gets a
frozen header row and first column, an auto-filter, fitted column widths, number formats,
"n/a" in cells that could not be computed (blank where a statistic does not apply),
highlighted adjusted p-values below 0.05, colour scales, and a page setup that prints
(landscape, fitted to the page width, header row repeated on every page). Only plain cell
styles and standard conditional formats are used, so LibreOffice renders the file as Excel does.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from utils.errors import ReportError
from utils.na import NA_TEXT, NotAvailable

log = logging.getLogger(__name__)

NA = NA_TEXT
P_FORMAT = '[<0.0001]"<0.0001";0.0000'
RED, WHITE, GREEN, YELLOW = "F8696B", "FFFFFF", "63BE7B", "FFEB84"
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_SIGNIFICANT_FILL = PatternFill("solid", fgColor="C6EFCE")
_NA_FONT = Font(italic=True, color="808080")
_BOLD = Font(bold=True)
_RIGHT = Alignment(horizontal="right")
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")
_MAX_WIDTH = {"Notes": 45}
ROW_HEIGHT = 15.0


@dataclass(frozen=True)
class ColourScale:
    """A conditional colour scale: colours at the low and high ends (and optional midpoint)."""

    low: str
    high: str
    mid: str | None = None
    low_value: float | None = None
    mid_value: float | None = None
    high_value: float | None = None

    def rule(self) -> ColorScaleRule:
        """The openpyxl rule for this scale."""
        def end(value: float | None, default: str) -> tuple[str, float | None]:
            return ("num", value) if value is not None else (default, None)

        start_type, start_value = end(self.low_value, "min")
        end_type, end_value = end(self.high_value, "max")
        if self.mid is None:
            return ColorScaleRule(start_type=start_type, start_value=start_value, start_color=self.low,
                                  end_type=end_type, end_value=end_value, end_color=self.high)
        mid_type, mid_value = ("num", self.mid_value) if self.mid_value is not None else ("percentile", 50)
        return ColorScaleRule(start_type=start_type, start_value=start_value, start_color=self.low,
                              mid_type=mid_type, mid_value=mid_value, mid_color=self.mid,
                              end_type=end_type, end_value=end_value, end_color=self.high)


@dataclass
class SheetTable:
    """One sheet's data and how to format it."""

    name: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    p_columns: list[str] = field(default_factory=list)
    scales: dict[str, ColourScale] = field(default_factory=dict)
    wrap_columns: list[str] = field(default_factory=lambda: ["Notes"])
    freeze: str = "B2"
    align_top: bool = False  # top-align every cell (for sheets of long wrapped text)
    highlight_columns: list[str] = field(default_factory=list)  # adjusted p: green below 0.05
    head: list[str] = field(default_factory=list)  # sentences above the table (the sheet's answer)
    foot: list[str] = field(default_factory=list)  # sentences below the table

    @property
    def header_row(self) -> int:
        """The worksheet row of the column headers (1 without head lines; a blank row follows them)."""
        return len(self.head) + 2 if self.head else 1


# --- writing -----------------------------------------------------------------------------


def write_workbook(path: Path, tables: list[SheetTable]) -> Path:
    """Write ``tables`` as sheets of a new workbook at ``path``; raise ReportError if impossible."""
    if not tables:
        raise ReportError(f"{path}: nothing to write (no sheets)")
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        format_sheet(book.create_sheet(_sheet_title(table.name)), table)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        book.save(path)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write workbook: {exc.strerror or exc} (is it open in Excel?)") from None
    log.info("wrote %s (%s)", path, ", ".join(t.name for t in tables))
    return path


def _sheet_title(name: str) -> str:
    """A legal sheet title (31 characters, no []:*?/\\)."""
    cleaned = "".join("_" if c in '[]:*?/\\' else c for c in name)
    return cleaned[:31]


def format_sheet(ws: Worksheet, table: SheetTable) -> None:
    """Fill ``ws`` with ``table``: head lines, header, values, formats, highlights, widths, filter, panes, foot."""
    columns = list(table.frame.columns)
    plans = [_plan(table, name) for name in columns]
    for line in table.head:
        ws.append([line])
        ws.cell(ws.max_row, 1).font = _BOLD
    if table.head:
        ws.append([])
    header = table.header_row
    first, last = header + 1, header + len(table.frame)
    ws.append(columns)
    for record in table.frame.itertuples(index=False, name=None):
        ws.append([_cell_value(v, plan.numeric) for plan, v in zip(plans, record)])
    _style_header(ws, len(columns), header)
    for row in ws.iter_rows(min_row=first, max_row=last):
        for cell, plan in zip(row, plans):
            _style_cell(cell, plan)
    for column_name, scale in table.scales.items():
        if column_name in columns and len(table.frame):
            letter = get_column_letter(columns.index(column_name) + 1)
            ws.conditional_formatting.add(f"{letter}{first}:{letter}{last}", scale.rule())
    widths = [column_width(name, table.frame[name], plan) for name, plan in zip(columns, plans)]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    _fit_row_heights(ws, table, widths)
    letters = "".join(c for c in table.freeze if c.isalpha())
    ws.freeze_panes = f"{letters}{int(table.freeze[len(letters):]) + header - 1}"
    ws.auto_filter.ref = f"A{header}:{get_column_letter(max(1, len(columns)))}{last}"
    if table.foot:
        ws.append([])
        for line in table.foot:
            ws.append([line])
    set_print_layout(ws, header)


def set_print_layout(ws: Worksheet, header: int = 1) -> None:
    """Landscape, fitted to one page wide (as many tall as needed), header row on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header}:{header}"
    ws.page_margins.left = ws.page_margins.right = 0.4


@dataclass(frozen=True)
class _ColumnPlan:
    """How the cells of one column are written and styled."""

    numeric: bool
    number_format: str | None
    highlight: bool  # an adjusted p-value: highlighted below 0.05
    wrap: bool
    top: bool = False


def _plan(table: SheetTable, name: str) -> _ColumnPlan:
    """The plan for column ``name`` of ``table``."""
    highlight = name in table.highlight_columns
    p_value = highlight or name in table.p_columns
    numeric = p_value or name in table.formats or _is_numeric(table.frame[name])
    number_format = P_FORMAT if p_value else table.formats.get(name)
    return _ColumnPlan(numeric, number_format, highlight, name in table.wrap_columns, table.align_top)


def _is_numeric(series: pd.Series) -> bool:
    """True for numeric columns, and object columns holding only numbers and blanks."""
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    values = [v for v in series if not _is_blank(v) and not isinstance(v, NotAvailable)]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _is_blank(value: Any) -> bool:
    """True for None, NaN and NaT."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cell_value(value: Any, numeric: bool) -> Any:
    """What goes in the cell: numbers as floats/ints, blanks as 'n/a' in numeric columns."""
    if isinstance(value, NotAvailable):
        return str(value) or None
    if _is_blank(value):
        return NA if numeric else None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return NA
    return value


def _style_header(ws: Worksheet, width: int, row: int = 1) -> None:
    """Bold, shaded, wrapped header cells."""
    for cell in ws[row][:width]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = Border(bottom=Side(style="thin"))
    ws.row_dimensions[row].height = 45  # three lines of header text


def _style_cell(cell: Any, plan: _ColumnPlan) -> None:
    """Number format, 'n/a' style, wrapping and the significant-p highlight of one cell."""
    value = cell.value
    if value == NA:
        cell.font = _NA_FONT
        cell.alignment = _RIGHT
        return
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if plan.number_format and is_number:
        cell.number_format = plan.number_format
    if plan.highlight and is_number and value < 0.05:
        cell.fill = _SIGNIFICANT_FILL
        cell.font = _BOLD
    if plan.wrap:
        cell.alignment = _WRAP
    elif plan.top:
        cell.alignment = _TOP


def _fit_row_heights(ws: Worksheet, table: SheetTable, widths: list[float]) -> None:
    """Give rows with wrapped text the height of their longest wrapped cell (LibreOffice does not)."""
    wrapped = [(name, widths[i]) for i, name in enumerate(table.frame.columns) if name in table.wrap_columns]
    if not wrapped:
        return
    for offset, values in enumerate(zip(*(table.frame[name] for name, _ in wrapped))):
        lines = max(_wrapped_lines(value, width) for value, (_, width) in zip(values, wrapped))
        if lines > 1:
            ws.row_dimensions[offset + table.header_row + 1].height = ROW_HEIGHT * lines


def _wrapped_lines(value: Any, width: float) -> int:
    """Approximate lines a text takes in a wrapped cell ``width`` characters wide."""
    if not isinstance(value, str) or not value:
        return 1
    per_line = max(int(width) - 2, 1)
    return sum(max(1, math.ceil(len(line) / per_line)) for line in value.split("\n"))


def column_width(name: str, values: pd.Series, plan: _ColumnPlan) -> float:
    """A width fitting the header's longest word (headers wrap on up to 3 lines) and the longest value."""
    header = max(max((len(word) for word in name.split()), default=0), math.ceil(len(name) / 3))
    width = min(max(_longest(values, plan), header, 4) + 2, _MAX_WIDTH.get(name, 50))
    return float(width)


def _longest(values: pd.Series, plan: _ColumnPlan) -> int:
    """Approximate characters of the longest value of a column as shown."""
    if values.empty:
        return 0
    if plan.numeric:
        numbers = pd.to_numeric(values, errors="coerce").abs()
        if numbers.notna().any():
            decimals = plan.number_format.split(";")[-1].count("0") - 1 if plan.number_format else 2
            shown = len(f"{numbers.max():,.{max(decimals, 0)}f}") + 1
            return max(shown, len(NA) if numbers.isna().any() else 0)
        return len(NA)
    text = values.dropna().astype(str)
    return int(text.map(lambda v: max(len(line) for line in v.split("\n"))).max()) if len(text) else 0
