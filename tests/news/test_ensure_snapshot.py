"""ensure_snapshot end to end: a Yahoo-like feed and pages on loopback, real HTTP and parsing."""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from werkzeug import Request, Response

from tests.helpers import FEED_PATH, HTML, news_config as make_config, no_robots_txt, render_feed
from utils.config import Config
from utils.errors import ArticlesError, ConfigError
from utils.items import article_key
from utils.news import ensure_snapshot
from utils.news.snapshot_store import dated_snapshots, latest_snapshot, load_snapshot
from utils.news.extract import SEPARATOR

FIXTURES = Path(__file__).parent / "fixtures"


def huge_page(request: Request) -> Response:
    def chunks():
        for _ in range(200):
            yield b"<p>Nvidia live blog update, minute by minute. </p>" * 20

    return Response(chunks(), content_type=HTML)


def serve_news(server: HTTPServer) -> str:
    """Register the Yahoo-like feed and pages; the server's base URL."""
    base = server.url_for("").rstrip("/")
    no_robots_txt(server)
    feed_query = {"s": "NVDA", "region": "US", "lang": "en-US"}
    server.expect_request(FEED_PATH, query_string=feed_query).respond_with_data(
        render_feed(base), content_type="application/rss+xml; charset=utf-8"
    )

    def page(path: str, fixture: str, content_type: str = HTML) -> None:
        body = (FIXTURES / fixture).read_bytes()
        server.expect_request(path).respond_with_data(body, content_type=content_type)

    page("/news/nvidia-data-center-demand.html", "nvidia-data-center-demand.html")
    page("/news/chip-stocks-mixed.html", "chip-stocks-mixed.html")
    page("/news/nvidia-munich-hub.html", "nvidia-munich-hub.cp1252.html", "text/html; charset=windows-1252")
    page("/news/nvidia-supplier-prices.html", "nvidia-supplier-prices.latin1-meta.html", "text/html")
    server.expect_oneshot_request("/news/nvidia-analyst-day.html").respond_with_data("Internal error", status=500)
    page("/news/nvidia-analyst-day.html", "nvidia-analyst-day.html")
    server.expect_request("/news/nvidia-eu-regulators.html").respond_with_response(
        Response(status=302, headers={"Location": f"{base}/consent/collectConsent?sessionId=3_cc-session_0"})
    )
    page("/consent/collectConsent", "consent.html")
    page("/m/4f1c2a/nvidia-valuation-debate.html", "nvidia-valuation-debate.html")
    server.expect_request("/news/nvidia-retracted-story.html").respond_with_data("Not here", status=404)
    server.expect_request("/files/nvidia-10q.pdf").respond_with_data(
        b"%PDF-1.7\n%\xe2\xe3", content_type="application/pdf"
    )
    server.expect_request("/news/nvidia-live-blog.html").respond_with_handler(huge_page)
    page("/video/nvidia-ceo-interview.html", "nvidia-ceo-interview.html")
    page("/news/fed-holds-rates.html", "fed-holds-rates.html")
    return base


def requested_paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refresh_scrapes_the_feed_into_a_snapshot(loopback, tmp_path) -> None:
    base = serve_news(loopback)
    config = make_config(tmp_path, base)

    path = ensure_snapshot("nvda", config, refresh=True)

    assert path.parent == tmp_path / "articles" / "NVDA"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z\.json", path.name)
    assert latest_snapshot(config.articles_folder, "NVDA") == path
    assert json.loads((path.parent / "latest.json").read_text())["snapshot"] == path.name
    snapshot = load_snapshot(path)
    assert (snapshot.ticker, snapshot.company_name, snapshot.synthetic) == ("NVDA", "Nvidia", False)
    assert snapshot.feed_url == f"{base}{FEED_PATH}?s=NVDA&region=US&lang=en-US"
    assert datetime.fromisoformat(snapshot.fetched_at) > datetime.now(timezone.utc) - timedelta(minutes=5)
    assert [a.url.removeprefix(base) for a in snapshot.articles] == [
        "/news/nvidia-data-center-demand.html",
        "/news/chip-stocks-mixed.html",
        "/news/nvidia-munich-hub.html",
        "/news/nvidia-supplier-prices.html",
        "/news/nvidia-analyst-day.html",
    ]
    for article in snapshot.articles:
        assert article.key == article_key(article.url)
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", article.published)


