"""One way to say "this number does not exist here, and why", shared by every report.

A statistic that cannot be computed is a :class:`NotAvailable` carrying its reason, never a
silent NaN. Sheets show it as "n/a" with the reason in the row's notes;
:data:`NOT_APPLICABLE` (no reason) marks a cell left blank by design.
"""

from __future__ import annotations

from dataclasses import dataclass

NA_TEXT = "n/a"


@dataclass(frozen=True)
class NotAvailable:
    """A value that cannot be computed, and why (an empty reason: not applicable, shown blank)."""

    reason: str = ""

    def __str__(self) -> str:
        return NA_TEXT if self.reason else ""


NOT_APPLICABLE = NotAvailable("")
