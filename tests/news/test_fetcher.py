"""The news HTTP client against a loopback server: cache, retries, pacing, size and type limits."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from werkzeug import Request, Response

from utils.config import NewsSettings
from utils.news.fetcher import (
    FEED_TYPES,
    FetchError,
    Fetcher,
    NetworkUnavailable,
    media_type_and_charset,
)
from utils.retry import retry_delay

HTML = "text/html; charset=utf-8"
PAGE = "<html><body><p>Nvidia rose.</p></body></html>"


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_fetcher(tmp_path: Path, sleeps: list[float], **overrides) -> Fetcher:
    values = dict(
        cache_path=tmp_path / "cache" / "http.sqlite",
        request_delay_s=0.0,
        backoff_s=0.01,
        max_retries=2,
        connect_timeout_s=2.0,
        read_timeout_s=2.0,
        max_response_bytes=5_000,
    )
    values.update(overrides)
    return Fetcher(NewsSettings(**values), sleep=sleeps.append)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_page_is_fetched_once_then_served_from_the_cache(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/news/a.html").respond_with_data(PAGE, content_type=HTML)
    url = loopback.url_for("/news/a.html")
    with make_fetcher(tmp_path, sleeps) as fetcher:
        first = fetcher.get(url)
        second = fetcher.get(url)
    with make_fetcher(tmp_path, sleeps) as fetcher:  # a later run opens the same SQLite file
        third = fetcher.get(url)
    assert first.body == PAGE.encode() and first.media_type == "text/html" and first.charset == "utf-8"
    assert (first.from_cache, second.from_cache, third.from_cache) == (False, True, True)
    assert third.body == first.body
    assert len(loopback.log) == 1
    assert (tmp_path / "cache" / "http.sqlite").is_file()


def test_requests_carry_a_browser_user_agent_and_accept_header(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/feed").respond_with_data("<rss/>", content_type="application/rss+xml")
    with make_fetcher(tmp_path, sleeps, user_agent="Mozilla/5.0 (test)") as fetcher:
        fetcher.get(loopback.url_for("/feed"), accept=FEED_TYPES)
    request, _ = loopback.log[0]
    assert request.headers["User-Agent"] == "Mozilla/5.0 (test)"
    assert request.headers["Accept"].startswith("application/rss+xml")


def test_server_error_is_retried_until_it_succeeds(loopback, tmp_path, sleeps) -> None:
    loopback.expect_oneshot_request("/flaky").respond_with_data("busy", status=500)
    loopback.expect_oneshot_request("/flaky").respond_with_data("busy", status=502)
    loopback.expect_request("/flaky").respond_with_data(PAGE, content_type=HTML)
    with make_fetcher(tmp_path, sleeps, backoff_s=0.5) as fetcher:
        page = fetcher.get(loopback.url_for("/flaky"))
    assert page.body == PAGE.encode()
    assert len(loopback.log) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_persistent_server_error_gives_up_and_is_not_cached(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/down").respond_with_data("unavailable", status=503)
    with make_fetcher(tmp_path, sleeps, max_retries=1) as fetcher:
        with pytest.raises(FetchError, match="HTTP 503"):
            fetcher.get(loopback.url_for("/down"))
        with pytest.raises(FetchError):
            fetcher.get(loopback.url_for("/down"))
    assert len(loopback.log) == 4


def test_retry_after_is_honoured(loopback, tmp_path, sleeps) -> None:
    loopback.expect_oneshot_request("/slow-down").respond_with_data(
        "later", status=429, headers={"Retry-After": "3"}
    )
    loopback.expect_request("/slow-down").respond_with_data(PAGE, content_type=HTML)
    with make_fetcher(tmp_path, sleeps) as fetcher:
        fetcher.get(loopback.url_for("/slow-down"))
    assert sleeps == [3.0]


def test_retry_after_longer_than_the_limit_ends_the_retries(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/banned").respond_with_data(
        "later", status=429, headers={"Retry-After": "3600"}
    )
    with make_fetcher(tmp_path, sleeps, max_retry_after_s=60) as fetcher:
        with pytest.raises(FetchError, match="HTTP 429"):
            fetcher.get(loopback.url_for("/banned"))
    assert len(loopback.log) == 1 and sleeps == []


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "attempt, header, expected",
    [
        (0, None, 1.0),
        (2, None, 4.0),
        (0, "5", 5.0),
        (2, "1", 4.0),
        (0, "Fri, 20 Nov 2026 12:00:30 GMT", 30.0),
        (0, "Fri, 20 Nov 2026 11:00:00 GMT", 1.0),
        (0, "soon", 1.0),
        (0, "61", None),
    ],
)
def test_retry_delay(attempt: int, header: str | None, expected: float | None) -> None:
    assert retry_delay(attempt, 1.0, header, 60.0, NOW) == expected


def test_unreachable_server_is_network_unavailable(tmp_path, sleeps, monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    url = f"http://127.0.0.1:{closed_port()}/feed"
    with make_fetcher(tmp_path, sleeps, max_retries=2) as fetcher:
        with pytest.raises(NetworkUnavailable) as info:
            fetcher.get(url)
    assert info.value.reason == "cannot connect (Connection refused), 3 attempts"
    assert sleeps == [0.01, 0.02]


def test_read_timeout_is_network_unavailable(loopback, tmp_path, sleeps) -> None:
    release = threading.Event()

    def slow(request: Request) -> Response:
        release.wait(timeout=5)
        return Response(PAGE, content_type=HTML)

    loopback.expect_request("/slow").respond_with_handler(slow)
    with make_fetcher(tmp_path, sleeps, max_retries=0, read_timeout_s=0.2) as fetcher:
        with pytest.raises(NetworkUnavailable, match="timed out"):
            fetcher.get(loopback.url_for("/slow"))
    release.set()
    # Let the handler finish here, so that it cannot show up in the next test's server log.
    deadline = time.monotonic() + 5
    while not loopback.log and time.monotonic() < deadline:
        time.sleep(0.01)


def test_not_found_is_an_error_and_is_cached(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/gone").respond_with_data("<p>gone</p>", status=404, content_type=HTML)
    with make_fetcher(tmp_path, sleeps) as fetcher:
        for _ in range(2):
            with pytest.raises(FetchError) as info:
                fetcher.get(loopback.url_for("/gone"))
            assert info.value.reason.startswith("HTTP 404")
    assert len(loopback.log) == 1


def test_non_html_body_is_refused_and_the_refusal_cached(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/filing.pdf").respond_with_data(b"%PDF-1.7 ...", content_type="application/pdf")
    with make_fetcher(tmp_path, sleeps) as fetcher:
        for _ in range(2):
            with pytest.raises(FetchError) as info:
                fetcher.get(loopback.url_for("/filing.pdf"))
            assert info.value.reason == "not HTML (Content-Type: application/pdf)"
    assert len(loopback.log) == 1


def test_feed_must_be_xml(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/feed").respond_with_data("<html></html>", content_type="text/html")
    with make_fetcher(tmp_path, sleeps) as fetcher:
        with pytest.raises(FetchError, match=r"not an RSS/Atom feed \(Content-Type: text/html\)"):
            fetcher.get(loopback.url_for("/feed"), accept=FEED_TYPES)


def test_declared_oversized_body_is_refused(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/big").respond_with_data("x" * 6_000, content_type=HTML)
    with make_fetcher(tmp_path, sleeps) as fetcher:
        with pytest.raises(FetchError, match=r"larger than max_response_bytes \(6000 > 5000 bytes\)"):
            fetcher.get(loopback.url_for("/big"))


def test_streamed_oversized_body_is_cut_off(loopback, tmp_path, sleeps) -> None:
    sent: list[int] = []

    def endless(request: Request) -> Response:
        def chunks():
            for _ in range(1_000):
                sent.append(1)
                yield b"<p>" + b"x" * 1_000 + b"</p>"

        return Response(chunks(), content_type=HTML)  # no Content-Length: chunked

    loopback.expect_request("/stream").respond_with_handler(endless)
    with make_fetcher(tmp_path, sleeps) as fetcher:
        with pytest.raises(FetchError, match=r"larger than max_response_bytes \(5000 bytes\)"):
            fetcher.get(loopback.url_for("/stream"))
        with pytest.raises(FetchError, match="larger than"):
            fetcher.get(loopback.url_for("/stream"))
    assert [request.path for request, _ in loopback.log] == ["/stream"]


def test_network_requests_are_spaced_but_cache_hits_are_not(loopback, tmp_path, sleeps) -> None:
    for path in ("/a", "/b"):
        loopback.expect_request(path).respond_with_data(PAGE, content_type=HTML)
    with make_fetcher(tmp_path, sleeps, request_delay_s=5.0) as fetcher:
        fetcher.get(loopback.url_for("/a"))
        fetcher.get(loopback.url_for("/b"))
        fetcher.get(loopback.url_for("/a"))
        fetcher.get(loopback.url_for("/b"))
        assert (fetcher.network_requests, fetcher.cache_hits) == (2, 2)
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0


def test_get_json(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/search", query_string={"q": "ACME"}).respond_with_json({"quotes": []})
    with make_fetcher(tmp_path, sleeps) as fetcher:
        assert fetcher.get_json(loopback.url_for("/search"), {"q": "ACME"}) == {"quotes": []}


@pytest.mark.parametrize(
    "header, expected",
    [
        ("text/html; charset=UTF-8", ("text/html", "utf-8")),
        ('text/html;charset="windows-1252"', ("text/html", "windows-1252")),
        ("Application/RSS+XML", ("application/rss+xml", None)),
        ("", ("", None)),
    ],
)
def test_media_type_and_charset(header: str, expected: tuple[str, str | None]) -> None:
    assert media_type_and_charset(header) == expected


def test_redirect_loop_is_an_error(loopback, tmp_path, sleeps) -> None:
    loopback.expect_request("/loop").respond_with_response(
        Response(status=302, headers={"Location": "/loop"})
    )
    with make_fetcher(tmp_path, sleeps, max_redirects=3) as fetcher:
        with pytest.raises(FetchError, match="too many redirects"):
            fetcher.get(loopback.url_for("/loop"))
    assert len(loopback.log) == 4


def test_malformed_url_is_an_error(tmp_path, sleeps) -> None:
    with make_fetcher(tmp_path, sleeps) as fetcher:
        with pytest.raises(FetchError, match="request failed: MissingSchema"):
            fetcher.get("finance.yahoo.com/rss")
