"""Company names: curated table, config override, cleaning and Yahoo's quote search answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from utils.config import CompanyOverride, Config
from utils.errors import NewsError
from utils.news.companies import (
    CURATED,
    Company,
    clean_name,
    company_from_quotes,
    normalize_ticker,
    other_company_names,
    resolve_company,
)

FIXTURES = Path(__file__).parent / "fixtures"


def make_config(**overrides) -> Config:
    return Config(models_to_test=["tiny-model"], **overrides)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("NVIDIA Corporation", "NVIDIA"),
        ("Apple Inc.", "Apple"),
        ("Meta Platforms, Inc.", "Meta Platforms"),
        ("Amazon.com, Inc.", "Amazon.com"),
        ("JPMorgan Chase & Co.", "JPMorgan Chase"),
        ("Taiwan Semiconductor Manufacturing Company Limited", "Taiwan Semiconductor Manufacturing"),
        ("ASML Holding N.V.", "ASML Holding"),
        ("Shell plc", "Shell"),
        ("  Tesla,   Inc. ", "Tesla"),
        ("Costco Wholesale Corp", "Costco Wholesale"),
        ("Co", "Co"),
    ],
)
def test_clean_name_drops_legal_suffixes_and_text_after_a_comma(raw: str, expected: str) -> None:
    assert clean_name(raw) == expected


@pytest.mark.parametrize("raw, expected", [("nvda", "NVDA"), (" brk-b ", "BRK-B"), ("BRK/B", "BRK-B")])
def test_normalize_ticker(raw: str, expected: str) -> None:
    assert normalize_ticker(raw) == expected


@pytest.mark.parametrize("raw", ["", "../etc/passwd", "NV DA", "TOOLONGTICKER1"])
def test_normalize_ticker_rejects_what_is_not_a_symbol(raw: str) -> None:
    with pytest.raises(NewsError, match="not a ticker symbol"):
        normalize_ticker(raw)


def test_curated_table_covers_the_common_tickers() -> None:
    assert len(CURATED) >= 40
    assert CURATED["NVDA"] == ("Nvidia", ("NVIDIA Corporation", "Jensen Huang", "GeForce", "Blackwell"))
    for ticker in ("MSFT", "AAPL", "TSLA", "AMZN", "GOOGL", "META", "AMD", "INTC"):
        assert ticker in CURATED


def test_names_are_unique_ignoring_case() -> None:
    assert Company("AMD", "AMD", ("amd", "Advanced Micro Devices")).names == (
        "AMD",
        "Advanced Micro Devices",
    )


def test_config_name_wins_over_the_table_and_config_aliases_add_to_it() -> None:
    config = make_config(companies={"NVDA": CompanyOverride(name="NVIDIA", aliases=["Team Green"])})
    company = resolve_company("nvda", config, search=None)
    assert company == Company("NVDA", "NVIDIA", (*CURATED["NVDA"][1], "Team Green"))


def test_config_aliases_without_a_name_keep_the_tables_name() -> None:
    config = Config.model_validate(
        {"models_to_test": ["m"], "companies": {"NVDA": {"aliases": ["DGX Cloud", "Hopper"]}}}
    )
    company = resolve_company("NVDA", config, search=None)
    assert company.name == "Nvidia"
    assert company.aliases[-2:] == ("DGX Cloud", "Hopper")


def test_config_aliases_reach_a_ticker_named_by_the_quote_search() -> None:
    data = json.loads((FIXTURES / "quote_search_acme.json").read_text())
    config = Config.model_validate({"models_to_test": ["m"], "companies": {"ACME": {"aliases": ["Roadrunner Trap"]}}})
    company = resolve_company("ACME", config, search=lambda symbol: data)
    assert company == Company("ACME", "Acme Widgets", ("Roadrunner Trap",))


def test_other_company_names_leave_out_every_name_of_ours() -> None:
    others = other_company_names(Company("GOOGL", "Alphabet", ("Google",)))
    assert "Microsoft" in others and "Jensen Huang" in others
    assert "Google" not in others and "Alphabet" not in others and "YouTube" not in others


def test_known_ticker_needs_no_search() -> None:
    def search(symbol: str):
        raise AssertionError("the curated table should answer")

    assert resolve_company("TSLA", make_config(), search=search).name == "Tesla"


def test_unknown_ticker_offline_is_a_clear_error() -> None:
    with pytest.raises(NewsError) as info:
        resolve_company("ACME", make_config(), search=None)
    message = str(info.value)
    assert "'ACME'" in message and "offline" in message and "companies:" in message


def test_unknown_ticker_offline_uses_the_name_stored_in_its_snapshot() -> None:
    company = resolve_company("ACME", make_config(), search=None, stored_name="Acme Widgets")
    assert company.name == "Acme Widgets"


def test_quote_search_answer_names_the_matching_symbol() -> None:
    data = json.loads((FIXTURES / "quote_search_acme.json").read_text())
    company = company_from_quotes("ACME", data)
    assert company == Company("ACME", "Acme Widgets", ())


def test_unknown_ticker_online_asks_the_quote_search() -> None:
    data = json.loads((FIXTURES / "quote_search_acme.json").read_text())
    asked: list[str] = []

    def search(symbol: str):
        asked.append(symbol)
        return data

    assert resolve_company("acme", make_config(), search=search).name == "Acme Widgets"
    assert asked == ["ACME"]


@pytest.mark.parametrize("data", [{}, {"quotes": []}, {"quotes": [{"symbol": "OTHER", "longname": "X"}]}, []])
def test_quote_search_without_the_symbol_is_an_error(data) -> None:
    assert company_from_quotes("ACME", data) is None
    with pytest.raises(NewsError, match="does not know the ticker 'ACME'"):
        resolve_company("ACME", make_config(), search=lambda symbol: data)
