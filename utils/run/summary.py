"""What happened to each unit of a run, and the plain-text table printed at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class UnitOutcome:
    """One (model, iteration) unit: ``status`` is "done", "skipped" or "failed"."""

    model: str
    iteration: int
    status: str
    path: Path
    valid: int = 0
    total: int = 0
    seconds: float = 0.0
    error: str | None = None
    resumed: int = 0  # answers taken over from the unit's journal
    note: str | None = None  # why a finished unit was redone, or kept although stale


@dataclass
class RunSummary:
    outcomes: list[UnitOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def noted(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.note]


def summary_table(summary: RunSummary) -> str:
    """Units per model (done, skipped, failed), valid answers and seconds per answer;
    then one line per failed unit and per unit redone or kept for a settings change."""
    rows: dict[str, dict[str, float]] = {}
    for outcome in summary.outcomes:
        row = rows.setdefault(outcome.model, {"done": 0, "skipped": 0, "failed": 0, "valid": 0, "total": 0,
                                              "s": 0.0, "resumed": 0})
        row[outcome.status] += 1
        row["valid"] += outcome.valid
        row["total"] += outcome.total
        row["s"] += outcome.seconds
        row["resumed"] += outcome.resumed
    width = max([len("model"), *map(len, rows)])
    lines = [f"{'model':<{width}}  done  skipped  failed  valid answers  s/answer  resumed"]
    for name, row in rows.items():
        valid = f"{int(row['valid'])}/{int(row['total'])}" if row["total"] else "-"
        per = f"{row['s'] / row['total']:.2f}" if row["total"] else "-"
        lines.append(f"{name:<{width}}  {int(row['done']):>4}  {int(row['skipped']):>7}  {int(row['failed']):>6}  "
                     f"{valid:>13}  {per:>8}  {int(row['resumed']):>7}")
    for outcome in summary.failed:
        lines.append(f"failed: {outcome.model} iteration {outcome.iteration}: {outcome.error}")
    for outcome in summary.noted:
        lines.append(f"{outcome.status}: {outcome.model} iteration {outcome.iteration}: {outcome.note}")
    return "\n".join(lines)
