"""The Summary says which article snapshot each model read, and flags a comparison of models that read different ones."""

from __future__ import annotations

import json
import logging

from tests.helpers import summary_by_model, write_model_results

SCORES = [[0.5, 0.4, 0.5], [-0.2, -0.1, -0.3], [0.1, 0.0, 0.2], [0.7, 0.6, 0.8], [0.3, 0.2, 0.3]]


def _read_snapshot(folder, snapshot_id):
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["source"] = {"kind": "news", "ticker": "NVDA", "snapshot_id": snapshot_id}
        path.write_text(json.dumps(data), encoding="utf-8")


def test_summary_names_the_snapshot_each_model_read(tmp_path, caplog):
    _read_snapshot(write_model_results(tmp_path, "alpha", SCORES), "NVDA/2026-11-20T090000Z.json")
    _read_snapshot(write_model_results(tmp_path, "beta", SCORES), "NVDA/2026-11-24T093012Z.json")
    with caplog.at_level(logging.WARNING):
        summary = summary_by_model(tmp_path)
    assert summary.loc["alpha", "Snapshot"] == "NVDA/2026-11-20T090000Z.json"
    assert summary.loc["beta", "Snapshot"] == "NVDA/2026-11-24T093012Z.json"
    assert "did not all read the same article snapshot" in summary.loc["alpha", "Notes"]
    assert any("NVDA" in r.getMessage() and "snapshot" in r.getMessage() for r in caplog.records)


def test_one_shared_snapshot_gives_no_note(tmp_path):
    for model in ("alpha", "beta"):
        _read_snapshot(write_model_results(tmp_path, model, SCORES), "NVDA/2026-11-24T093012Z.json")
    summary = summary_by_model(tmp_path)
    assert set(summary["Snapshot"]) == {"NVDA/2026-11-24T093012Z.json"}
    assert not any("snapshot" in str(note) for note in summary["Notes"])


def test_files_of_the_original_tool_record_no_snapshot(tmp_path):
    write_model_results(tmp_path, "alpha", SCORES, bare=True)
    assert summary_by_model(tmp_path).loc["alpha", "Snapshot"] is None
