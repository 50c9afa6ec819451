"""Any OpenAI-compatible chat-completions server: llama-server, LM Studio, mlx_lm.server,
vLLM, Ollama's ``/v1``, llama-cpp-python's server, or a hosted API.

Plain HTTP through ``requests``: the request body is exactly what the tests record, a
server's own extensions (llama-server's ``timings``) are read where they are given, and
every attempt goes through one place that counts it against the request budget and the
rate limit. Transient failures (429, 5xx, refused or dropped connections) are retried
with a doubling backoff that honours ``Retry-After`` and the ``x-ratelimit-*`` headers; a
slow answer is not retried (it would only load the server twice).

The model's identity, part of the settings fingerprint, is what the server says about
the model before any answer is asked for: the base URL, the model's entry in ``GET
/models`` and any version header. A hosted alias (``gpt-4o``) can move to a new snapshot
without its ``/models`` entry changing, so pin a dated model id there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import Any

from utils.backends.base import Completion, Message, Sampling, ServerBackend
from utils.backends.ollama_chat import _MAX_BYTES_PER_TOKEN, prompt_bytes
from utils.errors import BackendUnavailable, HarnessError, ModelNotFound, PromptTooLong

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_S = 1.0  # the first retry's wait; doubles each retry
CONNECT_TIMEOUT_S = 10.0
# /models entry fields that identify the served weights; others (created, status) change
# while the same model is served.
_IDENTITY_FIELDS = ("id", "object", "owned_by", "root", "parent", "meta")
# Headers that name the server's software or API version.
_VERSION_HEADER = re.compile(r"version", re.IGNORECASE)
# Context overflow as OpenAI, vLLM and llama-cpp-python's server word it.
_CONTEXT_LIMIT = re.compile(
    r"maximum context length is (\d+) tokens.*?(?:requested|resulted in) (\d+) tokens"
    r"(?: \((\d+) in the messages)?", re.IGNORECASE | re.DOTALL)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def _seconds_of(value: str | None) -> float | None:
    """Seconds in an x-ratelimit-reset-* value such as '1s', '6m0s' or '20ms'."""
    if not value:
        return None
    parts = _DURATION_PART.findall(value.strip())
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


def rate_limit_wait(headers: Any) -> float | None:
    """Seconds the server asks to wait before the next request, from ``retry-after-ms`` or the
    ``x-ratelimit-*`` headers (OpenAI's); None when it asks for nothing. (``Retry-After`` itself
    is read by utils/retry.py::retry_delay, as for the news fetcher.)"""
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    resets = [_seconds_of(headers.get(f"x-ratelimit-reset-{kind}")) for kind in ("requests", "tokens")
              if headers.get(f"x-ratelimit-remaining-{kind}") == "0"]
    waits = [w for w in resets if w is not None]
    return max(waits) if waits else None


def error_message(response: Any) -> str:
    """The server's own words for an error: OpenAI's ``error.message`` and the variants of
    vLLM, FastAPI and llama-server, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300] or response.reason or "no message"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for value in (error, body.get("message"), body.get("detail")):
            if isinstance(value, str) and value:
                return value
    return json.dumps(body)[:300]


