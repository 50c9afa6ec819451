"""The labelling teacher as an OpenAI-compatible server: llama-cpp-python's real server on
loopback (tests/conftest.py::smollm2_server) labels a snapshot that becomes a training dataset."""

from __future__ import annotations

import json

import pytest

import training.__main__ as training_cli
from tests.helpers import write_config, write_snapshot
from tests.training.helpers import write_training_config
from training.config import load_training_config
from training.labelling import label_articles
from utils.backends.openai_chat import RequestLimits
from utils.errors import DatasetError
from utils.run.journal import journal_path
from utils.run.results import load_result

pytestmark = pytest.mark.slow  # a server process and a model

TEACHER = "teacher-server"


@pytest.fixture(autouse=True)
def _fresh_limits():
    RequestLimits.reset_all()  # each test is its own command


def _training_config(tmp_path, server, **keys) -> tuple:
    teacher = {"name": TEACHER, "backend": "openai", "base_url": server.url, "model": "smollm2",
               "extra_body": {"repeat_penalty": 1.0}, "max_retries": 1, **keys}
    harness = write_config(tmp_path, [teacher], default_temperature=0.0)
    snapshot = write_snapshot(tmp_path, count=3)
    dataset = {"articles": {"snapshots": [str(snapshot)], "labeller_config": str(harness), "labeller": TEACHER,
                            "retries": 0}}
    path = write_training_config(tmp_path, None, dataset=dataset)
    return path, load_training_config(path)


def test_a_served_labeller_labels_a_snapshot_into_a_training_dataset(tmp_path, smollm2_server, capsys):
    path, config = _training_config(tmp_path, smollm2_server)
    assert training_cli.main(["dataset", "--config", str(path), "-q"]) == 0
    assert "dataset:" in capsys.readouterr().out
    stats = json.loads((config.data_dir / "stats.json").read_text())
    assert stats["articles_labelled"] >= 1 and stats["articles_labelled"] + stats["articles_dropped"] == 3
    records = [json.loads(line) for name in ("train", "validation", "test")
               for line in (config.data_dir / f"{name}.jsonl").read_text().splitlines()]
    assert len(records) == stats["articles_labelled"] and all(r["agreement"] == "articles" for r in records)
    labels = load_result(config.labels_dir / TEACHER / "NVDA-labels_0.json")
    assert labels.backend == "openai" and labels.provenance["base_url"] == smollm2_server.url
    split = json.loads((config.data_dir / "splits.json").read_text())
    assert split["sources"]["articles"]["labeller"] == TEACHER


def test_a_spent_request_budget_stops_labelling_and_the_next_command_continues(tmp_path, smollm2_server):
    _, config = _training_config(tmp_path, smollm2_server, max_requests=2)  # the warm-up and one article
    with pytest.raises(DatasetError, match=r"request budget of 2 requests spent.*finished answers are kept"):
        label_articles(config)
    journal = journal_path(config.labels_dir / TEACHER / "NVDA-labels_0.json")
    first = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    first = {line["key"]: line["answer"] for line in first if "key" in line}
    assert len(first) == 1

    RequestLimits.reset_all()  # the next command
    _, config = _training_config(tmp_path, smollm2_server, max_requests=4)  # the warm-up and the two left
    label_articles(config)
    labels = load_result(config.labels_dir / TEACHER / "NVDA-labels_0.json")
    assert len(labels.sentiments) == 3 and not journal.exists()
    (key, answer), = first.items()
    assert labels.sentiments[key].time_taken == answer["time_taken"]  # kept, not asked again
