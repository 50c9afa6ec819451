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
from utils.news.articles import load_snapshot  # noqa: E402
from utils.run.prompts import load_templates  # noqa: E402
from utils.run.results import load_result, result_path  # noqa: E402
from utils.run.runner import RunPlan, make_executor, run_benchmark  # noqa: E402

ARMS = ("sequential", "workers 2", "parallel 2", "parallel 4", "ray 2 actors")


def backend_arm(config, spec, conversations, *, reset: bool) -> dict[str, float]:
    """One loaded model answers every conversation; llama.cpp's counters per answer."""
    backend = create_backend(spec, config)
    backend.load()
    backend.warm_up(conversations[0])
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


def kill_test(config_path: Path, kills: int, articles: int, seed: int = 7, window: float = 12.0) -> dict[str, Any]:
    """kill -9 a real run at ``kills`` random moments; then finish it and check every file."""
    import random
    import shutil
    import signal
    import subprocess

    from tests.helpers import write_config, write_snapshot

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="bench_kill_"))
    write_snapshot(work, count=articles)
    config = load_config(config_path)
    spec = config.model("smollm2-135m-instruct:q4_1").model_dump(mode="json", exclude_none=True)
    write_config(work, [spec], sample_size=2, num_tokens_to_predict=config.num_tokens_to_predict)
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