def context_overflow(response: Any, message: str) -> tuple[int, int] | None:
    """(prompt tokens, context tokens) when a 400 says the prompt does not fit."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("n_prompt_tokens"), int) and isinstance(error.get("n_ctx"), int):
        return error["n_prompt_tokens"], error["n_ctx"]  # llama-server's exceed_context_size_error
    found = _CONTEXT_LIMIT.search(message)
    if found:
        return int(found[3] or found[2]), int(found[1])
    return None


class RequestLimits:
    """The request budget and rate limit of one configured model, shared by every backend
    instance of it in this process: a command's iterations, a labelling run's passes, the
    threads of ``parallel``. (``--workers N`` processes count each their own.)"""

    _shared: dict[str, "RequestLimits"] = {}
    _shared_lock = threading.Lock()

    def __init__(self, max_requests: int | None, per_minute: float | None) -> None:
        self.max_requests = max_requests
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.sent = 0
        self._next_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, key: str, max_requests: int | None, per_minute: float | None) -> "RequestLimits":
        with cls._shared_lock:
            limits = cls._shared.get(key)
            if limits is None or (limits.max_requests, limits.interval) != (
                    max_requests, 60.0 / per_minute if per_minute else 0.0):
                limits = cls._shared[key] = cls(max_requests, per_minute)
            return limits

    @classmethod
    def reset_all(cls) -> None:
        """Forget every budget and rate (a process that runs several commands, such as the tests)."""
        with cls._shared_lock:
            cls._shared.clear()

    def acquire(self) -> bool:
        """Wait for this request's turn; False when the budget is spent."""
        with self._lock:
            if self.max_requests is not None and self.sent >= self.max_requests:
                return False
            self.sent += 1
            start = max(time.monotonic(), self._next_at)
            self._next_at = start + self.interval
        delay = start - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True

    def hold_off(self, seconds: float) -> None:
        """No request starts for ``seconds`` (the server said its limit is reached)."""
        with self._lock:
            self._next_at = max(self._next_at, time.monotonic() + seconds)


