#!/usr/bin/env python
"""Measure what the run loop's speed choices buy, as ratios on this machine.

1. Prompt-prefix reuse: the same model answers the same articles twice, once as the
   harness does it (system message and examples stay in llama.cpp's KV cache), once
   with the cache reset before every article (what a fresh context per call costs).
2. Stopping after the JSON object (base models write on past their answer).

Each arm runs the same articles with the same seed; the order of arms alternates over
--rounds to spread machine noise. Prints seconds per answer and the ratios.

    python benchmarks/bench_speed.py --articles 6 --rounds 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.news.articles import load_snapshot  # noqa: E402
from utils.backends import Sampling, create_backend  # noqa: E402
from utils.config import DEFAULT_CONFIG_PATH, load_config  # noqa: E402
from utils.run.prompts import load_templates  # noqa: E402


def time_arm(backend, conversations, sampling, reset: bool) -> float:
    """Seconds per answer over ``conversations``."""
    started = time.perf_counter()
    for messages in conversations:
        if reset:
            backend._llm.reset()  # forget the KV cache: the next call evaluates the whole prompt
        backend.chat(messages, sampling)
    return (time.perf_counter() - started) / len(conversations)


def compare(config, model_name: str, arms: dict, articles, rounds: int) -> dict[str, float]:
    spec = config.model(model_name)
    templates = load_templates(config.messages_folder)
    conversations = [templates.build(spec.prompt_mode, "Nvidia", a.text) for a in articles]
    times: dict[str, list[float]] = {name: [] for name in arms}
    for round_index in range(rounds):
        order = list(arms) if round_index % 2 == 0 else list(reversed(arms))
        for name in order:
            overrides, reset = arms[name]
            backend = create_backend(spec, config.model_copy(update=overrides))
            backend.load()
            backend.warm_up(conversations[0])
            sampling = Sampling(config.default_temperature, config.num_tokens_to_predict, config.seed)
            times[name].append(time_arm(backend, conversations, sampling, reset))
            backend.close()
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, result: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    for name, seconds in result.items():
        ratio = result[baseline] / seconds
        print(f"  {name:<34} {seconds:7.2f} s/answer   {ratio:5.2f}x vs {baseline}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--articles", type=int, default=6, help="articles per arm (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="repetitions of each arm (default 2)")
    parser.add_argument("--prefix-model", default="smollm2-135m-instruct:q4_1")
    parser.add_argument("--base-model", default="gemma3-270m:q4_K_M")
    args = parser.parse_args()
    config = load_config(args.config)
    articles = load_snapshot(config.articles_folder / "NVDA.json").articles[: args.articles]

    prefix = compare(config, args.prefix_model, {
        "reset KV cache before every article": ({}, True),
        "reuse the 5-shot prefix (harness)": ({}, False),
    }, articles, args.rounds)
    report(f"Prompt-prefix reuse, {args.prefix_model}, {len(articles)} articles", prefix,
           "reset KV cache before every article")

    stop = compare(config, args.base_model, {
        "generate to the token limit": ({"stop_after_json": False}, False),
        "stop after the JSON object (harness)": ({"stop_after_json": True}, False),
    }, articles, args.rounds)
    report(f"Stopping after the JSON answer, {args.base_model} (base model), "
           f"num_tokens_to_predict={config.num_tokens_to_predict}", stop, "generate to the token limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
