"""Ollama backend against Ollama's documented HTTP wire format.

No Ollama server can be installed on the machines this project is built on, so these
are CONTRACT tests: a loopback HTTP server that speaks the documented /api/chat,
/api/show, /api/tags and /api/version exchanges (as in Ollama's docs/api.md) stands in
for the server, and the real ``ollama`` client and our backend talk to it over HTTP.
``test_real_server`` runs against a real Ollama only where OLLAMA_HOST answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.helpers import PROJECT, real_ollama_host, write_config, write_snapshot
from utils.run.results import load_result

import generate_model_sentiments

ANSWER = '{"sentiment": -0.3, "confidence": 0.7, "reasoning": "Guidance was cut."}'
PULLED = {"llama3:8b-instruct-q4_K_M": "sha256:1f2e3d", "mistral:7b-instruct-q4_K_M": "sha256:9a8b7c"}


@dataclass
class Wire:
    """One fake server's state: what it was sent, and how it behaves (each test gets its own)."""

    pulled: dict[str, str] = field(default_factory=lambda: dict(PULLED))  # tag -> digest
    chats: list[dict] = field(default_factory=list)
    prompt_eval_count: int | None = 1500
    delay_s: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeOllama(BaseHTTPRequestHandler):
    server: "WireServer"

    @property
    def wire(self) -> Wire:
        return self.server.wire

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the client gave up first (the timeout test)
            pass

    def do_GET(self):
        if self.path == "/api/version":
            return self._reply(200, {"version": "0.13.1"})
        if self.path == "/api/tags":
            return self._reply(200, {"models": [
                {"name": tag, "model": tag, "modified_at": "2026-11-01T10:00:00Z", "size": 4_920_000_000,
                 "digest": digest, "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B",
                                               "quantization_level": "Q4_K_M"}}
                for tag, digest in self.wire.pulled.items()]})
        return self._reply(404, {"error": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/show":
            if body["model"] not in self.wire.pulled:
                return self._reply(404, {"error": f"model '{body['model']}' not found"})
            return self._reply(200, {"modelfile": "FROM x", "parameters": "", "template": "{{ .Prompt }}",
                                     "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B",
                                                 "quantization_level": "Q4_K_M"},
                                     "model_info": {"llama.context_length": 8192}})
        if self.path == "/api/chat":
            return self._chat(body)
        return self._reply(404, {"error": "not found"})

    def _chat(self, body: dict) -> None:
        wire = self.wire
        with wire.lock:
            wire.chats.append(body)
            wire.in_flight += 1
            wire.most_in_flight = max(wire.most_in_flight, wire.in_flight)
        try:
            time.sleep(wire.delay_s)
        finally:
            with wire.lock:
                wire.in_flight -= 1
        self._reply(200, {
                "model": body["model"], "created_at": "2026-11-23T10:00:00Z",
                "message": {"role": "assistant", "content": ANSWER}, "done": True, "done_reason": "stop",
                "total_duration": 2_500_000_000, "load_duration": 1_000_000, "prompt_eval_count": wire.prompt_eval_count,
            "prompt_eval_duration": 400_000_000, "eval_count": 25, "eval_duration": 2_000_000_000})


class WireServer(ThreadingHTTPServer):
    def __init__(self, wire: Wire) -> None:
        super().__init__(("127.0.0.1", 0), FakeOllama)
        self.wire = wire


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def server(wire):
    """The fake server's URL; what it was sent is in ``wire``."""
    httpd = WireServer(wire)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def run(tmp_path, host, models, **overrides) -> int:
    write_snapshot(tmp_path, count=2)
    write_config(tmp_path, models, ollama_host=host, iterations=2, **overrides)
    return generate_model_sentiments.main(["--config", str(tmp_path / "config.yaml"), "-c", "NVDA", "--offline", "-q"])


def test_chat_requests_follow_the_wire_format(tmp_path, server, wire):
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"]) == 0
    warm_up, *calls = wire.chats
    assert len(calls) == 4
    for index, body in enumerate(calls):
        assert body["model"] == "llama3:8b-instruct-q4_K_M" and body["stream"] is False
        assert body["keep_alive"] == "30m"
        assert body["options"] == {"temperature": 0.2, "num_ctx": 4096, "num_predict": 160,
                                   "seed": 42 + index // 2, "repeat_penalty": 1.0}
        assert [m["role"] for m in body["messages"]] == ["system"] + ["user", "assistant"] * 5 + ["user"]
        assert "format" not in body or body["format"] is None
    result = load_result(tmp_path / "sentiments" / "llama3_8b-instruct-q4_K_M" / "NVDA_1.json")
    item = next(iter(result.sentiments.values()))
    assert (item.valid, item.sentiment, item.prompt_tokens, item.completion_tokens) == (True, -0.3, 1500, 25)
    assert item.prompt_truncated is False
    # The server's own durations (nanoseconds on the wire) are kept per answer, in seconds.
    assert (item.prompt_seconds, item.eval_seconds) == (0.4, 2.0)
    assert item.backend_extra == {"server_seconds": 2.5, "load_seconds": 0.001}
    assert result.settings["model_id"] == "ollama:sha256:1f2e3d"
    assert result.provenance["backend_version"] == "ollama server 0.13.1"
    assert result.provenance["digest"] == "sha256:1f2e3d" and result.provenance["host"] == server


def test_a_new_digest_for_the_same_tag_redoes_the_units(tmp_path, server, wire, capsys):
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"]) == 0
    wire.chats.clear()
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"]) == 0
    assert wire.chats == []  # same digest: nothing to do
    wire.pulled["llama3:8b-instruct-q4_K_M"] = "sha256:aaaa01"  # ollama pull fetched a new build
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"]) == 0
    assert len(wire.chats) == 5
    assert "model_id" in capsys.readouterr().out


def test_constrained_decoding_sends_the_schema_as_format(tmp_path, server, wire):
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"], constrained_decoding=True) == 0
    schema = wire.chats[-1]["format"]
    assert schema["required"] == ["sentiment", "confidence", "reasoning"]
    result = load_result(tmp_path / "sentiments" / "llama3_8b-instruct-q4_K_M" / "NVDA_0.json")
    assert result.settings["decoding"] == "json_schema"


def test_model_not_pulled_is_reported_and_the_next_model_runs(tmp_path, server, capsys):
    assert run(tmp_path, server, ["phi3:mini", "mistral:7b-instruct-q4_K_M"]) == 1
    err = capsys.readouterr().err
    assert "ollama pull phi3:mini" in err and server in err
    assert (tmp_path / "sentiments" / "mistral_7b-instruct-q4_K_M" / "NVDA_1.json").is_file()


def test_unreachable_server_names_host_and_model(tmp_path, capsys):
    host = closed_port()
    assert run(tmp_path, host, ["llama3:8b-instruct-q4_K_M"]) == 1
    err = capsys.readouterr().err
    assert f"llama3:8b-instruct-q4_K_M at {host}" in err and "unreachable" in err


def test_silently_truncated_prompt_is_flagged(tmp_path, server, wire):
    wire.prompt_eval_count = 40
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"]) == 0
    result = load_result(tmp_path / "sentiments" / "llama3_8b-instruct-q4_K_M" / "NVDA_0.json")
    assert all(item.prompt_truncated for item in result.sentiments.values())


def test_timeout_is_reported_with_a_hint(tmp_path, server, wire, capsys):
    wire.delay_s = 1.5
    assert run(tmp_path, server, ["llama3:8b-instruct-q4_K_M"], ollama_timeout_s=0.5) == 1
    err = capsys.readouterr().err
    assert "no answer within" in err and "ollama_timeout_s" in err


@pytest.mark.slow
@pytest.mark.skipif(real_ollama_host() is None, reason="no real Ollama server answers at OLLAMA_HOST")
def test_real_server(tmp_path):
    host = real_ollama_host()
    tags = [m["name"] for m in httpx.get(f"{host}/api/tags", timeout=5).json().get("models", [])]
    if not tags:
        pytest.skip(f"the Ollama server at {host} has no model pulled")
    write_snapshot(tmp_path, count=1)
    write_config(tmp_path, [tags[0]], ollama_host=host, iterations=1, num_tokens_to_predict=200)
    code = generate_model_sentiments.main(["--config", str(tmp_path / "config.yaml"), "-c", "NVDA", "--offline", "-q"])
    assert code == 0
    (result_file,) = (tmp_path / "sentiments").glob("*/NVDA_0.json")
    item = next(iter(load_result(result_file).sentiments.values()))
    assert item.prompt_tokens and item.completion_tokens


def test_parallel_requests_run_concurrently_and_answers_keep_item_order(tmp_path, server, wire):
    wire.delay_s = 0.3
    write_snapshot(tmp_path, count=3)
    write_config(tmp_path, ["llama3:8b-instruct-q4_K_M"], ollama_host=server, iterations=1, parallel=3)
    code = generate_model_sentiments.main(["--config", str(tmp_path / "config.yaml"), "-c", "NVDA", "--offline", "-q"])
    assert code == 0 and wire.most_in_flight == 3
    result = load_result(tmp_path / "sentiments" / "llama3_8b-instruct-q4_K_M" / "NVDA_0.json")
    snapshot = json.loads((tmp_path / "articles" / "NVDA.json").read_text())
    assert list(result.sentiments) == [a["key"] for a in snapshot["articles"]]
    asked = {body["messages"][-1]["content"] for body in wire.chats[1:]}
    assert len(asked) == 3


def test_a_model_with_its_own_prompt_set_sends_that_system_message(tmp_path, server, wire):
    """A models_to_test entry's messages_folder is what Ollama is sent (not the global one):
    the system message of that set, zero-shot, overriding nothing the Modelfile would not."""
    entry = {"name": "tuned", "backend": "ollama", "ollama_model": "llama3:8b-instruct-q4_K_M",
             "prompt_mode": "zero_shot", "messages_folder": str(PROJECT / "training" / "prompts")}
    assert run(tmp_path, server, [entry]) == 0
    own = (PROJECT / "training" / "prompts" / "system_message.txt").read_text(encoding="utf-8").strip()
    for body in wire.chats:
        assert body["messages"][0] == {"role": "system", "content": own}
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
    result = load_result(tmp_path / "sentiments" / "tuned" / "NVDA_0.json")
    assert result.settings["messages_folder"] == str(PROJECT / "training" / "prompts")
