#!/usr/bin/env python
"""Regenerate the parts of docs/ that restate the code: each command's ``--help`` and the config tables.

A generated block sits between two HTML comments in a Markdown page::

    <!-- generated: help generate_model_sentiments -->
    ...
    <!-- end generated -->

``help <module>`` is that command's ``--help`` (``main(["--help"])`` of the module);
``config <model>`` is a table of a pydantic config model's keys: type, default and the
field's description; ``metrics item`` and ``metrics label`` are the metric registries of
utils/reports/metrics.py (per-item metrics, figures against gold labels). ``python tools/gen_docs.py`` rewrites the blocks in place;
``--check`` changes nothing and exits 1 naming the pages whose blocks have drifted
(tests/test_docs.py runs the same check).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:  # run as a script: the project's packages come from its root
    sys.path.insert(0, str(PROJECT))

PAGES = ("docs/cli.md", "docs/config.md", "docs/reports.md")
HELP_WIDTH = 100  # argparse wraps --help to the terminal; the docs use one fixed width
# argparse's layout changes between Python versions (3.13 writes "-c, --company TICKER"); the
# blocks are generated with the version CI runs, and the drift test runs only there.
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

BLOCK = re.compile(r"(<!-- generated: (?P<kind>\w+) (?P<target>[\w.:]+) -->\n)(?P<body>.*?)(<!-- end generated -->)",
                   re.DOTALL)

CONFIG_MODELS = {
    "Config": "utils.config:Config",
    "ModelSpec": "utils.config:ModelSpec",
    "CompanyOverride": "utils.config:CompanyOverride",
    "NewsSettings": "utils.config:NewsSettings",
}


def help_text(module_name: str) -> str:
    """What ``python <module> --help`` prints, at HELP_WIDTH columns, paths relative to the project."""
    module = importlib.import_module(module_name)
    out = io.StringIO()
    previous, argv = os.environ.get("COLUMNS"), sys.argv
    os.environ["COLUMNS"] = str(HELP_WIDTH)
    sys.argv = [_command(module_name)]  # argparse names the program after argv[0]
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            module.main(["--help"])
    finally:
        sys.argv = argv
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue().replace(f"{PROJECT}{os.sep}", "")


def _type_name(annotation: Any) -> str:
    """A readable type: ``int | None``, ``list[ModelSpec]``, ``one of `local`, `ray```."""
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    text = annotation.__name__ if isinstance(annotation, type) else repr(annotation)
    text = re.sub(r"typing\.|pathlib\.|utils\.config\.|<class '([\w.]+)'>", lambda m: m.group(1) or "", text)
    text = re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text)
    return text.replace("NoneType", "None").replace("PosixPath", "Path").replace("WindowsPath", "Path")


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple, dict)) and not value:
        return "[]" if not isinstance(value, dict) else "{}"
    return str(value)


def _default(info: Any) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "(required)"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(its own table)"
    return "none" if value is None else f"`{_yaml_value(value)}`"


_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥"),
           ("max_length", "length ≤"), ("pattern", "matches"))


def _allowed(info: Any) -> str:
    """The field's bounds (``≥ 1, ≤ 1000``) from its metadata."""
    parts = []
    for constraint in info.metadata:
        for name, sign in _BOUNDS:
            value = getattr(constraint, name, None)
            if value is not None:
                parts.append(f"{sign} `{value}`" if name == "pattern" else f"{sign} {value}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_table(target: str) -> str:
    """A Markdown table of a config model's keys: type and bounds, default, description."""
    module_name, _, class_name = CONFIG_MODELS[target].partition(":")
    model = getattr(importlib.import_module(module_name), class_name)
    hints = typing.get_type_hints(model)
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        kind = _type_name(hints.get(name, info.annotation))
        bounds = _allowed(info)
        kind = f"{kind} ({bounds})" if bounds else kind
        rows.append(f"| `{name}` | {_cell(kind)} | {_cell(_default(info))} | {_cell(info.description or '')} |")
    return "\n".join(rows) + "\n"


_DIRECTION = {True: "higher", False: "lower", None: ""}


def metrics_table(target: str) -> str:
    """A Markdown table of one metric registry: column (or key), which way is better, meaning."""
    from utils.reports import metrics

    if target == "item":
        rows = ["| column | better | meaning |", "| --- | --- | --- |"]
        rows += [f"| {m.column} | {_DIRECTION[m.higher_is_better]} | {_cell(m.description)} |"
                 for m in metrics.METRIC_LIST]
    elif target == "label":
        rows = ["| key | better | meaning |", "| --- | --- | --- |"]
        rows += [f"| `{m.key}` | {_DIRECTION[m.higher_is_better]} | {_cell(m.description)} |"
                 for m in metrics.LABEL_METRIC_LIST]
    else:
        raise ValueError(f"unknown metric registry {target!r} (item, label)")
    return "\n".join(rows) + "\n"


def render_block(kind: str, target: str) -> str:
    if kind == "help":
        return f"```\n$ python {_command(target)} --help\n{help_text(target)}```\n"
    if kind == "config":
        return config_table(target)
    if kind == "metrics":
        return metrics_table(target)
    raise ValueError(f"unknown generated block kind {kind!r} (help, config, metrics)")


def _command(module_name: str) -> str:
    return "-m training" if module_name == "training.__main__" else f"{module_name}.py"


def render(text: str) -> str:
    """``text`` with every generated block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m["kind"], m["target"]) + m.group(5), text)


def blocks(text: str) -> list[tuple[str, str]]:
    """The (kind, target) of every generated block in ``text``."""
    return [(m["kind"], m["target"]) for m in BLOCK.finditer(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a page has drifted")
    args = parser.parse_args(argv)
    drifted = []
    for page in PAGES:
        path = PROJECT / page
        text = path.read_text(encoding="utf-8")
        fresh = render(text)
        if fresh != text:
            drifted.append(page)
            if not args.check:
                path.write_text(fresh, encoding="utf-8")
    if args.check and drifted:
        print(f"out of date (run: python tools/gen_docs.py): {', '.join(drifted)}", file=sys.stderr)
        return 1
    for page in drifted:
        print(f"rewrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
