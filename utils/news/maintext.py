"""A news page's main text as blocks: paragraphs, headings, list items and table rows.

A Yahoo Finance page, the feed's own layout, is read from its story container element by
element, without its furniture (figures, buttons, asides, forms): ``div.caas-body``, or in
the newer layout the ``div.body`` that holds both ``div.atoms-wrapper`` and, past the
"Story continues" button, the sibling ``div.read-more-wrapper``. On such pages
trafilatura's heuristics can drop short sub-headings and a one-line last paragraph
(tests/news/fixtures/nvidia-data-center-demand.html loses both of its h2 headings).
Every other page goes to trafilatura, a maintained main-text extractor chosen by
measurement against readability-lxml, newspaper4k and the code it replaced
(benchmarks/bench_extraction.py); its XML output gives the same blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lxml.html
import trafilatura
from bs4 import BeautifulSoup, Tag
from lxml import etree

# Measured on tests/news/fixtures/pages: tables carry story figures (results, regional
# data), so keeping them adds recall; favor_recall / favor_precision changed nothing or
# lost story text there, so trafilatura's balanced default is used.
_TRAFILATURA_OPTIONS: dict[str, Any] = {
    "output_format": "xml", "include_comments": False, "include_tables": True, "include_images": False,
    "include_links": False, "include_formatting": False, "deduplicate": False, "with_metadata": False,
}
_TEXT_TAGS = ("p", "head", "quote", "code")
# Known story containers, most specific first; a div.body counts only with Yahoo's atoms in it.
_KNOWN_CONTAINERS = ("div.caas-body", "div.body:has(> div.atoms-wrapper)")
_FURNITURE_TAGS = ("figure", "aside", "nav", "footer", "form", "button", "header", "script", "style",
                   "noscript", "template", "svg", "iframe")
_BLOCK_TAGS = {"p": "p", "h2": "h", "h3": "h", "h4": "h", "h5": "h", "h6": "h", "li": "li", "tr": "tr",
               "blockquote": "p", "pre": "p"}
_SIGNAL_META = ("author", "og:site_name", "article:publisher", "article:author", "twitter:site", "provider")
_SIGNAL_CLASSES = ("byline", "author", "provider", "attr", "source", "publisher")


@dataclass(frozen=True)
class Block:
    """One block of main text: ``tag`` p, h (heading), li (list item) or tr (table row)."""

    tag: str
    text: str


@dataclass(frozen=True)
class Dropped:
    """A block left out of the article text, and the rule that left it out."""

    block: Block
    rule: str


def normalize_space(text: str) -> str:
    """``text`` on one line with single spaces (non-breaking and zero-width ones included)."""
    return " ".join(text.replace("\u200b", "").replace("\ufeff", "").split())


def story_blocks(markup: str, soup: BeautifulSoup | None = None) -> list[Block]:
    """The page's main-text blocks in page order: from its known story container when it
    has one, else from trafilatura; empty when neither finds any text."""
    soup = soup if soup is not None else BeautifulSoup(markup, "lxml")
    container = known_container(soup)
    if container is not None:
        return container_blocks(container)
    return trafilatura_blocks(markup)


def known_container(soup: BeautifulSoup) -> Tag | None:
    """The page's story container of a known layout; None when it has none."""
    for selector in _KNOWN_CONTAINERS:
        found = soup.select_one(selector)
        if found is not None:
            return found
    return None


def container_blocks(container: Tag) -> list[Block]:
    """The blocks of a known container, furniture left out (the container is changed)."""
    for furniture in container.find_all(_FURNITURE_TAGS):
        furniture.decompose()
    blocks = []
    for node in container.find_all(list(_BLOCK_TAGS)):
        enclosing = node.find_parent(["li", "tr"])
        if (enclosing is not None and container in enclosing.parents) or (
            node.name == "blockquote" and node.find("p")
        ):
            continue  # read with its list item or table row; a quote is read by its paragraphs
        cells = node.find_all(["td", "th"]) if node.name == "tr" else []
        text = " | ".join(_tag_text(c) for c in cells) if cells else _tag_text(node)
        blocks.append(Block(_BLOCK_TAGS[node.name], text))
    return [b for b in blocks if b.text]


def _tag_text(node: Tag) -> str:
    return normalize_space(node.get_text())


def trafilatura_blocks(markup: str) -> list[Block]:
    """trafilatura's main text as blocks; empty when it finds none."""
    try:
        document = lxml.html.document_fromstring(markup)  # a whole document, even from a fragment
    except (etree.ParserError, ValueError):
        return []
    xml = trafilatura.extract(document, **_TRAFILATURA_OPTIONS)
    if not xml:
        return []
    main = etree.fromstring(xml).find("main")
    blocks: list[Block] = []
    for element in main if main is not None else ():
        blocks.extend(_element_blocks(element))
    return [b for b in blocks if b.text]


def _element_blocks(element: etree._Element) -> list[Block]:
    """The blocks of one top-level element of trafilatura's XML."""
    if element.tag == "list":
        return [Block("li", _text(item)) for item in element.findall("item")]
    if element.tag == "table":
        return [
            Block("tr", " | ".join(t for t in (_text(c) for c in row.findall("cell")) if t))
            for row in element.iter("row")
        ]
    if element.tag in ("div", "section", "main") or (element.tag not in _TEXT_TAGS and len(element)):
        # A fallback extractor's result comes wrapped in containers: their blocks, in order.
        own = [Block("p", normalize_space(element.text))] if (element.text or "").strip() else []
        return own + [block for child in element for block in _element_blocks(child)]
    return [Block("h" if element.tag == "head" else "p", _text(element))]


def _text(element: etree._Element) -> str:
    return normalize_space("".join(element.itertext()))


def page_signals(soup: BeautifulSoup) -> str:
    """Where a page says who wrote it, one item a line: meta tags, canonical URL, and the
    text, title and image alt of byline, author and provider elements."""
    lines: list[str] = []
    for meta in soup.find_all("meta"):
        key = str(meta.get("property") or meta.get("name") or "").lower()
        if key in _SIGNAL_META and meta.get("content"):
            lines.append(str(meta["content"]))
    for link in soup.find_all("link", rel="canonical"):
        lines.append(str(link.get("href", "")))
    for element in soup.find_all(class_=_is_signal_class):
        lines.append(normalize_space(element.get_text(" ")))
        for inner in [element, *element.find_all(["a", "img"])]:
            lines.extend(str(inner[attr]) for attr in ("title", "alt") if inner.get(attr))
    return "\n".join(line for line in lines if line)


def _is_signal_class(value: str | None) -> bool:
    return value is not None and any(part in value.lower() for part in _SIGNAL_CLASSES)


def page_titles(soup: BeautifulSoup) -> set[str]:
    """The page's headline as its <title>, og:title and first <h1> give it (case-folded),
    so that a headline repeated in the main text is not read as a paragraph."""
    found = []
    if soup.title and soup.title.string:
        title = normalize_space(soup.title.string)
        found += [title, *(title.rsplit(sep, 1)[0] for sep in (" - ", " | ") if sep in title)]
    og = soup.find("meta", attrs={"property": "og:title"})
    if og is not None and og.get("content"):
        found.append(normalize_space(str(og["content"])))
    heading = soup.find("h1")
    if heading is not None:
        found.append(normalize_space(heading.get_text(" ")))
    return {t.casefold() for t in found if t}
