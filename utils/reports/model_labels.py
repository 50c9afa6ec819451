"""Model identity for reports: family and quantization, and matching names as users type them.

Family and quantization come from the config's ModelSpec when there is one, else
from the result files, else they are parsed from the model name (``llama3:8b-q4_K_M``
→ family ``llama3:8b``, quantization ``q4_K_M``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Display order of quantization columns: fewer bits first, unquantized last.
QUANT_ORDER = [
    "q2_K", "q3_K_S", "q3_K_M", "q3_K_L", "q4_0", "q4_1", "q4_K_S", "q4_K_M",
    "q5_0", "q5_1", "q5_K_S", "q5_K_M", "q6_K", "q8_0", "f16", "bf16", "f32",
]
_CANONICAL = {q.lower(): q for q in QUANT_ORDER}
_CANONICAL.update({"fp16": "f16", "fp32": "f32", "bf16": "bf16", "iq4_xs": "iq4_XS", "iq4_nl": "iq4_NL"})
_QUANT_RE = re.compile(
    r"(?<![a-z0-9])(i?q\d_(?:k_[sml]|k|\d|xs|nl)|fp16|fp32|bf16|f16|f32)(?![a-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ModelLabel:
    """What the report knows about one model folder."""

    folder: str
    family: str | None = None
    quantization: str | None = None
    prompt_mode: str | None = None
    backend: str | None = None


def canonical_quantization(text: str | None) -> str | None:
    """The usual spelling of a quantization label ('Q4_K_M' → 'q4_K_M', 'fp16' → 'f16')."""
    if not text:
        return None
    return _CANONICAL.get(text.strip().lower(), text.strip())


def parse_model_name(name: str) -> tuple[str | None, str | None]:
    """(family, quantization) guessed from a model or folder name; (None, None) when unknown."""
    matches = list(_QUANT_RE.finditer(name))
    if not matches:
        return None, None
    match = matches[-1]
    family = (name[: match.start()] + name[match.end():]).strip(" -_:.")
    family = re.sub(r"[-_.:]{2,}", "-", family)
    return family or None, canonical_quantization(match.group(1))


def quantization_rank(label: str) -> tuple[int, str]:
    """Sort key placing quantizations in QUANT_ORDER, unknown ones after."""
    try:
        return QUANT_ORDER.index(label), label
    except ValueError:
        return len(QUANT_ORDER), label


def normalize_name(name: str) -> str:
    """A model name as compared when matching user input: ':' and '/' as '_', lower case."""
    return re.sub(r"[:/\\]", "_", name.strip()).lower()


def match_model(name: str, folders: list[str]) -> str | None:
    """The folder among ``folders`` that ``name`` refers to (':' or '_', any case), or None."""
    wanted = normalize_name(name)
    for folder in folders:
        if normalize_name(folder) == wanted:
            return folder
    return None


def resolve_label(
    folder: str,
    spec: ModelLabel | None = None,
    from_files: ModelLabel | None = None,
) -> ModelLabel:
    """One model's label: config first, then result files, then the name."""
    parsed_family, parsed_quant = parse_model_name(folder)
    sources = [s for s in (spec, from_files) if s is not None]

    def first(attr: str, fallback: str | None) -> str | None:
        for source in sources:
            value = getattr(source, attr)
            if value:
                return value
        return fallback

    return ModelLabel(
        folder=folder,
        family=first("family", parsed_family),
        quantization=canonical_quantization(first("quantization", parsed_quant)),
        prompt_mode=first("prompt_mode", None),
        backend=first("backend", None),
    )
