"""The boilerplate rules-file format (utils/news/boilerplate_rules.yaml, config.yaml's
``news.boilerplate_rules``): read by the config, which checks a user's rules at start-up,
and by utils/news/boilerplate.py, which applies them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {pattern!r}") from None
    return pattern


class Rule(BaseModel):
    """One boilerplate rule: blocks whose text matches ``match`` are removed."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[\w.-]+$", description="Short name, unique within its provider.")
    match: str = Field(description="Regular expression, searched case-insensitively in the block's text.")
    max_chars: int | None = Field(None, gt=0, description="Apply only to blocks at most this long.")
    drop: Literal["block", "list", "rest"] = Field(
        "block", description="block: this one; list: and the list items after it; rest: and all after it."
    )

    _valid_match = field_validator("match")(_compiles)


class Provider(BaseModel):
    """A provider's rules and the patterns that recognise its pages."""

    model_config = ConfigDict(extra="forbid")

    recognise: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("recognise")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        return [_compiles(p) for p in patterns]


class RuleBook(BaseModel):
    """The whole rules file (or config.yaml's ``news.boilerplate_rules``)."""

    model_config = ConfigDict(extra="forbid")

    generic: list[Rule] = Field(default_factory=list)
    providers: dict[str, Provider] = Field(default_factory=dict)
    disable: list[str] = Field(default_factory=list, description="Rules to switch off, as provider/name.")

    def extended(self, extra: RuleBook) -> RuleBook:
        """These rules with ``extra``'s added (a known provider gets more patterns and rules)."""
        providers = {key: value.model_copy(deep=True) for key, value in self.providers.items()}
        for key, more in extra.providers.items():
            mine = providers.setdefault(key, Provider())
            mine.recognise = [*mine.recognise, *more.recognise]
            mine.rules = [*mine.rules, *more.rules]
        return RuleBook(
            generic=[*self.generic, *extra.generic], providers=providers,
            disable=[*self.disable, *extra.disable],
        )
