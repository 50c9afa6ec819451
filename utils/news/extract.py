"""Article text from a news page: the whole story when it is about the company, else its part.

Relevance is decided per story, not per sentence, because stories refer to the company
as "the company", "the chipmaker", its chief executive or its products far more often
than by name. A page is *about* the company when its headline or lead names the company
(or an alias) and no other company of the ticker table, or when most of its paragraphs
name it; then its whole body is kept. Otherwise the page is a round-up, and only the
paragraphs that name the company are kept, each with the paragraph that follows it
(unless that one turns to another company). Either way the text is capped in length.

Pure functions of (bytes, URLs, company). A page that cannot give a fair article text
raises ArticleSkipped with the reason that goes into the snapshot's ``skipped`` list.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector

from utils.news.companies import Company, other_company_names

SEPARATOR = " … "
STORY = "story"  # the page is about the company: whole body kept
ROUND_UP = "round-up"  # the page is mostly about others: mentions and their follow-ups kept
TEASER_MAX_CHARS = 1500

# Where the story lives, most specific first (Yahoo: caas-body, then the newer atoms layout).
_BODY_SELECTORS = (
    "div.caas-body", "div.atoms-wrapper", "div.body", "[itemprop=articleBody]", "article", "main",
)
_CODE_TAGS = ("script", "style", "noscript", "template", "svg", "iframe")
# Page furniture: dropped only after the paywall check, which needs the "Continue reading" links.
_CHROME_TAGS = ("figure", "aside", "nav", "footer", "form", "button")
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


class ArticleSkipped(Exception):
    """A page is not used; ``reason`` says why, for the snapshot's skipped list."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
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
    detection), the relevance rule that applied and the length before the cap."""

    content: str
    body: str
    relevance: str
    clipped_from: int | None = None


def extract_article(
    body: bytes,
    *,
    charset: str | None,
    company: Company,
    title: str = "",
    summary: str,
    min_chars: int,
    max_chars: int | None = None,
) -> Extraction:
    """The article text for ``company``: the summary, then the relevant blocks joined by
    SEPARATOR, cut at a block boundary to at most ``max_chars`` characters."""
    soup = BeautifulSoup(body, "lxml", from_encoding=html_charset(charset, body))
    video = _has_video(soup)
    _drop(soup, _CODE_TAGS)
    root = _story_root(soup)
    _check_paywall(root)
    _drop(root, _CHROME_TAGS)
    blocks = _blocks(root)
    length = sum(len(text) for _, text in blocks)
    if length < min_chars:
        raise ArticleSkipped(_short_reason(video, length, min_chars))
    kept, relevance = relevant_blocks(blocks, company, title=title, summary=summary)
    if not kept:  # only the headline names the company, and the page has no text blocks
        raise ArticleSkipped(f"no article text about {company.name} on the page")
    lead = [summary] if usable_summary(summary) else []
    pieces = lead + [b for b in kept if b != summary]
    content, clipped_from = clip(pieces, max_chars)
    return Extraction(content, SEPARATOR.join(kept), relevance, clipped_from)


def relevant_blocks(
    blocks: list[tuple[str, str]], company: Company, *, title: str = "", summary: str = ""
) -> tuple[list[str], str]:
    """(the texts to keep, STORY or ROUND_UP) for ``blocks`` of (tag, text) in page order."""
    ours = mention_pattern(company)
    others = other_mentions_pattern(company)
    named = [bool(ours.search(text)) for _, text in blocks]
    lead = blocks[0][1] if blocks else ""
    if not any(named) and not ours.search(title):
        raise ArticleSkipped(f"page does not mention {company.name} ({company.ticker})")
    only_ours = [ours.search(t) and not (others and others.search(t)) for t in (title, summary, lead)]
    if any(only_ours) or sum(named) * 2 > len(blocks):
        return [text for _, text in blocks], STORY
    kept = []
    for index, (tag, text) in enumerate(blocks):
        follows_mention = index > 0 and named[index - 1] and tag == "p"
        if named[index] or (follows_mention and not (others and others.search(text))):
            kept.append(text)
    return kept, ROUND_UP


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


def normalize_space(text: str) -> str:
    """``text`` on one line with single spaces (non-breaking and zero-width ones included)."""
    return " ".join(text.replace("\u200b", "").replace("\ufeff", "").split())


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


def _blocks(root: Tag) -> list[tuple[str, str]]:
    """(tag, normalised text) of every paragraph and h2 heading, in page order, empty ones dropped."""
    found = ((node.name, normalize_space(node.get_text())) for node in root.find_all(["p", "h2"]))
    return [(tag, text) for tag, text in found if text]


def _has_video(soup: BeautifulSoup) -> bool:
    """True when the page carries a video player or says it is a video page."""
    return any(soup.select_one(selector) is not None for selector in _VIDEO_SELECTORS)


def _short_reason(video: bool, length: int, min_chars: int) -> str:
    """Why a page with too little text is skipped: a video page, or simply too short."""
    if video:
        return f"video page without article text ({length} characters)"
    return f"body too short ({length} characters, min_article_chars is {min_chars})"