def test_snapshot_articles_hold_the_extracted_text(loopback, tmp_path) -> None:
    config = make_config(tmp_path, serve_news(loopback))
    articles = {a.title: a for a in load_snapshot(ensure_snapshot("NVDA", config, refresh=True)).articles}

    lead = articles["Nvidia beats on data-center demand, lifts outlook"]
    assert lead.summary == "Nvidia (NVDA) topped estimates as cloud providers kept buying its accelerators."
    assert lead.content.split(SEPARATOR)[:2] == [
        lead.summary,
        "Nvidia (NVDA) reported quarterly revenue of $39.3 billion on Wednesday, ahead of the "
        "$38.1 billion analysts had expected, as cloud providers kept buying its accelerators.",
    ]
    chips = articles["Chip stocks mixed as AMD, Intel and Nvidia report"]
    assert chips.content.startswith("Nvidia … Nvidia held its guidance steady")  # the "?" teaser is dropped
    assert "Intel" not in chips.content and "AMD" not in chips.content
    assert chips.model_extra["relevance"] == "round-up" and lead.model_extra["relevance"] == "story"
    munich = articles["Nvidia to open a research hub in Munich"].content
    assert "invest €1.5 billion" in munich and "“We see Europe as a long-term partner,” Nvidia’s" in munich
    supplier = articles["Nvidia supplier raises prices"].content  # the headline makes it a story
    assert "The company called Nvidia “its largest customer by far” and said talks with the café " in supplier
    analyst_day = articles["What to expect from Nvidia's analyst day"].content
    assert analyst_day.startswith("Nvidia hosts investors next week. … ")


def test_snapshot_records_every_skipped_item_with_its_reason(loopback, tmp_path) -> None:
    base = serve_news(loopback)
    config = make_config(tmp_path, base)
    snapshot = load_snapshot(ensure_snapshot("NVDA", config, refresh=True))

    reasons = {s.url.removeprefix(base): s.reason for s in snapshot.skipped}
    expected_starts = {
        "/news/nvidia-data-center-demand.html": "duplicate of another feed item",
        "/news/nvidia-old-story.html": "older than max_news_age (7 days",
        "/news/nvidia-eu-regulators.html": f"consent wall (redirected to {base}/consent/collectConsent)",
        "/m/4f1c2a/nvidia-valuation-debate.html": "paywalled teaser ('continue reading' stub",
        "/news/nvidia-retracted-story.html": "HTTP 404",
        "/files/nvidia-10q.pdf": "not HTML (Content-Type: application/pdf)",
        "/news/nvidia-live-blog.html": "body larger than max_response_bytes (20000 bytes)",
        "/video/nvidia-ceo-interview.html": "video page without article text",
        "/news/fed-holds-rates.html": "page does not mention Nvidia (NVDA)",
    }
    assert set(reasons) == set(expected_starts)
    for url, start in expected_starts.items():
        assert reasons[url].startswith(start), (url, reasons[url])
    duplicate = next(s for s in snapshot.skipped if s.reason.startswith("duplicate"))
    assert duplicate.title.endswith("(updated)")


def test_retry_old_items_and_redirects_on_the_wire(loopback, tmp_path) -> None:
    config = make_config(tmp_path, serve_news(loopback))
    ensure_snapshot("NVDA", config, refresh=True)
    paths = requested_paths(loopback)
    assert paths.count("/news/nvidia-analyst-day.html") == 2  # 500, then success
    assert paths.count("/consent/collectConsent") == 1
    assert "/news/nvidia-old-story.html" not in paths
    assert paths.count("/news/nvidia-data-center-demand.html") == 1  # the duplicate is not fetched


def test_second_refresh_makes_no_http_request(loopback, tmp_path) -> None:
    config = make_config(tmp_path, serve_news(loopback))
    first = load_snapshot(ensure_snapshot("NVDA", config, refresh=True))
    hits = len(loopback.log)
    assert hits > 10

    second = load_snapshot(ensure_snapshot("NVDA", config, refresh=True))

    assert len(loopback.log) == hits
    assert [a.model_dump() for a in second.articles] == [a.model_dump() for a in first.articles]
    assert [s.reason for s in second.skipped] == [s.reason for s in first.skipped]


def test_max_news_items_limits_the_articles_not_the_attempts(loopback, tmp_path) -> None:
    config = make_config(tmp_path, serve_news(loopback), max_news_items=2)
    snapshot = load_snapshot(ensure_snapshot("NVDA", config, refresh=True))
    assert len(snapshot.articles) == 2
    beyond = [s for s in snapshot.skipped if s.reason == "beyond max_news_items (2)"]
    assert len(beyond) == 10
    assert "/news/fed-holds-rates.html" not in requested_paths(loopback)


def test_existing_snapshot_is_returned_without_network(loopback, tmp_path) -> None:
    config = make_config(tmp_path, serve_news(loopback))
    path = ensure_snapshot("NVDA", config, refresh=True)
    loopback.clear()
    assert ensure_snapshot("NVDA", config) == path
    assert ensure_snapshot("NVDA", config, offline=True) == path
    assert loopback.log == []


def test_offline_without_a_snapshot_says_how_to_build_one(tmp_path) -> None:
    config = make_config(tmp_path, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ArticlesError) as info:
        ensure_snapshot("NVDA", config, offline=True)
    message = str(info.value)
    assert "NVDA" in message
    assert str(tmp_path / "articles" / "NVDA") in message
    assert "python generate_model_sentiments.py --company NVDA --fetch-only" in message
    assert not (tmp_path / "cache").exists()  # not even the cache was opened


