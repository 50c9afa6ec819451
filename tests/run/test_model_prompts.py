"""A prompt set per model: a models_to_test entry's messages_folder overrides the global one.

It is what the model is asked with, it is recorded in the result files and it is part of the
settings fingerprint only when set, so results written before the key existed stay current.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config, write_snapshot
from utils.config import load_config
from utils.errors import ConfigError
from utils.run.pipeline import RunOptions, run_news
from utils.run.results import load_result

TRAINING_PROMPTS = PROJECT / "training" / "prompts"


def _system(folder) -> str:
    return (folder / "system_message.txt").read_text(encoding="utf-8").strip()


@pytest.fixture
def project(tmp_path):
    write_snapshot(tmp_path, count=2)
    return tmp_path


def run(folder, models):
    config = load_config(write_config(folder, models, iterations=1))
    return run_news(config, ["NVDA"], RunOptions(print_summary=False), offline=True)


def test_each_model_is_asked_with_its_own_prompt_set(project, scripted_backend):
    tuned = dict(SMOLLM2, name="tuned", prompt_mode="zero_shot", messages_folder=str(TRAINING_PROMPTS))
    assert run(project, [SMOLLM2, tuned]).exit_code == 0
    systems = {name: messages[0]["content"] for name, messages, _ in scripted_backend.calls}
    assert systems == {SMOLLM2["name"]: _system(PROJECT / "messages"), "tuned": _system(TRAINING_PROMPTS)}
    own = load_result(project / "sentiments" / "tuned" / "NVDA_0.json").settings
    default = load_result(project / "sentiments" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").settings
    assert own["messages_folder"] == own["prompt_set"] == str(TRAINING_PROMPTS)
    assert default["messages_folder"] is None and default["prompt_set"] == str(PROJECT / "messages")


def test_a_relative_messages_folder_is_read_from_the_config_folder(project):
    shutil.copytree(TRAINING_PROMPTS, project / "mine")
    config = load_config(write_config(project, [dict(SMOLLM2, messages_folder="mine")]))
    assert config.models_to_test[0].messages_folder == project / "mine"


def test_a_changed_prompt_set_makes_the_results_stale(project, scripted_backend):
    copy = project / "prompts"
    shutil.copytree(TRAINING_PROMPTS, copy)
    tuned = dict(SMOLLM2, name="tuned", prompt_mode="zero_shot", messages_folder=str(copy))
    run(project, [tuned])
    scripted_backend.calls.clear()
    assert run(project, [tuned]).exit_code == 0 and scripted_backend.calls == []  # current: skipped
    (copy / "system_message.txt").write_text("Answer in JSON only.\n", encoding="utf-8")
    outcome = run(project, [tuned])
    assert len(scripted_backend.calls) == 2
    assert "prompt_fingerprint" in outcome.summaries["NVDA"].outcomes[0].note
    # The same texts in another folder (a moved checkout) leave the results current.
    moved = project / "moved"
    shutil.copytree(copy, moved)
    scripted_backend.calls.clear()
    outcome = run(project, [dict(tuned, messages_folder=str(moved))])
    assert scripted_backend.calls == [] and outcome.summaries["NVDA"].outcomes[0].status == "skipped"


def test_without_a_prompt_set_files_written_before_the_key_existed_stay_current(project, scripted_backend):
    run(project, [SMOLLM2])
    path = project / "sentiments" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("messages_folder", "prompt_set"):  # what a file of the earlier harness lacks
        del data["settings"][key]
    path.write_text(json.dumps(data), encoding="utf-8")
    scripted_backend.calls.clear()
    outcome = run(project, [SMOLLM2])
    assert scripted_backend.calls == [] and outcome.summaries["NVDA"].outcomes[0].status == "skipped"


def test_a_missing_prompt_set_is_a_config_error_naming_the_file(project, scripted_backend):
    with pytest.raises(ConfigError, match="nowhere/system_message.txt"):
        run(project, [dict(SMOLLM2, messages_folder=str(project / "nowhere"))])
