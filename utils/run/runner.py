"""The benchmark run: every (model, iteration) unit over the same items.

A unit has a deterministic result file. It is skipped when that file covers the current
items and was made with the current settings (else redone, or kept with ``keep_stale``),
resumed from its journal when a previous run stopped midway, and otherwise split into
tasks of a few items that an executor answers (in this process, in worker processes or
on Ray). This module is the driver and the only writer: each answer goes to the unit's
journal as it arrives, and a complete unit is written atomically. A unit that fails
(model not loadable, backend error, disk full) fails alone and the run goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from utils.backends import create_backend
from utils.config import Config, ModelSpec
from utils.errors import HarnessError, ResultFileError
from utils.items import Item
from utils.run.executors import Executor, InlineExecutor, ProcessExecutor
from utils.run.journal import Journal, journal_path
from utils.run.progress import Progress
from utils.run.prompts import PromptTemplates, load_templates
from utils.run.results import (
    SCHEMA_VERSION, ItemResult, IterationResult, load_result, result_path, save_result,
    weighted_average_sentiment,
)
from utils.run.settings import items_fingerprint, settings_change, unit_settings
from utils.run.summary import RunSummary, UnitOutcome, summary_table
from utils.run.work import BackendFactory, Task, WorkContext, chunked

__all__ = ["RunPlan", "RunSummary", "UnitOutcome", "run_benchmark", "summary_table"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPlan:
    """What to run: the items, who reads them, how often and where results go."""

    config: Config
    templates: PromptTemplates
    subject: str
    company_name: str
    items: Sequence[Item]
    models: Sequence[ModelSpec]
    iterations: int
    output_dir: Path
    source: dict[str, Any] = field(default_factory=dict)
    force: bool = False
    keep_stale: bool = False
    # The prompt set of each model with its own messages_folder, by model name (else ``templates``);
    # read from that folder when not given.
    model_templates: Mapping[str, PromptTemplates] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = dict(self.model_templates)
        read: dict[Path, PromptTemplates] = {}
        for spec in self.models:
            if spec.messages_folder is not None and spec.name not in given:
                if spec.messages_folder not in read:
                    read[spec.messages_folder] = load_templates(spec.messages_folder)
                given[spec.name] = read[spec.messages_folder]
        object.__setattr__(self, "model_templates", given)

    def templates_for(self, spec: ModelSpec) -> PromptTemplates:
        """The prompt set ``spec`` is asked with."""
        return self.model_templates.get(spec.name, self.templates)

    def prompt_set(self, spec: ModelSpec) -> str:
        """The folder of that prompt set, as recorded in result files."""
        return str(spec.messages_folder or self.config.messages_folder)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Unit:
    """The driver's state of one (model, iteration) unit in this run."""

    spec: ModelSpec
    iteration: int
    path: Path
    settings: dict[str, Any]
    journal: Journal
    resumed: int = 0
    note: str | None = None
    error: str | None = None
    closed: bool = False  # written or failed: later answers are not taken
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.settings["seed"]


