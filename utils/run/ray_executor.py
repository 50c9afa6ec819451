"""``--executor ray``: the same tasks answered by Ray actors, each holding one loaded model.

Ray is optional (``pip install -r requirements-ray.txt``) and imported only here. Each
actor reserves ``num_cpus`` = cluster CPUs / workers and gives llama.cpp that many
threads. Actors are restarted when they die (``max_restarts``) and their task is retried
(``max_task_retries``), so a task can be answered twice: the driver keeps the first
answer of each (model, iteration, item) and writes through the same journal and atomic
result files as a local run. Model files must be at the same path on every node (or come
from a package every node installs, as the default models do); an Ollama model is served
by each node's own Ollama server.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path
from typing import Any, Sequence

from utils.config import ModelSpec
from utils.errors import ConfigError
from utils.run.executors import Sink
from utils.run.results import ItemResult
from utils.run.work import BackendFactory, ModelWorker, Task, WorkContext, create_backend

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ACTOR_NAME = "sentiment-worker-{}"
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3


class RayModelWorker:
    """The actor: a ModelWorker that answers a whole task and returns plain data."""

    def __init__(self, context: WorkContext, factory: BackendFactory, n_threads: int) -> None:
        self.worker = ModelWorker(context, factory, n_threads=n_threads)

    def answer(self, task: Task) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], str | None]:
        answers, error = self.worker.run_task(task)
        return self.worker.provenance, [(key, result.model_dump(mode="json")) for key, result in answers], error

    def pid(self) -> int:
        return os.getpid()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("executor 'ray' needs Ray: pip install -r requirements-ray.txt") from None
    return ray


class RayExecutor:
    """Runs tasks on ``workers`` Ray actors; joins ``address`` or starts a local cluster."""

    def __init__(self, context: WorkContext, workers: int, factory: BackendFactory = create_backend,
                 address: str | None = None) -> None:
        self.ray = _import_ray()
        self.context = context
        self.count = workers
        self.factory = factory
        self._started_here = False
        if not self.ray.is_initialized():
            # Workers import this project: from the same path on every node.
            runtime_env = {"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}}
            if address:
                self.ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
            else:
                self.ray.init(include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
            self._started_here = True
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.cpus_per_actor = max(1, cpus // max(1, workers))
        self.actors: list[Any] = []

    def _start_actors(self) -> None:
        if self.actors:
            return
        actor_class = self.ray.remote(RayModelWorker)
        for number in range(self.count):
            self.actors.append(actor_class.options(
                name=ACTOR_NAME.format(number), num_cpus=self.cpus_per_actor,
                max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES,
            ).remote(self.context, self.factory, self.cpus_per_actor))
        log.info("started %d Ray actors with %d CPU(s) each", self.count, self.cpus_per_actor)

    def run(self, spec: ModelSpec, tasks: Sequence[Task], sink: Sink) -> None:
        ray = self.ray
        self._start_actors()
        waiting = deque(tasks)
        in_flight: dict[Any, tuple[Task, Any]] = {}

        def submit(actor: Any) -> None:
            if waiting:
                task = waiting.popleft()
                in_flight[actor.answer.remote(task)] = (task, actor)

        for actor in self.actors:
            submit(actor)
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            task, actor = in_flight.pop(ref)
            try:
                provenance, answers, error = ray.get(ref)
            except (ray.exceptions.RayError, OSError) as exc:
                # The actor died more often than it may be restarted, or the task raised inside Ray.
                sink.failed(task, f"Ray: {exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}")
            else:
                sink.provenance(spec.name, provenance)
                for key, data in answers:
                    if not sink.answer(task, key, ItemResult.model_validate(data)):
                        break
                if error:
                    sink.failed(task, error)
            submit(actor)

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception as exc:  # noqa: BLE001 - best effort at shutdown
                log.debug("could not stop a Ray actor: %s", exc)
        self.actors = []
        if self._started_here:
            self.ray.shutdown()
