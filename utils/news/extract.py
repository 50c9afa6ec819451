"""Article text from a news page: the paragraphs and headings that mention the company.

Pure functions of (bytes, URLs, company). A page that cannot give a fair article text
raises ArticleSkipped with the reason that goes into the snapshot's ``skipped`` list.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector

from utils.news.companies import Company

SEPARATOR = " … "
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


def extract_article(
    body: bytes,
    *,
    charset: str | None,
    company: Company,
    summary: str,
    min_chars: int,
) -> str:
    """The article text for ``company``: summary, then relevant blocks joined by SEPARATOR."""
    soup = BeautifulSoup(body, "lxml", from_encoding=html_charset(charset, body))
    video = _has_video(soup)
    _drop(soup, _CODE_TAGS)
    root = _story_root(soup)
    _check_paywall(root)
    _drop(root, _CHROME_TAGS)
    blocks = _blocks(root)
    length = sum(len(b) for b in blocks)
    if length < min_chars:
        raise ArticleSkipped(_short_reason(video, length, min_chars))
    pattern = mention_pattern(company)
    relevant = [b for b in blocks if pattern.search(b)]
    if not relevant:
        raise ArticleSkipped(f"page does not mention {company.name} ({company.ticker})")
    lead = [summary] if usable_summary(summary) else []
    return SEPARATOR.join(lead + [b for b in relevant if b != summary])


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


def _blocks(root: Tag) -> list[str]:
    """The normalised text of every paragraph and h2 heading, in page order, empty ones dropped."""
    texts = (normalize_space(node.get_text()) for node in root.find_all(["p", "h2"]))
    return [text for text in texts if text]


def _has_video(soup: BeautifulSoup) -> bool:
    """True when the page carries a video player or says it is a video page."""
    return any(soup.select_one(selector) is not None for selector in _VIDEO_SELECTORS)


def _short_reason(video: bool, length: int, min_chars: int) -> str:
    """Why a page with too little text is skipped: a video page, or simply too short."""
    if video:
        return f"video page without article text ({length} characters)"
    return f"body too short ({length} characters, min_article_chars is {min_chars})"
