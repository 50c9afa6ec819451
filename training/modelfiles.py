"""``training modelfiles``: one Ollama Modelfile per exported GGUF, with an explicit TEMPLATE.

Ollama would otherwise guess the chat format from the GGUF; an explicit TEMPLATE makes
the prompt the fine-tune sees under Ollama the same as the one it was trained on (tests
render it and compare it token for token with the GGUF's own Jinja template). SYSTEM
carries the harness's sentiment system message, so the model also answers zero-shot
when called without one. Rendering is pure; only ``write_modelfiles`` touches disk.
"""

from __future__ import annotations

import os
import re
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from training.config import TrainingConfig
from training.naming import exported_ggufs, modelfile_path
from utils.errors import ConfigError, HarnessError
from utils.io import write_text_atomic

# Ollama Go templates. Each folds the conversation exactly as the model family's own
# chat template does; a system message is its own turn where the format has a system
# role and is folded into the first user turn where it has none (mistral, gemma).
TEMPLATES: dict[str, str] = {
    "chatml": (
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
        "{{ end }}<|im_start|>assistant\n"
    ),
    "llama3": (
        "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>"
        "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "mistral": (
        '{{- $system := "" }}{{ range .Messages }}'
        '{{- if eq .Role "system" }}{{ $system = .Content }}'
        '{{- else if eq .Role "user" }}[INST] {{ if $system }}{{ $system }}\n\n{{ $system = "" }}{{ end }}'
        "{{ .Content }} [/INST]"
        '{{- else if eq .Role "assistant" }}{{ .Content }}</s>'
        "{{- end }}{{ end }}"
    ),
    "phi3": (
        "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n"
    ),
    "gemma": (
        '{{- $system := "" }}{{ range .Messages }}'
        '{{ if eq .Role "system" }}{{ $system = .Content }}'
        '{{ else if eq .Role "user" }}<start_of_turn>user\n{{ if $system }}{{ $system }}\n\n{{ $system = "" }}{{ end }}'
        "{{ .Content }}<end_of_turn>\n"
        '{{ else if eq .Role "assistant" }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n'
        "{{ end }}{{ end }}<start_of_turn>model\n"
    ),
}

STOP_TOKENS: dict[str, tuple[str, ...]] = {
    "chatml": ("<|im_start|>", "<|im_end|>"),
    "llama3": ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    "mistral": ("[INST]", "[/INST]", "</s>"),
    "phi3": ("<|end|>", "<|user|>", "<|assistant|>"),
    "gemma": ("<start_of_turn>", "<end_of_turn>"),
}


@dataclass(frozen=True)
class Modelfile:
    """The parts of a generated Modelfile, as register needs them."""

    path: Path
    model_path: Path
    template: str
    system: str
    parameters: dict[str, object]


def render_conversation(chat_format: str, messages: list[dict[str, str]], default_system: str = "") -> str:
    """The prompt Ollama builds from a TEMPLATE: the Modelfile's SYSTEM comes first when the
    request has no system message, and each message is seen as ``.Role`` / ``.Content``."""
    from training.gotemplate import render

    if default_system and not any(m["role"] == "system" for m in messages):
        messages = [{"role": "system", "content": default_system}, *messages]
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    data = {"System": system, "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages]}
    return render(TEMPLATES[chat_format], data)


def render_modelfile(gguf_from: str, chat_format: str, system: str, temperature: float, num_ctx: int) -> str:
    """A Modelfile's text: FROM, TEMPLATE, SYSTEM and PARAMETER lines."""
    if chat_format not in TEMPLATES:
        raise ConfigError(f"no Modelfile TEMPLATE for chat format {chat_format!r} (have: {', '.join(TEMPLATES)})")
    for name, text in (("TEMPLATE", TEMPLATES[chat_format]), ("SYSTEM", system)):
        if '"""' in text:
            raise ConfigError(f"the {name} text contains '\"\"\"', which a Modelfile cannot quote")
    lines = [
        "# Written by `python -m training modelfiles`; run it again rather than editing this file.",
        f"FROM {gguf_from}",
        f'TEMPLATE """{TEMPLATES[chat_format]}"""',
        f'SYSTEM """{system}"""',
        f"PARAMETER temperature {temperature:g}",
        f"PARAMETER num_ctx {num_ctx}",
        *(f'PARAMETER stop "{token}"' for token in STOP_TOKENS[chat_format]),
    ]
    return "\n".join(lines) + "\n"


_TRIPLE = re.compile(r'^(TEMPLATE|SYSTEM) """(.*?)"""\s*$', re.DOTALL | re.MULTILINE)


def parse_modelfile(path: Path) -> Modelfile:
    """Read back a Modelfile this module wrote (FROM, TEMPLATE, SYSTEM, PARAMETER lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read Modelfile: {exc.strerror or exc}") from None
    blocks = {match.group(1): match.group(2) for match in _TRIPLE.finditer(text)}
    rest = _TRIPLE.sub("", text)
    source: str | None = None
    parameters: dict[str, Any] = {}
    for line in rest.splitlines():
        keyword, _, value = line.strip().partition(" ")
        if keyword == "FROM":
            source = value.strip()
        elif keyword == "PARAMETER":
            name, _, raw = value.strip().partition(" ")
            _add_parameter(parameters, name, raw.strip())
    if source is None or "TEMPLATE" not in blocks:
        raise HarnessError(f"{path}: not a generated Modelfile (needs FROM and TEMPLATE)")
    model_path = Path(source) if os.path.isabs(source) else (path.parent / source)
    return Modelfile(path, model_path.resolve(), blocks["TEMPLATE"], blocks.get("SYSTEM", ""), parameters)


def _add_parameter(parameters: dict[str, Any], name: str, raw: str) -> None:
    if name == "stop":
        parameters.setdefault("stop", []).append(raw.strip('"'))
    elif name == "temperature":
        parameters[name] = float(raw)
    else:
        parameters[name] = int(raw)


def write_modelfiles(config: TrainingConfig) -> list[Path]:
    """A Modelfile per GGUF in the export folder; returns the paths written."""
    from utils.run.prompts import load_templates

    system = load_templates(config.prompts_folder).system
    written = []
    for quant, gguf in exported_ggufs(config).items():
        path = modelfile_path(config, quant)
        path.parent.mkdir(parents=True, exist_ok=True)
        relative = os.path.relpath(gguf, path.parent)
        text = render_modelfile(relative, config.base_model.chat_template, system,
                                config.modelfiles.temperature, config.modelfiles.num_ctx)
        write_text_atomic(path, text)
        written.append(path)
    return written
