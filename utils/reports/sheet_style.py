"""The one sheet style of every report: number formats and colour scales.

Green means better and red worse; quantities with no better direction (mean sentiment,
differences) use a diverging red–white–blue scale centred at 0.
"""

from __future__ import annotations

from utils.reports.excel import ColourScale
from utils.reports.metrics import METRIC_LIST, Metric

TWO = "0.00"
THREE = "0.000"
COUNT = "0"
PERCENT = "0.0%"
RED, WHITE, GREEN, YELLOW, BLUE = "F8696B", "FFFFFF", "63BE7B", "FFEB84", "5A8AC6"

HIGHER_IS_BETTER = ColourScale(RED, GREEN, YELLOW)
LOWER_IS_BETTER = ColourScale(GREEN, RED, YELLOW)
DIVERGING = ColourScale(RED, BLUE, WHITE, -1.0, 0.0, 1.0)


def metric_scale(metric: Metric) -> ColourScale | None:
    """Green for good and red for bad; diverging at 0 where no direction is better."""
    if metric.center is not None:
        return ColourScale(RED, BLUE, WHITE, metric.vmin, metric.center, metric.vmax)
    if metric.higher_is_better is None:
        return None
    return HIGHER_IS_BETTER if metric.higher_is_better else LOWER_IS_BETTER


def metric_formats(columns: list[str], number_format: str = TWO) -> dict[str, str]:
    """``number_format`` for every metric column (and its CI / items columns) present in ``columns``."""
    out = {}
    for column in columns:
        for metric in METRIC_LIST:
            if column == metric.column or column.startswith(f"{metric.column} CI"):
                out[column] = number_format
            elif column.startswith(f"{metric.column} Items"):
                out[column] = COUNT
    return out


def metric_scales(columns: list[str]) -> dict[str, ColourScale]:
    """A colour scale for every metric column present in ``columns``."""
    scales = {m.column: metric_scale(m) for m in METRIC_LIST if m.column in columns}
    return {k: v for k, v in scales.items() if v is not None}
