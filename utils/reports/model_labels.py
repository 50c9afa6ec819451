"""Model identity for reports: family and quantization, and matching names as users type them.

Family and quantization come from the config's ModelSpec when there is one, else
from the result files, else they are parsed from the model name (``llama3:8b-q4_K_M``
→ family ``llama3:8b``, quantization ``q4_K_M``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNKNOWN = "unknown"  # shown for a model whose quantization is not known, never dropped
# Display order of quantization columns: fewer bits first, unquantized last.
QUANT_ORDER = [
    "iq1_S", "iq1_M", "q2_K", "iq2_XXS", "iq2_XS", "iq2_S", "iq2_M", "q3_K_S", "q3_K_M", "q3_K_L", "iq3_XXS",
    "iq3_XS", "iq3_S", "iq3_M", "q4", "q4_0", "q4_1", "q4_K_S", "q4_K_M", "iq4_XS", "iq4_NL", "q5", "q5_0",
    "q5_1", "q5_K_S", "q5_K_M", "q6", "q6_K", "q8", "q8_0", "f16", "bf16", "f32", UNKNOWN,
]
_CANONICAL = {q.lower(): q for q in QUANT_ORDER}
_CANONICAL.update({"fp16": "f16", "fp32": "f32"})
# q8, Q8_0, Q6_K, Q5_K_M, IQ4_XS, iq2_xxs, F16, fp16, BF16, F32 ... delimited by non-alphanumerics
_QUANT_RE = re.compile(
    r"(?<![a-z0-9])(i?q\d(?:_(?:k_[sml]|k|\d|xxs|xs|s|m|nl))?|fp16|fp32|bf16|f16|f32)(?![a-z0-9])",
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
