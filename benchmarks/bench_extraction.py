#!/usr/bin/env python
"""Main-text extraction scored on pages with gold bodies, beside the library baseline.

For every ``<name>.html`` with a ``<name>.gold.txt`` in the folder (default: the fixture
pages of tests/news/fixtures/pages), each extractor's text is compared with the gold body
as the public article-extraction benchmarks do: both texts are cut into word tokens
(``\\w+``), counted as bags of n-grams (n = 1 by default: bags of tokens), and a page's
precision is the share of extracted n-grams that the gold body has (counts clipped), its
recall the share of gold n-grams extracted. Precision and recall are averaged over pages
(so long pages weigh no more than short ones) and F1 is the harmonic mean of the two means.

Pages that also have a ``<name>.marks.json`` (the syndicated Yahoo fixtures) are then read
for their company as the scraper reads them, and scored by story-sentence recall and
boilerplate blocks kept; trafilatura's text alone is scored the same way for comparison.

    python benchmarks/bench_extraction.py                       # the fixture pages
    python benchmarks/bench_extraction.py saved-pages/ --ngram 4

Extractors: this project's ``main_text``, trafilatura with its default settings (the
baseline), and readability-lxml and newspaper4k when they are installed (they are not
dependencies: ``pip install readability-lxml newspaper4k`` to compare). CPU seconds are
printed as ratios to trafilatura's; on a shared machine they are indicative only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from utils.news.companies import CURATED, Company  # noqa: E402
from utils.news.extract import ArticleSkipped, extract_article, main_text  # noqa: E402
from utils.news.maintext import normalize_space  # noqa: E402

DEFAULT_FOLDER = PROJECT / "tests" / "news" / "fixtures" / "pages"
_TOKEN = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“$(])")


def ngram_counts(text: str, n: int = 1) -> Counter:
    """The text's word n-grams, counted."""
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_precision_recall(gold: str, extracted: str, n: int = 1) -> tuple[float | None, float | None]:
    """(precision, recall) of one page's extracted text against its gold body; None where
    undefined (nothing extracted, or an empty gold body)."""
    want, got = ngram_counts(gold, n), ngram_counts(extracted, n)
    shared = sum((want & got).values())
    precision = shared / sum(got.values()) if got else None
    recall = shared / sum(want.values()) if want else None
    return precision, recall


def corpus_scores(pairs: list[tuple[str, str]], n: int = 1) -> dict[str, float]:
    """Mean precision, mean recall (over the pages where each is defined) and their F1."""
    scores = [page_precision_recall(gold, got, n) for gold, got in pairs]
    precisions = [p for p, _ in scores if p is not None]
    recalls = [r for _, r in scores if r is not None]
    precision = statistics.mean(precisions) if precisions else 0.0
    recall = statistics.mean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def sentences(text: str) -> list[str]:
    """The sentences of a block (split after . ! ? before a capital, digit or quote)."""
    return [s for s in _SENTENCE_END.split(normalize_space(text)) if s]


def story_sentences_kept(marks: dict, content: str) -> tuple[int, int]:
    """(story sentences found in ``content``, story sentences of the page)."""
    wanted = [s for block in marks["story"] for s in sentences(block)]
    text = normalize_space(content)
    return sum(s in text for s in wanted), len(wanted)


def boilerplate_kept(marks: dict, content: str) -> list[str]:
    """The page's boilerplate blocks that ``content`` carries (whole, or a sentence of
    20 characters or more)."""
    text = normalize_space(content)
    return [
        block for block in marks["boilerplate"]
        if normalize_space(block) in text or any(len(s) >= 20 and s in text for s in sentences(block))
    ]


def trafilatura_text(html: bytes) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


def readability_text(html: bytes) -> str:
    import lxml.html
    from readability import Document

    return lxml.html.fromstring(Document(html.decode("utf-8", "replace")).summary()).text_content()


def newspaper_text(html: bytes) -> str:
    import newspaper

    article = newspaper.Article("https://example.com/page.html")
    article.download(input_html=html.decode("utf-8", "replace"))
    article.parse()
    return article.text


def extractors() -> dict[str, Callable[[bytes], str] | str]:
    """name -> function; a string instead says why the extractor is not available."""
    import trafilatura

    found: dict[str, Callable[[bytes], str] | str] = {
        f"trafilatura {trafilatura.__version__} (defaults)": trafilatura_text,  # first: the baseline
        "main_text (this project)": main_text,
    }
    for name, module, function in (("readability-lxml", "readability", readability_text),
                                   ("newspaper4k", "newspaper", newspaper_text)):
        try:
            __import__(module)
            found[name] = function
        except ImportError:
            found[name] = f"not installed (pip install {name})"
    return found


