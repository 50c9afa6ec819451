"""Syndicated copies: the same story under two URLs is read once.

Two texts are the same story when they are equal after normalising case, whitespace and
punctuation, or when most of their 5-word shingles are shared (Jaccard similarity), which
survives a changed byline, a dateline or an added sentence. Pure functions and a small
index; the scraper asks it about each new article before keeping it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

SHINGLE_WORDS = 5
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The text's words in lower case, punctuation and whitespace dropped."""
    return _WORD.findall(text.casefold())


def fingerprint(text: str) -> str:
    """A hash that two texts share when they differ only in case, spacing or punctuation."""
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[tuple[str, ...]]:
    """The set of ``size``-word runs of the text (one run for a shorter text)."""
    tokens = words(text)
    if len(tokens) <= size:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True)
class Duplicate:
    """The kept article a new one repeats, and how closely."""

    url: str
    similarity: float

    @property
    def reason(self) -> str:
        if self.similarity >= 1.0:
            return f"duplicate of {self.url} (same text)"
        return f"near-duplicate of {self.url} ({self.similarity:.0%} of 5-word shingles shared)"


@dataclass
class DuplicateIndex:
    """The texts kept so far; ``check`` says whether a new text repeats one of them."""

    threshold: float = 0.8
    _exact: dict[str, str] = field(default_factory=dict)
    _shingled: list[tuple[str, frozenset]] = field(default_factory=list)

    def check(self, text: str) -> Duplicate | None:
        """The kept article ``text`` repeats (the most similar one); None when it is new."""
        same = self._exact.get(fingerprint(text))
        if same is not None:
            return Duplicate(same, 1.0)
        mine = shingles(text)
        best = max(((jaccard(mine, theirs), url) for url, theirs in self._shingled), default=None)
        if best is not None and best[0] >= self.threshold:
            return Duplicate(best[1], best[0])
        return None

    def add(self, url: str, text: str) -> None:
        self._exact.setdefault(fingerprint(text), url)
        self._shingled.append((url, shingles(text)))
