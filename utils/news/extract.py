"""Article text from a news page: the whole story when it is about the company, else its part.

The page's main text comes from trafilatura (utils/news/maintext.py) as blocks:
paragraphs, headings, list items and table rows. Provider boilerplate is removed next, by
the rules of boilerplate_rules.yaml (utils/news/boilerplate.py), so that a company named
only in a rank blurb, a pitch or a disclosure never makes a page about that company.

Relevance is then decided on the cleaned text, per story, not per sentence, because
stories refer to the company as "the company", "the chipmaker", its chief executive or
its products far more often than by name. A page is *about* the company when its
headline or lead names the company (or an alias) and no other company of the ticker
table, or when most of its blocks name it; then its whole body is kept, except the pivot
paragraphs of wire stories ("Separately, ...", market-wrap paragraphs that name no
company). Otherwise the page is a round-up, and only the blocks that name the company are
kept, each with the paragraph that follows it (unless that one turns to another company).
Either way the text is capped in length.

Pure functions of (bytes, URLs, company, rules). A page that cannot give a fair article
text raises ArticleSkipped with the reason that goes into the snapshot's ``skipped`` list.
``python -m utils.news.extract PAGE.html --company NVDA`` shows what a page gives and why.
"""

from __future__ import annotations

import argparse
import codecs
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector, UnicodeDammit

from utils.news.boilerplate import Rules, load_rules, remove_boilerplate
from utils.news.companies import CURATED, Company, other_company_names
from utils.news.duplicates import words
from utils.news.maintext import (
    Block,
    Dropped,
    normalize_space,
    page_signals,
    page_titles,
    story_blocks,
)

__all__ = [
    "ROUND_UP",
    "SEPARATOR",
    "STORY",
    "ArticleSkipped",
    "Extraction",
    "clip",
    "extract_article",
    "html_charset",
    "is_consent_wall",
    "main_text",
    "mention_pattern",
    "normalize_space",
    "usable_summary",
]

SEPARATOR = " … "
STORY = "story"  # the page is about the company: whole body kept
ROUND_UP = "round-up"  # the page is mostly about others: mentions and their follow-ups kept
VIDEO = "video"
TEASER_MAX_CHARS = 1500
# A page with a video player and less text than this is a video page (its text is a caption).
VIDEO_TEXT_MAX_CHARS = 800
# A feed summary this similar (difflib ratio over words) to a kept block is not read twice.
SUMMARY_SIMILARITY = 0.8

# Where the story lives, most specific first; used for the paywall check (the main text
# itself comes from trafilatura). Yahoo's atoms layout splits the story inside div.body.
_BODY_SELECTORS = ("div.caas-body", "div.body", "[itemprop=articleBody]", "article", "main")
_CODE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe")
_PAYWALL_PHRASES = (
    "continue reading", "subscribe to continue", "subscribe to read", "subscribers only",
    "for subscribers", "already a subscriber", "sign in to read", "read the full article",
    "to read the full story",
)
_VIDEO_SELECTORS = (
    "video", "div.caas-yvideo", "[class*=video-player]", "meta[property='og:video']",
    "meta[property='og:type'][content^=video]",
)
_CONSENT_HOST_PREFIXES = ("consent.", "guce.")
# Browsers read these labels as windows-1252 (WHATWG), so news sites rely on it for € and “”.
_WINDOWS_1252_ALIASES = frozenset({"iso8859-1", "ascii"})
# Wire stories end with unrelated news: a pivot opener, or a market wrap naming no company.
_PIVOT = re.compile(
    r"^(?:separately|in other news|elsewhere|in (?:a )?separate (?:news|development|announcement|move)"
    r"|in related news|in (?:broader|wider) markets|on the macro(?:economic)? front|in economic news)\b",
    re.IGNORECASE,
)
_MARKET_WRAP = re.compile(
    r"\b(?:S&P 500|Nasdaq|Dow Jones|the Dow|Russell 2000|Treasury yields?|Federal Reserve|the Fed"
    r"|main indexes|major indexes|broader market|Stoxx|Nikkei|FTSE)\b",
)
_REFERS_TO_COMPANY = re.compile(
    r"\b(?:the company|company's|its|the firm|the group|the stock|the shares|shares of|the chipmaker"
    r"|the chip designer|management|chief executive)\b",
    re.IGNORECASE,
)
_ORIGINALLY = re.compile(r"(?:originally|first) (?:published|appeared)", re.IGNORECASE)


