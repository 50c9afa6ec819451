"""Long runs with the real SmolLM2 model: kill -9 and resume, and --workers processes.

Both compare against an uninterrupted sequential run of the same command: the files
must have the same keys and fields (times differ, answers may differ in the last float
bits where llama.cpp evaluates a prompt in other batch splits).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config, write_snapshot
from utils.run.journal import journal_path

import generate_model_sentiments

pytestmark = pytest.mark.slow  # the real SmolLM2, a killed subprocess, worker processes

ARTICLES = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scale")
    write_snapshot(folder, count=ARTICLES)
    write_config(folder, [SMOLLM2], iterations=1, num_tokens_to_predict=48)
    return folder


def argv(project: Path, out: str, *extra: str) -> list[str]:
    return ["--config", str(project / "config.yaml"), "-c", "NVDA", "--offline", "-q",
            "--output-dir", str(project / out), *extra]


@pytest.fixture(scope="module")
def sequential(project) -> dict:
    """The reference: one uninterrupted sequential run."""
    assert generate_model_sentiments.main(argv(project, "sequential")) == 0
    return json.loads((project / "sequential" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").read_text())


def same_shape(a: dict, b: dict) -> None:
    assert list(a) == list(b) and list(a["sentiments"]) == list(b["sentiments"])
    for key in a["sentiments"]:
        assert list(a["sentiments"][key]) == list(b["sentiments"][key])
    assert a["settings"] == b["settings"]


def test_kill_9_mid_unit_loses_no_finished_answer(project, sequential, capsys):
    result = project / "killed" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json"
    journal = journal_path(result)
    proc = subprocess.Popen([sys.executable, str(PROJECT / "generate_model_sentiments.py"), *argv(project, "killed")],
                            cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.is_file() and journal.read_text().count('"key"') >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [json.loads(line) for line in journal.read_text().splitlines() if line.strip().endswith("}")]
    before = {line["key"]: line["answer"] for line in lines if "key" in line}
    assert 1 <= len(before) < ARTICLES and not result.exists()

    assert generate_model_sentiments.main(argv(project, "killed")) == 0
    table = capsys.readouterr().out
    assert f"{len(before):>7}" in table.splitlines()[1][-7:]  # the resumed column: nothing finished was redone
    resumed = json.loads(result.read_text())
    same_shape(resumed, sequential)
    for key, answer in before.items():
        assert resumed["sentiments"][key] == answer
    assert not journal.exists()


def test_two_workers_write_the_same_files_as_one_process(project, sequential):
    assert generate_model_sentiments.main(argv(project, "workers", "--workers", "2")) == 0
    parallel = json.loads((project / "workers" / "smollm2-135m-instruct_q4_1" / "NVDA_0.json").read_text())
    same_shape(parallel, sequential)
    assert parallel["provenance"]["n_threads"] == max(1, (os.cpu_count() or 1) // 2)
    for key, item in parallel["sentiments"].items():
        assert item["valid"] == sequential["sentiments"][key]["valid"]
        assert item["prompt_tokens"] == sequential["sentiments"][key]["prompt_tokens"]
