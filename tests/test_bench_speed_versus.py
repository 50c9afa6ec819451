"""benchmarks/bench_speed.py --versus-llama-cpp: the batched work and the printed table (no model loaded)."""

from __future__ import annotations

import importlib.util

from tests.helpers import PROJECT

_spec = importlib.util.spec_from_file_location("bench_speed", PROJECT / "benchmarks" / "bench_speed.py")
bench_speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_speed)  # type: ignore[union-attr]


def test_batched_work_gives_every_slot_three_conversations_in_order():
    conversations = [["a"], ["b"], ["c"], ["d"], ["e"]]
    assert bench_speed.batched_work(conversations, 1) == conversations  # already enough
    assert bench_speed.batched_work(conversations, 2) == conversations + [["a"]]
    eight = bench_speed.batched_work(conversations, 8)
    assert len(eight) == 24 and eight[:5] == conversations and eight[5] == ["a"] and eight[23] == ["d"]


def _row(speed):
    return {"decode_tokens_per_s": speed, "sd": 1.0, "samples": [speed]}


def test_the_table_prints_both_batched_comparisons(capsys):
    harness_row = {"decode_tokens_per_s": 60.0, "mean_sequences_per_step": 3.5, "answers": 12,
                   "answers_per_minute": 15.0}
    versus = {
        "shape": {"threads": 2, "repack": False, "depth": 869, "prompt": 206, "completion": 75},
        "llama_cpp": {"prefill": {"tokens_per_s": 90.0, "sd": 1.0}, "decode": {"tokens_per_s": 43.0, "sd": 0.1, "n_depth": 1075},
                      "batched": {"1": _row(42.0), "4": _row(68.0)},
                      "batched_same_kv": {"1": _row(42.0), "4": _row(61.0)},
                      "one_thread": {"prefill_tokens_per_s": 170.0, "decode_tokens_per_s": 55.0}},
        "harness": {"sequential": {"prefill_tokens_per_s": 98.0, "decode_tokens_per_s_wall": 44.0,
                                   "decode_tokens_per_s": 45.0, "wall_s_per_answer": 4.0},
                    "batched": {"4": harness_row}},
        "ratios": {"prefill": 98 / 90, "decode": 44 / 43, "batched": {"4": 60 / 68}, "batched_same_kv": {"4": 60 / 61}},
    }
    bench_speed.print_versus(versus)
    out = capsys.readouterr().out
    assert "weight repacking off" in out
    assert "N = 4" in out and "0.88" in out  # against the shared whole prompt
    assert "-npp 869+4x206" in out and "0.98" in out  # against the same KV cells
    assert "WARNING: 2 threads are not faster than 1" in out  # 90 vs 170 tokens/s prefill


def test_the_warm_up_is_not_one_of_the_first_answers():
    """Warmed on the first conversation, the first answer would evaluate no prompt at all."""
    warmed = []
    backend = type("Backend", (), {"warm_up": lambda self, messages: warmed.append(messages)})()
    bench_speed.warm_up_apart(backend, [["first"], ["second"], ["third"]])
    assert warmed == [["third"]]


def test_the_sequential_ratios_use_the_harness_runs_before_and_after_the_tools(monkeypatch):
    """A machine drifting during the tools' minutes biases a one-sided comparison; the harness
    runs on both sides of them and their mean is compared."""
    runs = iter([80.0, 100.0])

    def sequential(config, spec, conversations):
        speed = next(runs)
        return {"cached_tokens_per_answer": 838, "prefill_tokens_per_answer": 237, "decode_tokens_per_answer": 67,
                "prefill_tokens_per_s": 3 * speed, "decode_tokens_per_s": speed + 2, "decode_tokens_per_s_wall": speed,
                "wall_s_per_answer": 1.0}

    def tools(config, spec, shape, repetitions, batched_repetitions):
        assert (shape["depth"], shape["prompt"], shape["completion"]) == (838, 237, 67)  # from the first run
        return {"prefill": {"tokens_per_s": 300.0}, "decode": {"tokens_per_s": 100.0},
                "batched": {}, "batched_same_kv": {}}

    monkeypatch.setenv("LLAMA_ARG_REPACK", "0")
    monkeypatch.setattr(bench_speed, "harness_sequential", sequential)
    monkeypatch.setattr(bench_speed, "llama_cpp_side", tools)
    config = type("Config", (), {"n_threads": 2})()
    versus = bench_speed.versus_llama_cpp(config, None, [], repetitions=1, batched_repetitions=1, sizes=(1,))
    assert versus["ratios"]["decode"] == 0.9 and versus["ratios"]["prefill"] == 0.9
    harness = versus["harness"]
    assert harness["sequential_before"]["decode_tokens_per_s_wall"] == 80.0
    assert harness["sequential_after"]["decode_tokens_per_s_wall"] == 100.0
