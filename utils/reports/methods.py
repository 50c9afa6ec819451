"""What each statistic in the comparison report uses and what it tests: the Method sheet.

Every table builder registers a :class:`MethodNote` for each statistic it reports, so
the Method sheet cannot fall behind the numbers. Later sheets (accuracy, calibration)
register theirs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

METHOD_COLUMNS = ["Sheet", "Statistic", "Data Used", "Null Hypothesis / Definition", "Pools Raw Scores"]


@dataclass(frozen=True)
class MethodNote:
    """One line of the Method sheet."""

    sheet: str
    statistic: str
    data: str
    hypothesis: str
    pools_raw_scores: bool = False
    # None: always shown; else shown only in reports whose context it accepts (e.g. labelled results)
    applies: Callable[[Any], bool] | None = field(default=None, compare=False)

    def row(self) -> list[str]:
        """The note as a Method sheet row."""
        pooled = "yes: iterations treated as independent samples" if self.pools_raw_scores else "no"
        return [self.sheet, self.statistic, self.data, self.hypothesis, pooled]


METHOD_NOTES: list[MethodNote] = []


def register_method(note: MethodNote) -> MethodNote:
    """Add ``note`` to the Method sheet (once per sheet and statistic) and return it."""
    if not any((n.sheet, n.statistic) == (note.sheet, note.statistic) for n in METHOD_NOTES):
        METHOD_NOTES.append(note)
    return note


def method_rows(ctx: Any = None) -> list[list[str]]:
    """Every registered note that applies to the report ``ctx`` as a row, in registration order."""
    return [note.row() for note in METHOD_NOTES
            if note.applies is None or (ctx is not None and note.applies(ctx))]


UNIT = "The unit of analysis is the article: iterations are repeated measures of one article."

register_method(MethodNote(
    "Summary", "Mean Sentiment, Sentiment Variance, Inference Rate, Valid JSON Rate, Mean Confidence",
    "Per-article values of each model (see model_metrics.csv), averaged over articles.",
    "Definitions: mean/population variance (ddof=0) of the valid answers per article; "
    "Valid JSON Rate = valid answers / answers. " + UNIT,
))
register_method(MethodNote(
    "Summary", "95% bootstrap confidence interval",
    "The model's per-article values; articles resampled with replacement "
    "(config bootstrap_resamples, seeded with config seed).",
    "Percentile interval of the resampled means (2.5th to 97.5th percentile).",
))
