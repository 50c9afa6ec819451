"""Typed errors: each message is written to be shown to the user as it is."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(HarnessError):
    """config.yaml (or a command-line option) is wrong; the message names file and key."""


class ArticlesError(HarnessError):
    """The article snapshot for a ticker is missing or unreadable."""


class DatasetError(HarnessError):
    """A labelled dataset file is missing or malformed; the message names path and line."""


class ModelNotFound(HarnessError):
    """A configured model file, package resource or Ollama tag cannot be found."""


class BackendUnavailable(HarnessError):
    """A backend cannot serve a model (server down, library missing, load failure)."""

    def __init__(self, backend: str, model: str, reason: str, hint: str = "") -> None:
        self.backend = backend
        self.model = model
        self.reason = reason
        self.hint = hint
        message = f"{backend} backend cannot serve model {model!r}: {reason}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class PromptTooLong(HarnessError):
    """The prompt has more tokens than the context window holds.

    Not a BackendUnavailable: the backend is fine, this one prompt is too long, and the run
    answers it by shortening the article and asking again (utils/run/fit.py).
    """

    def __init__(self, backend: str, model: str, prompt_tokens: int, context_tokens: int) -> None:
        self.backend = backend
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.context_tokens = context_tokens
        super().__init__(f"{backend} backend, model {model!r}: prompt of {prompt_tokens} tokens exceeds "
                         f"the context window of {context_tokens} tokens")


class NewsError(HarnessError):
    """News could not be fetched or understood (feed, article page, company name)."""


class ResultFileError(HarnessError, ValueError):
    """A result file (or a unit's answer journal) cannot be read or written; the message names the file."""


class ReportError(HarnessError):
    """A report cannot be produced (no results to read, an output file cannot be written)."""
