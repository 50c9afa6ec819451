"""Company names for tickers: the prompt's {company_name} and the relevance filter's terms.

Lookup order: config ``companies`` override, the curated table below, then (online)
Yahoo's quote search. Everything here is pure; the quote search is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from utils.config import Config
from utils.errors import NewsError

_TICKER_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,11}$")

# Peeled off one at a time from the end ("Foo Co. Ltd." → "Foo"); matched case-insensitively.
_LEGAL_SUFFIXES = (
    "incorporated", "corporation", "company", "limited", "inc", "corp", "ltd", "llc", "plc",
    "co", "ag", "se", "sa", "s.a", "nv", "n.v", "lp", "l.p",
)


@dataclass(frozen=True)
class Company:
    """A ticker with the name used in prompts and the other names that mark relevance."""

    ticker: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The name and aliases, without repeats (case-insensitive)."""
        seen: dict[str, str] = {}
        for name in (self.name, *self.aliases):
            seen.setdefault(name.casefold(), name)
        return tuple(seen.values())


def _entry(name: str, *aliases: str) -> tuple[str, tuple[str, ...]]:
    """A table row: the prompt name, then the aliases."""
    return name, aliases


# Aliases include people and products only where they point at one company in financial
# news (a founder or long-serving chief executive, a product line's brand).
CURATED: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "NVDA": _entry("Nvidia", "NVIDIA Corporation", "Jensen Huang", "GeForce", "Blackwell"),
    "MSFT": _entry("Microsoft", "Microsoft Corporation", "Satya Nadella", "Azure", "Xbox"),
    "AAPL": _entry("Apple", "Apple Inc.", "Tim Cook", "iPhone", "iPad", "MacBook"),
    "TSLA": _entry("Tesla", "Tesla Inc.", "Cybertruck"),
    "AMZN": _entry("Amazon", "Amazon.com", "AWS", "Amazon Web Services", "Andy Jassy"),
    "GOOGL": _entry("Alphabet", "Google", "Alphabet Inc.", "Sundar Pichai", "YouTube"),
    "GOOG": _entry("Alphabet", "Google", "Alphabet Inc.", "Sundar Pichai", "YouTube"),
    "META": _entry("Meta Platforms", "Meta", "Facebook", "Instagram", "WhatsApp", "Mark Zuckerberg"),
    "AMD": _entry("AMD", "Advanced Micro Devices", "Lisa Su", "Ryzen", "Radeon"),
    "INTC": _entry("Intel", "Intel Corporation", "Xeon"),
    "NFLX": _entry("Netflix"),
    "AVGO": _entry("Broadcom"),
    "ORCL": _entry("Oracle"),
    "CRM": _entry("Salesforce"),
    "ADBE": _entry("Adobe"),
    "IBM": _entry("IBM", "International Business Machines"),
    "QCOM": _entry("Qualcomm", "Snapdragon"),
    "TXN": _entry("Texas Instruments"),
    "MU": _entry("Micron", "Micron Technology"),
    "CSCO": _entry("Cisco", "Cisco Systems"),
    "TSM": _entry("TSMC", "Taiwan Semiconductor", "Taiwan Semiconductor Manufacturing"),
    "ASML": _entry("ASML", "ASML Holding"),
    "ARM": _entry("Arm Holdings", "Arm"),
    "SMCI": _entry("Super Micro Computer", "Supermicro"),
    "PLTR": _entry("Palantir", "Palantir Technologies"),
    "UBER": _entry("Uber", "Uber Technologies"),
    "COIN": _entry("Coinbase", "Coinbase Global"),
    "PYPL": _entry("PayPal"),
    "JPM": _entry("JPMorgan Chase", "JPMorgan", "JP Morgan", "Jamie Dimon"),
    "BAC": _entry("Bank of America", "BofA"),
    "GS": _entry("Goldman Sachs"),
    "MS": _entry("Morgan Stanley"),
    "WFC": _entry("Wells Fargo"),
    "V": _entry("Visa"),
    "MA": _entry("Mastercard"),
    "BRK-B": _entry("Berkshire Hathaway", "Berkshire", "Warren Buffett"),
    "JNJ": _entry("Johnson & Johnson", "J&J"),
    "PFE": _entry("Pfizer"),
    "MRK": _entry("Merck"),
    "LLY": _entry("Eli Lilly", "Lilly"),
    "UNH": _entry("UnitedHealth", "UnitedHealth Group", "UnitedHealthcare"),
    "WMT": _entry("Walmart"),
    "COST": _entry("Costco"),
    "KO": _entry("Coca-Cola", "Coca Cola", "Coke"),
    "PEP": _entry("PepsiCo", "Pepsi"),
    "MCD": _entry("McDonald's", "McDonalds"),
    "DIS": _entry("Disney", "Walt Disney"),
    "NKE": _entry("Nike"),
    "BA": _entry("Boeing"),
    "XOM": _entry("Exxon Mobil", "ExxonMobil", "Exxon"),
    "CVX": _entry("Chevron"),
    "F": _entry("Ford", "Ford Motor"),
    "GM": _entry("General Motors", "GM"),
}


