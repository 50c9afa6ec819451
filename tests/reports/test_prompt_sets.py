"""The Summary says which prompt set each model was asked with (settings.prompt_set of its files)."""

from __future__ import annotations

import json

import pandas as pd

from tests.helpers import summary_by_model, write_model_results

SCORES = [[0.5, 0.4], [-0.2, -0.1], [0.1, 0.0], [0.7, 0.6]]


def _record(folder, **settings):
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("settings", {}).update(settings)
        path.write_text(json.dumps(data), encoding="utf-8")


def test_summary_names_each_models_prompt_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _record(write_model_results(tmp_path, "base", SCORES), prompt_set=str(tmp_path / "messages"))
    _record(write_model_results(tmp_path, "tuned", SCORES), prompt_set=str(tmp_path / "training" / "prompts"),
            messages_folder=str(tmp_path / "training" / "prompts"))
    _record(write_model_results(tmp_path, "elsewhere", SCORES), prompt_set="/opt/prompts")
    write_model_results(tmp_path, "old", SCORES)  # written before prompt sets were recorded
    summary = summary_by_model(tmp_path)
    assert list(summary.columns[:5]) == ["Rank", "Family", "Quantization", "Prompt Mode", "Prompt Set"]
    assert summary.loc["base", "Prompt Set"] == "messages"
    assert summary.loc["tuned", "Prompt Set"] == "training/prompts"
    assert summary.loc["elsewhere", "Prompt Set"] == "/opt/prompts"
    assert pd.isna(summary.loc["old", "Prompt Set"])