class ArticleSkipped(Exception):
    """A page is not used; ``reason`` says why, for the snapshot's skipped list."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(reason)


def is_consent_wall(urls: list[str] | tuple[str, ...]) -> bool:
    """True when any URL of a redirect chain is a cookie-consent page (consent./guce. host)."""
    for url in urls:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        first_segment = parts.path.strip("/").split("/")[0].lower()
        if host.startswith(_CONSENT_HOST_PREFIXES) or first_segment == "consent":
            return True
    return False


def html_charset(declared: str | None, body: bytes) -> str | None:
    """The codec to decode ``body`` with: the header's, else the page's meta; None to sniff."""
    label = declared or EncodingDetector.find_declared_encoding(body, is_html=True)
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def mention_pattern(company: Company) -> re.Pattern[str]:
    """A regex that finds the company's names (any case) or its ticker (upper case only)."""
    names = "|".join(re.escape(n) for n in sorted(company.names, key=len, reverse=True))
    ticker = re.escape(company.ticker)
    # A one-letter ticker (F, V) is a word of its own only as $F, (F) or NYSE:F.
    ticker_part = (
        rf"(?<![\w$])\$?{ticker}(?![\w-])" if len(company.ticker) > 1
        else rf"(?:\$|\(|:\s?){ticker}(?![\w-])"
    )
    return re.compile(rf"(?i:(?<!\w)(?:{names})(?!\w))|{ticker_part}")


@dataclass(frozen=True)
class Extraction:
    """What a page gives: the text the model reads, the body alone (for duplicate
    detection), the relevance rule that applied, the length before the cap, and every
    block left out with the rule that left it out."""

    content: str
    body: str
    relevance: str
    clipped_from: int | None = None
    dropped: tuple[Dropped, ...] = ()
    kind: str | None = None
    reason: str = ""

    @property
    def removed(self) -> dict[str, int]:
        """How many blocks each rule removed, for the snapshot."""
        return dict(Counter(d.rule for d in self.dropped))


@dataclass
class CleanPage:
    """A page's main text with the boilerplate removed, and what it says about itself."""

    blocks: list[Block]
    dropped: list[Dropped] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    video: bool = False
    headline: str = ""


def decode_html(body: bytes, charset: str | None = None) -> str:
    """``body`` as text: the declared charset (windows-1252 for latin-1), else sniffed."""
    codec = html_charset(charset, body)
    dammit = UnicodeDammit(body, known_definite_encodings=[codec] if codec else [], is_html=True)
    return dammit.unicode_markup or body.decode("utf-8", errors="replace")


def clean_page(body: bytes, *, charset: str | None = None, rules: Rules | None = None,
               check_paywall: bool = False) -> CleanPage:
    """The page's main-text blocks without headline and boilerplate; ArticleSkipped for a
    paywalled teaser when ``check_paywall``."""
    markup = decode_html(body, charset)
    soup = BeautifulSoup(markup, "lxml")
    video = _has_video(soup)
    _drop(soup, _CODE_TAGS)
    if check_paywall:
        _check_paywall(_story_root(soup))
    titles, signals = page_titles(soup), page_signals(soup)
    headline = normalize_space(soup.h1.get_text(" ")) if soup.h1 else ""
    blocks, dropped = [], []
    for block in story_blocks(markup, soup):
        (dropped.append(Dropped(block, "headline")) if block.text.casefold() in titles else blocks.append(block))
    rules = rules or load_rules()
    said = [b.text for b in blocks if len(b.text) < 300 and _ORIGINALLY.search(b.text)]
    providers = rules.providers_of("\n".join([signals, *said]))
    kept, removed = remove_boilerplate(blocks, rules.for_page(providers))
    return CleanPage(kept, dropped + removed, providers, video, headline)


def main_text(html: bytes) -> str:
    """The page's story text, one block a line, before any company filter: trafilatura's
    main text without the headline and without the boilerplate the shipped rules know."""
    return "\n".join(block.text for block in clean_page(html).blocks)