def normalize_ticker(ticker: str) -> str:
    """The ticker in Yahoo's spelling (upper case, BRK/B as BRK-B); NewsError when malformed."""
    symbol = ticker.strip().upper().replace("/", "-")
    if not _TICKER_RE.match(symbol):
        raise NewsError(
            f"{ticker!r} is not a ticker symbol: use letters, digits, '.', '-' (e.g. NVDA, BRK-B)"
        )
    return symbol


def clean_name(raw: str) -> str:
    """A company name without anything after a comma and without legal suffixes."""
    name = " ".join(raw.split(",")[0].split())
    while True:
        trimmed = _strip_one_suffix(name)
        if trimmed == name or not trimmed:
            return name
        name = trimmed


def _strip_one_suffix(name: str) -> str:
    """``name`` with one trailing legal suffix (and dangling '&' or '.') removed."""
    lowered = name.casefold().rstrip(".")
    for suffix in _LEGAL_SUFFIXES:
        if lowered.endswith(" " + suffix):
            kept = name[: len(lowered) - len(suffix)].rstrip(" .&")
            return kept
    return name


def known_company(ticker: str, config: Config) -> Company | None:
    """The company from the config override and the curated table; None when neither names it.

    A config entry's name replaces the table's; its aliases are added to the table's.
    """
    override = config.companies.get(ticker) or config.companies.get(ticker.lower())
    name, aliases = CURATED.get(ticker, (None, ()))
    if override is not None:
        name = override.name or name
        aliases = (*aliases, *override.aliases)
    return Company(ticker, name, tuple(aliases)) if name else None


def configured_aliases(ticker: str, config: Config) -> tuple[str, ...]:
    """The aliases config.yaml adds for ``ticker`` (also when it gives no name)."""
    override = config.companies.get(ticker) or config.companies.get(ticker.lower())
    return tuple(override.aliases) if override is not None else ()


def other_company_names(company: Company) -> tuple[str, ...]:
    """Names of the table's companies other than ``company`` (to tell round-ups from stories)."""
    ours = {n.casefold() for n in company.names}
    names: dict[str, None] = {}
    for ticker, (name, aliases) in CURATED.items():
        candidates = (name, *aliases)
        if ticker == company.ticker or any(c.casefold() in ours for c in candidates):
            continue
        names.update(dict.fromkeys(candidates))
    return tuple(names)


def company_from_quotes(ticker: str, data: Any) -> Company | None:
    """The company Yahoo's quote search answer names for ``ticker``; None when it names none."""
    quotes = data.get("quotes") if isinstance(data, dict) else None
    if not isinstance(quotes, list):
        return None
    for quote in quotes:
        if not isinstance(quote, dict) or str(quote.get("symbol", "")).upper() != ticker:
            continue
        names = [clean_name(str(quote[k])) for k in ("longname", "shortname") if quote.get(k)]
        names = [n for n in names if n]
        if names:
            return Company(ticker, names[0], tuple(n for n in names[1:] if n != names[0]))
    return None


QuoteSearch = Callable[[str], Any]


def resolve_company(
    ticker: str,
    config: Config,
    *,
    search: QuoteSearch | None,
    stored_name: str | None = None,
) -> Company:
    """The company for ``ticker``; ``search`` (None offline) asks Yahoo as a last resort."""
    symbol = normalize_ticker(ticker)
    company = known_company(symbol, config)
    if company is not None:
        return company
    if stored_name:
        return Company(symbol, stored_name, configured_aliases(symbol, config))
    if search is None:
        raise NewsError(_unknown_offline_message(symbol))
    found = company_from_quotes(symbol, search(symbol))
    if found is None:
        raise NewsError(
            f"Yahoo's quote search does not know the ticker {symbol!r}; check the symbol or add "
            f"'companies: {{{symbol}: {{name: ..., aliases: [...]}}}}' to config.yaml"
        )
    return Company(found.ticker, found.name, (*found.aliases, *configured_aliases(symbol, config)))


def _unknown_offline_message(symbol: str) -> str:
    """Why an unknown ticker cannot be named offline, and the two ways out."""
    return (
        f"the company behind ticker {symbol!r} is not in the built-in table and cannot be looked "
        f"up offline; add 'companies: {{{symbol}: {{name: ..., aliases: [...]}}}}' to config.yaml "
        f"or run once without --offline"
    )
