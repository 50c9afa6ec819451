"""The worker side of a run: tasks of (model, iteration, item chunk) and the code that answers them.

The same :class:`ModelWorker` answers in the driver's own process (sequential run), in
``--workers`` processes and in Ray actors; it keeps one model loaded and switches only
when a task names another model. Answers go back keyed by (model, iteration, item) so the
driver, the only writer, can journal them and drop duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from utils.backends import Backend, Completion, Sampling, create_backend
from utils.config import Config, ModelSpec
from utils.errors import HarnessError, PromptTooLong
from utils.items import Item
from utils.answers import answer_json_schema, parse_answer
from utils.run.fit import chat_within_context, warm_up_within_context
from utils.run.prompts import PromptTemplates
from utils.run.provenance import harness_commit, host_info
from utils.run.results import ItemResult

log = logging.getLogger(__name__)

BackendFactory = Callable[[ModelSpec, Config], Backend]


@dataclass(frozen=True)
class WorkContext:
    """What every worker needs to build prompts: sent once, not with every task."""

    config: Config
    templates: PromptTemplates
    company_name: str
    items: Mapping[str, Item]
    # The prompt set of each model with its own messages_folder, by model name (else ``templates``).
    model_templates: Mapping[str, PromptTemplates] = field(default_factory=dict)

    def templates_for(self, spec: ModelSpec) -> PromptTemplates:
        return self.model_templates.get(spec.name, self.templates)


@dataclass(frozen=True)
class Task:
    """Some items of one (model, iteration) unit."""

    task_id: int
    spec: ModelSpec
    iteration: int
    seed: int
    keys: tuple[str, ...]


class TaskFailure(Exception):
    """A task stopped; ``error`` says why (answers finished before it were already handed over)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def sampling_for(config: Config, seed: int) -> Sampling:
    return Sampling(
        temperature=config.default_temperature,
        max_tokens=config.num_tokens_to_predict,
        seed=seed,
        repeat_penalty=config.repeat_penalty,
        json_schema=answer_json_schema() if config.constrained_decoding else None,
    )


def to_result(item: Item, completion: Completion, *, error: str | None = None,
              marks: Mapping[str, Any] | None = None) -> ItemResult:
    """Validate one answer and keep what it cost; ``error`` and ``marks`` come from fitting
    a too-long prompt to the context (utils/run/fit.py)."""
    parsed = parse_answer(completion.text)
    text = completion.text.strip()
    response = parsed.response if parsed.valid else None
    return ItemResult(
        reasoning=response.reasoning if response is not None else "",
        sentiment=response.sentiment if response is not None else None,
        confidence=response.confidence if response is not None else None,
        valid=parsed.valid,
        url=item.url,
        published=item.published,
        time_taken=round(completion.seconds, 4),
        title=item.title or None,
        raw_text=None if parsed.valid else completion.text,
        error=error or parsed.error,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_prompt_tokens=completion.cached_prompt_tokens,
        prompt_seconds=completion.prompt_seconds,
        eval_seconds=completion.eval_seconds,
        backend_extra=completion.extra or None,
        prompt_truncated=completion.prompt_truncated,
        bare_json=parsed.valid and text.startswith("{") and text.endswith("}"),
        finish_reason=completion.finish_reason,
        gold_label=item.gold_label,
        gold_score=item.gold_score,
        **(marks or {}),
    )


def answer_item(backend: Backend, context: WorkContext, spec: ModelSpec, item: Item, seed: int) -> ItemResult:
    """Ask the model about one item; any backend exception becomes a HarnessError."""
    try:
        fitted = chat_within_context(backend, _builder(context, spec), item.text, sampling_for(context.config, seed),
                                     context.config.context_window_size)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - a backend bug or library error fails the unit, not the run
        raise HarnessError(f"{spec.backend} backend raised {exc.__class__.__name__}: {exc}") from None
    return to_result(item, fitted.completion, error=fitted.error, marks=fitted.marks())