def extract_article(
    body: bytes,
    *,
    charset: str | None,
    company: Company,
    title: str = "",
    summary: str,
    min_chars: int,
    max_chars: int | None = None,
    rules: Rules | None = None,
    video_pages: str = "skip",
) -> Extraction:
    """The article text for ``company``: the summary, then the relevant blocks joined by
    SEPARATOR, cut at a block boundary to at most ``max_chars`` characters.

    ``video_pages`` is "skip" (a video page raises ArticleSkipped) or "keep" (its caption
    is used, whatever its length, with ``kind`` "video").
    """
    page = clean_page(body, charset=charset, rules=rules, check_paywall=True)
    length = sum(len(b.text) for b in page.blocks)
    is_video = page.video and length < VIDEO_TEXT_MAX_CHARS
    if is_video and video_pages != "keep":
        raise ArticleSkipped(
            f"video page without article text ({length} characters; news.video_pages: keep uses its caption)",
            kind=VIDEO,
        )
    if length < min_chars and not is_video:
        raise ArticleSkipped(f"body too short ({length} characters, min_article_chars is {min_chars})")
    kept, relevance, reason, dropped = choose_blocks(page.blocks, company, title=title or page.headline,
                                                     summary=summary)
    if not kept:  # only the headline names the company, and the page has no text blocks
        raise ArticleSkipped(f"no article text about {company.name} on the page")
    texts = [b.text for b in kept]
    lead = [summary] if usable_summary(summary) and not _repeats(summary, texts) else []
    content, clipped_from = clip(lead + texts, max_chars)
    return Extraction(content, SEPARATOR.join(texts), relevance, clipped_from,
                      tuple(page.dropped + dropped), VIDEO if is_video else None, reason)


def choose_blocks(
    blocks: list[Block], company: Company, *, title: str = "", summary: str = ""
) -> tuple[list[Block], str, str, list[Dropped]]:
    """(the blocks to keep, STORY or ROUND_UP, why, the blocks left out with their rule)."""
    ours = mention_pattern(company)
    others = other_mentions_pattern(company)
    named = [bool(ours.search(b.text)) for b in blocks]
    if not any(named) and not ours.search(title):
        raise ArticleSkipped(f"page does not mention {company.name} ({company.ticker})")
    lead = blocks[0].text if blocks else ""
    for where, text in (("headline", title), ("summary", summary), ("lead", lead)):
        if ours.search(text) and not (others and others.search(text)):
            return _story(blocks, named, f"the {where} names {company.name} and no other company")
    if sum(named) * 2 > len(blocks):
        return _story(blocks, named, f"{sum(named)} of {len(blocks)} blocks name {company.name}")
    kept, dropped = [], []
    for index, block in enumerate(blocks):
        follows_mention = index > 0 and named[index - 1] and block.tag == "p"
        if named[index] or (follows_mention and not (others and others.search(block.text))):
            kept.append(block)
        else:
            dropped.append(Dropped(block, f"round-up: does not name {company.name}"))
    why = f"a round-up: {sum(named)} of {len(blocks)} blocks name {company.name}, each kept with its follow-up"
    return kept, ROUND_UP, why, dropped


def _story(blocks: list[Block], named: list[bool], why: str) -> tuple[list[Block], str, str, list[Dropped]]:
    """A company story's blocks without its pivot paragraphs: ones that open with a pivot
    ("Separately, ...") or wrap up the market, and do not name or refer to the company."""
    kept, dropped = [], []
    for index, block in enumerate(blocks):
        about_us = named[index] or _REFERS_TO_COMPANY.search(block.text)
        if index and not about_us and _PIVOT.search(block.text):
            dropped.append(Dropped(block, "pivot: turns to other news"))
        elif index and not about_us and _MARKET_WRAP.search(block.text):
            dropped.append(Dropped(block, "pivot: market wrap naming no company"))
        else:
            kept.append(block)
    return kept, STORY, why, dropped


def other_mentions_pattern(company: Company) -> re.Pattern[str] | None:
    """A case-sensitive regex for the names of the ticker table's other companies."""
    names = other_company_names(company)
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def clip(pieces: list[str], max_chars: int | None) -> tuple[str, int | None]:
    """``pieces`` joined by SEPARATOR and cut to ``max_chars`` at a piece boundary (inside
    the first piece, at a word boundary, when that one alone is too long); the second
    value is the full length when something was cut, else None."""
    full = SEPARATOR.join(pieces)
    if max_chars is None or len(full) <= max_chars:
        return full, None
    kept: list[str] = []
    for piece in pieces:
        if len(SEPARATOR.join([*kept, piece])) > max_chars:
            break
        kept.append(piece)
    if not kept:
        head = pieces[0][:max_chars]
        kept = [head.rsplit(" ", 1)[0] if " " in head else head]
    return SEPARATOR.join(kept), len(full)