def test_refresh_and_offline_together_are_rejected(tmp_path) -> None:
    config = make_config(tmp_path, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConfigError, match="--refresh"):
        ensure_snapshot("NVDA", config, refresh=True, offline=True)


def write_good_snapshot(config: Config) -> Path:
    """A flat sample snapshot, as shipped in data/articles."""
    path = config.articles_folder / "NVDA.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "ticker": "NVDA",
        "company_name": "Nvidia",
        "articles": [
            {"key": "abcd1234", "url": "https://example.com/a", "title": "t", "content": "Nvidia rose."}
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_network_down_during_refresh_falls_back_with_a_warning(tmp_path, caplog, monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    config = make_config(tmp_path, f"http://127.0.0.1:{closed_port()}")
    path = write_good_snapshot(config)
    before = path.read_bytes()

    with caplog.at_level(logging.WARNING, logger="utils.news"):
        assert ensure_snapshot("NVDA", config, refresh=True) == path

    assert path.read_bytes() == before
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "could not refresh news for NVDA" in record.getMessage()
    assert "cannot connect" in record.getMessage() and str(path) in record.getMessage()


def test_network_down_without_a_snapshot_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    config = make_config(tmp_path, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ArticlesError) as info:
        ensure_snapshot("NVDA", config, refresh=True)
    message = str(info.value)
    assert message.startswith("cannot fetch news for NVDA:")
    assert "cannot connect (Connection refused)" in message
    assert str(tmp_path / "articles" / "NVDA") in message


def test_feed_without_usable_articles_is_an_error_listing_the_reasons(loopback, tmp_path) -> None:
    base = loopback.url_for("").rstrip("/")
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>NVDA</title>'
        f"<item><title>Filing</title><link>{base}/files/q.pdf</link><pubDate>@AGO:1h@</pubDate></item>"
        f"<item><title>Rates</title><link>{base}/news/fed.html</link><pubDate>@AGO:2h@</pubDate></item>"
        "</channel></rss>"
    )
    loopback.expect_request(FEED_PATH).respond_with_data(render_feed(base, feed), content_type="text/xml")
    no_robots_txt(loopback)
    loopback.expect_request("/files/q.pdf").respond_with_data(b"%PDF", content_type="application/pdf")
    loopback.expect_request("/news/fed.html").respond_with_data(
        (FIXTURES / "fed-holds-rates.html").read_bytes(), content_type=HTML
    )
    config = make_config(tmp_path, base)
    path = write_good_snapshot(config)
    before = path.read_bytes()

    with pytest.raises(ArticlesError) as info:
        ensure_snapshot("NVDA", config, refresh=True)

    message = str(info.value)
    assert message.startswith("no usable articles for NVDA in ")
    assert "1 × not HTML" in message and "1 × page does not mention Nvidia" in message
    assert f"- page does not mention Nvidia (NVDA): {base}/news/fed.html" in message
    assert f"The latest snapshot {path} was left as it is." in message
    assert path.read_bytes() == before
    assert dated_snapshots(config.articles_folder, "NVDA") == []


def test_unknown_ticker_is_named_by_the_quote_search(loopback, tmp_path) -> None:
    base = loopback.url_for("").rstrip("/")
    search_query = {"q": "ACME", "quotesCount": "5", "newsCount": "0"}
    loopback.expect_request("/v1/finance/search", query_string=search_query).respond_with_data(
        (FIXTURES / "quote_search_acme.json").read_bytes(), content_type="application/json"
    )
    no_robots_txt(loopback)
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>ACME</title>'
        f"<item><title>Acme Widgets lifts outlook</title><link>{base}/news/acme.html</link>"
        "<pubDate>@AGO:1h@</pubDate></item></channel></rss>"
    )
    loopback.expect_request(FEED_PATH).respond_with_data(render_feed(base, feed), content_type="text/xml")
    page = "<article><p>Acme Widgets raised its outlook for the year. " + "Orders grew. " * 30 + "</p></article>"
    loopback.expect_request("/news/acme.html").respond_with_data(page, content_type=HTML)

    snapshot = load_snapshot(ensure_snapshot("ACME", make_config(tmp_path, base), refresh=True))

    assert snapshot.company_name == "Acme Widgets"
    assert [a.title for a in snapshot.articles] == ["Acme Widgets lifts outlook"]


def test_feed_reachable_but_no_page_reachable_counts_as_network_down(loopback, tmp_path, caplog) -> None:
    base = loopback.url_for("").rstrip("/")
    dead = f"http://127.0.0.1:{closed_port()}"
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>NVDA</title>'
        f"<item><title>A</title><link>{dead}/news/a.html</link><pubDate>@AGO:1h@</pubDate></item>"
        "</channel></rss>"
    )
    loopback.expect_request(FEED_PATH).respond_with_data(render_feed(base, feed), content_type="application/xml")
    config = make_config(tmp_path, base)
    path = write_good_snapshot(config)

    with caplog.at_level(logging.WARNING, logger="utils.news"):
        assert ensure_snapshot("NVDA", config, refresh=True) == path

    assert "none of the 1 article pages could be reached" in caplog.text
