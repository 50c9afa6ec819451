"""Provider boilerplate as data: the rules of boilerplate_rules.yaml, plus config.yaml's.

A rule names a regular expression that marks a block of a page's main text as not story
(a provider's rank blurb, pitch or disclosure; a "Read more:" line; a reporting credit; a
copyright line). Generic rules apply to every page, a provider's only where the page is
recognised as that provider's (byline, provider element, meta tags, canonical URL or an
"originally published by" line). The rules file documents the format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from utils.errors import ConfigError
from utils.news.maintext import Block, Dropped
from utils.rule_book import Rule, RuleBook

RULES_FILE = Path(__file__).with_name("boilerplate_rules.yaml")
GENERIC = "generic"


@dataclass(frozen=True)
class CompiledRule:
    key: str  # provider/name, as counted in the snapshot
    regex: re.Pattern[str]
    max_chars: int | None
    drop: str

    def matches(self, text: str) -> bool:
        return (self.max_chars is None or len(text) <= self.max_chars) and bool(self.regex.search(text))


@dataclass(frozen=True)
class Rules:
    """Compiled rules: the generic ones, and per provider its recognisers and rules."""

    generic: tuple[CompiledRule, ...]
    recognisers: tuple[tuple[str, re.Pattern[str]], ...]
    by_provider: Mapping[str, tuple[CompiledRule, ...]]

    def providers_of(self, signals: str) -> list[str]:
        """The providers whose recognise patterns occur in ``signals``, in rules-file order."""
        found: list[str] = []
        for provider, pattern in self.recognisers:
            if provider not in found and pattern.search(signals):
                found.append(provider)
        return found

    def for_page(self, providers: list[str]) -> tuple[CompiledRule, ...]:
        """The rules that apply to a page of ``providers``: theirs first, then the generic ones."""
        mine = tuple(rule for p in providers for rule in self.by_provider.get(p, ()))
        return mine + self.generic


def compile_rules(book: RuleBook) -> Rules:
    """The compiled form of ``book``, without its disabled rules."""
    off = set(book.disable)

    def compiled(owner: str, rules: list[Rule]) -> tuple[CompiledRule, ...]:
        return tuple(
            CompiledRule(f"{owner}/{r.name}", re.compile(r.match, re.IGNORECASE), r.max_chars, r.drop)
            for r in rules if f"{owner}/{r.name}" not in off
        )

    recognisers = tuple(
        (key, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
        for key, provider in book.providers.items() for pattern in provider.recognise
    )
    by_provider = {key: compiled(key, p.rules) for key, p in book.providers.items()}
    return Rules(compiled(GENERIC, book.generic), recognisers, by_provider)


def read_rule_book(path: Path = RULES_FILE) -> RuleBook:
    """The rules of a YAML file; ConfigError names the file and the problem."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return RuleBook.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read boilerplate rules: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


@lru_cache(maxsize=8)
def _rules_for(extra_json: str) -> Rules:
    book = read_rule_book()
    extra = json.loads(extra_json)
    if extra:
        book = book.extended(RuleBook.model_validate(extra))
    return compile_rules(book)


def load_rules(extra: Mapping[str, Any] | None = None) -> Rules:
    """The shipped rules extended by ``extra`` (config.yaml's ``news.boilerplate_rules``)."""
    return _rules_for(json.dumps(extra or {}, sort_keys=True))


def remove_boilerplate(blocks: list[Block], rules: tuple[CompiledRule, ...]) -> tuple[list[Block], list[Dropped]]:
    """(the blocks no rule matches, the removed ones with the rule that removed each)."""
    kept: list[Block] = []
    dropped: list[Dropped] = []
    index = 0
    while index < len(blocks):
        rule = next((r for r in rules if r.matches(blocks[index].text)), None)
        if rule is None:
            kept.append(blocks[index])
            index += 1
            continue
        end = _span_end(blocks, index, rule.drop)
        dropped.extend(Dropped(block, rule.key) for block in blocks[index:end])
        index = end
    return kept, dropped


def _span_end(blocks: list[Block], index: int, drop: str) -> int:
    """The index after the last block a rule matching ``blocks[index]`` removes."""
    if drop == "rest":
        return len(blocks)
    end = index + 1
    if drop == "list":
        while end < len(blocks) and blocks[end].tag == "li":
            end += 1
    return end
