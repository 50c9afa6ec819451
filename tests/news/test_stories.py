"""What a refresh keeps from realistic pages, end to end over loopback HTTP.

An Atom feed lists a single-company story, its syndicated copy and a re-bylined copy, a
story whose key paragraph only says "the company", a round-up of several companies, a
page that robots.txt disallows and a very long article. Two refreshes give two dated
snapshots, and a run can be pinned to the first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import HTML, news_config, render_feed
from utils.errors import ArticlesError
from utils.news import ensure_snapshot
from utils.news.snapshot_store import dated_snapshots, latest_snapshot, load_snapshot
from utils.news.extract import SEPARATOR
from utils.run.sources import news_input

STORIES = Path(__file__).parent / "fixtures" / "stories"
ATOM_PATH = "/atom/nvda.xml"
PAGES = {
    "/news/nvidia-record-quarter.html": "nvidia-record-quarter.html",
    "/partner/wire/nvidia-record-quarter.html": "nvidia-record-quarter.syndicated.html",
    "/bayside/nvidia-record-quarter.html": "nvidia-record-quarter.rebylined.html",
    "/news/nvidia-export-rules.html": "nvidia-export-rules.html",
    "/news/chip-earnings-roundup.html": "chip-earnings-roundup.html",
    "/premium/nvidia-outlook.html": "premium-nvidia-outlook.html",
    "/news/nvidia-investor-day-long.html": "nvidia-investor-day-long.html",
}


def serve_site(server) -> str:
    """The Atom feed, its pages and a robots.txt on loopback; the base URL."""
    base = server.url_for("").rstrip("/")
    server.expect_request(ATOM_PATH).respond_with_data(
        render_feed(base, (STORIES / "feed_nvda.atom").read_text("utf-8")), content_type="application/atom+xml"
    )
    serve_pages(server)
    return base


def serve_pages(server) -> None:
    """The site's robots.txt and article pages."""
    server.expect_request("/robots.txt").respond_with_data(
        (STORIES / "robots.txt").read_bytes(), content_type="text/plain"
    )
    for path, fixture in PAGES.items():
        server.expect_request(path).respond_with_data((STORIES / fixture).read_bytes(), content_type=HTML)


def site_config(tmp_path: Path, base: str, **overrides):
    config = news_config(tmp_path, base, **overrides)
    news = config.news.model_copy(update={"feed_url": f"{base}{ATOM_PATH}", "max_article_chars": 4000})
    return config.model_copy(update={"news": news})


@pytest.fixture
def refreshed(loopback, tmp_path):
    """(snapshot, base URL, config) after one refresh of the loopback site."""
    base = serve_site(loopback)
    config = site_config(tmp_path, base)
    return load_snapshot(ensure_snapshot("NVDA", config, refresh=True)), base, config


def by_path(snapshot, base: str) -> dict:
    return {a.url.removeprefix(base): a for a in snapshot.articles}


def test_atom_feed_gives_the_articles_in_date_order(refreshed) -> None:
    snapshot, base, _ = refreshed
    assert [a.url.removeprefix(base) for a in snapshot.articles] == [
        "/news/nvidia-record-quarter.html",  # utm_source dropped
        "/news/nvidia-export-rules.html",
        "/news/chip-earnings-roundup.html",
        "/news/nvidia-investor-day-long.html",
    ]
    first = snapshot.articles[0]
    assert first.summary == "Nvidia beat estimates as Blackwell demand outran supply."
    assert first.title == "Nvidia posts record quarter as data-center sales surge"


def test_single_company_story_keeps_paragraphs_that_never_name_it(refreshed) -> None:
    snapshot, base, _ = refreshed
    story = by_path(snapshot, base)["/news/nvidia-record-quarter.html"]
    assert story.model_extra["relevance"] == "story"
    for kept in (
        "Chief executive Jensen Huang said demand for the Blackwell platform exceeds supply into next year",
        "The company guided to fourth-quarter revenue of about $45 billion",
        "Blackwell shipments made up roughly half of data-center sales",
        "Gaming revenue slipped 4% as GeForce buyers waited",
        "Shares rose 3% in extended trading.",
    ):
        assert kept in story.content, kept
    for chrome in ("Finance Home", "headquarters campus at dusk", "Trending tickers", "Finance Demo Site"):
        assert chrome not in story.content
    export = by_path(snapshot, base)["/news/nvidia-export-rules.html"].content
    assert "The company said it would take an inventory charge in the current quarter" in export
    assert "The chipmaker had already lowered its China exposure" in export


def test_round_up_keeps_the_companys_paragraphs_and_their_follow_ups(refreshed) -> None:
    snapshot, base, _ = refreshed
    roundup = by_path(snapshot, base)["/news/chip-earnings-roundup.html"]
    assert roundup.model_extra["relevance"] == "round-up"
    assert roundup.content.split(SEPARATOR) == [
        "Winners and laggards of a busy earnings week.",  # the feed's summary leads
        "Nvidia, which reports next week, was the biggest gainer among large chipmakers, adding 6% on "
        "expectations that cloud customers will keep ordering.",
        "Options markets are pricing a move of about 8% in either direction after the results.",
        "Retail investors bought Nvidia calls at the fastest pace since the spring, according to a broker survey.",
        "Semiconductor equipment makers lagged the broader market for a third straight week.",
    ]


