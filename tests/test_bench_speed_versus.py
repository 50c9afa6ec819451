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