def gold_pages(folder: Path) -> list[tuple[str, bytes, str]]:
    """(name, html, gold body) of every page with a gold body in ``folder``."""
    pages = []
    for gold in sorted(folder.glob("*.gold.txt")):
        page = gold.with_name(gold.name.removesuffix(".gold.txt") + ".html")
        if page.is_file():
            pages.append((page.stem, page.read_bytes(), gold.read_text(encoding="utf-8")))
    return pages


def score_extractors(pages: list[tuple[str, bytes, str]], n: int) -> list[str]:
    """One table line per extractor: precision, recall, F1 and CPU time relative to trafilatura."""
    lines = [f"{'extractor':<34} {'precision':>9} {'recall':>7} {'F1':>6} {'CPU s':>7} {'vs trafilatura':>15}"]
    cpu: dict[str, float] = {}
    for name, function in extractors().items():
        if isinstance(function, str):
            lines.append(f"{name:<34} {function}")
            continue
        start = time.process_time()
        texts = [function(html) for _, html, _ in pages]
        cpu[name] = time.process_time() - start
        scores = corpus_scores([(gold, text) for (_, _, gold), text in zip(pages, texts)], n)
        baseline = next((v for k, v in cpu.items() if k.startswith("trafilatura")), None)
        ratio = f"{cpu[name] / baseline:.2f}×" if baseline else "-"
        lines.append(f"{name:<34} {scores['precision']:>9.3f} {scores['recall']:>7.3f} {scores['f1']:>6.3f} "
                     f"{cpu[name]:>7.2f} {ratio:>15}")
    return lines


def _company(ticker: str) -> Company:
    name, aliases = CURATED.get(ticker, (ticker, ()))
    return Company(ticker, name, tuple(aliases))


def score_marked(folder: Path) -> list[str]:
    """Story-sentence recall and boilerplate kept on the marked pages, ours and trafilatura's."""
    totals = {"ours": [0, 0, 0, 0, 0], "trafilatura": [0, 0, 0, 0, 0]}  # kept, story, bp kept, bp, bp chars
    chars = {"ours": 0, "trafilatura": 0}
    for path in sorted(folder.glob("*.marks.json")):
        marks = json.loads(path.read_text(encoding="utf-8"))
        if "company" not in marks:
            continue
        html = path.with_name(path.name.removesuffix(".marks.json") + ".html").read_bytes()
        try:
            ours = extract_article(html, charset=None, company=_company(marks["company"]), summary="",
                                   min_chars=200).content
        except ArticleSkipped:
            ours = ""
        for who, text in (("ours", ours), ("trafilatura", trafilatura_text(html))):
            kept, story = story_sentences_kept(marks, text)
            leaked = boilerplate_kept(marks, text)
            row = totals[who]
            row[0] += kept
            row[1] += story
            row[2] += len(leaked)
            row[3] += len(marks["boilerplate"])
            row[4] += sum(len(b) for b in leaked)
            chars[who] += len(text)
    lines = [f"{'on the marked pages':<34} {'story sentences kept':>22} {'boilerplate blocks kept':>25}"]
    for who, label in (("ours", "extract_article (this project)"), ("trafilatura", "trafilatura alone")):
        kept, story, leaked, boiler, leaked_chars = totals[who]
        share = leaked_chars / chars[who] if chars[who] else 0.0
        lines.append(f"{label:<34} {f'{kept}/{story} = {kept / max(story, 1):.3f}':>22} "
                     f"{f'{leaked}/{boiler} ({share:.0%} of text)':>25}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                        help="pages as NAME.html with NAME.gold.txt (default: the fixture pages)")
    parser.add_argument("--ngram", type=int, default=1, metavar="N", help="n-gram size (default 1: tokens)")
    args = parser.parse_args(argv)
    pages = gold_pages(args.folder)
    if not pages:
        parser.error(f"{args.folder}: no NAME.html with a NAME.gold.txt")
    print(f"{len(pages)} pages with gold bodies in {args.folder}; bags of {args.ngram}-grams of \\w+ tokens")
    print("\n".join(score_extractors(pages, args.ngram)))
    if any(args.folder.glob("*.marks.json")):
        print()
        print("\n".join(score_marked(args.folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
