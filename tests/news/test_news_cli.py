"""The news options of generate_model_sentiments.py: several tickers, --snapshot.

Snapshots are built over loopback with --fetch-only; the pinned run is answered by the
scripted backend (tests/scripted.py), reached through the real backend table, so no model loads.
"""

from __future__ import annotations

import pytest

import generate_model_sentiments
from tests.helpers import FEED_PATH, HTML, SMOLLM2, no_robots_txt, render_feed, write_config
from utils.news.snapshot_store import dated_snapshots
from utils.run.results import load_result

STORY = (
    "<article><p>{name} said on Tuesday that quarterly revenue rose 12%, ahead of forecasts, as "
    "business customers renewed their contracts.</p><p>The company raised its outlook for the year "
    "and said it would buy back more shares.</p><p>Its chief financial officer expects margins to stay "
    "near record levels.</p></article>"
)


def serve_tickers(server, names: dict[str, str], version: int = 1) -> str:
    """An RSS feed per ticker with ``version`` stories each, and their pages."""
    base = server.url_for("").rstrip("/")
    no_robots_txt(server)
    for ticker, name in names.items():
        items = "".join(
            f"<item><title>{name} update {n}</title><link>{base}/news/{ticker.lower()}-{n}.html</link>"
            f"<pubDate>@AGO:{n}h@</pubDate></item>"
            for n in range(1, version + 1)
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{ticker}</title>{items}</channel></rss>'
        server.expect_request(FEED_PATH, query_string={"s": ticker, "region": "US", "lang": "en-US"}).respond_with_data(
            render_feed(base, feed), content_type="application/rss+xml"
        )
        for n in range(1, version + 1):
            server.expect_request(f"/news/{ticker.lower()}-{n}.html").respond_with_data(
                STORY.format(name=name), content_type=HTML
            )
    return base


def project(tmp_path, base: str, cache: str = "cache/http.sqlite") -> list[str]:
    news = {"feed_url": f"{base}{FEED_PATH}?s={{ticker}}&region=US&lang=en-US", "cache_path": cache,
            "request_delay_s": 0.0, "max_retries": 0}
    model = dict(SMOLLM2, prompt_mode="zero_shot")
    write_config(tmp_path, [model], iterations=1, num_tokens_to_predict=64, context_window_size=1024, news=news)
    return ["--config", str(tmp_path / "config.yaml"), "-q"]


def test_several_tickers_space_or_comma_separated(loopback, tmp_path, capsys) -> None:
    argv = project(tmp_path, serve_tickers(loopback, {"MSFT": "Microsoft", "AAPL": "Apple", "TSLA": "Tesla"}))
    assert generate_model_sentiments.main([*argv, "--company", "msft,AAPL", "TSLA", "--fetch-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["MSFT", "AAPL", "TSLA"]
    for ticker in ("MSFT", "AAPL", "TSLA"):
        assert len(dated_snapshots(tmp_path / "articles", ticker)) == 1


def test_tickers_helper_keeps_order_and_drops_repeats() -> None:
    assert generate_model_sentiments.tickers(["nvda, msft", "NVDA", "aapl,"]) == ["NVDA", "MSFT", "AAPL"]
    assert generate_model_sentiments.tickers(None) == []


@pytest.mark.parametrize(
    "extra",
    [["--snapshot", "2026-11-24", "--refresh"], ["--snapshot", "a/NVDA.json", "-c", "NVDA", "MSFT"],
     ["--dataset", "csv", "--dataset-path", "x.csv", "--snapshot", "2026-11-24"]],
)
def test_snapshot_option_conflicts_are_usage_errors(extra, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        generate_model_sentiments.main(extra)
    assert info.value.code == 2 and "--snapshot" in capsys.readouterr().err


def test_a_bad_ticker_among_several_stops_before_any_model_runs(loopback, tmp_path, capsys) -> None:
    argv = project(tmp_path, serve_tickers(loopback, {"MSFT": "Microsoft"}))
    assert generate_model_sentiments.main([*argv, "-c", "MSFT", "--fetch-only"]) == 0
    assert generate_model_sentiments.main([*argv, "-c", "MSFT", "AAPL", "--offline"]) == 2
    assert "no article snapshot for AAPL" in capsys.readouterr().err
    assert not (tmp_path / "sentiments").exists()


def test_run_of_two_tickers_pinned_to_their_first_snapshots(loopback, tmp_path, scripted_backend) -> None:
    names = {"MSFT": "Microsoft", "AAPL": "Apple"}
    argv = project(tmp_path, serve_tickers(loopback, names, version=1))
    assert generate_model_sentiments.main([*argv, "-c", "MSFT", "AAPL", "--fetch-only"]) == 0
    first = {}
    for ticker in names:  # date the first refresh back to another day
        [made] = dated_snapshots(tmp_path / "articles", ticker)
        first[ticker] = made.rename(made.with_name("2026-01-05T090000Z.json"))
    loopback.clear()
    argv = project(tmp_path, serve_tickers(loopback, names, version=2), cache="cache/second.sqlite")
    assert generate_model_sentiments.main([*argv, "-c", "MSFT", "AAPL", "--refresh", "--fetch-only"]) == 0
    assert all(len(dated_snapshots(tmp_path / "articles", t)) == 2 for t in names)

    pinned = [*argv, "-c", "MSFT,AAPL", "--offline", "--snapshot", "2026-01-05"]
    assert generate_model_sentiments.main(pinned) == 0
    asked = [messages[-1]["content"] for _, messages, _ in scripted_backend.calls]
    assert len(asked) == 2 and "Microsoft update 1" in asked[0] and "Apple update 1" in asked[1]
    assert not any("update 2" in text for text in asked)  # the second snapshot's stories were not read

    for ticker in names:
        result = load_result(tmp_path / "sentiments" / "smollm2-135m-instruct_q4_1" / f"{ticker}_0.json")
        assert result.subject == ticker and len(result.sentiments) == 1  # the first snapshot's one story
        assert result.source["snapshot_id"] == f"{ticker}/2026-01-05T090000Z.json"
        assert result.source["snapshot"] == str(first[ticker])
