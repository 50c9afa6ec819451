"""The one small interface every inference backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

from utils.config import Config, ModelSpec

Message = dict[str, str]


@dataclass
class Completion:
    """One answer and what it cost."""

    text: str
    seconds: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    prompt_seconds: float | None = None
    eval_seconds: float | None = None
    finish_reason: str | None = None
    prompt_truncated: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sampling:
    """Per-call sampling settings, passed on every call."""

    temperature: float
    max_tokens: int
    seed: int
    repeat_penalty: float = 1.0
    json_schema: dict[str, Any] | None = None


class Backend(ABC):
    """Serves one model: ``load`` once, then ``chat`` for many articles."""

    name: ClassVar[str]

    def __init__(self, spec: ModelSpec, config: Config) -> None:
        self.spec = spec
        self.config = config

    @abstractmethod
    def load(self) -> None:
        """Make the model ready; raise ModelNotFound or BackendUnavailable with a clear reason."""

    @abstractmethod
    def chat(self, messages: list[Message], sampling: Sampling) -> Completion:
        """Answer one conversation; raise BackendUnavailable when the backend fails."""

    def chat_many(self, conversations: list[list[Message]], sampling: Sampling) -> list[Completion]:
        """Answer several conversations (``parallel`` items at a time), in order.

        The base answers them one after the other; backends that can do better override it.
        """
        return [self.chat(messages, sampling) for messages in conversations]

    def chat_stream(self, conversations: list[list[Message]], sampling: Sampling) -> Iterator[tuple[int, Completion]]:
        """Answer the conversations, yielding (index, completion) as each is finished, in any order.

        The base hands them to ``chat_many`` ``parallel`` at a time; a backend that can start the
        next conversation as soon as one finishes overrides it.
        """
        size = max(1, self.config.parallel)
        for start in range(0, len(conversations), size):
            for offset, completion in enumerate(self.chat_many(conversations[start:start + size], sampling)):
                yield start + offset, completion

    def warm_up(self, messages: list[Message]) -> None:
        """Evaluate a conversation once, outside the timings (fills caches, loads weights into memory)."""
        self.chat(messages, Sampling(temperature=0.0, max_tokens=1, seed=0))

    def identity(self) -> str | None:
        """What identifies the model's weights (file SHA-256, Ollama digest), known before ``load``.

        Part of the settings fingerprint of every result; None when it cannot be known.
        """
        return None

    def provenance(self) -> dict[str, Any]:
        """Backend version and model identity, recorded with every result file."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional: a backend with nothing to release keeps this no-op
        """Release the model."""


class ServerBackend(Backend):
    """A backend that talks to a server: ``parallel`` conversations go out as concurrent
    requests (the server's own slots decode them), answers kept in order."""

    def chat_many(self, conversations: list[list[Message]], sampling: Sampling) -> list[Completion]:
        if len(conversations) <= 1:
            return super().chat_many(conversations, sampling)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(conversations), thread_name_prefix=self.name) as pool:
            return list(pool.map(lambda messages: self.chat(messages, sampling), conversations))
