"""HTTP for news: an on-disk response cache, retries, a polite pace and a body-size cap.

Every answer that is worth remembering (pages, 404s, and also the *decision* to reject
a non-HTML or oversized body) is cached in SQLite, so a rerun within the expiry makes
no request at all. Server errors and connection failures are retried, never cached.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Mapping

import requests
import requests_cache

from utils.config import NewsSettings
from utils.errors import NewsError
from utils.retry import retry_delay

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml")
JSON_TYPES = ("application/json", "text/javascript")
TEXT_TYPES = ("text/plain",)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CACHED_STATUSES = (200, 203, 300, 301, 308, 404, 410)
_REJECTED_HEADER = "X-News-Rejected"
_RETRYABLE_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_LABELS = {HTML_TYPES: "HTML", FEED_TYPES: "an RSS/Atom feed", JSON_TYPES: "JSON", TEXT_TYPES: "plain text"}
_ACCEPT_HEADERS = {
    HTML_TYPES: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    FEED_TYPES: "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.8",
    TEXT_TYPES: "text/plain",
    JSON_TYPES: "application/json",
}


class FetchError(NewsError):
    """One URL gave nothing usable; ``reason`` is short enough for a skip record."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class NetworkUnavailable(FetchError):
    """The server could not be reached at all (connection refused, DNS, timeouts)."""


@dataclass(frozen=True)
class Page:
    """A successful response: final URL after redirects, media type, charset and body."""

    url: str
    status: int
    media_type: str
    charset: str | None
    body: bytes
    from_cache: bool = False
    redirects: tuple[str, ...] = field(default=())


