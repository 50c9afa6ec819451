"""A loopback HTTP server for the news tests (imported by those test files)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="module")
def server():
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
