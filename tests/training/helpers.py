"""What the training tests share: a tiny FinancialPhraseBank-shaped folder, training configs, a loopback Ollama."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import yaml

from tests.helpers import PROJECT

FPB_DIR = PROJECT.parent / "shared" / "data" / "FinancialPhraseBank-v1.0"
HAVE_FPB = (FPB_DIR / "Sentences_AllAgree.txt").is_file()
NO_FPB_REASON = f"FinancialPhraseBank v1.0 not found at {FPB_DIR} (not redistributed)"

_SUBJECTS = ["Norvik Shipping", "Halden Foods", "Arkon Mining", "Bellmar Steel", "Corvo Telecom",
             "Dunmore Paper", "Elstree Retail", "Fjell Energy", "Garnet Bank", "Hollis Motors"]
_PHRASES = {
    "positive": "{c} raised its profit forecast for the year by {n} percent .",
    "negative": "{c} cut {n} jobs after its quarterly sales fell short of plans .",
    "neutral": "{c} will publish its interim report on {n} August .",
}


def sentences(count: int, offset: int = 0) -> list[tuple[str, str]]:
    """``count`` distinct (sentence, label) pairs cycling through the three labels."""
    labels = ["neutral", "positive", "neutral", "negative"]
    out = []
    for index in range(offset, offset + count):
        label = labels[index % 4]
        out.append((_PHRASES[label].format(c=_SUBJECTS[index % 10], n=index + 3), label))
    return out


def write_fpb(folder: Path, per_level: dict[str, int] | None = None) -> Path:
    """A FinancialPhraseBank-shaped folder: each lower agreement file contains the higher ones."""
    per_level = per_level or {"all": 40, "75": 12, "66": 8, "50": 8}
    names = {"all": "AllAgree", "75": "75Agree", "66": "66Agree", "50": "50Agree"}
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    offset = 0
    for level in ("all", "75", "66", "50"):
        lines += [f"{text}@{label}" for text, label in sentences(per_level[level], offset)]
        offset += per_level[level]
        (folder / f"Sentences_{names[level]}.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return folder


def write_training_config(folder: Path, fpb: Path | None, **sections) -> Path:
    """A training config in ``folder`` whose outputs stay inside it."""
    data = {
        "run_name": "tiny-sentiment",
        "output_dir": str(folder / "output"),
        "dataset": {"fpb_path": str(fpb) if fpb else None, "seed": 7},
        "modelfiles": {"folder": str(folder / "Modelfiles")},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    path = folder / "training.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class OllamaLog:
    """What one fake Ollama server received: uploaded blobs (digest -> size) and create requests."""

    url: str = ""
    blobs: dict[str, int] = field(default_factory=dict)
    creates: list[dict] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    def __init__(self, log: OllamaLog) -> None:
        super().__init__(("127.0.0.1", 0), FakeOllama)
        self.log = log


class FakeOllama(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args):
        pass

    def _reply(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/api/version":
            return self._reply(200, {"version": "0.13.1"})
        return self._reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length)
        if self.path.startswith("/api/blobs/sha256:"):
            digest = self.path.rsplit("/", 1)[1]
            if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                return self._reply(400, {"error": "digest mismatch"})
            self.server.log.blobs[digest] = len(body)
            return self._reply(201)
        if self.path == "/api/create":
            request = json.loads(body)
            self.server.log.creates.append(request)
            missing = [name for name, digest in request.get("files", {}).items()
                       if digest not in self.server.log.blobs]
            if missing:
                return self._reply(400, {"error": f"blob for {missing[0]} not uploaded"})
            return self._reply(200, {"status": "success"})
        return self._reply(404, {"error": "not found"})

    def _read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()


@contextlib.contextmanager
def fake_ollama() -> Iterator[OllamaLog]:
    """A loopback server speaking Ollama's blob/create/version wire format; yields its URL and what it got."""
    log = OllamaLog()
    httpd = _Server(log)
    log.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield log
    finally:
        httpd.shutdown()
        httpd.server_close()
