"""A scripted backend: a real :class:`~utils.backends.base.Backend` subclass that answers from a script.

It lets the command line, the run loop and the labelling run be tested end to end without a
model. The ``scripted_backend`` fixture in tests/conftest.py registers it through the real
backend table (``utils.backends.BACKENDS``) in place of llama_cpp, so every llama_cpp model of
a test's config is served by it; each test gets its own :class:`Script`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from utils.backends.base import Backend, Completion, Message, Sampling

ANSWER = '{"sentiment": 0.5, "confidence": 0.9, "reasoning": "Orders rose."}'

Step = str | BaseException | Callable[[list[Message], Sampling], str]


@dataclass
class Script:
    """What the scripted backends of one test answer, and what they were asked.

    ``steps`` are used in order, by every model alike: a string is the answer, an exception
    is raised, a callable gets (messages, sampling) and returns the answer. When the steps
    run out, ``default`` answers.
    """

    steps: list[Step] = field(default_factory=list)
    default: Step = ANSWER
    calls: list[tuple[str, list[Message], Sampling]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    fail_load: dict[str, BaseException] = field(default_factory=dict)  # model name -> raised by load()

    def answer(self, name: str, messages: list[Message], sampling: Sampling) -> str:
        self.calls.append((name, messages, sampling))
        step = self.steps.pop(0) if self.steps else self.default
        if isinstance(step, BaseException):
            raise step
        return step(messages, sampling) if callable(step) else step

    def factory(self, spec, config) -> "ScriptedBackend":
        """A backend factory for ``run_benchmark(..., factory=...)``, bound to this script."""
        return ScriptedBackend(spec, config, script=self)


# The script of the running test, set (and restored) by the scripted_backend fixture; the
# backend table builds backends as Class(spec, config), so that is where they find it.
current: Script | None = None


class ScriptedBackend(Backend):
    """Answers from a :class:`Script`; records every conversation it was sent."""

    name = "scripted"

    def __init__(self, spec, config, script: Script | None = None) -> None:
        super().__init__(spec, config)
        script = script if script is not None else current
        if script is None:
            raise RuntimeError("ScriptedBackend needs a Script: use the scripted_backend fixture")
        self.script = script

    def load(self) -> None:
        failure = self.script.fail_load.get(self.spec.name)
        if failure is not None:
            raise failure
        self.script.loaded.append(self.spec.name)

    def chat(self, messages: list[Message], sampling: Sampling) -> Completion:
        text = self.script.answer(self.spec.name, messages, sampling)
        return Completion(text=text, seconds=0.01, prompt_tokens=100, completion_tokens=20)

    def warm_up(self, messages: list[Message]) -> None:
        pass

    def provenance(self) -> dict[str, Any]:
        return {"backend_version": "scripted"}
