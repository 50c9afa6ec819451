"""The run loop: resumable units, failures reported per model, nothing partial on disk.

The scripted backend (tests/scripted.py) subclasses the real Backend interface and is reached
through the real backend table; the end-to-end tests at the bottom run the real SmolLM2 GGUF
through llama-cpp-python.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config, write_snapshot
from tests.scripted import ANSWER
from utils.news.snapshot_store import load_snapshot
from utils.config import load_config
from utils.errors import BackendUnavailable, ModelNotFound
from utils.run.prompts import load_templates
from utils.run.journal import journal_path
from utils.run.results import load_result
from utils.run.runner import RunPlan, run_benchmark, summary_table

import generate_model_sentiments


@pytest.fixture
def script(scripted_backend):
    """What this test's scripted backends answer and were asked (see tests/scripted.py)."""
    return scripted_backend


@pytest.fixture
def plan_for(tmp_path, script):
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


@pytest.fixture
def small_project_scripted(tmp_path):
    """A folder with a config for SmolLM2 and three NVDA articles (answered by the scripted backend)."""
    write_snapshot(tmp_path)
    write_config(tmp_path, [SMOLLM2])
    return tmp_path


def run(plan, show_progress=False):
    return run_benchmark(plan, show_progress=show_progress)  # the scripted backend, through the registry


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


def test_each_iteration_samples_with_seed_plus_iteration(plan_for, script):
    run(plan_for(iterations=3))
    seeds = [sampling.seed for _, _, sampling in script.calls]
    assert seeds == [42] * 3 + [43] * 3 + [44] * 3


def test_prompt_mode_is_what_the_config_declares(plan_for, script):
    run(plan_for(names=("good", "zero"), iterations=1))
    lengths = {name: len(messages) for name, messages, _ in script.calls}
    assert lengths == {"good": 12, "zero": 2}


def test_invalid_answers_are_stored_with_raw_text(plan_for, tmp_path, script):
    script.steps = ["I think it is positive.", ANSWER, '{"reasoning": "x", "sentiment": 2, "confidence": 1}']
    run(plan_for(iterations=1))
    items = list(load_result(tmp_path / "out" / "good" / "NVDA_0.json").sentiments.values())
    assert [i.valid for i in items] == [False, True, False]
    assert items[0].raw_text == "I think it is positive." and items[0].sentiment is None
    assert "less than or equal to 1" in items[2].error
    assert [i.bare_json for i in items] == [False, True, False]


def test_rerun_skips_finished_units_and_force_redoes_them(plan_for, tmp_path, script):
    run(plan_for())
    path = tmp_path / "out" / "good" / "NVDA_0.json"
    stamp = path.stat().st_mtime_ns
    script.calls.clear()
    summary = run(plan_for())
    assert [o.status for o in summary.outcomes] == ["skipped", "skipped"] and script.calls == []
    assert path.stat().st_mtime_ns == stamp
    run(plan_for(force=True))
    assert len(script.calls) == 6 and path.stat().st_mtime_ns != stamp


def test_truncated_or_stale_files_are_redone(plan_for, tmp_path):
    run(plan_for())
    (tmp_path / "out" / "good" / "NVDA_0.json").write_text('{"sentiments": {')
    data = json.loads((tmp_path / "out" / "good" / "NVDA_1.json").read_text())
    data["sentiments"].pop(next(iter(data["sentiments"])))
    (tmp_path / "out" / "good" / "NVDA_1.json").write_text(json.dumps(data))
    summary = run(plan_for())
    assert [o.status for o in summary.outcomes] == ["done", "done"]


def test_a_model_that_fails_to_load_is_reported_and_the_run_goes_on(plan_for, tmp_path, script):
    script.fail_load["broken"] = ModelNotFound("model 'broken': GGUF file not found: /nowhere.gguf")
    summary = run(plan_for(names=("broken", "good"), iterations=1))
    assert [(o.model, o.status) for o in summary.outcomes] == [("broken", "failed"), ("good", "done")]
    assert "/nowhere.gguf" in summary.failed[0].error
    assert "broken" in summary_table(summary)


def test_backend_failure_mid_unit_fails_that_unit_and_keeps_its_answers(plan_for, tmp_path, script):
    script.steps = [ANSWER, ANSWER, ANSWER, ANSWER, BackendUnavailable("scripted", "good", "server went away")]
    summary = run(plan_for(iterations=2))
    assert [o.status for o in summary.outcomes] == ["done", "failed"]
    assert "server went away" in summary.failed[0].error
    assert "failed: good iteration 1" in summary_table(summary)
    assert sorted(p.name for p in (tmp_path / "out" / "good").iterdir()) == [".NVDA_1.partial.jsonl", "NVDA_0.json"]
    script.calls.clear()
    summary = run(plan_for(iterations=2))  # the rerun asks only for the two missing items
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("skipped", 0), ("done", 1)]
    assert len(script.calls) == 2
    assert sorted(p.name for p in (tmp_path / "out" / "good").iterdir()) == ["NVDA_0.json", "NVDA_1.json"]


@pytest.mark.parametrize("error", [RuntimeError("llama_decode returned -3"), MemoryError(), KeyError("logits")])
def test_any_backend_exception_fails_the_unit_and_the_run_goes_on(plan_for, error, script):
    script.steps = [ANSWER, error]
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