def _builder(context: WorkContext, spec: ModelSpec) -> Callable[[str], list]:
    """The conversation for an article text, in this model's prompt mode."""
    return lambda text: context.templates_for(spec).build(spec.prompt_mode, context.company_name, text)


def answer_items(backend: Backend, context: WorkContext, spec: ModelSpec, keys: Sequence[str],
                 seed: int) -> Iterator[tuple[str, ItemResult]]:
    """Several items at once (batched decoding, concurrent requests), each answer as soon as it
    is finished."""
    items = [context.items[key] for key in keys]
    templates = context.templates_for(spec)
    conversations = [templates.build(spec.prompt_mode, context.company_name, i.text) for i in items]
    done: set[int] = set()
    try:
        for index, completion in backend.chat_stream(conversations, sampling_for(context.config, seed)):
            done.add(index)
            yield keys[index], to_result(items[index], completion)
    except PromptTooLong:  # one of them does not fit: the rest are fitted one at a time
        for index, (key, item) in enumerate(zip(keys, items)):
            if index not in done:
                yield key, answer_item(backend, context, spec, item, seed)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise HarnessError(f"{spec.backend} backend raised {exc.__class__.__name__}: {exc}") from None


class ModelWorker:
    """Holds one loaded model and answers tasks for it."""

    def __init__(self, context: WorkContext, factory: BackendFactory = create_backend,
                 n_threads: int | None = None) -> None:
        self.context = context
        self.factory = factory
        self.config = context.config if n_threads is None else context.config.model_copy(
            update={"n_threads": n_threads})
        self.backend: Backend | None = None
        self.spec: ModelSpec | None = None
        self.provenance: dict[str, Any] = {}

    def ensure(self, spec: ModelSpec) -> bool:
        """Load ``spec`` unless it is the loaded model; True when it was loaded now.

        Raises HarnessError (ModelNotFound, BackendUnavailable) when it cannot be loaded.
        """
        if self.spec == spec and self.backend is not None:
            return False
        self.close()
        backend = self.factory(spec, self.config)
        try:
            backend.load()
            first = next(iter(self.context.items.values()))
            warm_up_within_context(backend, _builder(self.context, spec), first.text)
        except HarnessError:
            backend.close()
            raise
        except Exception as exc:  # noqa: BLE001
            backend.close()
            raise HarnessError(f"{spec.name}: loading failed: {exc.__class__.__name__}: {exc}") from None
        self.backend, self.spec = backend, spec
        self.provenance = {"harness": harness_commit(), "host": host_info(), **backend.provenance()}
        return True

    def answers(self, task: Task) -> Iterator[tuple[str, ItemResult]]:
        """Answer the task's items in order; raises TaskFailure (with no answers) on the first failure."""
        try:
            self.ensure(task.spec)
        except HarnessError as exc:
            raise TaskFailure(str(exc)) from None
        assert self.backend is not None
        parallel = self.config.parallel
        if parallel <= 1:
            for key in task.keys:
                try:
                    yield key, answer_item(self.backend, self.context, task.spec, self.context.items[key], task.seed)
                except HarnessError as exc:
                    raise TaskFailure(f"item {key}: {exc}") from None
            return
        try:  # the backend keeps ``parallel`` items in flight over the whole task
            yield from answer_items(self.backend, self.context, task.spec, task.keys, task.seed)
        except HarnessError as exc:
            raise TaskFailure(f"items {', '.join(task.keys)}: {exc}") from None

    def run_task(self, task: Task) -> tuple[list[tuple[str, ItemResult]], str | None]:
        """All answers of a task at once, and the error that stopped it (None when complete)."""
        done: list[tuple[str, ItemResult]] = []
        try:
            for pair in self.answers(task):
                done.append(pair)
        except TaskFailure as exc:
            return done, exc.error
        return done, None

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.backend, self.spec = None, None


def chunked(keys: Sequence[str], size: int) -> list[tuple[str, ...]]:
    size = max(1, size)
    return [tuple(keys[i:i + size]) for i in range(0, len(keys), size)]