class OpenAIChatBackend(ServerBackend):
    name = "openai"

    def __init__(self, spec, config) -> None:
        super().__init__(spec, config)
        self.base_url = (spec.base_url or "").rstrip("/")
        self.limits = RequestLimits.of(spec.name, spec.max_requests, spec.requests_per_minute)
        self._session: Any = None
        self._entry: dict[str, Any] | None = None
        self._headers: dict[str, str] = {}
        self._served: dict[str, Any] = {}  # what the answers say: model, system_fingerprint
        self._served_lock = threading.Lock()

    # --- HTTP ---------------------------------------------------------------------

    def _fail(self, reason: str, hint: str = "") -> BackendUnavailable:
        return BackendUnavailable(self.name, f"{self.spec.model} at {self.base_url}", reason, hint)

    def _auth(self) -> dict[str, str]:
        variable = self.spec.api_key_env
        if not variable:
            return {}
        key = os.environ.get(variable)
        if not key:
            raise self._fail(f"the environment variable {variable} (api_key_env) is not set",
                             f"export {variable}=<your API key>")
        return {"Authorization": f"Bearer {key}"}

    def _client(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers.update({"Accept": "application/json", **self._auth()})
        return self._session

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 timeout_s: float | None = None) -> tuple[Any, int, float]:
        """The server's response to the last attempt, the attempts made and the seconds the
        last one took. Chat requests (with a body) count against the budget and rate limit."""
        import requests

        url = f"{self.base_url}{path}"
        attempts = self.spec.max_retries + 1
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            if body is not None and not self.limits.acquire():
                raise self._fail(f"request budget of {self.spec.max_requests} requests spent (max_requests)",
                                 "rerun to continue: finished answers are kept")
            started = time.perf_counter()
            try:
                response = self._client().request(method, url, json=body,
                                                  timeout=(CONNECT_TIMEOUT_S, timeout_s or self.spec.timeout_s))
            except requests.ConnectionError as exc:  # refused, reset, DNS; also a connect timeout
                if last:
                    raise self._fail(f"server unreachable at {url} after {attempts} attempt(s) "
                                     f"({exc.__class__.__name__})", "start the server, or check base_url") from None
                self._back_off(url, attempt, None, exc.__class__.__name__)
                continue
            except requests.Timeout:
                raise self._fail(f"no answer from {url} within {timeout_s or self.spec.timeout_s:.0f} s",
                                 "raise timeout_s for this model") from None
            except requests.RequestException as exc:
                raise self._fail(f"request to {url} failed: {exc.__class__.__name__}: {exc}") from None
            seconds = time.perf_counter() - started
            wait = rate_limit_wait(response.headers)
            if response.status_code < 400 and wait:
                self.limits.hold_off(wait)
            if last or response.status_code not in RETRY_STATUSES:
                return response, attempt + 1, seconds
            if not self._back_off(url, attempt, response, f"HTTP {response.status_code}"):
                return response, attempt + 1, seconds
        raise AssertionError("the last attempt always returns or raises")  # pragma: no cover

    def _back_off(self, url: str, attempt: int, response: Any, why: str) -> bool:
        """Sleep before the next attempt; False when the server asks for a longer wait than timeout_s."""
        from utils.retry import retry_delay

        retry_after = response.headers.get("Retry-After") if response is not None else None
        delay = retry_delay(attempt, BACKOFF_S, retry_after, self.spec.timeout_s, datetime.now(timezone.utc))
        asked = rate_limit_wait(response.headers) if response is not None else None
        if delay is not None and asked is not None:
            delay = None if asked > self.spec.timeout_s else max(delay, asked)
        if delay is None:
            log.warning("%s: %s asks to wait longer than timeout_s (%s s); not retrying", url, why,
                        self.spec.timeout_s)
            return False
        log.info("%s: %s; retrying in %.1f s", url, why, delay)
        time.sleep(delay)
        return True

    def _refusal(self, response: Any, attempts: int) -> HarnessError:
        """The error for a response that is not a success."""
        status, message = response.status_code, error_message(response)
        said = f"HTTP {status}: {message}"
        if status in (401, 403):
            where = f"${self.spec.api_key_env}" if self.spec.api_key_env else "api_key_env (none is set)"
            return self._fail(f"the server refused the request ({said})", f"check the API key in {where}")
        if status == 404:
            return ModelNotFound(f"{self.base_url} has no model {self.spec.model!r} or no chat endpoint ({said})")
        if status == 429:
            return self._fail(f"rate limited after {attempts} attempt(s) ({said})",
                              "lower requests_per_minute or parallel, or raise max_retries")
        if status >= 500:
            return self._fail(f"server error after {attempts} attempt(s) ({said})")
        return self._fail(f"the server rejected the request ({said})")

    # --- model identity -------------------------------------------------------------

    def _model_entry(self) -> dict[str, Any]:
        """The served model's entry in ``GET /models``; ModelNotFound when it is not served."""
        if self._entry is not None:
            return self._entry
        response, attempts, _ = self._request("GET", "/models", timeout_s=min(30.0, self.spec.timeout_s))
        if response.status_code >= 400:
            error: HarnessError = self._refusal(response, attempts)
            if response.status_code == 404:
                error = self._fail(f"{self.base_url}/models not found (HTTP 404)",
                                   "base_url is the API root, which usually ends in /v1")
            raise error
        try:
            listed = response.json().get("data") or []
            ids = [str(entry.get("id")) for entry in listed]
        except (ValueError, AttributeError, TypeError):
            raise self._fail(f"{self.base_url}/models did not answer with a model list") from None
        if self.spec.model not in ids:
            shown = ", ".join(ids[:20]) + (", ..." if len(ids) > 20 else "")
            raise ModelNotFound(f"{self.base_url} serves no model {self.spec.model!r} (it serves: {shown or 'none'})")
        entry = listed[ids.index(self.spec.model)]
        self._headers = {name.lower(): value for name, value in response.headers.items()
                         if name.lower() == "server" or _VERSION_HEADER.search(name)}
        self._entry = {key: entry[key] for key in _IDENTITY_FIELDS if key in entry}
        return self._entry

    def identity(self) -> str | None:
        """Base URL, /models entry and version headers, hashed: another served model is another id."""
        entry = self._model_entry()
        text = json.dumps({"base_url": self.base_url, "entry": entry, "headers": self._headers}, sort_keys=True)
        return "openai:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def load(self) -> None:
        self._model_entry()

    # --- answers ------------------------------------------------------------------

    def request_body(self, messages: list[Message], sampling: Sampling) -> dict[str, Any]:
        """The chat-completions request for one conversation."""
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
            "stream": False,
        }
        if self.spec.stop:
            body["stop"] = list(self.spec.stop)
        if sampling.json_schema is not None and self.spec.response_format == "json_object":
            body["response_format"] = {"type": "json_object", "schema": sampling.json_schema}
        elif sampling.json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "sentiment_answer", "schema": sampling.json_schema, "strict": True}}
        body.update(self.spec.extra_body)
        return body

    def chat(self, messages: list[Message], sampling: Sampling) -> Completion:
        if self._entry is None:
            raise self._fail("model not loaded")
        started = time.perf_counter()
        response, attempts, seconds = self._request("POST", "/chat/completions", self.request_body(messages, sampling))
        if response.status_code >= 400:
            overflow = context_overflow(response, error_message(response)) if response.status_code == 400 else None
            if overflow:  # the run cuts the article and asks again (utils/run/fit.py)
                raise PromptTooLong(self.name, f"{self.spec.model} at {self.base_url}", *overflow)
            error = self._refusal(response, attempts)
            if sampling.json_schema is not None and response.status_code in (400, 422):
                other = "json_object" if self.spec.response_format == "json_schema" else "json_schema"
                raise self._fail(f"the server rejected the request with response_format "
                                 f"{self.spec.response_format} (HTTP {response.status_code}: {error_message(response)})",
                                 f"try response_format: {other}, or run without constrained decoding") from None
            raise error
        try:
            data = response.json()
            choice = data["choices"][0]
            text = (choice.get("message") or {}).get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise self._fail(f"the answer is not a chat completion: {response.text[:200]!r}") from None
        self._note_served(data)
        return self._completion(data, choice, text, messages, seconds, attempts, time.perf_counter() - started)

    def _completion(self, data: dict[str, Any], choice: dict[str, Any], text: str, messages: list[Message],
                    seconds: float, attempts: int, total_seconds: float) -> Completion:
        usage = data.get("usage") or {}
        timings = data.get("timings") or {}  # llama-server's own
        prompt_tokens = usage.get("prompt_tokens")
        cached = timings.get("cache_n", (usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        extra = {key: timings[key] for key in ("prompt_n", "predicted_n") if key in timings}
        if attempts > 1:
            extra.update(attempts=attempts, seconds_with_retries=round(total_seconds, 3))
        return Completion(
            text=text,
            seconds=seconds,  # the answered attempt's wall time, from request to full response
            prompt_tokens=prompt_tokens,
            completion_tokens=usage.get("completion_tokens"),
            cached_prompt_tokens=cached,
            prompt_seconds=round(timings["prompt_ms"] / 1000, 6) if "prompt_ms" in timings else None,
            eval_seconds=round(timings["predicted_ms"] / 1000, 6) if "predicted_ms" in timings else None,
            finish_reason=choice.get("finish_reason"),
            # Ollama's /v1 also drops a prompt's start silently when it overflows num_ctx.
            prompt_truncated=(prompt_tokens < prompt_bytes(messages) / _MAX_BYTES_PER_TOKEN
                              if isinstance(prompt_tokens, int) else None),
            extra=extra,
        )

    def _note_served(self, data: dict[str, Any]) -> None:
        """Remember the model the answers come from; fail if it changes within a run."""
        reported = {key: data[key] for key in ("model", "system_fingerprint") if data.get(key)}
        with self._served_lock:
            before = self._served.get("model")
            if before and reported.get("model") and reported["model"] != before:
                raise self._fail(f"the server now answers as model {reported['model']!r} "
                                 f"(it answered as {before!r} before)", "a different model is never mixed in")
            self._served.update(reported)

    def provenance(self) -> dict[str, Any]:
        headers = self._headers
        versions = [f"{name} {value}" for name, value in headers.items() if name != "server"]
        software = headers.get("server") or "OpenAI-compatible server"
        return {
            "backend": self.name,
            "backend_version": " ".join([software, *versions]),
            "base_url": self.base_url,
            "model": self.spec.model,
            "served_model": self._served.get("model"),
            "system_fingerprint": self._served.get("system_fingerprint"),
            "model_entry": self._entry,
            "headers": headers,
        }

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