def media_type_and_charset(content_type: str) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from a Content-Type header; charset None when not declared."""
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'").lower()
    return main.strip().lower(), charset


def _guard_body(
    response: requests.Response, *args: Any, accept: tuple[str, ...], cap: int, **kwargs: Any
) -> requests.Response:
    """Read a streamed body up to ``cap`` bytes; record why an unwanted body was dropped."""
    if getattr(response, "from_cache", False) or getattr(response, "_news_guarded", False):
        return response
    response._news_guarded = True  # type: ignore[attr-defined]
    reason = _early_rejection(response, accept, cap)
    body = b"" if reason else _read_capped(response, cap)
    if body is None:
        reason = f"body larger than max_response_bytes ({cap} bytes)"
    if reason:
        response.headers[_REJECTED_HEADER] = reason
        response.raw.close()
    response._content = body or b""
    response._content_consumed = True
    return response


def _early_rejection(response: requests.Response, accept: tuple[str, ...], cap: int) -> str:
    """Why the body is not worth reading, judged from the headers alone; empty when it is."""
    if not response.ok or response.is_redirect:
        return ""
    media_type, _ = media_type_and_charset(response.headers.get("Content-Type", ""))
    if media_type not in accept:
        wanted = _LABELS.get(accept, "an accepted type")
        return f"not {wanted} (Content-Type: {media_type or 'missing'})"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        return f"body larger than max_response_bytes ({declared} > {cap} bytes)"
    return ""


def _read_capped(response: requests.Response, cap: int) -> bytes | None:
    """The decoded body, or None as soon as it grows past ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class Fetcher:
    """GETs through the cache; network requests are spaced and retried, cache hits are free."""

    def __init__(
        self,
        settings: NewsSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.network_requests = 0
        self.cache_hits = 0
        self._sleep = sleep
        self._clock = clock
        self._last_network_at: float | None = None
        self._session = _build_session(settings)

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and its SQLite connection."""
        self._session.close()

    def get(
        self,
        url: str,
        *,
        accept: tuple[str, ...] = HTML_TYPES,
        params: Mapping[str, str] | None = None,
        expire_hours: float | None = None,
    ) -> Page:
        """The page at ``url``; FetchError (or NetworkUnavailable) when there is none to use."""
        expire = timedelta(hours=expire_hours or self.settings.cache_expire_hours)
        guard = partial(_guard_body, accept=accept, cap=self.settings.max_response_bytes)
        kwargs = dict(
            params=params,
            headers={"Accept": _ACCEPT_HEADERS.get(accept, "*/*")},
            hooks={"response": guard},
            expire_after=expire,
        )
        try:
            response = self._from_cache_or_network(url, kwargs)
        except requests.exceptions.TooManyRedirects:
            raise FetchError(url, "too many redirects") from None
        except requests.exceptions.RequestException as exc:  # bad URL, bad gzip, ...
            raise FetchError(url, f"request failed: {type(exc).__name__}: {exc}") from None
        return _to_page(url, response)

    def _from_cache_or_network(self, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """The cached response when fresh, else the network's."""
        # Ask the cache alone first, so that only real network requests wait their turn.
        response = self._session.get(url, only_if_cached=True, **kwargs)
        if response.status_code == 504:  # requests-cache's "not cached"; real 504s are not stored
            return self._get_from_network(url, kwargs)
        self.cache_hits += 1
        logger.debug("cache hit: %s", url)
        return response

    def get_json(self, url: str, params: Mapping[str, str]) -> Any:
        """The decoded JSON document at ``url``; FetchError when it is not JSON."""
        page = self.get(url, accept=JSON_TYPES, params=params)
        try:
            return json.loads(page.body.decode(page.charset or "utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FetchError(url, f"not valid JSON: {exc}") from None

    def _get_from_network(self, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """The network's answer, after polite spacing and retries of transient failures."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            self._wait_politely()
            try:
                response = self._send(url, kwargs)
            except _RETRYABLE_ERRORS as exc:
                if last:
                    why = f"{_describe(exc)}, {attempts} attempts"
                    raise NetworkUnavailable(url, why) from None
                self._back_off(url, attempt, None, _describe(exc))
                continue
            status = response.status_code
            if last or status not in RETRY_STATUSES:
                return response
            retry_after = response.headers.get("Retry-After")
            if not self._back_off(url, attempt, retry_after, f"HTTP {status}"):
                return response
        raise AssertionError("the last attempt always returns or raises")  # pragma: no cover

    def _send(self, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """One GET on the wire (requests-cache still stores what comes back)."""
        self.network_requests += 1
        logger.debug("GET %s", url)
        try:
            return self._session.get(
                url,
                stream=True,
                timeout=(self.settings.connect_timeout_s, self.settings.read_timeout_s),
                **kwargs,
            )
        finally:
            self._last_network_at = self._clock()

    def _back_off(self, url: str, attempt: int, retry_after: str | None, why: str) -> bool:
        """Sleep before the next attempt; False when Retry-After asks for too long a wait."""
        delay = retry_delay(
            attempt, self.settings.backoff_s, retry_after, self.settings.max_retry_after_s,
            datetime.now(timezone.utc),
        )
        if delay is None:
            logger.warning("%s: %s asks to retry after %s; not waiting that long", url, why, retry_after)
            return False
        logger.info("%s: %s; retrying in %.1f s", url, why, delay)
        self._sleep(delay)
        return True

    def _wait_politely(self) -> None:
        """Keep at least ``request_delay_s`` between the end of one request and the next."""
        if self._last_network_at is None:
            return
        remaining = self.settings.request_delay_s - (self._clock() - self._last_network_at)
        if remaining > 0:
            self._sleep(remaining)


def _build_session(settings: NewsSettings) -> requests_cache.CachedSession:
    """A CachedSession on SQLite at ``settings.cache_path`` with a browser-like User-Agent."""
    settings.cache_path.parent.mkdir(parents=True, exist_ok=True)
    session = requests_cache.CachedSession(
        str(settings.cache_path),
        backend="sqlite",
        expire_after=timedelta(hours=settings.cache_expire_hours),
        allowable_codes=CACHED_STATUSES,
        allowable_methods=("GET",),
    )
    session.max_redirects = settings.max_redirects
    session.headers.update(
        {"User-Agent": settings.user_agent, "Accept-Language": "en-US,en;q=0.9"}
    )
    return session


def _to_page(url: str, response: requests.Response) -> Page:
    """A Page from a final response; FetchError for HTTP errors and rejected bodies."""
    if not response.ok:
        raise FetchError(url, f"HTTP {response.status_code} {response.reason or ''}".strip())
    rejected = response.headers.get(_REJECTED_HEADER)
    if rejected:
        raise FetchError(url, rejected)
    media_type, charset = media_type_and_charset(response.headers.get("Content-Type", ""))
    return Page(
        url=response.url,
        status=response.status_code,
        media_type=media_type,
        charset=charset,
        body=response.content,
        from_cache=bool(getattr(response, "from_cache", False)),
        redirects=tuple(r.url for r in response.history),
    )


def _describe(exc: Exception) -> str:
    """A one-line name for a connection failure."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-body"
    match = _ERRNO_RE.search(str(exc))
    return f"cannot connect ({match.group(1).strip()})" if match else "cannot connect"
