"""--executor ray on a local Ray cluster with the real SmolLM2 model, an actor killed mid-task included."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a Ray cluster and the real SmolLM2

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

from tests.helpers import PROJECT, SMOLLM2, write_config, write_snapshot  # noqa: E402
from utils.config import load_config  # noqa: E402
from utils.news.snapshot_store import load_snapshot  # noqa: E402
from utils.run.prompts import load_templates  # noqa: E402
from utils.run.ray_executor import ACTOR_NAME, RayExecutor  # noqa: E402
from utils.run.runner import RunPlan, run_benchmark  # noqa: E402
from utils.run.work import WorkContext  # noqa: E402

MODEL_FOLDER = "smollm2-135m-instruct_q4_1"


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT)}})
    yield
    ray.shutdown()


def make_plan(folder: Path, out: str, iterations: int = 2, articles: int = 2) -> RunPlan:
    write_snapshot(folder, count=articles)
    config = load_config(write_config(folder, [SMOLLM2], num_tokens_to_predict=48, chunk_size=1, workers=2))
    items = load_snapshot(folder / "articles" / "NVDA.json").articles
    return RunPlan(config=config, templates=load_templates(PROJECT / "messages"), subject="NVDA",
                   company_name="Nvidia", items=items, models=list(config.models_to_test),
                   iterations=iterations, output_dir=folder / out)


def ray_run(plan: RunPlan, during=None):
    context = WorkContext(plan.config, plan.templates, plan.company_name, {i.key: i for i in plan.items})
    executor = RayExecutor(context, 2)
    if during is not None:
        threading.Thread(target=during, daemon=True).start()
    return run_benchmark(plan, show_progress=False, executor=executor)


def files(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((folder / MODEL_FOLDER).iterdir())}


def same_shape(a: dict, b: dict) -> None:
    assert list(a) == list(b) and list(a["sentiments"]) == list(b["sentiments"])
    for key in a["sentiments"]:
        assert list(a["sentiments"][key]) == list(b["sentiments"][key])
    assert a["settings"] == b["settings"]


@pytest.fixture(scope="module")
def local_files(tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("local")
    summary = run_benchmark(make_plan(folder, "out"), show_progress=False)
    assert [o.status for o in summary.outcomes] == ["done", "done"]
    return files(folder / "out")


def test_ray_run_with_an_actor_killed_mid_task_gives_complete_identical_files(cluster, tmp_path, local_files):
    plan = make_plan(tmp_path, "out")
    journal = tmp_path / "out" / MODEL_FOLDER / ".NVDA_0.partial.jsonl"
    killed: list[str] = []

    def kill_an_actor_mid_task() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (journal.is_file() and '"key"' in journal.read_text()):
            time.sleep(0.05)
        actor = ray.get_actor(ACTOR_NAME.format(0))
        ray.kill(actor, no_restart=False)  # the process dies; Ray restarts it and retries its task
        killed.append(journal.read_text())

    summary = ray_run(plan, during=kill_an_actor_mid_task)
    assert killed, "the actor was never killed"
    assert killed[0].count('"key"') < 2, "the kill came after the unit was complete"
    # Units finish in whatever order the retried task allows: compare them as a set.
    assert sorted((o.iteration, o.status) for o in summary.outcomes) == [(0, "done"), (1, "done")]
    result = files(tmp_path / "out")
    assert list(result) == list(local_files) == ["NVDA_0.json", "NVDA_1.json"]
    for name in result:
        same_shape(result[name], local_files[name])
        assert result[name]["provenance"]["n_threads"] == 1


def test_a_local_run_takes_over_where_a_ray_run_stopped(cluster, tmp_path, local_files):
    plan = make_plan(tmp_path, "out")
    ray_run(plan)
    folder = tmp_path / "out" / MODEL_FOLDER
    (folder / "NVDA_1.json").unlink()  # as if the run had been stopped before its last unit
    summary = run_benchmark(plan, show_progress=False)
    assert [o.status for o in summary.outcomes] == ["skipped", "done"]
    same_shape(files(tmp_path / "out")["NVDA_1.json"], local_files["NVDA_1.json"])