class Driver:
    """Plans one model's units, feeds the executor and writes what comes back."""

    def __init__(self, plan: RunPlan, summary: RunSummary, progress: Progress) -> None:
        self.plan = plan
        self.summary = summary
        self.progress = progress
        self.keys = [item.key for item in plan.items]
        self.items_fingerprint = items_fingerprint(plan.items)
        self.units: dict[int, Unit] = {}
        self.provenance: dict[str, Any] = {}
        self._task_ids = 0

    # --- planning -----------------------------------------------------------------

    def plan_model(self, spec: ModelSpec, model_id: str | None) -> list[Unit]:
        """Units of ``spec`` still to answer; finished and kept ones are recorded as skipped."""
        self.units = {}
        for iteration in range(self.plan.iterations):
            unit = self._unit(spec, iteration, model_id)
            if unit is not None:
                self.units[iteration] = unit
        return list(self.units.values())

    def _unit(self, spec: ModelSpec, iteration: int, model_id: str | None) -> Unit | None:
        plan = self.plan
        path = result_path(plan.output_dir, spec.folder_name, plan.subject, iteration)
        settings = unit_settings(plan.config, plan.templates_for(spec), spec, company_name=plan.company_name,
                                 seed=plan.config.seed + iteration, model_id=model_id,
                                 items_fingerprint=self.items_fingerprint, prompt_set=plan.prompt_set(spec))
        journal = Journal(journal_path(path))
        note = None
        if not plan.force:
            state, note = self._existing(path, settings)
            if state == "done" or (state == "stale" and plan.keep_stale):
                journal.discard()  # a journal left by a kill between the write and its removal
                self._relabel(path)
                kept = f"kept although stale ({note})" if state == "stale" else None
                self.summary.outcomes.append(UnitOutcome(spec.name, iteration, "skipped", path, note=kept))
                self.progress.skip(len(self.keys))
                return None
            if state == "stale":
                note = f"redone: {note}"
                log.warning("%s iteration %d %s", spec.name, iteration, note)
        else:
            journal.discard()
        unit = Unit(spec, iteration, path, settings, journal, note=note)
        thrown = journal.resume(settings["fingerprint"], self.keys)
        if thrown:
            log.warning("%s iteration %d: %s", spec.name, iteration, thrown)
        unit.resumed = len(journal.answers)
        if unit.resumed:
            log.info("%s iteration %d: resuming with %d/%d answers from %s", spec.name, iteration,
                     unit.resumed, len(self.keys), journal.path)
            self.progress.skip(unit.resumed)
            unit.provenance = journal.provenance or {}
        return unit

    def _existing(self, path: Path, settings: dict[str, Any]) -> tuple[str, str | None]:
        """("missing" | "done" | "stale" | "broken", why) for the unit's result file."""
        if not path.is_file():
            return "missing", None
        try:
            result = load_result(path)
        except ResultFileError as exc:
            log.warning("will redo %s", exc)
            return "broken", None
        if set(result.sentiments) != set(self.keys):
            log.info("will redo %s: it covers other items than the current ones", path)
            return "broken", None
        change = settings_change(result.settings, settings)
        return ("stale", change) if change else ("done", None)

    def _relabel(self, path: Path) -> None:
        """Give a finished file the items' current gold labels (a new --labels file, or labels
        read from the snapshot since): they do not change an answer, so nothing is asked again."""
        result = load_result(path)
        answers = self._with_gold(result.sentiments)
        labels = self.plan.source.get("labels")
        if answers == result.sentiments and result.source.get("labels") == labels:
            return
        source = {k: v for k, v in result.source.items() if k != "labels"}
        if labels is not None:
            source["labels"] = labels
        try:
            save_result(path, result.model_copy(update={"sentiments": answers, "source": source}))
        except ResultFileError as exc:
            log.warning("%s: could not update the gold labels: %s", path, exc)
            return
        log.info("%s: gold labels updated", path)

    def _with_gold(self, answers: dict[str, ItemResult]) -> dict[str, ItemResult]:
        """``answers`` with each item's gold label and score as the items carry them now."""
        items = {item.key: item for item in self.plan.items}
        return {key: answer if (answer.gold_label, answer.gold_score) == (items[key].gold_label, items[key].gold_score)
                else answer.model_copy(update={"gold_label": items[key].gold_label,
                                               "gold_score": items[key].gold_score})
                for key, answer in answers.items()}

    def tasks(self, units: Sequence[Unit], chunk_size: int) -> list[Task]:
        """Missing items of each unit, in chunks, unit after unit."""
        tasks = []
        for unit in units:
            missing = [key for key in self.keys if key not in unit.journal.answers]
            for keys in chunked(missing, chunk_size):
                self._task_ids += 1
                tasks.append(Task(self._task_ids, unit.spec, unit.iteration, unit.seed, keys))
        return tasks

    # --- the executor's sink ---------------------------------------------------------

    def provenance_of(self, model: str, provenance: dict[str, Any]) -> None:
        self.provenance[model] = provenance

    def answer(self, task: Task, key: str, result: ItemResult) -> bool:
        unit = self.units[task.iteration]
        if unit.closed:
            return False
        if key in unit.journal.answers:  # a retried task answered it again
            log.debug("%s iteration %d: duplicate answer for %s dropped", unit.spec.name, unit.iteration, key)
            return True
        try:
            unit.journal.start(unit.settings["fingerprint"], _now())
            provenance = self.provenance.get(unit.spec.name)
            if provenance:
                unit.journal.note_provenance(provenance)
                unit.provenance = provenance
            unit.journal.add(key, result)
        except (ResultFileError, OSError) as exc:
            self.fail(unit, str(exc))
            return False
        self.progress.item(result)
        if len(unit.journal.answers) == len(self.keys):
            self.finish(unit)
        return True

    def failed(self, task: Task, error: str) -> None:
        unit = self.units[task.iteration]
        if not unit.closed:
            self.fail(unit, f"{unit.spec.name} iteration {unit.iteration}: {error}")

    # --- finishing ------------------------------------------------------------------

    def fail(self, unit: Unit, error: str) -> None:
        log.error("%s", error)
        unit.error, unit.closed = error, True
        unit.journal.close()
        self.progress.skip(len(self.keys) - len(unit.journal.answers))
        self.summary.outcomes.append(UnitOutcome(unit.spec.name, unit.iteration, "failed", unit.path,
                                                 error=error, resumed=unit.resumed, note=unit.note))

    def finish(self, unit: Unit) -> None:
        """Write the complete unit atomically and drop its journal."""
        result = self.result(unit)
        try:
            save_result(unit.path, result)
        except ResultFileError as exc:
            self.fail(unit, str(exc))
            return
        unit.journal.discard()
        unit.closed = True
        seconds = result.time_taken or 0.0
        log.info("%s iteration %d/%d: %d/%d valid answers in %.1f s -> %s", unit.spec.name, unit.iteration + 1,
                 self.plan.iterations, result.valid_count, len(result.sentiments), seconds, unit.path)
        self.summary.outcomes.append(UnitOutcome(
            unit.spec.name, unit.iteration, "done", unit.path, valid=result.valid_count,
            total=len(result.sentiments), seconds=seconds, resumed=unit.resumed, note=unit.note,
        ))

    def result(self, unit: Unit) -> IterationResult:
        # item order, however they arrived; gold labels as the items carry them now (a resumed
        # journal may hold answers given before a --labels file changed)
        answers = self._with_gold({key: unit.journal.answers[key] for key in self.keys})
        spec, plan = unit.spec, self.plan
        return IterationResult(
            average_sentiment=weighted_average_sentiment(answers.values()),
            # Sum of the answers' own times: the same for a run resumed after a kill or spread over workers.
            time_taken=round(sum(a.time_taken or 0.0 for a in answers.values()), 3),
            sentiments=answers,
            schema_version=SCHEMA_VERSION,
            model=spec.name,
            subject=plan.subject,
            iteration=unit.iteration,
            backend=spec.backend,
            family=spec.family,
            quantization=spec.quantization,
            prompt_mode=spec.prompt_mode,
            seed=unit.seed,
            settings=unit.settings,
            provenance=unit.provenance or self.provenance.get(spec.name, {}),
            source=plan.source,
            started_at=unit.journal.header.get("started_at") or _now(),
            finished_at=_now(),
        )

    def close_open(self) -> None:
        """Units that neither finished nor failed (their tasks vanished) fail here."""
        for unit in self.units.values():
            if not unit.closed:
                missing = len(self.keys) - len(unit.journal.answers)
                self.fail(unit, f"{unit.spec.name} iteration {unit.iteration}: {missing} item(s) never answered")
            unit.journal.close()


