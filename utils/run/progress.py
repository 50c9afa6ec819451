"""The progress bar over models × iterations × items, with the current model in front."""

from __future__ import annotations

from utils.run.results import ItemResult


class Progress:
    """One tqdm bar; every item of every unit is counted once, answered, skipped or failed."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="answer", disable=not enabled, dynamic_ncols=True)
        self.valid = 0
        self.seen = 0

    def model(self, name: str) -> None:
        self.bar.set_description(name)

    def item(self, result: ItemResult) -> None:
        self.seen += 1
        self.valid += result.valid
        self.bar.set_postfix(valid=f"{self.valid}/{self.seen}", refresh=False)
        self.bar.update(1)

    def skip(self, count: int) -> None:
        """Count items that will not be answered in this run (done before, resumed, or failed)."""
        if count > 0:
            self.bar.update(count)

    @property
    def counted(self) -> int:
        return self.bar.n

    def close(self) -> None:
        self.bar.close()
