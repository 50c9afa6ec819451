"""``training register``: create each Modelfile's model in Ollama, and give the harness its models_to_test entries.

The official ``ollama`` client's ``create`` takes the Modelfile's parts rather than its
text: the GGUF is uploaded as a blob (``create_blob``) and named in ``files``, and
TEMPLATE, SYSTEM and PARAMETERs go as fields. The entries for config.yaml come in two
forms per export, the GGUF through embedded llama.cpp and the Ollama tag, both zero-shot.
"""

from __future__ import annotations

import logging
import platform
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from training.config import TrainingConfig
from training.modelfiles import Modelfile, parse_modelfile
from training.naming import exported_ggufs, gguf_path, modelfile_path, ollama_tag, quant_label
from utils.errors import BackendUnavailable, ConfigError, HarnessError
from utils.io import write_text_atomic

log = logging.getLogger(__name__)


def machine_profile(system: str | None = None, machine: str | None = None, has_nvidia: bool | None = None
                    ) -> tuple[str, dict[str, Any]]:
    """(description, extra Ollama parameters) for this machine.

    Apple silicon and NVIDIA machines keep Ollama's own GPU offload; a CPU-only machine
    gets ``num_gpu 0`` so Ollama does not probe for a GPU that is not there.
    """
    system = system or platform.system()
    machine = machine or platform.machine()
    if has_nvidia is None:
        has_nvidia = shutil.which("nvidia-smi") is not None
    if system == "Darwin" and machine in ("arm64", "aarch64"):
        return "Apple silicon: Ollama offloads to Metal by itself (num_gpu left to Ollama)", {}
    if has_nvidia:
        return "NVIDIA GPU found: Ollama offloads to CUDA by itself (num_gpu left to Ollama)", {}
    return "CPU only: num_gpu 0 (no layers offloaded)", {"num_gpu": 0}


def models_to_test_entries(config: TrainingConfig, quants: list[str]) -> list[dict[str, Any]]:
    """Two zero-shot entries per quantization: llama_cpp (GGUF path) and ollama (tag), each asked
    with the prompt set the model was trained with (``messages_folder``), not the harness's default."""
    entries = []
    for quant in quants:
        tag = ollama_tag(config.run_name, quant)
        common = {"family": config.run_name, "quantization": quant_label(quant), "prompt_mode": "zero_shot",
                  "messages_folder": str(config.prompts_folder.resolve())}
        entries.append({"name": tag, "backend": "llama_cpp", "path": str(gguf_path(config, quant)), **common})
        entries.append({"name": f"{tag}-ollama", "backend": "ollama", "ollama_model": tag, **common})
    return entries


def append_models(config_path: Path, entries: list[dict[str, Any]]) -> list[str]:
    """Add the entries missing from a harness config's models_to_test (text edit, comments kept).

    The edited text is validated with the harness's own loader before it replaces the
    old file (atomically); returns the names added.
    """
    from utils.config import validate_config

    text = config_path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    present = {m["name"] if isinstance(m, dict) else m for m in data.get("models_to_test") or []}
    new = [e for e in entries if e["name"] not in present]
    if not new:
        return []
    lines = text.splitlines(keepends=True)
    end = _block_end(lines, config_path)
    block = yaml.safe_dump(new, sort_keys=False, allow_unicode=True)
    indented = "".join(f"  {line}" if line.strip() else line for line in block.splitlines(keepends=True))
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    edited = "".join(lines[:end]) + indented + "".join(lines[end:])
    validate_config(yaml.safe_load(edited), config_path)
    write_text_atomic(config_path, edited)
    return [e["name"] for e in new]


def _block_end(lines: list[str], path: Path) -> int:
    """Index of the first line after the top-level models_to_test block (its last entry line + 1)."""
    start = next((i for i, line in enumerate(lines) if re.match(r"^models_to_test:\s*(#.*)?$", line)), None)
    if start is None:
        raise ConfigError(f"{path}: no block-style 'models_to_test:' key to append to")
    last = start
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            break
        last = index
    return last + 1


