"""Syndicated Yahoo pages through the real fetch path: the whole story, none of the boilerplate.

The fixture pages (tests/news/fixtures/pages, rendered by its build.py) are modelled on
Yahoo Finance's two layouts and ten providers' boilerplate; each marks its story
sentences, pivot paragraphs and boilerplate blocks. An RSS feed on a loopback server
lists them all, and one refresh scrapes them as a user's run would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_extraction import (
    boilerplate_kept,
    corpus_scores,
    gold_pages,
    page_precision_recall,
    sentences,
    story_sentences_kept,
    trafilatura_text,
)
from tests.helpers import FEED_PATH, HTML, news_config, no_robots_txt
from utils.news import ensure_snapshot
from utils.news.snapshot_store import load_snapshot
from utils.news.extract import SEPARATOR, main_text

PAGES = Path(__file__).parent / "fixtures" / "pages"
YAHOO = sorted(p.name.removesuffix(".marks.json") for p in PAGES.glob("*.marks.json") if "layout" in
               json.loads(p.read_text(encoding="utf-8")))  # Yahoo pages, held-out ones included
# A feed summary that says the lead again in slightly different words.
NEAR_LEAD = ("Nvidia has signed a multiyear agreement to supply Northwind Cloud with accelerator "
             "systems for three new data centers, the companies said Monday.")


def marks(name: str) -> dict:
    return json.loads((PAGES / f"{name}.marks.json").read_text(encoding="utf-8"))


def feed(base: str) -> str:
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    now = datetime.now(timezone.utc)
    items = []
    for hours, name in enumerate(YAHOO, start=1):
        summary = NEAR_LEAD if name == "yahoo-desk-nvda-chips-deal" else ""
        items.append(
            f"<item><title>{marks(name)['title'].replace('&', '&amp;')}</title>"
            f"<link>{base}/news/{name}.html</link><description>{summary}</description>"
            f"<pubDate>{format_datetime(now - timedelta(hours=hours))}</pubDate></item>"
        )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>NVDA</title>{''.join(items)}</channel></rss>"


@pytest.fixture
def scraped(loopback, tmp_path):
    """(snapshot, {page name: article}, {page name: skipped item}) after one refresh."""
    base = loopback.url_for("").rstrip("/")
    no_robots_txt(loopback)
    loopback.expect_request(FEED_PATH).respond_with_data(feed(base), content_type="application/rss+xml")
    for name in YAHOO:
        loopback.expect_request(f"/news/{name}.html").respond_with_data(
            (PAGES / f"{name}.html").read_bytes(), content_type=HTML
        )
    config = news_config(tmp_path, base)
    config = config.model_copy(update={"news": config.news.model_copy(update={"max_article_chars": 20_000})})
    snapshot = load_snapshot(ensure_snapshot("NVDA", config, refresh=True))

    def name_of(url: str) -> str:
        return url.rsplit("/", 1)[-1].removesuffix(".html")

    return (snapshot, {name_of(a.url): a for a in snapshot.articles},
            {name_of(s.url): s for s in snapshot.skipped})


def test_fixtures_cover_both_layouts_eight_providers_a_round_up_a_boilerplate_mention_and_a_video() -> None:
    pages = [marks(name) for name in YAHOO]
    assert {p["layout"] for p in pages} == {"caas", "atoms", "video"}
    assert len({p["provider"] for p in pages}) >= 8
    assert {p["expect"] for p in pages} == {"story", "round-up", "skipped"}
    assert sum(bool(p["boilerplate"]) for p in pages) >= 11


def test_every_story_sentence_is_kept_and_no_boilerplate_block(scraped) -> None:
    _, articles, _ = scraped
    kept = total = 0
    leaked = {}
    for name in YAHOO:
        page = marks(name)
        content = articles[name].content if name in articles else ""
        found, wanted = story_sentences_kept(page, content)
        kept, total = kept + found, total + wanted
        if boilerplate_kept(page, content):
            leaked[name] = boilerplate_kept(page, content)
        for pivot in page["pivot"]:
            assert pivot not in content, (name, pivot)
        for chrome in page["chrome"]:
            assert chrome not in content, (name, chrome)
    assert total > 80
    assert kept / total >= 0.98, f"{kept} of {total} story sentences kept"
    assert leaked == {}


def test_each_page_is_read_with_the_expected_rule(scraped) -> None:
    _, articles, skipped = scraped
    for name in YAHOO:
        page = marks(name)
        if page["expect"] == "skipped":
            assert name not in articles
            assert skipped[name].reason.startswith(page["skip_reason"]), skipped[name].reason
        else:
            assert articles[name].model_extra["relevance"] == page["expect"], name
    assert skipped["yahoo-video-nvda-ceo"].model_extra["kind"] == "video"


def test_the_snapshot_counts_the_blocks_each_rule_removed(scraped) -> None:
    _, articles, _ = scraped
    for name, article in articles.items():
        removed = article.model_extra["removed"]
        by_rules = sum(n for rule, n in removed.items() if "/" in rule)  # provider/name rules
        assert by_rules == len(marks(name)["boilerplate"]), (name, removed)
    zacks = articles["yahoo-zacks-nvda-estimates"].model_extra["removed"]
    assert zacks["zacks/rank"] == 1 and zacks["zacks/free-report"] == 2
    assert articles["yahoo-reuters-nvda-export"].model_extra["removed"]["pivot: turns to other news"] == 1


def test_story_continues_split_gives_the_whole_story_with_lists_and_sub_headings(scraped) -> None:
    _, articles, _ = scraped
    blocks = articles["yahoo-zacks-nvda-estimates"].content.split(SEPARATOR)
    assert "Estimate Revisions Trend" in blocks  # a sub-heading below the button
    assert "Gaming estimates were cut slightly on softer holiday demand." in blocks  # a list item
    insider = articles["yahoo-insidermonkey-nvda-list"].content
    assert "raised the price target on the shares to $240" in insider


def test_a_summary_that_repeats_the_lead_in_other_words_is_read_once(scraped) -> None:
    _, articles, _ = scraped
    content = articles["yahoo-desk-nvda-chips-deal"].content
    assert NEAR_LEAD not in content
    assert content.startswith("Nvidia (NVDA) has signed a multiyear agreement")


def test_a_company_named_only_in_boilerplate_does_not_make_the_page_about_it() -> None:
    html = (PAGES / "yahoo-fool-costco-mentions-nvda.html").read_bytes()
    assert "Nvidia" in html.decode()  # in the pitch and the disclosure
    assert "Nvidia" not in main_text(html)


def test_main_text_scores_at_least_the_library_on_the_gold_pages() -> None:
    pages = gold_pages(PAGES)
    assert len(pages) >= 20
    ours = corpus_scores([(gold, main_text(html)) for _, html, gold in pages])
    library = corpus_scores([(gold, trafilatura_text(html)) for _, html, gold in pages])
    assert ours["f1"] >= library["f1"]
    assert ours["recall"] >= 0.99


@pytest.mark.parametrize(
    "gold, extracted, expected",
    [
        ("a b c d", "a b c d", (1.0, 1.0)),
        ("a b c d", "a b x y", (0.5, 0.5)),
        ("a a b", "a b b b", (0.5, 2 / 3)),  # counts are clipped: one "a" and one "b" shared
        ("a b", "", (None, 0.0)),  # nothing extracted: precision undefined, recall 0
    ],
)
def test_token_precision_and_recall(gold, extracted, expected) -> None:
    assert page_precision_recall(gold, extracted) == expected


def test_sentences_split_after_stops_before_capitals() -> None:
    assert sentences("Revenue rose 5.2% to $3.1 billion. Shares fell. “We grew,” she said.") == [
        "Revenue rose 5.2% to $3.1 billion.", "Shares fell.", "“We grew,” she said.",
    ]


def test_rendered_fixture_pages_are_up_to_date() -> None:
    from tests.news.fixtures.pages.build import rendered

    for name, content in rendered().items():
        assert (PAGES / name).read_text(encoding="utf-8") == content, f"{name}: run build.py"
