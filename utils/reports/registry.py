"""The one rule every report registry follows: entries listed in one place, names unique.

A registry (metrics, sheets, heatmap sets, omnibus tests, Method lines) is a plain list
written out in the module that owns it; :func:`by_name` turns it into a name → entry
mapping and refuses a name listed twice, so nothing depends on import order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def by_name(entries: Iterable[T], name: Callable[[T], str], what: str) -> dict[str, T]:
    """``entries`` keyed by ``name(entry)`` in list order; ValueError naming a duplicate."""
    out: dict[str, T] = {}
    for entry in entries:
        key = name(entry)
        if key in out:
            raise ValueError(f"{what} {key!r} is listed twice")
        out[key] = entry
    return out
