"""The generated parts of docs/ (each command's --help, the config tables) match the code.

``python tools/gen_docs.py`` regenerates them; this test regenerates them in memory and
fails on any difference, so a changed option or config field cannot leave the docs behind.
"""

from __future__ import annotations

import sys

import pytest

from tests.helpers import PROJECT
from tools import gen_docs

# argparse lays --help out differently from one Python version to the next; the pages are
# generated with the Python CI runs, and only that version can compare them byte for byte.
DOCS_PYTHON = (3, 11)


@pytest.mark.parametrize("page", gen_docs.PAGES)
def test_generated_blocks_are_up_to_date(page: str) -> None:
    if sys.version_info[:2] != DOCS_PYTHON:
        pytest.skip(f"the docs' --help blocks are generated with Python {DOCS_PYTHON[0]}.{DOCS_PYTHON[1]}")
    text = (PROJECT / page).read_text(encoding="utf-8")
    assert gen_docs.render(text) == text, f"{page} is out of date: run python tools/gen_docs.py"


def test_the_pages_hold_every_command_and_config_model() -> None:
    found = {block for page in gen_docs.PAGES for block in gen_docs.blocks((PROJECT / page).read_text("utf-8"))}
    commands = {"generate_model_sentiments", "generate_model_metrics", "generate_model_comparison_report",
                "generate_heatmaps", "training.__main__"}
    registries = {("metrics", "item"), ("metrics", "label")}
    assert ({("help", name) for name in commands} | {("config", name) for name in gen_docs.CONFIG_MODELS}
            | registries) == found


def test_a_changed_option_or_field_shows_as_drift() -> None:
    help_block = "<!-- generated: help generate_model_sentiments -->\nstale\n<!-- end generated -->"
    fresh = gen_docs.render(help_block)
    assert fresh != help_block and "--keep-stale" in fresh and "--snapshot PATH|DATE" in fresh
    table = gen_docs.render("<!-- generated: config Config -->\n<!-- end generated -->")
    assert "| `iterations` | int (≥ 1, ≤ 1000) | `3` | Iterations per model: each model answers" in table
    assert "| `executor` | one of `local`, `ray` | `local` |" in table
    metrics = gen_docs.render("<!-- generated: metrics item -->\n<!-- end generated -->")
    assert "| Valid JSON Rate | higher | valid answers / answers |" in metrics


def test_help_paths_are_relative_to_the_project() -> None:
    assert str(PROJECT) not in gen_docs.help_text("generate_model_sentiments")
    assert "training/output/data/splits.json" in gen_docs.help_text("generate_model_sentiments")