def usable_summary(summary: str) -> bool:
    """False for an empty summary or a click-bait teaser ending in a question mark."""
    return bool(summary) and not summary.rstrip().endswith("?")


def _repeats(summary: str, texts: list[str]) -> bool:
    """True when the summary says what one of the kept blocks says (by word similarity)."""
    mine = words(summary)
    for text in texts:
        theirs = words(text)
        if mine == theirs or SequenceMatcher(None, mine, theirs, autojunk=False).ratio() >= SUMMARY_SIMILARITY:
            return True
    return False


def _story_root(soup: BeautifulSoup) -> Tag:
    """The element holding the story, or the whole body when no known container exists."""
    for selector in _BODY_SELECTORS:
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup.body or soup


def _check_paywall(root: Tag) -> None:
    """Raise ArticleSkipped when ``root`` is a short stub pointing at a paid or remote story."""
    text = normalize_space(root.get_text(" ")).lower()
    phrase = next((p for p in _PAYWALL_PHRASES if p in text), None)
    if phrase is not None and len(text) < TEASER_MAX_CHARS:
        raise ArticleSkipped(f"paywalled teaser ({phrase!r} stub, {len(text)} characters)")


def _drop(root: Tag, names: tuple[str, ...]) -> None:
    """Remove every element called one of ``names`` from ``root``, with its content."""
    for tag in root.find_all(names):
        tag.decompose()


def _has_video(soup: BeautifulSoup) -> bool:
    """True when the page carries a video player or says it is a video page."""
    return any(soup.select_one(selector) is not None for selector in _VIDEO_SELECTORS)


# --- command line -----------------------------------------------------------------


def _company(ticker: str, config=None) -> Company:
    """The ticker's company (config.yaml's names and aliases when given, else the curated
    table); the bare ticker when neither knows it."""
    from utils.news.companies import known_company

    symbol = ticker.upper()
    found = known_company(symbol, config) if config is not None else None
    if found is not None:
        return found
    name, aliases = CURATED.get(symbol, (symbol, ()))
    return Company(symbol, name, tuple(aliases))


def _report(body: bytes, company: Company | None, summary: str, rules: Rules) -> list[str]:
    """What ``python -m utils.news.extract`` prints for one page, line by line."""
    page = clean_page(body, rules=rules)
    lines = [f"providers recognised: {', '.join(page.providers) or 'none'}"]
    if company is None:
        kept, dropped, relevance = [b.text for b in page.blocks], page.dropped, "none (no --company: the page's main text)"
    else:
        try:
            result = extract_article(body, charset=None, company=company, summary=summary, min_chars=0, rules=rules)
        except ArticleSkipped as exc:
            return [*lines, f"skipped: {exc.reason}", *_dropped_lines(page.dropped)]
        kept, dropped = result.content.split(SEPARATOR), list(result.dropped)
        relevance = f"{result.relevance}: {result.reason}"
    return [*lines, f"relevance: {relevance}", f"--- kept ({len(kept)} blocks)", *kept, *_dropped_lines(dropped)]


def _dropped_lines(dropped: list[Dropped]) -> list[str]:
    return [f"--- dropped ({len(dropped)} blocks)", *(f"[{d.rule}] {d.block.text}" for d in dropped)]


def main(argv: list[str] | None = None) -> int:
    """Show the text a page gives, the relevance rule, and every dropped block with its rule."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.news.extract",
        description="Show the article text a saved news page gives, and why each left-out block was left out.",
        epilog="Example: python -m utils.news.extract saved/nvidia-story.html --company NVDA",
    )
    parser.add_argument("page", type=Path, metavar="PAGE.html", help="a saved HTML page")
    parser.add_argument("--company", metavar="TICKER", help="apply the relevance rules for this ticker")
    parser.add_argument("--summary", default="", metavar="TEXT", help="the feed's summary of the item")
    parser.add_argument("--config", type=Path, metavar="PATH",
                        help="a config.yaml whose companies and news.boilerplate_rules apply")
    args = parser.parse_args(argv)

    def run() -> int:
        from utils.config import load_config

        config = load_config(args.config) if args.config else None
        rules = load_rules(config.news.boilerplate_rules if config else None)
        try:
            body = args.page.read_bytes()
        except OSError as exc:
            parser.error(f"{args.page}: {exc.strerror or exc}")
        company = _company(args.company, config) if args.company else None
        print("\n".join([f"page: {args.page}", *_report(body, company, args.summary, rules)]))
        return 0

    from utils.cli import run_cli

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
