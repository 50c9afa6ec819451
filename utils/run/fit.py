"""Prompts longer than the context window: cut the article from its end, and say so.

Snapshots already cap article length (``news.max_article_chars``), but a model with a
small context, a long prompt or an old snapshot can still overflow. Rather than failing
the unit (and with it the rest of the model's run), the article is cut from its end so
that the prompt leaves room for the whole answer, the model is asked again, and the
answer is marked ``truncated`` with what was cut. When even an empty article leaves no
room, the item is recorded as an invalid answer whose error says why.

Backends report an overflow in one of three ways: llama.cpp raises (``PromptTooLong``,
with the exact token count), llama.cpp silently shortens the answer budget (the answer
then stops at the token limit), and Ollama silently drops the prompt's start (flagged
``prompt_truncated``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable

from utils.backends.base import Backend, Completion, Message, Sampling
from utils.errors import PromptTooLong

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
CUT_MARK = " [...]"
# Cut a little more than the token arithmetic asks: the article's own characters per
# token differ from the whole prompt's.
_SAFETY = 1.15

BuildMessages = Callable[[str], list[Message]]


@dataclass
class Fitted:
    """An answer asked for with the article as long as the context allowed."""

    completion: Completion
    article_chars: int
    sent_chars: int
    error: str | None = None  # set when no answer could be asked for at all
    prompt_tokens: int | None = None  # of the first, too long, prompt

    @property
    def truncated(self) -> bool:
        return self.sent_chars < self.article_chars

    def marks(self) -> dict[str, Any]:
        """Fields for the item's result: nothing for an article that fitted."""
        if not self.truncated and self.error is None:
            return {}
        told = f"article cut from {self.article_chars} to {self.sent_chars} characters to fit the context"
        if self.prompt_tokens is not None:
            told += f" (the full prompt had {self.prompt_tokens} tokens)"
        return {"truncated": True, "truncation": self.error or told}


def chat_within_context(backend: Backend, build: BuildMessages, article: str, sampling: Sampling,
                        context_tokens: int) -> Fitted:
    """The backend's answer about ``article``, cut from its end until the prompt fits.

    When no cut fits, an answer the backend did give (Ollama's, on a prompt it cut itself,
    still flagged ``prompt_truncated``) is returned; without one, an empty invalid answer.
    """
    text, first_tokens, last = article, None, None
    tokens: int | None
    room = context_tokens - sampling.max_tokens  # what the prompt may use, the answer getting the rest
    for _ in range(MAX_ATTEMPTS):
        messages = build(text)
        try:
            completion = backend.chat(messages, sampling)
        except PromptTooLong as exc:
            tokens, exact = exc.prompt_tokens, True
        else:
            tokens, exact = _overflow(completion, sampling, context_tokens)
            last = Fitted(completion, len(article), len(text), prompt_tokens=first_tokens)
            if tokens is None:
                return last
        if exact and first_tokens is None and len(text) == len(article):
            first_tokens = tokens
        shorter = _cut(text, messages, tokens, room)
        if shorter is None:
            break
        text = shorter
    if last is not None:
        last.prompt_tokens = first_tokens
        return last
    return _unfit(article, first_tokens, context_tokens, sampling)


def _overflow(completion: Completion, sampling: Sampling, context_tokens: int) -> tuple[int | None, bool]:
    """(the prompt's token count, whether it is exact) when a returned answer shows an
    overflow; (None, False) when the prompt fitted.

    Ollama dropped the prompt's start: the real count is unknown, so twice the room is
    assumed (the article is then roughly halved). llama.cpp shortened the answer budget
    and the answer ran into it.
    """
    if completion.prompt_truncated:
        return 2 * max(context_tokens - sampling.max_tokens, 1), False
    tokens = completion.prompt_tokens
    squeezed = tokens is not None and tokens + sampling.max_tokens > context_tokens
    if squeezed and completion.finish_reason == "length":
        return tokens, True
    return None, False


def _cut(text: str, messages: list[Message], prompt_tokens: int, room: int) -> str | None:
    """``text`` cut from its end (at a word) so the prompt has about ``room`` tokens; None
    when nothing of it can stay."""
    if room <= 0 or not text:
        return None
    chars_per_token = sum(len(m["content"]) for m in messages) / max(prompt_tokens, 1)
    drop = math.ceil((prompt_tokens - room) * chars_per_token * _SAFETY) + len(CUT_MARK)
    keep = len(text.removesuffix(CUT_MARK)) - drop
    if keep <= 0:
        return None
    head = text[:keep]
    head = head.rsplit(" ", 1)[0] if " " in head else head
    return head.rstrip() + CUT_MARK


def _unfit(article: str, prompt_tokens: int | None, context_tokens: int, sampling: Sampling) -> Fitted:
    """An empty answer whose error says that no cut of the article fits the context."""
    tokens = f"{prompt_tokens} tokens" if prompt_tokens is not None else "too many tokens"
    error = (f"prompt too long for the context: {tokens} for a context of {context_tokens} tokens with "
             f"{sampling.max_tokens} kept for the answer, and no cut of the article fits")
    completion = Completion(text="", seconds=0.0, finish_reason="prompt_too_long")
    return Fitted(completion, len(article), 0, error=error, prompt_tokens=prompt_tokens)


def warm_up_within_context(backend: Backend, build: BuildMessages, article: str) -> None:
    """Warm the backend up on ``article``, or on the prompt without it when it is too long
    (or not at all when even that is: every item will then say so)."""
    for text in (article, ""):
        try:
            backend.warm_up(build(text))
            return
        except PromptTooLong as exc:
            log.info("warm-up: %s", exc)
