"""Fixtures shared by every test folder (helpers the tests import live in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from pytest_httpserver import HTTPServer

from tests import scripted
from tests.helpers import GEMMA, SMOLLM2, write_config, write_model_results, write_snapshot

# Fixtures that load a real model (or train): a test using one is marked slow (pyproject.toml declares the
# marker; the inner loop is ``python -m pytest -m "not slow"``). Tests that are slow for another
# reason carry @pytest.mark.slow, or a module-level pytestmark, themselves.
SLOW_FIXTURES = frozenset({"smollm2_backend", "gemma_backend", "smollm2_vocab", "small_project", "chain"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def write_results() -> Callable[..., Path]:
    """The :func:`tests.helpers.write_model_results` helper, for tests that build result trees."""
    return write_model_results


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A folder with a config for SmolLM2 and three NVDA articles."""
    write_snapshot(tmp_path)
    write_config(tmp_path, [SMOLLM2])
    return tmp_path


@pytest.fixture(scope="module")
def server():
    """A loopback HTTP server (real HTTP on 127.0.0.1) for the news and Ollama tests."""
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture
def loopback(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    """The server, cleared of earlier expectations, with proxies bypassed for loopback."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server.clear()
    return server


@pytest.fixture
def scripted_backend(monkeypatch: pytest.MonkeyPatch) -> scripted.Script:
    """This test's :class:`tests.scripted.Script`; every llama_cpp model is served by a scripted backend.

    The backend is registered through the real backend table, so the command line, the run
    loop and the labelling run reach it the way they reach llama.cpp (no model is loaded).
    """
    from utils.backends import BACKENDS

    script = scripted.Script()
    monkeypatch.setitem(BACKENDS, "llama_cpp", "tests.scripted:ScriptedBackend")
    monkeypatch.setattr(scripted, "current", script)
    return script


def _loaded_backend(tmp_path_factory: pytest.TempPathFactory, spec: dict):
    from utils.backends import create_backend
    from utils.config import load_config

    config = load_config(write_config(tmp_path_factory.mktemp("model"), [spec]))
    backend = create_backend(config.models_to_test[0], config)
    backend.load()
    return backend


@pytest.fixture(scope="session")
def smollm2_backend(tmp_path_factory: pytest.TempPathFactory):
    """The real SmolLM2-135M GGUF loaded once per test session (llama.cpp backend)."""
    backend = _loaded_backend(tmp_path_factory, SMOLLM2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def gemma_backend(tmp_path_factory: pytest.TempPathFactory):
    """The real Gemma 3 270M base-model GGUF loaded once per test session (llama.cpp backend)."""
    backend = _loaded_backend(tmp_path_factory, GEMMA)
    yield backend
    backend.close()
