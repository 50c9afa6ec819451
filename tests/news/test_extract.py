"""Article extraction from Yahoo-like pages: relevant blocks, encodings and every skip reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from utils.news.companies import Company
from utils.news.extract import (
    ROUND_UP,
    SEPARATOR,
    STORY,
    ArticleSkipped,
    Extraction,
    clip,
    extract_article,
    html_charset,
    is_consent_wall,
    mention_pattern,
    usable_summary,
)

FIXTURES = Path(__file__).parent / "fixtures"
NVIDIA = Company("NVDA", "Nvidia", ("NVIDIA Corporation",))


def extraction(name: str, *, charset: str | None = None, summary: str = "", title: str = "",
               min_chars: int = 200, max_chars: int | None = None) -> Extraction:
    body = (FIXTURES / name).read_bytes()
    return extract_article(body, charset=charset, company=NVIDIA, title=title, summary=summary,
                           min_chars=min_chars, max_chars=max_chars)


def extract(name: str, **kwargs) -> str:
    return extraction(name, **kwargs).content


def skip_reason(name: str, **kwargs) -> str:
    with pytest.raises(ArticleSkipped) as info:
        extract(name, **kwargs)
    return info.value.reason


def test_story_about_the_company_keeps_its_whole_body() -> None:
    result = extraction("nvidia-data-center-demand.html", summary="Nvidia topped estimates.")
    assert result.relevance == STORY
    assert result.content.split(SEPARATOR) == [
        "Nvidia topped estimates.",
        "Nvidia (NVDA) reported quarterly revenue of $39.3 billion on Wednesday, ahead of the "
        "$38.1 billion analysts had expected, as cloud providers kept buying its accelerators.",
        "The results arrived after a volatile month for technology shares, with investors questioning "
        "how long the spending boom on artificial-intelligence infrastructure can last.",
        "Data-center sales carry the quarter",
        "Data-center revenue rose 73% from a year earlier. NVIDIA said demand for its newest "
        "systems would exceed supply \u201cfor several quarters\u201d.",
        "Gaming revenue was flat, and the company's automotive unit grew 10%.",
        "Why Nvidia raised its outlook",
        "Shares of NVDA rose 4% in extended trading.",
    ]
    assert result.body == SEPARATOR.join(result.content.split(SEPARATOR)[1:])  # without the summary


def test_captions_sidebars_scripts_and_navigation_are_not_article_text() -> None:
    content = extract("nvidia-data-center-demand.html")
    for noise in ("chief executive on stage", "Trending tickers", "window.YAHOO", "Finance Home"):
        assert noise not in content


def test_round_up_keeps_the_companys_paragraphs_and_their_follow_ups() -> None:
    result = extraction("chip-stocks-mixed.html", title="Chip stocks mixed as AMD, Intel and Nvidia report",
                        summary="Which chipmaker is the best buy now?")
    assert result.relevance == ROUND_UP
    assert result.content.split(SEPARATOR) == [
        "Nvidia",
        "Nvidia held its guidance steady and said supply of its newest accelerators was improving.",
        "Analysts at Harbor Lane Securities kept a buy rating on Nvidia, citing its software ecosystem.",
        "Investors will hear from all three companies again at an industry conference next month.",
    ]


def test_newer_atoms_layout() -> None:
    content = extract("nvidia-analyst-day.html")
    assert content.startswith("Nvidia will host its first investor day")
    assert "Several brokerages raised their price targets" in content  # part of a story about Nvidia
    assert content.count(SEPARATOR) == 2


def test_windows_1252_declared_in_the_header() -> None:
    content = extract("nvidia-munich-hub.cp1252.html", charset="windows-1252")
    assert "invest \u20ac1.5 billion" in content
    assert "\u201cWe see Europe as a long-term partner,\u201d Nvidia\u2019s regional head" in content


def test_latin1_meta_charset_is_read_as_windows_1252_like_browsers_do() -> None:
    content = extract("nvidia-supplier-prices.latin1-meta.html")  # without its headline: a round-up
    assert content == (
        "The company called Nvidia \u201cits largest customer by far\u201d and said talks "
        "with the caf\u00e9 chain were unrelated."
    )


@pytest.mark.parametrize(
    "declared, body, expected",
    [
        ("utf-8", b"", "utf-8"),
        ("ISO-8859-1", b"", "cp1252"),
        ("us-ascii", b"", "cp1252"),
        (None, b'<meta charset="windows-1252">', "cp1252"),
        (None, b"<html><body>x</body></html>", None),
        ("no-such-codec", b"", None),
    ],
)
def test_html_charset(declared: str | None, body: bytes, expected: str | None) -> None:
    assert html_charset(declared, body) == expected


def test_paywall_teaser_is_skipped() -> None:
    assert skip_reason("nvidia-valuation-debate.html").startswith("paywalled teaser ('continue reading' stub")


def test_video_page_without_text_is_skipped() -> None:
    assert skip_reason("nvidia-ceo-interview.html").startswith("video page without article text")


def test_page_that_never_names_the_company_is_skipped() -> None:
    assert skip_reason("fed-holds-rates.html") == "page does not mention Nvidia (NVDA)"


def test_very_short_body_is_skipped() -> None:
    body = b"<html><body><div class='caas-body'><p>Nvidia rose.</p></div></body></html>"
    with pytest.raises(ArticleSkipped, match=r"body too short \(12 characters, min_article_chars is 200\)"):
        extract_article(body, charset="utf-8", company=NVIDIA, summary="", min_chars=200)


def test_summary_repeating_the_first_paragraph_is_not_doubled() -> None:
    body = (
        b"<article><p>Nvidia shares rose 3% after the company raised its outlook for the year.</p>"
        b"<p>Nvidia said demand for its data-center products remained strong in every region.</p></article>"
    )
    summary = "Nvidia shares rose 3% after the company raised its outlook for the year."
    content = extract_article(body, charset="utf-8", company=NVIDIA, summary=summary, min_chars=50).content
    assert content.count("Nvidia shares rose") == 1


@pytest.mark.parametrize(
    "summary, usable",
    [("Nvidia rose.", True), ("Is Nvidia a buy?", False), ("Is it? ", False), ("", False)],
)
def test_usable_summary(summary: str, usable: bool) -> None:
    assert usable_summary(summary) is usable


@pytest.mark.parametrize(
    "text, found",
    [
        ("NVIDIA Corporation said", True),
        ("nvidia's chips", True),
        ("shares of $NVDA", True),
        ("(NASDAQ: NVDA)", True),
        ("NVDAX is a fund", False),
        ("nvda in lower case is not the ticker", False),
        ("Nvidiaesque", False),
    ],
)
def test_mention_pattern(text: str, found: bool) -> None:
    assert bool(mention_pattern(NVIDIA).search(text)) is found


def test_one_letter_ticker_counts_only_in_ticker_notation() -> None:
    pattern = mention_pattern(Company("F", "Ford"))
    assert pattern.search("Ford Motor (F) fell") and pattern.search("NYSE:F")
    assert not pattern.search("grade F in class")


@pytest.mark.parametrize(
    "urls, wall",
    [
        (["https://finance.yahoo.com/news/a.html", "https://guce.yahoo.com/consent?x=1"], True),
        (["https://consent.yahoo.com/v2/collectConsent?sessionId=3"], True),
        (["http://127.0.0.1:8080/consent/collectConsent?sessionId=3"], True),
        (["https://finance.yahoo.com/news/consent-decree-ends.html"], False),
    ],
)
def test_is_consent_wall(urls: list[str], wall: bool) -> None:
    assert is_consent_wall(urls) is wall


def test_teaser_is_found_even_when_the_page_carries_big_scripts() -> None:
    script = "<script>" + "var state = 'x';" * 500 + "</script>"
    body = (
        f"<html><body>{script}<p>Nvidia's valuation has split Wall Street, with bulls and bears far apart "
        "on where the shares go next.</p><a href='https://partner.example/x'>Continue reading</a></body></html>"
    ).encode()
    with pytest.raises(ArticleSkipped, match="paywalled teaser"):
        extract_article(body, charset="utf-8", company=NVIDIA, summary="", min_chars=50)


@pytest.mark.parametrize(
    "pieces, cap, expected, clipped_from",
    [
        (["aaaa", "bbbb"], None, "aaaa … bbbb", None),
        (["aaaa", "bbbb"], 11, "aaaa … bbbb", None),
        (["aaaa", "bbbb", "cc"], 12, "aaaa … bbbb", 16),
        (["one two three four"], 9, "one two", 18),
    ],
)
def test_clip_cuts_at_a_block_boundary(pieces, cap, expected, clipped_from) -> None:
    assert clip(pieces, cap) == (expected, clipped_from)


def test_long_story_is_capped_and_says_how_long_it_was() -> None:
    full = extraction("nvidia-data-center-demand.html")
    capped = extraction("nvidia-data-center-demand.html", max_chars=400)
    assert len(capped.content) <= 400 and full.content.startswith(capped.content)
    assert capped.clipped_from == len(full.content) and full.clipped_from is None
    assert capped.body == full.body  # duplicates are found on the whole text


def test_headline_alone_without_text_blocks_is_skipped() -> None:
    body = b"<html><body><div class='chart'><img src='nvda.png' alt='Nvidia chart of the day'></div></body></html>"
    with pytest.raises(ArticleSkipped, match="no article text about Nvidia"):
        extract_article(body, charset="utf-8", company=NVIDIA, title="Nvidia chart", summary="", min_chars=0)
