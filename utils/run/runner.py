"""The benchmark run: every (model, iteration) unit over the same items.

A unit is independent and has a deterministic output file, so a run can be resumed,
split or repeated: a unit whose file already covers the current items is skipped
unless ``force``. A model is loaded once and serves all its pending units in order,
which keeps llama.cpp's prompt-prefix cache warm. A model that cannot be loaded, or
whose backend fails mid-unit, is reported and the run goes on with the next model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from utils.run.answers import answer_json_schema, parse_answer
from utils.run.fit import chat_within_context, warm_up_within_context
from utils.items import Article
from utils.backends import Backend, Sampling, create_backend
from utils.config import Config, ModelSpec
from utils.errors import HarnessError
from utils.run.prompts import PromptTemplates
from utils.run.provenance import harness_commit, host_info
from utils.run.results import ArticleResult, IterationResult, ResultFileError, SCHEMA_VERSION, load_result, result_path, save_result, weighted_average_sentiment

log = logging.getLogger(__name__)

BackendFactory = Callable[[ModelSpec, Config], Backend]


@dataclass(frozen=True)
class RunPlan:
    """What to run: the items, who reads them, how often and where results go."""

    config: Config
    templates: PromptTemplates
    subject: str
    company_name: str
    items: Sequence[Article]
    models: Sequence[ModelSpec]
    iterations: int
    output_dir: Path
    source: dict[str, Any] = field(default_factory=dict)
    force: bool = False


@dataclass
class UnitOutcome:
    model: str
    iteration: int
    status: str  # "done", "skipped" or "failed"
    path: Path
    valid: int = 0
    total: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class RunSummary:
    outcomes: list[UnitOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


class UnitFailed(HarnessError):
    """A unit could not be completed; nothing was written for it."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def is_complete(path: Path, keys: set[str]) -> bool:
    """True when ``path`` holds a readable result covering exactly ``keys``."""
    if not path.is_file():
        return False
    try:
        result = load_result(path)
    except ResultFileError as exc:
        log.warning("will redo %s", exc)
        return False
    if set(result.sentiments) != keys:
        log.info("will redo %s: it covers other items than the current ones", path)
        return False
    return True


def pending_iterations(plan: RunPlan, spec: ModelSpec, summary: RunSummary) -> list[int]:
    """Iterations of ``spec`` still to run; finished ones are recorded as skipped."""
    keys = {item.key for item in plan.items}
    pending = []
    for iteration in range(plan.iterations):
        path = result_path(plan.output_dir, spec.folder_name, plan.subject, iteration)
        if not plan.force and is_complete(path, keys):
            summary.outcomes.append(UnitOutcome(spec.name, iteration, "skipped", path))
        else:
            pending.append(iteration)
    return pending


def answer_item(backend: Backend, plan: RunPlan, spec: ModelSpec, item: Article, seed: int) -> ArticleResult:
    """Ask the model about one item and validate the answer."""
    config = plan.config
    sampling = Sampling(
        temperature=config.default_temperature,
        max_tokens=config.num_tokens_to_predict,
        seed=seed,
        repeat_penalty=config.repeat_penalty,
        json_schema=answer_json_schema() if config.constrained_decoding else None,
    )
    fitted = chat_within_context(backend, lambda text: plan.templates.build(spec.prompt_mode, plan.company_name, text),
                                 item.text, sampling, config.context_window_size)
    completion = fitted.completion
    parsed = parse_answer(completion.text)
    extra = item.model_extra or {}
    return ArticleResult(
        reasoning=parsed.response.reasoning if parsed.valid else "",
        sentiment=parsed.response.sentiment if parsed.valid else None,
        confidence=parsed.response.confidence if parsed.valid else None,
        valid=parsed.valid,
        url=item.url,
        published=item.published,
        time_taken=round(completion.seconds, 4),
        title=item.title or None,
        raw_text=None if parsed.valid else completion.text,
        error=fitted.error or parsed.error,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        prompt_truncated=completion.prompt_truncated,
        bare_json=parsed.valid and completion.text.strip().startswith("{") and completion.text.strip().endswith("}"),
        finish_reason=completion.finish_reason,
        gold_label=extra.get("gold_label"),
        gold_score=extra.get("gold_score"),
        **fitted.marks(),
    )


def run_unit(backend: Backend, plan: RunPlan, spec: ModelSpec, iteration: int,
             provenance: dict[str, Any], on_item: Callable[[ArticleResult], None]) -> IterationResult:
    """One model over every item once; raises UnitFailed when the backend fails."""
    seed = plan.config.seed + iteration
    started_at, started = _now(), time.perf_counter()
    answers: dict[str, ArticleResult] = {}
    for item in plan.items:
        try:
            answers[item.key] = answer_item(backend, plan, spec, item, seed)
        except HarnessError as exc:
            raise UnitFailed(f"{spec.name} iteration {iteration}, item {item.key}: {exc}") from None
        on_item(answers[item.key])
    return IterationResult(
        average_sentiment=weighted_average_sentiment(answers.values()),
        time_taken=round(time.perf_counter() - started, 3),
        sentiments=answers,
        schema_version=SCHEMA_VERSION,
        model=spec.name,
        subject=plan.subject,
        iteration=iteration,
        backend=spec.backend,
        family=spec.family,
        quantization=spec.quantization,
        prompt_mode=spec.prompt_mode,
        seed=seed,
        settings=_settings(plan, spec),
        provenance=provenance,
        source=plan.source,
        started_at=started_at,
        finished_at=_now(),
    )