def register_all(config: TrainingConfig, append_to: Path | None = None, client: Any = None) -> list[str]:
    """Create every exported quantization in Ollama; print and optionally append the config entries."""
    quants = list(exported_ggufs(config))
    modelfiles = [parse_modelfile(modelfile_path(config, q)) if modelfile_path(config, q).is_file() else None
                  for q in quants]
    missing = [q for q, m in zip(quants, modelfiles) if m is None]
    if missing:
        raise HarnessError(f"no Modelfile for {', '.join(missing)} (run: python -m training modelfiles)")
    found = [m for m in modelfiles if m is not None]
    entries = models_to_test_entries(config, quants)
    host = _host(config)
    client = client or _client(host, config.ollama.timeout_s)
    description, extra = machine_profile()
    print(f"Ollama at {host}; {description}")
    created = []
    for quant, modelfile in zip(quants, found):
        tag = ollama_tag(config.run_name, quant)
        create_model(client, tag, modelfile, extra, host)
        print(f"created {tag} from {modelfile.path.name}")
        created.append(tag)
    show_entries(entries, config, append_to)
    return created


def show_entries(entries: list[dict[str, Any]], config: TrainingConfig, append_to: Path | None) -> None:
    """Print the entries for a harness config's models_to_test, and append them to ``append_to``."""
    print(f"models_to_test entries (zero-shot, prompt set {config.prompts_folder}):")
    print(yaml.safe_dump(entries, sort_keys=False), end="")
    if append_to is not None:
        added = append_models(append_to, entries)
        print(f"appended {len(added)} model(s) to {append_to}" if added else f"{append_to} already lists them")


def print_local_entries(config: TrainingConfig, append_to: Path | None = None) -> list[dict[str, Any]]:
    """Without Ollama: the llama_cpp entries of the exported GGUFs (no Ollama tag exists until
    ``register`` creates it), printed and appended to ``append_to``; returns them."""
    entries = [e for e in models_to_test_entries(config, list(exported_ggufs(config))) if e["backend"] == "llama_cpp"]
    show_entries(entries, config, append_to)
    return entries


def create_model(client: Any, tag: str, modelfile: Modelfile, extra: dict[str, Any], host: str) -> None:
    """Upload the GGUF blob and create ``tag`` from the Modelfile's parts."""
    import httpx
    import ollama

    if not modelfile.model_path.is_file():
        raise HarnessError(f"{modelfile.path}: FROM file not found: {modelfile.model_path}")
    try:
        digest = client.create_blob(modelfile.model_path)
        client.create(model=tag, files={modelfile.model_path.name: digest}, template=modelfile.template,
                      system=modelfile.system or None, parameters={**modelfile.parameters, **extra}, stream=False)
    except ollama.ResponseError as exc:
        raise BackendUnavailable("ollama", f"{tag} at {host}", f"create failed ({exc.status_code}): {exc.error}") from None
    except (httpx.HTTPError, ConnectionError) as exc:
        raise _unreachable(host, exc) from None


def _host(config: TrainingConfig) -> str:
    from utils.backends.ollama_chat import ollama_host

    return ollama_host(config.ollama.ollama_host)


def _client(host: str, timeout: float) -> Any:
    """An ollama client, after checking that a server answers at ``host``."""
    import httpx
    import ollama

    try:
        httpx.get(f"{host}/api/version", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise _unreachable(host, exc) from None
    return ollama.Client(host=host, timeout=timeout)


def _unreachable(host: str, exc: Exception) -> BackendUnavailable:
    if shutil.which("ollama") is None:
        hint = "Ollama is not installed here: install it from ollama.com, run 'ollama serve', or set OLLAMA_HOST"
    else:
        hint = "start it with 'ollama serve' or set OLLAMA_HOST / ollama.ollama_host"
    return BackendUnavailable("ollama", f"the server at {host}", f"unreachable ({exc.__class__.__name__})", hint)