def test_syndicated_and_rebylined_copies_are_kept_once(refreshed) -> None:
    snapshot, base, _ = refreshed
    original = f"{base}/news/nvidia-record-quarter.html"
    copies = {s.url.removeprefix(base): s for s in snapshot.skipped if s.duplicate_of}
    assert set(copies) == {"/partner/wire/nvidia-record-quarter.html", "/bayside/nvidia-record-quarter.html"}
    exact = copies["/partner/wire/nvidia-record-quarter.html"]
    assert exact.duplicate_of == original and exact.reason == f"duplicate of {original} (same text)"
    near = copies["/bayside/nvidia-record-quarter.html"]
    assert near.duplicate_of == original
    assert near.reason.startswith(f"near-duplicate of {original} (") and "5-word shingles shared" in near.reason


def test_robots_txt_disallowed_page_is_skipped_without_a_request(refreshed, loopback) -> None:
    snapshot, base, _ = refreshed
    reasons = {s.url.removeprefix(base): s.reason for s in snapshot.skipped}
    assert reasons["/premium/nvidia-outlook.html"] == f"disallowed by {base}/robots.txt"
    paths = [request.path for request, _ in loopback.log]
    assert "/premium/nvidia-outlook.html" not in paths
    assert paths.count("/robots.txt") == 1


def test_long_article_is_capped_in_the_snapshot(refreshed) -> None:
    snapshot, base, _ = refreshed
    long_read = by_path(snapshot, base)["/news/nvidia-investor-day-long.html"]
    assert len(long_read.content) <= 4000 < long_read.model_extra["clipped_from"]
    assert long_read.content.endswith("new systems ramp.")  # cut at a paragraph boundary
    assert snapshot.model_extra["max_article_chars"] == 4000


def test_two_refreshes_give_two_snapshots_and_a_run_can_pin_the_first(loopback, tmp_path) -> None:
    base = serve_site(loopback)
    config = site_config(tmp_path, base)
    first = ensure_snapshot("NVDA", config, refresh=True)
    # The site publishes one more story; a fresh cache makes the second refresh read it.
    loopback.clear()
    later = (STORIES / "feed_nvda.atom").read_text("utf-8").replace(
        "</feed>",
        "<entry><title>Nvidia opens a design centre in Lisbon</title>"
        '<link href="@BASE@/news/nvidia-lisbon.html"/><id>urn:uuid:lisbon</id>'
        "<published>@ISO:0h@</published></entry></feed>",
    )
    loopback.expect_request(ATOM_PATH).respond_with_data(render_feed(base, later), content_type="application/atom+xml")
    serve_pages(loopback)
    page = ("<article><p>Nvidia will open a chip design centre in Lisbon. "
            + "It will hire engineers. " * 20 + "</p></article>")
    loopback.expect_request("/news/nvidia-lisbon.html").respond_with_data(page, content_type=HTML)
    fresh_cache = config.news.model_copy(update={"cache_path": tmp_path / "cache2" / "http.sqlite"})
    second = ensure_snapshot("NVDA", config.model_copy(update={"news": fresh_cache}), refresh=True)

    assert dated_snapshots(config.articles_folder, "NVDA") == [first, second]
    assert latest_snapshot(config.articles_folder, "NVDA") == second
    assert len(load_snapshot(second).articles) == len(load_snapshot(first).articles) + 1

    latest = news_input("NVDA", config, offline=True)
    assert latest.source["snapshot"] == str(second)
    pinned = news_input("NVDA", config, offline=True, snapshot=first.stem)
    assert pinned.source["snapshot"] == str(first)
    assert pinned.source["snapshot_id"] == f"NVDA/{first.name}"
    assert [a.key for a in pinned.items] == [a.key for a in load_snapshot(first).articles]
    by_file = news_input("NVDA", config, offline=True, snapshot=str(first))
    assert by_file.source["snapshot_sha256"] == pinned.source["snapshot_sha256"]
    assert first.read_bytes() != second.read_bytes()


def test_a_snapshot_date_that_matches_nothing_names_the_ones_there(loopback, tmp_path) -> None:
    config = site_config(tmp_path, serve_site(loopback))
    made = ensure_snapshot("NVDA", config, refresh=True)
    with pytest.raises(ArticlesError) as info:
        news_input("NVDA", config, offline=True, snapshot="2001-01-01")
    assert "--snapshot 2001-01-01: no snapshot of NVDA matches" in str(info.value)
    assert made.stem in str(info.value)
    with pytest.raises(ArticlesError, match="no such snapshot file"):
        news_input("NVDA", config, offline=True, snapshot=str(tmp_path / "missing.json"))
    with pytest.raises(ArticlesError, match="this snapshot holds NVDA news, not MSFT"):
        news_input("MSFT", config, offline=True, snapshot=str(made))
