#!/usr/bin/env python
"""Measure how fast the run is, as ratios on this machine, all in one run on the same items.

1. llama.cpp's own prefill and decode tokens/s for the model (its perf counters): the limit.
2. Harness five-shot latency per answer with prompt-prefix reuse vs with the KV cache reset
   before every article, and zero-shot; five-shot vs zero-shot prefill per answer.
3. Harness overhead: wall time per answer / llama.cpp's own prefill + decode time.
4. Answers per minute: sequential vs --workers 2 vs parallel 2 and 4 (batched decoding)
   vs Ray on a local cluster with 2 actors (each arm a whole run, model loading included).
5. Peak RSS per worker process.
6. The report scripts on two synthetic results trees (benchmarks/bench_reports.py, when present).
Also: stopping after the JSON object vs generating to the token limit (Gemma 270M base model),
and with --kills N: kill -9 at N random moments of a run, then count broken files, finished
answers redone, and compare the final files with an uninterrupted run's.

Prints a table of ratios and writes the numbers as JSON.

    python benchmarks/bench_speed.py --articles 6
    python benchmarks/bench_speed.py --articles 4 --skip ray reports --json /tmp/speed.json

Run nothing else on the machine meanwhile: two llama.cpp processes on the same cores slow
each other down several-fold.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from utils.backends import Sampling, create_backend  # noqa: E402
from utils.config import DEFAULT_CONFIG_PATH, load_config  # noqa: E402
from utils.news.snapshot_store import load_snapshot  # noqa: E402
from utils.run.prompts import load_templates  # noqa: E402
from utils.run.results import load_result, result_path  # noqa: E402
from utils.run.runner import RunPlan, make_executor, run_benchmark  # noqa: E402

ARMS = ("sequential", "workers 2", "parallel 2", "parallel 4", "ray 2 actors")


def warm_up_apart(backend, conversations: list) -> None:
    """Warm the backend on the last conversation: warmed on the first, the first answer would
    find its whole prompt cached and evaluate nothing, and the means (the shape of the work
    for llama.cpp's tools) would understate the prompt and overstate the cached depth."""
    backend.warm_up(conversations[-1])


def backend_arm(config, spec, conversations, *, reset: bool) -> dict[str, float]:
    """One loaded model answers every conversation; llama.cpp's counters per answer."""
    backend = create_backend(spec, config)
    backend.load()
    warm_up_apart(backend, conversations)
    sampling = Sampling(config.default_temperature, config.num_tokens_to_predict, config.seed,
                        config.repeat_penalty)
    done = []
    for messages in conversations:
        if reset:
            backend._llm.reset()  # forget the cached prefix: the whole prompt is evaluated again
        done.append(backend.chat(messages, sampling))
    backend.close()
    return {
        "seconds_per_answer": statistics.mean(c.seconds for c in done),
        "prefill_seconds_per_answer": statistics.mean(c.prompt_seconds for c in done),
        "decode_seconds_per_answer": statistics.mean(c.eval_seconds for c in done),
        "prefill_tokens_per_answer": statistics.mean(c.extra["prefill_tokens"] for c in done),
        "cached_tokens_per_answer": statistics.mean(c.cached_prompt_tokens or 0 for c in done),
        "prefill_tokens_per_s": sum(c.extra["prefill_tokens"] for c in done) / sum(c.prompt_seconds for c in done),
        "decode_tokens_per_s": sum(c.extra["decode_tokens"] for c in done) / max(1e-9, sum(c.eval_seconds for c in done)),
    }


def run_arm(config, spec, plan_args: dict, out: Path, arm: str) -> dict[str, Any]:
    """A whole run (load included) of one model over the items, one iteration."""
    updates: dict[str, Any] = {"workers": 1, "parallel": 1, "executor": "local"}
    if arm.startswith("workers"):
        updates["workers"] = int(arm.split()[1])
    elif arm.startswith("parallel"):
        updates["parallel"] = int(arm.split()[1])
    elif arm.startswith("ray"):
        updates.update(executor="ray", workers=2)
    changed = config.model_copy(update=updates)
    plan = RunPlan(config=changed, models=[spec], iterations=1, output_dir=out, **plan_args)
    started = time.perf_counter()
    summary = run_benchmark(plan, show_progress=False, executor=make_executor(plan, create_backend))
    wall = time.perf_counter() - started
    path = result_path(out, spec.folder_name, plan.subject, 0)
    answers = list(load_result(path).sentiments.values()) if path.is_file() else []
    status = [o.status for o in summary.outcomes]
    return {
        "status": status,
        "answers": len(answers),
        "valid": sum(a.valid for a in answers),
        "wall_s": wall,
        "answers_per_minute": 60 * len(answers) / wall if answers else 0.0,
        "per_answer_wall_s": statistics.mean(a.time_taken for a in answers) if answers else None,
        "per_answer_backend_s": statistics.mean((a.prompt_seconds or 0) + (a.eval_seconds or 0) for a in answers)
        if answers else None,
        "children_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "self_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _journal_answers(folder: Path) -> dict[str, int]:
    """Finished answers per journal (whole lines only) below ``folder``."""
    counts = {}
    for journal in folder.rglob(".*.partial.jsonl"):
        lines = journal.read_bytes().split(b"\n")[1:-1]  # header first; a torn last line has no newline
        counts[journal.name] = sum(1 for line in lines if line.startswith(b'{"key"'))
    return counts


def _write_kill_run(work: Path, config, articles: int) -> None:
    """``work/config.yaml`` (SmolLM2, 2 iterations) and ``work/articles/NVDA.json`` (the first
    ``articles`` shipped NVDA articles) for the killed run."""
    import yaml

    data = json.loads((PROJECT / "data" / "articles" / "NVDA.json").read_text(encoding="utf-8"))
    data["articles"] = data["articles"][:articles]
    (work / "articles").mkdir(parents=True, exist_ok=True)
    (work / "articles" / "NVDA.json").write_text(json.dumps(data), encoding="utf-8")
    spec = config.model("smollm2-135m-instruct:q4_1").model_dump(mode="json", exclude_none=True)
    settings = {"models_to_test": [spec], "iterations": 2, "num_tokens_to_predict": config.num_tokens_to_predict,
                "context_window_size": 4096, "messages_folder": str(PROJECT / "messages"),
                "articles_folder": "articles", "sentiment_save_folder": "sentiments"}
    (work / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")


def kill_test(config_path: Path, kills: int, articles: int, seed: int = 7, window: float = 12.0) -> dict[str, Any]:
    """kill -9 a real run at ``kills`` random moments; then finish it and check every file."""
    import random
    import shutil
    import signal
    import subprocess

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="bench_kill_"))
    _write_kill_run(work, load_config(config_path), articles)
    command = [sys.executable, str(PROJECT / "generate_model_sentiments.py"), "--config", str(work / "config.yaml"),
               "-c", "NVDA", "--offline", "-q"]
    out = work / "sentiments"
    broken = redone = killed = 0
    history = []
    for _ in range(kills):
        before = _journal_answers(out)
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(rng.uniform(0.5, window))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        stdout = proc.communicate()[0]
        # Everything on disk must read back: result files whole, journals up to their last full line.
        for path in out.rglob("*.json"):
            try:
                load_result(path)
            except Exception:  # noqa: BLE001
                broken += 1
        after = _journal_answers(out)
        # A journal that shrank was thrown away and its answers asked again (one that vanished
        # became its result file, checked above).
        redone += sum(max(0, count - after[name]) for name, count in before.items() if name in after)
        history.append({"journal_answers_before": before, "after": after})
        if stdout:  # the run finished on its own
            break
    expected = sum(_journal_answers(out).values())
    final = subprocess.run(command, capture_output=True, text=True)
    resumed_total = sum(int(line.split()[-1]) for line in final.stdout.splitlines()[1:2])
    redone += max(0, expected - resumed_total)
    reference = work / "reference"
    subprocess.run(command + ["--output-dir", str(reference)], capture_output=True, text=True, check=True)
    same = True
    for path in sorted(reference.rglob("*.json")):
        mine = json.loads((out / path.relative_to(reference)).read_text())
        ref = json.loads(path.read_text())
        same &= list(mine) == list(ref) and list(mine["sentiments"]) == list(ref["sentiments"]) and all(
            list(mine["sentiments"][k]) == list(ref["sentiments"][k]) for k in ref["sentiments"])
    shutil.rmtree(work, ignore_errors=True)
    mid_unit = sum(1 for h in history if sum(h["after"].values()) > 0)
    return {"kills": killed, "kills_leaving_journaled_answers": mid_unit, "broken_files": broken, "finished_answers_redone": redone,
            "answers_in_journals_before_last_run": expected, "resumed_by_last_run": resumed_total,
            "final_exit_code": final.returncode, "same_keys_and_fields_as_uninterrupted": same}


# --- against llama.cpp's own tools (--versus-llama-cpp) ---------------------------------

BATCH_SIZES = (1, 2, 4, 8)


def _sampling(config) -> Sampling:
    return Sampling(config.default_temperature, config.num_tokens_to_predict, config.seed, config.repeat_penalty)


def harness_sequential(config, spec, conversations) -> dict[str, Any]:
    """The harness's five-shot path, one answer at a time with the prefix reused: the token
    counts the llama.cpp tools then repeat, llama.cpp's counters inside the harness, and wall time."""
    backend = create_backend(spec, config.model_copy(update={"parallel": 1}))
    backend.load()
    warm_up_apart(backend, conversations)
    done = [backend.chat(messages, _sampling(config)) for messages in conversations]
    backend.close()
    prefill_tokens = sum(c.extra["prefill_tokens"] for c in done)
    decode_tokens = sum(c.extra["decode_tokens"] for c in done)
    prefill_s = sum(c.prompt_seconds for c in done)
    decode_s = sum(c.eval_seconds for c in done)
    wall = sum(c.seconds for c in done)
    return {
        "answers": len(done),
        "cached_tokens_per_answer": statistics.mean(c.cached_prompt_tokens or 0 for c in done),
        "prefill_tokens_per_answer": prefill_tokens / len(done),
        "decode_tokens_per_answer": decode_tokens / len(done),
        "prefill_tokens_per_s": prefill_tokens / prefill_s,
        "decode_tokens_per_s": decode_tokens / decode_s,
        # Everything that is not llama.cpp's prefill (sampling, the JSON watcher, detokenizing,
        # the chat template) is charged to decoding.
        "decode_tokens_per_s_wall": decode_tokens / max(1e-9, wall - prefill_s),
        "wall_s_per_answer": wall / len(done),
        "overhead_wall_over_counters": wall / (prefill_s + decode_s),
    }


def batched_work(conversations: list, parallel: int, per_slot: int = 3) -> list:
    """The conversations, repeated in order until every slot gets ``per_slot`` of them: with
    fewer, most decoding steps are the tail where answers have finished and slots stand idle
    (llama-batched-bench keeps all N sequences decoding to the end)."""
    wanted = max(len(conversations), per_slot * parallel)
    return [conversations[i % len(conversations)] for i in range(wanted)]


def harness_batched(config, spec, conversations, parallel: int) -> dict[str, Any]:
    """The harness's batched decoding (``parallel`` sequences) over all ``conversations``:
    decoding steps' tokens/s as its decoder timed them, and the wall time of the whole call."""
    conversations = batched_work(conversations, parallel)
    backend = create_backend(spec, config.model_copy(update={"parallel": parallel}))
    backend.load()
    warm_up_apart(backend, conversations)
    decoder = backend._decoder()
    before = dict(decoder.totals)
    started = time.perf_counter()
    done = [c for _, c in backend.chat_stream(conversations, _sampling(config))]  # as the runner asks
    wall = time.perf_counter() - started
    totals = {key: decoder.totals[key] - before[key] for key in before}
    backend.close()
    steps = max(1, totals["decode_steps"])
    return {
        "sequences": parallel,
        "answers": len(done),
        "valid_json": sum(1 for c in done if c.text.strip().startswith("{")),
        "decode_tokens": totals["decode_tokens"],
        "decode_tokens_per_s": totals["decode_tokens"] / max(1e-9, totals["decode_seconds"]),
        "prefill_tokens_per_s": totals["prefill_tokens"] / max(1e-9, totals["prefill_seconds"]),
        "mean_sequences_per_step": totals["decode_tokens"] / steps,
        "wall_s": wall,
        "answers_per_minute": 60 * len(done) / wall,
    }


def llama_cpp_side(config, spec, shape: dict[str, Any], repetitions: int, batched_repetitions: int) -> dict[str, Any]:
    """llama-bench and llama-batched-bench on the same GGUF, threads and token counts."""
    from training.llama_tools import BENCH_TOOLS, ensure_tools, run_batched_bench, run_llama_bench
    from utils.backends.gguf_files import resolve_gguf

    tools = ensure_tools(needed=BENCH_TOOLS)
    model = resolve_gguf(spec)
    # Weight repacking as the harness loads the model (off with an AMX build of llama.cpp).
    common = dict(threads=shape["threads"], flash_attn=config.flash_attn, repack=shape["repack"])
    prefill = run_llama_bench(tools, model, n_prompt=shape["prompt"], depth=shape["depth"], repetitions=repetitions,
                              **common)
    decode = run_llama_bench(tools, model, n_gen=shape["completion"], depth=shape["depth"] + shape["prompt"],
                             repetitions=repetitions, **common)
    runs = [run_batched_bench(tools, model, n_prompt=shape["depth"] + shape["prompt"], n_gen=shape["completion"],
                              sequences=BATCH_SIZES, **common) for _ in range(batched_repetitions)]
    # The same decoding over as many KV cells as the harness's N sequences hold: the shared
    # prompt stands for the prefix and every sequence's own article (depth + N x prompt), so
    # each decoded token attends over what it attends over in the harness's unified cache.
    same_kv = [row for _ in range(batched_repetitions) for n in BATCH_SIZES
               for row in run_batched_bench(tools, model, n_prompt=shape["depth"] + n * shape["prompt"],
                                            n_gen=shape["completion"], sequences=[n], **common)]
    one_thread = None
    if shape["threads"] > 1:  # does the thread count pay? (it does not where another process holds a core)
        single = dict(common, threads=1)
        one_thread = {
            "prefill_tokens_per_s": run_llama_bench(tools, model, n_prompt=shape["prompt"], depth=shape["depth"],
                                                    repetitions=repetitions, **single).mean_tokens_per_s,
            "decode_tokens_per_s": run_llama_bench(tools, model, n_gen=shape["completion"],
                                                   depth=shape["depth"] + shape["prompt"], repetitions=repetitions,
                                                   **single).mean_tokens_per_s,
        }
    cmake_args = tools / "CMAKE_ARGS.txt"
    return {
        "tools": str(tools),
        # How both sides were built, for ratios that mean something (docs/speed.md).
        "tools_cmake_args": cmake_args.read_text(encoding="utf-8").strip() if cmake_args.is_file() else None,
        "prefill": {"tokens_per_s": prefill.mean_tokens_per_s, "sd": prefill.sd_tokens_per_s,
                    "samples": list(prefill.samples), "n_prompt": prefill.n_prompt, "n_depth": prefill.n_depth},
        "decode": {"tokens_per_s": decode.mean_tokens_per_s, "sd": decode.sd_tokens_per_s,
                   "samples": list(decode.samples), "n_gen": decode.n_gen, "n_depth": decode.n_depth},
        "batched": _by_sequences([row for run in runs for row in run]),
        "batched_same_kv": _by_sequences(same_kv),
        "one_thread": one_thread,
    }


def _by_sequences(rows: list) -> dict[str, dict[str, Any]]:
    """llama-batched-bench rows as decode tokens/s per N, mean and sd over the runs."""
    batched = {}
    for n in BATCH_SIZES:
        speeds = [row.decode_tokens_per_s for row in rows if row.sequences == n]
        batched[str(n)] = {"decode_tokens_per_s": statistics.mean(speeds),
                           "sd": statistics.stdev(speeds) if len(speeds) > 1 else 0.0, "samples": speeds}
    return batched


def versus_llama_cpp(config, spec, conversations, *, repetitions: int, batched_repetitions: int,
                     sizes: tuple[int, ...] = BATCH_SIZES) -> dict[str, Any]:
    """The harness and llama.cpp's own tools on the same work, back to back; ratios harness ÷ llama.cpp."""
    from utils.backends.llamacpp import weight_repacking

    threads = config.n_threads or os.cpu_count() or 1
    harness = {"sequential": harness_sequential(config, spec, conversations)}
    seq = harness["sequential"]
    shape = {"threads": threads, "repack": weight_repacking(), "depth": round(seq["cached_tokens_per_answer"]),
             "prompt": round(seq["prefill_tokens_per_answer"]), "completion": max(1, round(seq["decode_tokens_per_answer"]))}
    llama = llama_cpp_side(config, spec, shape, repetitions, batched_repetitions)
    # The harness again, after the tools: a machine that speeds up or slows down over the
    # minutes of the tools' runs would otherwise bias the ratios one way. The sequential
    # figures compared are the means of the runs before and after; both are kept.
    after = harness_sequential(config, spec, conversations)
    harness["sequential_before"], harness["sequential_after"] = dict(seq), after
    for key in ("prefill_tokens_per_s", "decode_tokens_per_s", "decode_tokens_per_s_wall", "wall_s_per_answer"):
        seq[key] = (seq[key] + after[key]) / 2
    harness["batched"] = {str(n): harness_batched(config, spec, conversations, n) for n in sizes if n > 1}
    ratios = {
        "prefill": seq["prefill_tokens_per_s"] / llama["prefill"]["tokens_per_s"],
        "decode": seq["decode_tokens_per_s_wall"] / llama["decode"]["tokens_per_s"],
        "batched": {n: row["decode_tokens_per_s"] / llama["batched"][n]["decode_tokens_per_s"]
                    for n, row in harness["batched"].items()},
        "batched_same_kv": {n: row["decode_tokens_per_s"] / llama["batched_same_kv"][n]["decode_tokens_per_s"]
                            for n, row in harness["batched"].items()},
    }
    return {"shape": shape, "llama_cpp": llama, "harness": harness, "ratios": ratios}


def print_versus(v: dict[str, Any]) -> None:
    shape, llama, harness, ratios = v["shape"], v["llama_cpp"], v["harness"], v["ratios"]
    seq = harness["sequential"]
    print(f"\nthe harness against llama.cpp's own tools: {shape['threads']} threads, weight repacking "
          f"{'on' if shape.get('repack', True) else 'off (AMX build)'}; prompt {shape['prompt']} tokens "
          f"after {shape['depth']} cached, completion {shape['completion']} tokens (the harness's five-shot means)")
    before, after = harness.get("sequential_before"), harness.get("sequential_after")
    if before and after:
        print(f"   the harness's sequential run before / after llama.cpp's tools: prefill "
              f"{before['prefill_tokens_per_s']:.1f} / {after['prefill_tokens_per_s']:.1f}, decode "
              f"{before['decode_tokens_per_s_wall']:.1f} / {after['decode_tokens_per_s_wall']:.1f} tokens/s "
              "(their means are compared)")
    print("   measurement                              llama.cpp tokens/s     harness tokens/s   harness / llama.cpp")
    pre, dec = llama["prefill"], llama["decode"]
    print(f"   prefill {shape['prompt']} at depth {shape['depth']:<5} (llama-bench) {pre['tokens_per_s']:8.1f} ± {pre['sd']:<6.1f}"
          f"       {seq['prefill_tokens_per_s']:8.1f}          {ratios['prefill']:6.2f}")
    print(f"   decode {shape['completion']} at depth {dec['n_depth']:<5} (llama-bench)  {dec['tokens_per_s']:8.1f} ± {dec['sd']:<6.1f}"
          f"       {seq['decode_tokens_per_s_wall']:8.1f}          {ratios['decode']:6.2f}   "
          f"(counters alone {seq['decode_tokens_per_s']:.1f})")
    for n, row in llama["batched"].items():
        mine = harness["batched"].get(n)
        if mine is None:
            print(f"   decode total, N = {n} (batched-bench -pps) {row['decode_tokens_per_s']:8.1f} ± {row['sd']:<6.1f}"
                  f"       {seq['decode_tokens_per_s_wall']:8.1f}          (sequential path)")
            continue
        print(f"   decode total, N = {n} (batched-bench -pps) {row['decode_tokens_per_s']:8.1f} ± {row['sd']:<6.1f}"
              f"       {mine['decode_tokens_per_s']:8.1f}          {ratios['batched'][n]:6.2f}   "
              f"({mine['mean_sequences_per_step']:.1f} sequences per step over {mine['answers']} answers; "
              f"{mine['answers_per_minute']:.1f} answers/min)")
        same = llama.get("batched_same_kv", {}).get(n)
        if same is not None:
            print(f"     same KV cells as the harness (-npp {shape['depth']}+{n}x{shape['prompt']})"
                  f" {same['decode_tokens_per_s']:8.1f} ± {same['sd']:<6.1f}       {mine['decode_tokens_per_s']:8.1f}"
                  f"          {ratios['batched_same_kv'][n]:6.2f}")
    single = llama.get("one_thread")
    if single:
        gain_pre = pre["tokens_per_s"] / single["prefill_tokens_per_s"]
        gain_dec = dec["tokens_per_s"] / single["decode_tokens_per_s"]
        print(f"   llama-bench with 1 thread: prefill {single['prefill_tokens_per_s']:.1f}, decode "
              f"{single['decode_tokens_per_s']:.1f} tokens/s; {shape['threads']} threads gain {gain_pre:.2f}x / {gain_dec:.2f}x")
        if min(gain_pre, gain_dec) < 1.1:
            print(f"   WARNING: {shape['threads']} threads are not faster than 1: another process holds a core (llama.cpp's "
                  "threads wait for each other at every step), or the cores do not scale; these figures are not a "
                  "quiet machine's")
    one = llama["batched"]["1"]["decode_tokens_per_s"]
    gains = ", ".join(f"{n}: {row['decode_tokens_per_s'] / one:.2f}x" for n, row in llama["batched"].items() if n != "1")
    print(f"   llama.cpp's own batching gain over N = 1 (decode total): {gains}")
    print(f"   harness answers/min: sequential {60 / seq['wall_s_per_answer']:.1f}, "
          + ", ".join(f"parallel {n} {row['answers_per_minute']:.1f}" for n, row in harness["batched"].items()))


def llama_cpp_build() -> dict[str, Any]:
    """The CPU and what llama-cpp-python's llama.cpp was built with (its system info)."""
    import llama_cpp

    cpu = None
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cpu": cpu, "llama_cpp_python": llama_cpp.__version__,
            "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()}


def report_timings() -> dict[str, Any] | None:
    path = PROJECT / "benchmarks" / "bench_reports.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("bench_reports", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--model", default="smollm2-135m-instruct:q4_1", help="five-shot model (default SmolLM2)")
    parser.add_argument("--zero-shot-model", default="smollm2-135m-instruct:q4_1-zero-shot")
    parser.add_argument("--articles", type=int, default=6, help="articles per arm (default 6)")
    parser.add_argument("--base-model", default="gemma3-270m:q4_K_M", help="base model for the stop-after-JSON arm")
    parser.add_argument("--skip", nargs="*", default=[], choices=["latency", "arms", "ray", "reports", "stop"],
                        help="leave measurements out")
    parser.add_argument("--kills", type=int, default=0, metavar="N",
                        help="also kill -9 a real run at N random moments and check the files (default: off)")
    parser.add_argument("--kill-articles", type=int, default=4, metavar="N",
                        help="articles of the killed run (2 iterations each; default 4): more answers, more kills "
                             "land mid-run before it finishes")
    parser.add_argument("--kill-window", type=float, default=12.0, metavar="S",
                        help="kill moments are drawn from 0.5..S seconds after each start (default 12)")
    parser.add_argument("--versus-llama-cpp", action="store_true",
                        help="only measure the harness against llama-bench and llama-batched-bench (built once from "
                             "the pinned llama-cpp-python sdist) on the same model and work")
    parser.add_argument("--repetitions", type=int, default=5, metavar="N",
                        help="--versus-llama-cpp: llama-bench repetitions (default 5)")
    parser.add_argument("--batched-repetitions", type=int, default=2, metavar="N",
                        help="--versus-llama-cpp: llama-batched-bench runs (default 2)")
    parser.add_argument("--json", type=Path, default=PROJECT / "benchmarks" / "bench_speed.json",
                        help="where the numbers go (default benchmarks/bench_speed.json)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    spec = config.model(args.model)
    templates = load_templates(config.messages_folder)
    snapshot = load_snapshot(config.articles_folder / "NVDA.json")
    articles = snapshot.articles[: args.articles]
    out: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()},
                           "model": spec.name, "articles": len(articles),
                           "num_tokens_to_predict": config.num_tokens_to_predict}

    if args.versus_llama_cpp:
        out["machine"].update(llama_cpp_build())
        five = [templates.build(spec.prompt_mode, snapshot.company_name or "Nvidia", a.text) for a in articles]
        out["versus"] = versus_llama_cpp(config, spec, five, repetitions=args.repetitions,
                                         batched_repetitions=args.batched_repetitions)
        out["versus_llama_cpp"] = out["versus"]["ratios"]
        out["machine"]["load_average_at_end"] = os.getloadavg()
        print(f"llama.cpp (llama-cpp-python {out['machine']['llama_cpp_python']}) on {out['machine']['cpu']}: "
              f"{out['machine']['llama_cpp_system_info']}")
        print(f"llama.cpp's tools built with: {out['versus']['llama_cpp']['tools_cmake_args']}")
        print(f"model {out['model']}, {out['articles']} articles, {out['machine']['cores']} cores, load average "
              f"{out['machine']['load_average_at_start'][0]:.1f} at start, {out['machine']['load_average_at_end'][0]:.1f} at end")
        print_versus(out["versus"])
        args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
        print(f"\nnumbers: {args.json}")
        return 0
    if "latency" not in args.skip:
        five = [templates.build("five_shot", snapshot.company_name or "Nvidia", a.text) for a in articles]
        zero = [templates.build("zero_shot", snapshot.company_name or "Nvidia", a.text) for a in articles]
        out["latency"] = {
            "five_shot_reuse": backend_arm(config, spec, five, reset=False),
            "five_shot_reset": backend_arm(config, spec, five, reset=True),
            "zero_shot": backend_arm(config, config.model(args.zero_shot_model), zero, reset=False),
        }
    if "stop" not in args.skip:
        base = config.model(args.base_model)
        convs = [templates.build(base.prompt_mode, snapshot.company_name or "Nvidia", a.text) for a in articles]
        out["stop_after_json"] = {
            "to_the_token_limit": backend_arm(config.model_copy(update={"stop_after_json": False}), base, convs,
                                              reset=False),
            "stop_after_json": backend_arm(config.model_copy(update={"stop_after_json": True}), base, convs,
                                           reset=False),
        }
    if "arms" not in args.skip:
        plan_args = dict(templates=templates, subject="NVDA", company_name=snapshot.company_name or "Nvidia",
                         items=articles)
        out["arms"] = {}
        with tempfile.TemporaryDirectory(prefix="bench_speed_") as tmp:
            for arm in ARMS:
                if arm.startswith("ray") and "ray" in args.skip:
                    continue
                try:
                    out["arms"][arm] = run_arm(config, spec, plan_args, Path(tmp) / arm.replace(" ", "_"), arm)
                except Exception as exc:  # noqa: BLE001 - report the arm as not measured, go on
                    out["arms"][arm] = {"error": f"{exc.__class__.__name__}: {exc}"}
    if "reports" not in args.skip:
        out["reports"] = report_timings()
    if args.kills:
        out["kill_9"] = kill_test(args.config, args.kills, args.kill_articles, window=args.kill_window)
    out["machine"]["load_average_at_end"] = os.getloadavg()
    print_table(out)
    args.json.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    print(f"\nnumbers: {args.json}")
    return 0


