"""How long to wait before retrying an HTTP request: exponential backoff, or what the
server's Retry-After header asks (delta-seconds or an HTTP date) when that is longer.
Used by the news fetcher and the OpenAI-compatible backend alike."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone


def retry_delay(
    attempt: int, backoff_s: float, retry_after: str | None, max_wait_s: float, now: datetime
) -> float | None:
    """Seconds to wait before retry ``attempt`` (0-based); None when the server asks too much."""
    delay = backoff_s * (2**attempt)
    if not retry_after:
        return delay
    asked = _retry_after_seconds(retry_after.strip(), now)
    if asked is None:
        return delay
    return None if asked > max_wait_s else max(delay, asked)


def _retry_after_seconds(value: str, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when unreadable."""
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())
