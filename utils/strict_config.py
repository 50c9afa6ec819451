"""The strict-config base that config.yaml (utils/config.py) and training/config.yaml (training/config.py) share.

A config file is read as YAML (a syntax error names its line and column), must be a mapping,
and is validated by a pydantic model whose unknown keys are errors. Every problem is reported
as ``<file>: <key path>: <what was expected>``, list items as ``[i]``, with a "did you mean"
for a mistyped key, so that a typo is found at start-up rather than after an hour of work.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from utils.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, values do not change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """The mapping at the top of a YAML file; ConfigError naming the file (and line) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def validate(model: type[Model], data: dict[str, Any], path: Path, heading: str = "invalid configuration") -> Model:
    """``model`` validated from ``data``; ConfigError with one line per problem otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [describe(model, path, err) for err in exc.errors()]
        raise ConfigError(f"{heading}:\n  " + "\n  ".join(lines)) from None


def format_location(loc: tuple[Any, ...]) -> str:
    """``models_to_test[2].name`` from pydantic's ('models_to_test', 2, 'name')."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[Annotated[ModelSpec, ...]]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in (getattr(annotation, "__origin__", None), *getattr(annotation, "__args__", ())):
        found = _nested_model(inner) if inner is not None and inner is not annotation else None
        if found is not None:
            return found
    return None


def expected_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at the mapping that holds ``loc``'s last part."""
    current: type[BaseModel] | None = model
    mapping_key_next = False
    for part in loc[:-1]:
        if isinstance(part, int) or mapping_key_next:  # a list index or a key of a mapping
            mapping_key_next = False
            continue
        field = current.model_fields.get(str(part)) if current is not None else None
        if field is None:
            return []
        current = _nested_model(field.annotation)
        if current is None:
            return []
        mapping_key_next = getattr(field.annotation, "__origin__", None) is dict
    return sorted(current.model_fields) if current is not None else []


def describe(model: type[BaseModel], path: Path, error: Mapping[str, Any]) -> str:
    """One validation error as ``<file>: <key path>: <what was expected>``."""
    loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
    where = format_location(loc)
    if error["type"] == "extra_forbidden":
        allowed = expected_keys(model, loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{path}: {where}: unknown key{hint} (allowed here: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, dict) or error["type"] == "missing" else f" (got {got!r})"
    return f"{path}: {where}: {message}{shown}"
