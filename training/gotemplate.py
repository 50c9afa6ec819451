"""A renderer for the small subset of Go's text/template that Ollama chat TEMPLATEs use here.

Ollama renders a Modelfile TEMPLATE with Go's text/template; there is no Python port, so
this module interprets exactly the constructs our templates use, to test them against
the models' own Jinja chat templates without an Ollama server:

``{{ .Field }}``, ``{{ $.Field }}``, ``{{ $var }}``, ``{{ $var := expr }}``, ``{{ $var = expr }}``,
``{{ if expr }} … {{ else if expr }} … {{ else }} … {{ end }}``, ``{{ range .Messages }} … {{ end }}``,
the functions ``eq`` and ``not``, string literals, and ``{{-`` / ``-}}`` whitespace trimming.
Anything else raises TemplateError, so a template never silently renders differently.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


class TemplateError(ValueError):
    """The template uses a construct this renderer does not implement, or is malformed."""


@dataclass
class _Node:
    kind: str  # text, print, assign, if, range
    value: Any = None
    branches: list[tuple[Any, list["_Node"]]] = field(default_factory=list)
    body: list["_Node"] = field(default_factory=list)


def _lex(template: str) -> list[tuple[str, str]]:
    """('text', s) and ('action', s) pieces with Go's trim markers applied."""
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(template):
        text = template[position:match.start()]
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        position = match.end()
        if match.group(3):
            rest = template[position:]
            position += len(rest) - len(rest.lstrip())
    pieces.append(("text", template[position:]))
    return [p for p in pieces if p != ("text", "")]


def parse(template: str) -> list[_Node]:
    """The template as a node tree; TemplateError on unbalanced or unknown actions."""
    nodes, rest = _parse_block(_lex(template), 0, top=True)
    return nodes


def _parse_block(pieces: list[tuple[str, str]], index: int, top: bool = False) -> tuple[list[_Node], int]:
    nodes: list[_Node] = []
    while index < len(pieces):
        kind, text = pieces[index]
        if kind == "text":
            nodes.append(_Node("text", text))
            index += 1
            continue
        head = text.split(None, 1)[0] if text else ""
        if head in ("end", "else"):
            if top:
                raise TemplateError(f"unexpected {{{{ {text} }}}}")
            return nodes, index
        if head == "if":
            node, index = _parse_if(pieces, index)
        elif head == "range":
            body, index = _parse_block(pieces, index + 1)
            if index >= len(pieces) or pieces[index][1] != "end":
                raise TemplateError("range without end")
            node, index = _Node("range", _expr(text[len("range"):]), body=body), index + 1
        elif re.match(r"^\$\w+\s*:?=", text):
            name, _, expr = text.partition("=")
            node, index = _Node("assign", (name.rstrip(":").strip().lstrip("$"), _expr(expr))), index + 1
        else:
            node, index = _Node("print", _expr(text)), index + 1
        nodes.append(node)
    if not top:
        raise TemplateError("missing {{ end }}")
    return nodes, index


def _parse_if(pieces: list[tuple[str, str]], index: int) -> tuple[_Node, int]:
    node = _Node("if")
    condition = _expr(pieces[index][1][len("if"):])
    while True:
        body, index = _parse_block(pieces, index + 1)
        if index >= len(pieces):
            raise TemplateError("if without end")
        node.branches.append((condition, body))
        action = pieces[index][1]
        if action == "end":
            return node, index + 1
        if action == "else":
            condition = ("literal", True)
        elif action.startswith("else if "):
            condition = _expr(action[len("else if "):])
        else:
            raise TemplateError(f"unexpected {{{{ {action} }}}} in if")


def _expr(text: str) -> tuple:
    """An expression: a field, variable, string literal, or a call of eq / not."""
    try:
        words = shlex.split(text.strip(), posix=False)
    except ValueError as exc:
        raise TemplateError(f"cannot read {text!r}: {exc}") from None
    if not words:
        raise TemplateError("empty action")
    if words[0] in ("eq", "not"):
        return ("call", words[0], [_operand(w) for w in words[1:]])
    if len(words) != 1:
        raise TemplateError(f"unsupported expression {text.strip()!r}")
    return _operand(words[0])


def _operand(word: str) -> tuple:
    if word.startswith('"') and word.endswith('"') and len(word) >= 2:
        return ("literal", bytes(word[1:-1], "utf-8").decode("unicode_escape"))
    if word.startswith("$."):
        return ("root", word[2:])
    if word.startswith("$"):
        return ("var", word[1:])
    if word.startswith("."):
        return ("dot", word[1:])
    raise TemplateError(f"unsupported operand {word!r}")


def render(template: str, data: dict[str, Any]) -> str:
    """Render ``template`` with ``data`` as the root value (e.g. {"System": ..., "Messages": [...]})."""
    out: list[str] = []
    _run(parse(template), data, data, {}, out)
    return "".join(out)


def _run(nodes: list[_Node], dot: Any, root: Any, variables: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "print":
            out.append(str(_eval(node.value, dot, root, variables)))
        elif node.kind == "assign":
            name, expr = node.value
            variables[name] = _eval(expr, dot, root, variables)
        elif node.kind == "if":
            for condition, body in node.branches:
                if _truthy(_eval(condition, dot, root, variables)):
                    _run(body, dot, root, variables, out)
                    break
        elif node.kind == "range":
            for item in _eval(node.value, dot, root, variables) or []:
                _run(node.body, item, root, variables, out)


def _eval(expr: tuple, dot: Any, root: Any, variables: dict[str, Any]) -> Any:
    kind = expr[0]
    if kind == "literal":
        return expr[1]
    if kind == "dot":
        return _field(dot, expr[1])
    if kind == "root":
        return _field(root, expr[1])
    if kind == "var":
        if expr[1] not in variables:
            raise TemplateError(f"undefined variable ${expr[1]}")
        return variables[expr[1]]
    _, function, args = expr
    values = [_eval(arg, dot, root, variables) for arg in args]
    if function == "eq":
        return any(values[0] == other for other in values[1:])
    return not _truthy(values[0])


def _field(value: Any, name: str) -> Any:
    if not isinstance(value, dict) or name not in value:
        raise TemplateError(f"no field .{name}")
    return value[name]


def _truthy(value: Any) -> bool:
    return bool(value)
