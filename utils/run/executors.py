"""Who answers the tasks: the driver's own process, or ``--workers N`` processes.

An executor takes one model's tasks and reports every answer, failure and model
provenance to a :class:`Sink` (the driver), which is the only writer of files. Ray is in
``ray_executor.py`` and imported only when chosen.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from typing import Any, Protocol, Sequence

from utils.config import ModelSpec
from utils.run.results import ItemResult
from utils.run.work import BackendFactory, ModelWorker, Task, TaskFailure, WorkContext, create_backend

log = logging.getLogger(__name__)


class Sink(Protocol):
    """The driver's side: every event of a model's tasks."""

    def provenance(self, model: str, provenance: dict[str, Any]) -> None: ...

    def answer(self, task: Task, key: str, result: ItemResult) -> bool:
        """Take one answer; False when the unit can no longer be written (stop the task)."""

    def failed(self, task: Task, error: str) -> None: ...


class Executor(Protocol):
    def run(self, spec: ModelSpec, tasks: Sequence[Task], sink: Sink) -> None: ...

    def close(self) -> None: ...


class InlineExecutor:
    """One model at a time in the driver's process: the sequential run."""

    def __init__(self, context: WorkContext, factory: BackendFactory = create_backend) -> None:
        self.worker = ModelWorker(context, factory)

    def run(self, spec: ModelSpec, tasks: Sequence[Task], sink: Sink) -> None:
        for task in tasks:
            try:
                for key, result in self.worker.answers(task):
                    sink.provenance(spec.name, self.worker.provenance)
                    if not sink.answer(task, key, result):
                        break
            except TaskFailure as exc:
                sink.failed(task, exc.error)
        self.worker.close()

    def close(self) -> None:
        self.worker.close()


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """The cores divided between the workers (at least one thread each)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _worker_main(number: int, context: WorkContext, factory: BackendFactory, n_threads: int,
                 tasks: Any, events: Any) -> None:
    """A worker process: answer tasks from the shared queue until it sends None."""
    worker = ModelWorker(context, factory, n_threads=n_threads)
    while True:
        task = tasks.get()
        if task is None:
            break
        events.put(("start", number, task.task_id, None))
        try:
            loaded_before = worker.spec
            for key, result in worker.answers(task):
                if worker.spec != loaded_before:
                    events.put(("provenance", number, task.task_id, worker.provenance))
                    loaded_before = worker.spec
                events.put(("answer", number, task.task_id, (key, result.model_dump(mode="json"))))
            events.put(("done", number, task.task_id, None))
        except TaskFailure as exc:
            events.put(("failed", number, task.task_id, exc.error))
    worker.close()


class ProcessExecutor:
    """``--workers N``: N processes share one queue of item chunks; each keeps its model loaded.

    The cores are divided between them (llama.cpp ``n_threads`` = cores / N). Workers send
    every answer back as soon as it is finished; the driver journals and writes.
    """

    def __init__(self, context: WorkContext, workers: int, factory: BackendFactory = create_backend,
                 cores: int | None = None) -> None:
        self.context = context
        self.count = workers
        self.factory = factory
        self.n_threads = threads_per_worker(workers, cores)
        self._mp = multiprocessing.get_context("spawn")
        self._tasks: Any = None
        self._events: Any = None
        self._procs: list[Any] = []

    def _start(self) -> None:
        if self._procs:
            return
        self._tasks, self._events = self._mp.Queue(), self._mp.Queue()
        for number in range(self.count):
            proc = self._mp.Process(target=_worker_main, name=f"sentiment-worker-{number}", daemon=True,
                                    args=(number, self.context, self.factory, self.n_threads,
                                          self._tasks, self._events))
            proc.start()
            self._procs.append(proc)
        log.info("started %d worker processes, %d llama.cpp threads each", self.count, self.n_threads)

    def run(self, spec: ModelSpec, tasks: Sequence[Task], sink: Sink) -> None:
        self._start()
        by_id = {task.task_id: task for task in tasks}
        open_ids = set(by_id)
        stopped: set[int] = set()
        running: dict[int, int] = {}  # worker number -> task id
        for task in tasks:
            self._tasks.put(task)
        while open_ids:
            try:
                kind, number, task_id, payload = self._events.get(timeout=1.0)
            except queue.Empty:
                self._check_workers(running, open_ids, by_id, sink)
                continue
            task = by_id[task_id]
            if kind == "start":
                running[number] = task_id
            elif kind == "provenance":
                sink.provenance(spec.name, payload)
            elif kind == "answer" and task_id not in stopped:
                key, data = payload
                if not sink.answer(task, key, ItemResult.model_validate(data)):
                    stopped.add(task_id)
            elif kind in ("done", "failed"):
                running.pop(number, None)
                open_ids.discard(task_id)
                if kind == "failed":
                    sink.failed(task, payload)

    def _check_workers(self, running: dict[int, int], open_ids: set[int], by_id: dict[int, Task],
                       sink: Sink) -> None:
        for number, proc in enumerate(self._procs):
            if proc.is_alive():
                continue
            task_id = running.pop(number, None)
            if task_id is not None and task_id in open_ids:
                open_ids.discard(task_id)
                sink.failed(by_id[task_id], f"worker process {number} died (exit code {proc.exitcode})")
        if not any(proc.is_alive() for proc in self._procs):
            for task_id in sorted(open_ids):
                sink.failed(by_id[task_id], "no worker process left")
            open_ids.clear()

    def close(self) -> None:
        for _ in self._procs:
            self._tasks.put(None)
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        self._procs = []
