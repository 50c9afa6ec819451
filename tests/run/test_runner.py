"""The run loop: resumable units, failures reported per model, nothing partial on disk.

The fake backend here subclasses the real Backend interface; the end-to-end tests
at the bottom run the real SmolLM2 GGUF through llama-cpp-python.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config, write_snapshot
from utils.news.articles import load_snapshot
from utils.backends.base import Backend, Completion
from utils.config import load_config
from utils.errors import BackendUnavailable, ModelNotFound
from utils.run.prompts import load_templates
from utils.run.journal import journal_path
from utils.run.results import load_result
from utils.run.runner import RunPlan, run_benchmark, summary_table

import generate_model_sentiments

ANSWER = '{"sentiment": 0.5, "confidence": 0.9, "reasoning": "Orders rose."}'


class ScriptedBackend(Backend):
    """Answers from a script; records every conversation it was sent."""

    name = "scripted"
    script: list = []
    calls: list = []
    fail_load: Exception | None = None

    def load(self) -> None:
        if ScriptedBackend.fail_load is not None and self.spec.name == "broken":
            raise ScriptedBackend.fail_load

    def chat(self, messages, sampling):
        ScriptedBackend.calls.append((self.spec.name, messages, sampling))
        step = ScriptedBackend.script.pop(0) if ScriptedBackend.script else ANSWER
        if isinstance(step, BaseException):
            raise step
        return Completion(text=step, seconds=0.01, prompt_tokens=100, completion_tokens=20)

    def warm_up(self, messages) -> None:
        pass


@pytest.fixture
def plan_for(tmp_path):
    ScriptedBackend.script, ScriptedBackend.calls, ScriptedBackend.fail_load = [], [], None
    write_snapshot(tmp_path, count=3)
    models = [dict(SMOLLM2, name="good"), dict(SMOLLM2, name="broken"), dict(SMOLLM2, name="zero", prompt_mode="zero_shot")]
    config = load_config(write_config(tmp_path, models))

    def make(names=("good",), iterations=2, force=False, keep_stale=False, **config_changes):
        snapshot = load_snapshot(tmp_path / "articles" / "NVDA.json")
        changed = config.model_copy(update=config_changes)
        return RunPlan(config=changed, templates=load_templates(PROJECT / "messages"), subject="NVDA",
                       company_name="Nvidia", items=snapshot.articles, models=[config.model(n) for n in names],
                       iterations=iterations, output_dir=tmp_path / "out", force=force, keep_stale=keep_stale)
    return make


def run(plan, show_progress=False):
    return run_benchmark(plan, show_progress=show_progress, factory=ScriptedBackend)


def test_units_are_written_with_the_compatible_keys(plan_for, tmp_path):
    summary = run(plan_for())
    assert [o.status for o in summary.outcomes] == ["done", "done"]
    data = json.loads((tmp_path / "out" / "good" / "NVDA_1.json").read_text())
    assert {"average_sentiment", "time_taken", "sentiments"} <= set(data)
    item = next(iter(data["sentiments"].values()))
    assert {"reasoning", "sentiment", "confidence", "valid", "url", "published", "time_taken"} <= set(item)
    assert data["seed"] == 43 and data["iteration"] == 1 and data["prompt_mode"] == "five_shot"
    assert data["provenance"]["host"]["cores"] >= 1 and "commit" in data["provenance"]["harness"]
    assert data["source"] == {} and data["average_sentiment"] == 0.5


def test_each_iteration_samples_with_seed_plus_iteration(plan_for):
    run(plan_for(iterations=3))
    seeds = [sampling.seed for _, _, sampling in ScriptedBackend.calls]
    assert seeds == [42] * 3 + [43] * 3 + [44] * 3


def test_prompt_mode_is_what_the_config_declares(plan_for):
    run(plan_for(names=("good", "zero"), iterations=1))
    lengths = {name: len(messages) for name, messages, _ in ScriptedBackend.calls}
    assert lengths == {"good": 12, "zero": 2}


def test_invalid_answers_are_stored_with_raw_text(plan_for, tmp_path):
    ScriptedBackend.script = ["I think it is positive.", ANSWER, '{"reasoning": "x", "sentiment": 2, "confidence": 1}']
    run(plan_for(iterations=1))
    items = list(load_result(tmp_path / "out" / "good" / "NVDA_0.json").sentiments.values())
    assert [i.valid for i in items] == [False, True, False]
    assert items[0].raw_text == "I think it is positive." and items[0].sentiment is None
    assert "less than or equal to 1" in items[2].error
    assert [i.bare_json for i in items] == [False, True, False]


def test_rerun_skips_finished_units_and_force_redoes_them(plan_for, tmp_path):
    run(plan_for())
    path = tmp_path / "out" / "good" / "NVDA_0.json"
    stamp = path.stat().st_mtime_ns
    ScriptedBackend.calls = []
    summary = run(plan_for())
    assert [o.status for o in summary.outcomes] == ["skipped", "skipped"] and ScriptedBackend.calls == []
    assert path.stat().st_mtime_ns == stamp
    run(plan_for(force=True))
    assert len(ScriptedBackend.calls) == 6 and path.stat().st_mtime_ns != stamp


def test_truncated_or_stale_files_are_redone(plan_for, tmp_path):
    run(plan_for())
    (tmp_path / "out" / "good" / "NVDA_0.json").write_text('{"sentiments": {')
    data = json.loads((tmp_path / "out" / "good" / "NVDA_1.json").read_text())
    data["sentiments"].pop(next(iter(data["sentiments"])))
    (tmp_path / "out" / "good" / "NVDA_1.json").write_text(json.dumps(data))
    summary = run(plan_for())
    assert [o.status for o in summary.outcomes] == ["done", "done"]


def test_a_model_that_fails_to_load_is_reported_and_the_run_goes_on(plan_for, tmp_path):
    ScriptedBackend.fail_load = ModelNotFound("model 'broken': GGUF file not found: /nowhere.gguf")
    summary = run(plan_for(names=("broken", "good"), iterations=1))
    assert [(o.model, o.status) for o in summary.outcomes] == [("broken", "failed"), ("good", "done")]
    assert "/nowhere.gguf" in summary.failed[0].error
    assert "broken" in summary_table(summary)


def test_backend_failure_mid_unit_fails_that_unit_and_keeps_its_answers(plan_for, tmp_path):
    ScriptedBackend.script = [ANSWER, ANSWER, ANSWER, ANSWER, BackendUnavailable("scripted", "good", "server went away")]
    summary = run(plan_for(iterations=2))
    assert [o.status for o in summary.outcomes] == ["done", "failed"]
    assert "server went away" in summary.failed[0].error
    assert "failed: good iteration 1" in summary_table(summary)
    assert sorted(p.name for p in (tmp_path / "out" / "good").iterdir()) == [".NVDA_1.partial.jsonl", "NVDA_0.json"]
    ScriptedBackend.calls = []
    summary = run(plan_for(iterations=2))  # the rerun asks only for the two missing items
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("skipped", 0), ("done", 1)]
    assert len(ScriptedBackend.calls) == 2
    assert sorted(p.name for p in (tmp_path / "out" / "good").iterdir()) == ["NVDA_0.json", "NVDA_1.json"]


@pytest.mark.parametrize("error", [RuntimeError("llama_decode returned -3"), MemoryError(), KeyError("logits")])
def test_any_backend_exception_fails_the_unit_and_the_run_goes_on(plan_for, error):
    ScriptedBackend.script = [ANSWER, error]
    summary = run(plan_for(names=("good", "zero"), iterations=1))
    assert [(o.model, o.status) for o in summary.outcomes] == [("good", "failed"), ("zero", "done")]
    assert error.__class__.__name__ in summary.failed[0].error


def test_a_result_that_cannot_be_written_fails_that_unit_only(plan_for, tmp_path):
    blocked = tmp_path / "out" / "good" / "NVDA_0.json"
    blocked.mkdir(parents=True)  # a folder where the file should go: the rename fails with an OSError
    summary = run(plan_for(iterations=2))
    assert [(o.iteration, o.status) for o in summary.outcomes] == [(0, "failed"), (1, "done")]
    assert "NVDA_0.json: cannot write" in summary.failed[0].error


def test_a_journal_that_cannot_be_written_fails_that_model_only(plan_for, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "good").write_text("a file, not a folder")
    summary = run(plan_for(names=("good", "zero"), iterations=1))
    assert [(o.model, o.status) for o in summary.outcomes] == [("good", "failed"), ("zero", "done")]
    assert "partial.jsonl: cannot write" in summary.failed[0].error


def test_the_progress_bar_counts_the_items_of_failed_units(plan_for, capsys):
    ScriptedBackend.script = [ANSWER, RuntimeError("boom")]
    summary = run(plan_for(names=("good", "zero"), iterations=2), show_progress=True)
    assert [o.status for o in summary.outcomes] == ["failed", "done", "done", "done"]
    assert "12/12" in capsys.readouterr().err


def test_interrupt_leaves_no_result_file_and_the_rerun_resumes(plan_for, tmp_path):
    ScriptedBackend.script = [ANSWER, '{"sentiment": -0.5, "confidence": 0.5, "reasoning": "Down."}', KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    folder = tmp_path / "out" / "good"
    assert [p.name for p in folder.iterdir()] == [".NVDA_0.partial.jsonl"]
    ScriptedBackend.calls = []
    summary = run(plan_for(iterations=1))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 2)] and len(ScriptedBackend.calls) == 1
    resumed = json.loads((folder / "NVDA_0.json").read_text())
    ScriptedBackend.script = [ANSWER, '{"sentiment": -0.5, "confidence": 0.5, "reasoning": "Down."}']
    run(plan_for(iterations=1, force=True))
    straight = json.loads((folder / "NVDA_0.json").read_text())
    assert list(resumed) == list(straight) and list(resumed["sentiments"]) == list(straight["sentiments"])
    for key, item in resumed["sentiments"].items():
        assert list(item) == list(straight["sentiments"][key])
        assert {k: v for k, v in item.items() if k != "time_taken"} == \
            {k: v for k, v in straight["sentiments"][key].items() if k != "time_taken"}
    assert [p.name for p in folder.iterdir()] == ["NVDA_0.json"]


def test_a_torn_journal_line_is_cut_off_and_the_item_asked_again(plan_for, tmp_path):
    ScriptedBackend.script = [ANSWER, ANSWER, KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    journal = journal_path(tmp_path / "out" / "good" / "NVDA_0.json")
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a kill mid-write
    ScriptedBackend.calls = []
    summary = run(plan_for(iterations=1))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 1)] and len(ScriptedBackend.calls) == 2


def test_units_made_with_other_settings_are_redone_or_kept(plan_for, tmp_path):
    run(plan_for())
    ScriptedBackend.calls = []
    summary = run(plan_for(default_temperature=0.7))
    assert [o.status for o in summary.outcomes] == ["done", "done"] and len(ScriptedBackend.calls) == 6
    assert "temperature 0.2 -> 0.7" in summary.outcomes[0].note
    assert "done: good iteration 0: redone: settings changed: temperature 0.2 -> 0.7" in summary_table(summary)
    assert load_result(tmp_path / "out" / "good" / "NVDA_0.json").settings["temperature"] == 0.7
    ScriptedBackend.calls = []
    summary = run(plan_for(keep_stale=True, num_tokens_to_predict=64))
    assert [o.status for o in summary.outcomes] == ["skipped", "skipped"] and ScriptedBackend.calls == []
    assert "kept although stale" in summary.outcomes[1].note
    assert "num_tokens_to_predict 160 -> 64" in summary_table(summary)


def test_a_journal_from_other_settings_is_not_mixed_in(plan_for, tmp_path):
    ScriptedBackend.script = [ANSWER, KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    ScriptedBackend.calls = []
    summary = run(plan_for(iterations=1, seed=7))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 0)] and len(ScriptedBackend.calls) == 3
    assert {s.seed for _, _, s in ScriptedBackend.calls} == {7}


# --- real model, end to end through the command line -------------------------------

def test_smollm2_end_to_end_and_resume(small_project, capsys):
    write_config(small_project, [SMOLLM2], num_tokens_to_predict=48)
    argv = ["--config", str(small_project / "config.yaml"), "-c", "NVDA", "--offline", "-q"]
    assert generate_model_sentiments.main(argv) == 0
    files = sorted((small_project / "sentiments" / "smollm2-135m-instruct_q4_1").glob("*.json"))
    assert [f.name for f in files] == ["NVDA_0.json", "NVDA_1.json"]
    result = load_result(files[0])
    assert len(result.sentiments) == 3 and result.backend == "llama_cpp"
    assert result.provenance["backend_version"].startswith("llama-cpp-python ")
    assert len(result.provenance["model_file"]["sha256"]) == 64
    for item in result.sentiments.values():
        assert item.time_taken > 0 and item.prompt_tokens > 500 and item.completion_tokens > 0
        assert item.valid == (item.sentiment is not None)
        assert item.valid or item.raw_text is not None
    assert "done" in capsys.readouterr().out
    stamps = [f.stat().st_mtime_ns for f in files]
    assert generate_model_sentiments.main(argv) == 0
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_missing_model_file_fails_that_model_only(small_project):
    models = [dict(SMOLLM2, name="ghost", package_resource=None, path="missing.gguf"), SMOLLM2]
    write_config(small_project, models, sample_size=1, num_tokens_to_predict=24)
    argv = ["--config", str(small_project / "config.yaml"), "-c", "NVDA", "--offline", "-q"]
    assert generate_model_sentiments.main(argv) == 1
    assert (small_project / "sentiments" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").is_file()
    assert not (small_project / "sentiments" / "ghost").exists()