def print_table(out: dict[str, Any]) -> None:
    print(f"model {out['model']}, {out['articles']} articles, num_tokens_to_predict {out['num_tokens_to_predict']}, "
          f"{out['machine']['cores']} cores, load average at start {out['machine']['load_average_at_start'][0]:.1f}")
    lat = out.get("latency")
    if lat:
        reuse, reset, zero = lat["five_shot_reuse"], lat["five_shot_reset"], lat["zero_shot"]
        print("\n1. llama.cpp's own speed (five-shot, cache reset: whole prompts)")
        print(f"   prefill {reset['prefill_tokens_per_s']:8.1f} tokens/s   decode {reset['decode_tokens_per_s']:6.1f} tokens/s")
        print("\n2. latency per answer                      s/answer  prefill s  prefill tokens  cached tokens")
        for name, row in (("five-shot, prefix reused (harness)", reuse), ("five-shot, cache reset", reset),
                          ("zero-shot", zero)):
            print(f"   {name:<38} {row['seconds_per_answer']:8.2f}  {row['prefill_seconds_per_answer']:9.2f}  "
                  f"{row['prefill_tokens_per_answer']:14.0f}  {row['cached_tokens_per_answer']:13.0f}")
        print(f"   five-shot prefill / zero-shot prefill     {reuse['prefill_seconds_per_answer'] / zero['prefill_seconds_per_answer']:6.2f}x  (target <= 1.2)")
        print(f"   latency without reuse / with reuse        {reset['seconds_per_answer'] / reuse['seconds_per_answer']:6.2f}x  (target >= 2)")
    stop = out.get("stop_after_json")
    if stop:
        full, early = stop["to_the_token_limit"]["seconds_per_answer"], stop["stop_after_json"]["seconds_per_answer"]
        print(f"\n   stop after the JSON (base model): {early:.2f} vs {full:.2f} s/answer to the token limit: "
              f"{full / early:.2f}x")
    arms = out.get("arms")
    if arms:
        base = arms.get("sequential", {}).get("answers_per_minute") or None
        seq = arms.get("sequential", {})
        if seq.get("per_answer_backend_s"):
            print(f"\n3. harness overhead: wall / llama.cpp prefill+decode per answer  "
                  f"{seq['per_answer_wall_s'] / seq['per_answer_backend_s']:6.3f}x  (target <= 1.05)")
        print("\n4./5. whole runs (load included)   answers/min   vs sequential   valid   peak RSS MiB (self / children)")
        for name, row in arms.items():
            if "error" in row:
                print(f"   {name:<30} not measured: {row['error']}")
                continue
            ratio = f"{row['answers_per_minute'] / base:6.2f}x" if base else "   n/a"
            print(f"   {name:<30} {row['answers_per_minute']:11.2f}   {ratio:>13}   {row['valid']:>2}/{row['answers']:<2}"
                  f"   {row['self_peak_rss_mib']:7.0f} / {row['children_peak_rss_mib']:.0f}")
        print("   targets: >= 1.5x from workers or batched decoding; Ray within 10% of workers 2")
    if "kill_9" in out:
        k = out["kill_9"]
        print(f"\n   kill -9 at {k['kills']} random moments ({k['kills_leaving_journaled_answers']} left answers in a "
              f"journal): {k['broken_files']} broken files, "
              f"{k['finished_answers_redone']} finished answers redone ({k['resumed_by_last_run']} resumed of "
              f"{k['answers_in_journals_before_last_run']} journaled), final files same keys and fields as an "
              f"uninterrupted run: {k['same_keys_and_fields_as_uninterrupted']}")
    if "reports" in out:
        print("\n6. report scripts (metrics + workbook + heatmaps)")
        if out["reports"] is None:
            print("   benchmarks/bench_reports.py is not in this checkout: not measured")
        else:
            for name, row in out["reports"].items():
                print(f"   {name:<8} {row['models']}x{row['iterations']}x{row['items']}: {row['total_s']:7.1f} s "
                      f"(target {row['target_s']:.0f} s, ratio {row['ratio_to_target']:.2f})")


if __name__ == "__main__":
    sys.exit(main())
