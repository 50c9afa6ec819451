"""Per-answer checkpoints: a unit's journal beside its result file.

``.NVDA_0.partial.jsonl`` next to ``NVDA_0.json``: a header line (settings fingerprint,
start time), then one line per finished answer, flushed and synced as it is written, and
now and then a line with the provenance of the model that answered. A rerun takes the
answers over and asks only for the missing items; the finished result file is written
atomically and the journal removed. A kill at any moment loses at most the answers in
flight: a torn last line is cut off when the journal is opened again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from utils.errors import ResultFileError
from utils.run.results import ItemResult

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1


def journal_path(result_file: Path) -> Path:
    """Where the journal of the unit writing ``result_file`` lives."""
    result_file = Path(result_file)
    return result_file.with_name(f".{result_file.stem}.partial.jsonl")


class Journal:
    """Append-only answers of one unit, valid for one settings fingerprint."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: Any = None
        self.header: dict[str, Any] = {}
        self.answers: dict[str, ItemResult] = {}
        self.provenance: dict[str, Any] | None = None

    def resume(self, fingerprint: str, keys: Iterable[str]) -> str | None:
        """Load earlier answers for ``keys`` if the journal was written with ``fingerprint``.

        Returns why an existing journal was thrown away (other settings, unreadable), else None.
        """
        if not self.path.is_file():
            return None
        wanted = set(keys)
        try:
            good_bytes = self._read(wanted)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.discard()
            return f"journal {self.path} unreadable ({exc}); started again"
        if self.header.get("fingerprint") != fingerprint:
            self.discard()
            return "journal written with other settings; started again"
        with open(self.path, "r+b") as handle:  # cut off a line torn by a kill
            handle.truncate(good_bytes)
        return None

    def _read(self, wanted: set[str]) -> int:
        data = self.path.read_bytes()
        good = 0
        for number, raw in enumerate(data.splitlines(keepends=True)):
            if not raw.endswith(b"\n"):
                break
            try:
                line = json.loads(raw)
            except ValueError:
                break
            if number == 0:
                if not isinstance(line, dict) or line.get("journal") != JOURNAL_VERSION:
                    raise ValueError("no journal header")
                self.header = line
            elif isinstance(line, dict) and "provenance" in line:
                self.provenance = line["provenance"]
            elif isinstance(line, dict) and line.get("key") in wanted:
                try:
                    self.answers[line["key"]] = ItemResult.model_validate(line["answer"])
                except (ValidationError, KeyError, TypeError):
                    break
            good += len(raw)
        if not self.header:
            raise ValueError("no journal header")
        return good

    def start(self, fingerprint: str, started_at: str) -> None:
        """Open for appending (once); a new journal gets its header first."""
        if self._handle is not None:
            return
        fresh = not self.header
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w" if fresh else "a", encoding="utf-8")
        except OSError as exc:
            raise ResultFileError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        if fresh:
            self.header = {"journal": JOURNAL_VERSION, "fingerprint": fingerprint, "started_at": started_at}
            self._write(self.header)

    def add(self, key: str, answer: ItemResult) -> None:
        self._write({"key": key, "answer": answer.model_dump(mode="json")})
        self.answers[key] = answer

    def note_provenance(self, provenance: dict[str, Any]) -> None:
        if provenance != self.provenance:
            self._write({"provenance": provenance})
            self.provenance = provenance

    def _write(self, line: dict[str, Any]) -> None:
        if self._handle is None:
            raise ResultFileError(f"{self.path}: journal not open")
        try:
            self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise ResultFileError(f"{self.path}: cannot write: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError as exc:
                log.warning("%s: %s", self.path, exc)
            self._handle = None

    def discard(self) -> None:
        """Close and delete (after the result file is written, or when it is stale)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.header, self.answers, self.provenance = {}, {}, None
