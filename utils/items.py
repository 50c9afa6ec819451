"""The item every model reads: a news article or a labelled sentence, and its key.

The key of an article is the first 8 hex characters of md5(url), as in the original
tool, so results from both tools line up; a labelled item is keyed by its text.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field


def article_key(text: str) -> str:
    """First 8 hex characters of md5(text): the key of an article (by URL) or item (by text)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:8]


class Article(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str = Field(min_length=1)
    url: str = ""
    title: str = ""
    published: str = ""
    summary: str = ""
    content: str = Field(min_length=1)

    @property
    def text(self) -> str:
        """What the model reads: the title, then the extracted body."""
        return f"{self.title}\n\n{self.content}".strip() if self.title else self.content