def model_identity(spec: ModelSpec, config: Config, factory: BackendFactory) -> str | None:
    """The model file's SHA-256 or the Ollama digest, without loading the model."""
    return factory(spec, config).identity()


def make_executor(plan: RunPlan, factory: BackendFactory, workers: int | None = None,
                  executor: str | None = None, ray_address: str | None = None) -> Executor:
    context = WorkContext(plan.config, plan.templates, plan.company_name, {i.key: i for i in plan.items},
                          model_templates=dict(plan.model_templates))
    executor = executor or plan.config.executor
    workers = workers or plan.config.workers
    if executor == "ray":
        from utils.run.ray_executor import RayExecutor

        return RayExecutor(context, workers, factory, address=ray_address or plan.config.ray_address)
    if workers > 1:
        return ProcessExecutor(context, workers, factory)
    return InlineExecutor(context, factory)


def default_chunk_size(plan: RunPlan, executor: Executor) -> int:
    """A whole unit for the sequential run; otherwise ``chunk_size`` items, fewer when a unit
    is too small to give every worker work."""
    if isinstance(executor, InlineExecutor):
        return max(1, len(plan.items))
    workers = max(1, getattr(executor, "count", plan.config.workers))
    return max(1, min(plan.config.chunk_size, -(-len(plan.items) // workers)))


def run_benchmark(plan: RunPlan, *, show_progress: bool = True, factory: BackendFactory = create_backend,
                  executor: Executor | None = None, chunk_size: int | None = None) -> RunSummary:
    """Run every model of the plan; returns what happened to each unit."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    summary = RunSummary()
    progress = Progress(len(plan.models) * plan.iterations * len(plan.items), show_progress)
    executor = executor or make_executor(plan, factory)
    if chunk_size is None:
        chunk_size = default_chunk_size(plan, executor)
    driver = Driver(plan, summary, progress)
    try:
        with logging_redirect_tqdm():
            for spec in plan.models:
                run_model(spec, driver, executor, factory, chunk_size)
    finally:
        executor.close()
        progress.close()
    return summary


def run_model(spec: ModelSpec, driver: Driver, executor: Executor, factory: BackendFactory,
              chunk_size: int) -> None:
    """All pending units of one model; failures are recorded, never raised."""
    plan = driver.plan
    progress = driver.progress
    progress.model(spec.name)
    try:
        model_id = model_identity(spec, plan.config, factory)
    except HarnessError as exc:
        log.error("%s: %s", spec.name, exc)
        for iteration in range(plan.iterations):
            path = result_path(plan.output_dir, spec.folder_name, plan.subject, iteration)
            driver.summary.outcomes.append(UnitOutcome(spec.name, iteration, "failed", path, error=str(exc)))
        progress.skip(len(plan.items) * plan.iterations)
        return
    units = driver.plan_model(spec, model_id)
    for unit in list(units):
        if len(unit.journal.answers) == len(driver.keys):  # killed between the last answer and the write
            driver.finish(unit)
    pending = [u for u in units if not u.closed]
    if not pending:
        log.info("%s: all %d iterations already done", spec.name, plan.iterations)
        return
    try:
        executor.run(spec, driver.tasks(pending, chunk_size), _Sink(driver))
    finally:
        driver.close_open()


class _Sink:
    """Adapts the driver to the executor's Sink protocol."""

    def __init__(self, driver: Driver) -> None:
        self.provenance = driver.provenance_of
        self.answer = driver.answer
        self.failed = driver.failed
