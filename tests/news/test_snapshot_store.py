"""Dated snapshots on disk: names, the latest pointer, --snapshot choices, and the labels
that results and reports use to say which snapshot a model read."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.helpers import PROJECT, write_model_results
from utils.errors import ArticlesError
from utils.items import snapshot_label, snapshot_mismatch
from utils.news.snapshot_store import (
    LATEST_FILE,
    dated_snapshots,
    latest_snapshot,
    legacy_path,
    new_snapshot_path,
    point_latest,
    select_snapshot,
    snapshot_id,
)
from utils.reports.results_table import load_results_frame

WHEN = datetime(2026, 11, 24, 9, 30, 12, tzinfo=timezone.utc)


def make(folder: Path, when: datetime = WHEN) -> Path:
    path = new_snapshot_path(folder, "nvda", when)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"made": str(when)}), encoding="utf-8")
    return path


def test_dated_names_sort_by_time_and_never_overwrite(tmp_path) -> None:
    first = make(tmp_path)
    same_second = make(tmp_path)
    later = make(tmp_path, WHEN.replace(hour=15))
    assert first.relative_to(tmp_path).as_posix() == "NVDA/2026-11-24T093012Z.json"
    assert same_second.name == "2026-11-24T093012Z-2.json"
    (tmp_path / "NVDA" / "notes.json").write_text("{}")
    assert dated_snapshots(tmp_path, "NVDA") == [first, same_second, later]


def test_latest_follows_the_pointer_then_the_newest_then_the_flat_sample(tmp_path) -> None:
    assert latest_snapshot(tmp_path, "NVDA") is None
    flat = legacy_path(tmp_path, "NVDA")
    flat.write_text("{}")
    assert latest_snapshot(tmp_path, "NVDA") == flat
    first, later = make(tmp_path), make(tmp_path, WHEN.replace(hour=15))
    assert latest_snapshot(tmp_path, "NVDA") == later  # no pointer yet: the newest
    point_latest(tmp_path, "NVDA", first)
    assert latest_snapshot(tmp_path, "NVDA") == first
    pointer = json.loads((tmp_path / "NVDA" / LATEST_FILE).read_text())
    assert pointer["snapshot"] == first.name and len(pointer["sha256"]) == 64


def test_a_pointer_to_a_missing_file_warns_and_uses_the_newest(tmp_path, caplog) -> None:
    later = make(tmp_path, WHEN.replace(hour=15))
    (tmp_path / "NVDA" / LATEST_FILE).write_text(json.dumps({"snapshot": "gone.json"}))
    with caplog.at_level(logging.WARNING):
        assert latest_snapshot(tmp_path, "NVDA") == later
    assert "gone.json, which is missing" in caplog.text


@pytest.mark.parametrize(
    "choice, expected",
    [("2026-11-24", "later"), ("2026-11-24T0930", "second"), ("2026-11-24T09:30:12Z", "second"),
     ("2026-11-24T093012Z", "first"), ("2026-11-24T093012Z-2", "second"), ("2026-11-24T15", "later")],
)
def test_snapshot_chosen_by_name_or_date_or_time_prefix(tmp_path, choice, expected) -> None:
    made = {"first": make(tmp_path), "second": make(tmp_path), "later": make(tmp_path, WHEN.replace(hour=15))}
    assert select_snapshot(tmp_path, "NVDA", choice) == made[expected]


def test_snapshot_chosen_by_path_and_the_errors(tmp_path) -> None:
    first = make(tmp_path)
    assert select_snapshot(tmp_path, "NVDA", str(first)) == first
    with pytest.raises(ArticlesError, match="no such snapshot file"):
        select_snapshot(tmp_path, "NVDA", str(tmp_path / "nope.json"))
    with pytest.raises(ArticlesError, match=r"no snapshot of NVDA matches .*2026-11-24T093012Z"):
        select_snapshot(tmp_path, "NVDA", "2025-01-01")


def test_shipped_samples_stay_readable_where_they_are() -> None:
    folder = PROJECT / "data" / "articles"
    for ticker in ("NVDA", "MSFT", "AAPL", "TSLA"):
        path = latest_snapshot(folder, ticker)
        assert path == folder / f"{ticker}.json"
        assert snapshot_id(folder, path) == f"{ticker}.json"


def test_snapshot_label_and_mismatch() -> None:
    assert snapshot_label({"kind": "news", "snapshot": "/x/NVDA.json", "snapshot_id": "NVDA.json"}) == "NVDA.json"
    assert snapshot_label({"kind": "news", "snapshot": "/x/NVDA.json"}) == "/x/NVDA.json"
    assert snapshot_label({"kind": "dataset", "path": "/d.csv"}) is None and snapshot_label({}) is None
    same = {"a": ["NVDA/1.json", "NVDA/1.json"], "b": ["NVDA/1.json"], "old": [None]}
    assert snapshot_mismatch("NVDA", same) is None
    warning = snapshot_mismatch("NVDA", {"a": ["NVDA/1.json"], "b": ["NVDA/2.json"]})
    assert warning.startswith("NVDA: the models did not all read the same article snapshot")
    assert "a: NVDA/1.json; b: NVDA/2.json" in warning and "--snapshot" in warning


def with_source(folder, snapshot: str) -> None:
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        data["source"] = {"kind": "news", "snapshot": f"/data/{snapshot}", "snapshot_id": snapshot}
        path.write_text(json.dumps(data))


def test_results_table_warns_when_models_read_different_snapshots(tmp_path, caplog) -> None:
    with_source(write_model_results(tmp_path, "a", [[0.1, 0.2]]), "NVDA/2026-11-24T093012Z.json")
    with_source(write_model_results(tmp_path, "b", [[0.3, 0.4]]), "NVDA/2026-11-25T080000Z.json")
    with caplog.at_level(logging.WARNING, logger="utils.reports.results_table"):
        loaded = load_results_frame(tmp_path)
    assert loaded.snapshots == {("NVDA", "a"): {"NVDA/2026-11-24T093012Z.json"},
                                ("NVDA", "b"): {"NVDA/2026-11-25T080000Z.json"}}
    assert "did not all read the same article snapshot" in caplog.text
    assert loaded.problems == []  # a warning, not a broken input


def test_results_table_is_quiet_when_all_read_one_snapshot(tmp_path, caplog) -> None:
    for model in ("a", "b"):
        with_source(write_model_results(tmp_path, model, [[0.1, 0.2]]), "NVDA/2026-11-24T093012Z.json")
    with caplog.at_level(logging.WARNING):
        load_results_frame(tmp_path)
    assert "snapshot" not in caplog.text