def test_the_progress_bar_counts_the_items_of_failed_units(plan_for, capsys, script):
    script.steps = [ANSWER, RuntimeError("boom")]
    summary = run(plan_for(names=("good", "zero"), iterations=2), show_progress=True)
    assert [o.status for o in summary.outcomes] == ["failed", "done", "done", "done"]
    assert "12/12" in capsys.readouterr().err


def test_interrupt_leaves_no_result_file_and_the_rerun_resumes(plan_for, tmp_path, script):
    script.steps = [ANSWER, '{"sentiment": -0.5, "confidence": 0.5, "reasoning": "Down."}', KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    folder = tmp_path / "out" / "good"
    assert [p.name for p in folder.iterdir()] == [".NVDA_0.partial.jsonl"]
    script.calls.clear()
    summary = run(plan_for(iterations=1))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 2)] and len(script.calls) == 1
    resumed = json.loads((folder / "NVDA_0.json").read_text())
    script.steps = [ANSWER, '{"sentiment": -0.5, "confidence": 0.5, "reasoning": "Down."}']
    run(plan_for(iterations=1, force=True))
    straight = json.loads((folder / "NVDA_0.json").read_text())
    assert list(resumed) == list(straight) and list(resumed["sentiments"]) == list(straight["sentiments"])
    for key, item in resumed["sentiments"].items():
        assert list(item) == list(straight["sentiments"][key])
        assert {k: v for k, v in item.items() if k != "time_taken"} == \
            {k: v for k, v in straight["sentiments"][key].items() if k != "time_taken"}
    assert [p.name for p in folder.iterdir()] == ["NVDA_0.json"]


def test_a_torn_journal_line_is_cut_off_and_the_item_asked_again(plan_for, tmp_path, script):
    script.steps = [ANSWER, ANSWER, KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    journal = journal_path(tmp_path / "out" / "good" / "NVDA_0.json")
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a kill mid-write
    script.calls.clear()
    summary = run(plan_for(iterations=1))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 1)] and len(script.calls) == 2


def test_units_made_with_other_settings_are_redone_or_kept(plan_for, tmp_path, script):
    run(plan_for())
    script.calls.clear()
    summary = run(plan_for(default_temperature=0.7))
    assert [o.status for o in summary.outcomes] == ["done", "done"] and len(script.calls) == 6
    assert "temperature 0.2 -> 0.7" in summary.outcomes[0].note
    assert "done: good iteration 0: redone: settings changed: temperature 0.2 -> 0.7" in summary_table(summary)
    assert load_result(tmp_path / "out" / "good" / "NVDA_0.json").settings["temperature"] == 0.7
    script.calls.clear()
    summary = run(plan_for(keep_stale=True, num_tokens_to_predict=64))
    assert [o.status for o in summary.outcomes] == ["skipped", "skipped"] and script.calls == []
    assert "kept although stale" in summary.outcomes[1].note
    assert "num_tokens_to_predict 160 -> 64" in summary_table(summary)


def test_a_journal_from_other_settings_is_not_mixed_in(plan_for, tmp_path, script):
    script.steps = [ANSWER, KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        run(plan_for(iterations=1))
    script.calls.clear()
    summary = run(plan_for(iterations=1, seed=7))
    assert [(o.status, o.resumed) for o in summary.outcomes] == [("done", 0)] and len(script.calls) == 3
    assert {s.seed for _, _, s in script.calls} == {7}


# --- end to end through the command line: the scripted backend, then the real model --

def test_command_line_end_to_end_and_resume_without_a_model(small_project_scripted, script, capsys):
    argv = ["--config", str(small_project_scripted / "config.yaml"), "-c", "NVDA", "--offline", "-q"]
    assert generate_model_sentiments.main(argv) == 0
    files = sorted((small_project_scripted / "sentiments" / "smollm2-135m-instruct_q4_1").glob("*.json"))
    assert [f.name for f in files] == ["NVDA_0.json", "NVDA_1.json"] and len(script.calls) == 6
    result = load_result(files[0])
    assert result.backend == "llama_cpp" and result.provenance["backend_version"] == "scripted"
    assert [item.sentiment for item in result.sentiments.values()] == [0.5, 0.5, 0.5]
    # the summary row: done, skipped, failed, valid answers
    assert re.search(r"smollm2-135m-instruct:q4_1 +2 +0 +0 +6/6 ", capsys.readouterr().out)
    script.calls.clear()
    assert generate_model_sentiments.main(argv) == 0 and script.calls == []
    assert re.search(r"smollm2-135m-instruct:q4_1 +0 +2 +0 ", capsys.readouterr().out)


def test_command_line_exit_code_when_a_model_fails(small_project_scripted, script, capsys):
    models = [dict(SMOLLM2, name="ghost"), SMOLLM2]
    write_config(small_project_scripted, models, iterations=1)
    script.fail_load["ghost"] = ModelNotFound("model 'ghost': GGUF file not found: missing.gguf")
    argv = ["--config", str(small_project_scripted / "config.yaml"), "-c", "NVDA", "--offline", "-q"]
    assert generate_model_sentiments.main(argv) == 1
    assert "1 unit(s) failed" in capsys.readouterr().err
    assert (small_project_scripted / "sentiments" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").is_file()
    assert not (small_project_scripted / "sentiments" / "ghost").exists()


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
    write_config(small_project, models, iterations=1, num_tokens_to_predict=24)
    argv = ["--config", str(small_project / "config.yaml"), "-c", "NVDA", "--offline", "-q"]
    assert generate_model_sentiments.main(argv) == 1
    assert (small_project / "sentiments" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").is_file()
    assert not (small_project / "sentiments" / "ghost").exists()