def _settings(plan: RunPlan, spec: ModelSpec) -> dict[str, Any]:
    config = plan.config
    return {
        "temperature": config.default_temperature,
        "repeat_penalty": config.repeat_penalty,
        "num_tokens_to_predict": config.num_tokens_to_predict,
        "context_window_size": config.context_window_size,
        "decoding": "json_schema" if config.constrained_decoding else "free",
        "stop_after_json": config.stop_after_json if spec.backend == "llama_cpp" else False,
        "prompt_fingerprint": plan.templates.fingerprint(spec.prompt_mode),
        "company_name": plan.company_name,
        "chat_format": spec.chat_format,
    }


class Progress:
    """One bar over models × iterations × items, with the current model in front."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="answer", disable=not enabled, dynamic_ncols=True)
        self.valid = 0
        self.seen = 0

    def model(self, name: str) -> None:
        self.bar.set_description(name)

    def item(self, result: ArticleResult) -> None:
        self.seen += 1
        self.valid += result.valid
        self.bar.set_postfix(valid=f"{self.valid}/{self.seen}", refresh=False)
        self.bar.update(1)

    def skip(self, count: int) -> None:
        self.bar.update(count)

    def close(self) -> None:
        self.bar.close()


def _load(spec: ModelSpec, plan: RunPlan, factory: BackendFactory) -> tuple[Backend, dict[str, Any]]:
    backend = factory(spec, plan.config)
    backend.load()
    warm_up_within_context(backend, lambda text: plan.templates.build(spec.prompt_mode, plan.company_name, text),
                           plan.items[0].text)
    provenance = {"harness": harness_commit(), "host": host_info(), **backend.provenance()}
    return backend, provenance


def run_model(spec: ModelSpec, plan: RunPlan, summary: RunSummary, progress: Progress,
              factory: BackendFactory = create_backend) -> None:
    """All pending units of one model; failures are recorded, never raised."""
    pending = pending_iterations(plan, spec, summary)
    if not pending:
        log.info("%s: all %d iterations already done", spec.name, plan.iterations)
        return
    progress.model(spec.name)
    paths = {i: result_path(plan.output_dir, spec.folder_name, plan.subject, i) for i in pending}
    backend = None
    try:
        backend, provenance = _load(spec, plan, factory)
        for position, iteration in enumerate(pending):
            try:
                result = run_unit(backend, plan, spec, iteration, provenance, progress.item)
            except UnitFailed as exc:
                log.error("%s; skipping the rest of this model", exc)
                for later in pending[position:]:
                    summary.outcomes.append(UnitOutcome(spec.name, later, "failed", paths[later], error=str(exc)))
                progress.skip(len(plan.items) * (len(pending) - position - 1))
                return
            save_result(paths[iteration], result)
            log.info("%s iteration %d/%d: %d/%d valid answers in %.1f s -> %s", spec.name, iteration + 1,
                     plan.iterations, result.valid_count, len(result.sentiments), result.time_taken or 0.0,
                     paths[iteration])
            summary.outcomes.append(UnitOutcome(
                spec.name, iteration, "done", paths[iteration],
                valid=result.valid_count, total=len(result.sentiments), seconds=result.time_taken or 0.0,
            ))
    except HarnessError as exc:
        log.error("%s: %s", spec.name, exc)
        for iteration in pending:
            summary.outcomes.append(UnitOutcome(spec.name, iteration, "failed", paths[iteration], error=str(exc)))
        progress.skip(len(plan.items) * len(pending))
    finally:
        if backend is not None:
            backend.close()


def run_benchmark(plan: RunPlan, *, show_progress: bool = True,
                  factory: BackendFactory = create_backend) -> RunSummary:
    """Run every model of the plan; returns what happened to each unit."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    summary = RunSummary()
    progress = Progress(len(plan.models) * plan.iterations * len(plan.items), show_progress)
    try:
        with logging_redirect_tqdm():
            for spec in plan.models:
                before = len(summary.outcomes)
                run_model(spec, plan, summary, progress, factory)
                skipped = sum(1 for o in summary.outcomes[before:] if o.status == "skipped")
                progress.skip(skipped * len(plan.items))
    finally:
        progress.close()
    return summary


def summary_table(summary: RunSummary) -> str:
    """A plain-text table of units per model: done, skipped, failed, valid answers."""
    rows: dict[str, dict[str, float]] = {}
    for outcome in summary.outcomes:
        row = rows.setdefault(outcome.model, {"done": 0, "skipped": 0, "failed": 0, "valid": 0, "total": 0, "s": 0.0})
        row[outcome.status] += 1
        row["valid"] += outcome.valid
        row["total"] += outcome.total
        row["s"] += outcome.seconds
    width = max([len("model"), *map(len, rows)])
    lines = [f"{'model':<{width}}  done  skipped  failed  valid answers  s/answer"]
    for name, row in rows.items():
        valid = f"{int(row['valid'])}/{int(row['total'])}" if row["total"] else "-"
        per = f"{row['s'] / row['total']:.2f}" if row["total"] else "-"
        lines.append(f"{name:<{width}}  {int(row['done']):>4}  {int(row['skipped']):>7}  {int(row['failed']):>6}  "
                     f"{valid:>13}  {per:>8}")
    return "\n".join(lines)
