"""Boilerplate rules as data: the shipped file, config.yaml's additions, and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import PROJECT, write_config
from utils.config import NewsSettings, load_config
from utils.errors import ConfigError
from utils.news.boilerplate import RULES_FILE, compile_rules, load_rules, read_rule_book
from utils.news.companies import Company
from utils.news.extract import (
    SEPARATOR,
    ArticleSkipped,
    extract_article,
    main,
    main_text,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"
NVIDIA = Company("NVDA", "Nvidia", ("NVIDIA Corporation",))
STORY = (
    "<p>Nvidia said on Monday that it would build a new research campus in Arizona, hiring about "
    "2,000 engineers over five years.</p><p>The company did not say how much the campus would cost.</p>"
)


def page(*blocks: str, byline: str = "Staff") -> bytes:
    body = "".join(f"<p>{b}</p>" for b in blocks)
    return (f"<html><head><title>t</title></head><body><div class='byline'>{byline}</div>"
            f"<div class='caas-body'>{STORY}{body}</div></body></html>").encode()


def extract(body: bytes, **kwargs):
    return extract_article(body, charset="utf-8", company=NVIDIA, summary="", min_chars=50, **kwargs)


def test_shipped_rules_are_valid_and_every_rule_key_is_unique() -> None:
    book = read_rule_book(RULES_FILE)
    rules = compile_rules(book)
    keys = [r.key for r in rules.generic] + [r.key for rs in rules.by_provider.values() for r in rs]
    assert len(keys) == len(set(keys)) and len(keys) > 40
    assert len(book.providers) >= 10


def test_provider_rules_apply_only_to_pages_recognised_as_that_provider() -> None:
    rank = "Nvidia currently carries a Zacks Rank #3 (Hold)."
    assert rank not in extract(page(rank, byline="Zacks Equity Research")).content
    assert rank in extract(page(rank, byline="Jane Smith, Staff Writer")).content


def test_a_rule_added_in_config_yaml_removes_its_blocks_and_is_counted(tmp_path) -> None:
    extra = {"generic": [{"name": "podcast-plug", "match": "^listen to our .{0,40}podcast"}]}
    path = write_config(tmp_path, ["tiny"], news={"boilerplate_rules": extra})
    config = load_config(path)
    plug = "Listen to our Market Minute podcast for more on Nvidia."
    result = extract(page(plug), rules=load_rules(config.news.boilerplate_rules))
    assert plug not in result.content
    assert result.removed == {"generic/podcast-plug": 1}
    assert plug in extract(page(plug)).content  # the shipped rules alone keep it


def test_a_shipped_rule_can_be_disabled_from_config() -> None:
    line = "Related: Nvidia opens a lab in Austin"
    assert line not in extract(page(line)).content
    rules = load_rules({"disable": ["generic/read-more"]})
    assert line in extract(page(line), rules=rules).content


@pytest.mark.parametrize(
    "rules, expected",
    [
        ({"generic": [{"name": "x", "match": "(unclosed"}]}, "not a valid regular expression"),
        ({"generic": [{"name": "x", "match": "a", "drop": "everything"}]}, "generic.0.drop"),
        ({"providers": {"acme": {"recognize": ["Acme"]}}}, "providers.acme.recognize"),
    ],
)
def test_bad_rules_in_config_yaml_are_named(tmp_path, rules, expected) -> None:
    path = write_config(tmp_path, ["tiny"], news={"boilerplate_rules": rules})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "boilerplate_rules" in str(info.value) and expected in str(info.value)


def test_video_pages_are_skipped_by_default_and_kept_as_video_when_configured() -> None:
    video = (PAGES / "yahoo-video-nvda-ceo.html").read_bytes()
    with pytest.raises(ArticleSkipped) as info:
        extract(video)
    assert info.value.kind == "video" and info.value.reason.startswith("video page without article text")
    kept = extract(video, video_pages="keep")
    assert kept.kind == "video" and kept.content.startswith("Nvidia's chief executive joins Yahoo Finance")
    assert NewsSettings().video_pages == "skip"


def test_a_pivot_that_names_the_company_is_kept() -> None:
    kept = "Separately, Nvidia said its chief financial officer would retire next year."
    gone = "In other news, oil prices rose 2% on supply worries."
    content = extract(page(kept, gone)).content.split(SEPARATOR)
    assert kept in content and gone not in content


def test_a_market_wrap_about_the_stock_is_kept_in_a_story() -> None:
    about_it = "The stock has risen 40% this year, twice the gain of the S&P 500."
    wrap = "The Nasdaq Composite closed up 0.8% and the S&P 500 added 0.5%."
    content = extract(page(about_it, wrap)).content.split(SEPARATOR)
    assert about_it in content and wrap not in content


def test_main_text_keeps_lists_and_sub_headings_of_an_unknown_layout() -> None:
    html = (PAGES / "blog-dividend-portfolio.html").read_bytes()
    text = main_text(html).splitlines()
    assert "What I bought" in text and "A maker of industrial gases" in text
    assert "Great post, thanks for sharing! Which railroad did you buy?" not in text  # a comment
    assert "If you enjoyed this post, subscribe to get new articles by email." not in text


def test_command_line_shows_kept_text_relevance_and_each_dropped_block_with_its_rule(capsys) -> None:
    assert main([str(PAGES / "yahoo-zacks-nvda-estimates.html"), "--company", "NVDA"]) == 0
    out = capsys.readouterr().out
    assert "providers recognised: yahoo, zacks" in out
    assert "relevance: story: the headline names Nvidia and no other company" in out
    assert "Estimate Revisions Trend" in out.split("--- dropped")[0]
    assert "[zacks/rank] Nvidia currently carries a Zacks Rank #3 (Hold)." in out
    assert "[zacks/signature] Zacks Investment Research" in out


def test_command_line_without_a_company_prints_the_main_text_and_a_config_error_is_one_line(
    capsys, tmp_path
) -> None:
    assert main([str(PAGES / "wire-copper-strike.html")]) == 0
    out = capsys.readouterr().out
    assert "relevance: none" in out and "[generic/reporting-credit] (Reporting by" in out
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump({"models_to_test": ["m"], "news": {"video_pages": "maybe"}}), encoding="utf-8")
    assert main([str(PAGES / "wire-copper-strike.html"), "--config", str(bad)]) != 0
    assert "video_pages" in capsys.readouterr().err


def test_the_command_runs_as_a_module_without_warnings() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "utils.news.extract",
         str(PAGES / "yahoo-gurufocus-nvda-insider.html"), "--company", "NVDA"],
        cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[gurufocus/warning-signs] Warning! GuruFocus has detected 4 Warning Signs with NVDA." in done.stdout
