#!/usr/bin/env python
"""Wall time of the three report scripts on synthetic results trees, as ratios to the targets.

Two trees are built in a temporary folder, in this project's result format (with titles,
token counts, finish reasons): the older tool's scale, 34 models × 14 iterations × 20
articles (target 10 s for the three steps), and 100 models × 30 iterations × 50 articles
(target 60 s). Each tree has a strong article effect, a few models that read higher, one
model with few valid answers and one whose invalid answers are slow. Each step runs as
its own process (``python generate_*.py``), as a user runs it, so import time counts.

    python benchmarks/bench_reports.py                 # both trees
    python benchmarks/bench_reports.py --only small    # 34 × 14 × 20 only

``run(...)`` returns the same numbers as a dict, for ``bench_speed.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
STEPS = ["generate_model_metrics.py", "generate_model_comparison_report.py", "generate_heatmaps.py"]
TREES = {
    "small": {"models": 34, "iterations": 14, "items": 20, "target_s": 10.0},
    "large": {"models": 100, "iterations": 30, "items": 50, "target_s": 60.0},
}


def build_tree(root: Path, models: int, iterations: int, items: int, seed: int = 0) -> Path:
    """Write ``models`` model folders of ``iterations`` result files over ``items`` articles under ``root``."""
    rng = np.random.default_rng(seed)
    article = rng.normal(0.3, 0.45, size=items)
    quants = ["q4_K_M", "q5_K_M", "q8_0", "f16", "q4_0", "iq4_XS", "Q8"]
    folder = root / "sentiments"
    for m in range(models):
        name = f"family{m // len(quants)}-{quants[m % len(quants)]}"
        shift = 0.2 if m % 11 == 3 else 0.0
        scores = np.clip(article[:, None] + shift + rng.normal(0, 0.12, (items, iterations)), -1, 1)
        invalid = rng.random(scores.shape) < (0.75 if m == 1 else 0.03)
        slow_invalid = m == 2
        (folder / name).mkdir(parents=True, exist_ok=True)
        for it in range(iterations):
            sentiments = {}
            for i in range(items):
                bad = bool(invalid[i, it])
                sentiments[f"a{i:07d}"] = {
                    "reasoning": "" if bad else "synthetic", "sentiment": None if bad else float(scores[i, it]),
                    "confidence": None if bad else 0.8, "valid": not bad, "url": f"https://example.com/{i}",
                    "published": "2024-05-01", "title": f"Headline {i}", "raw_text": None,
                    "error": "no JSON" if bad else None,
                    "time_taken": (25.0 if bad and slow_invalid else 2.0 + 0.01 * i),
                    "prompt_tokens": 400, "completion_tokens": None if bad else 60,
                    "bare_json": None if bad else True, "finish_reason": "length" if bad else "json_complete",
                }
            data = {"model": name, "subject": "NVDA", "iteration": it, "backend": "llama_cpp",
                    "prompt_mode": "five_shot", "average_sentiment": 0.0, "time_taken": 1.0,
                    "sentiments": sentiments}
            (folder / name / f"NVDA_{it}.json").write_text(json.dumps(data), encoding="utf-8")
    (root / "config.yaml").write_text(
        "models_to_test: [not-in-this-tree:7b]\ncomparison_pairs:\n  - [family0-q4_K_M, family0-q8_0]\n"
        "  - [family1-q4_K_M, family1-f16]\n", encoding="utf-8")
    return root


def time_steps(root: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(wall seconds, CPU seconds) of each report step run as a separate process on the tree at ``root``.

    CPU seconds (user + system of the step and its workers) show the work apart from waiting
    for a CPU that other processes hold; on an idle machine wall time is close to CPU time
    divided by the cores the step keeps busy.
    """
    out: dict[str, float] = {}
    cpu: dict[str, float] = {}
    args = ["--config", str(root / "config.yaml"), "--sentiments-dir", str(root / "sentiments"),
            "--output-dir", str(root / "reports"), "-q"]
    for step in STEPS:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(PROJECT / step), *args], cwd=PROJECT, capture_output=True,
                              text=True, check=False, env={**os.environ, "PYTHONPATH": str(PROJECT)})
        out[step] = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[step] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise RuntimeError(f"{step} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return out, cpu


def run(only: str | None = None, keep: Path | None = None) -> dict:
    """Build the trees, time the three steps; per tree: step seconds, total, target, ratio (total / target)."""
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_reports_") as tmp:
        base = keep or Path(tmp)
        for name, tree in TREES.items():
            if only and name != only:
                continue
            root = base / name
            started = time.perf_counter()
            build_tree(root, tree["models"], tree["iterations"], tree["items"])
            built = time.perf_counter() - started
            steps, cpu = time_steps(root)
            total = sum(steps.values())
            results[name] = {**tree, "build_s": built, "steps_s": steps, "total_s": total, "cpu_s": cpu,
                             "total_cpu_s": sum(cpu.values()), "ratio_to_target": total / tree["target_s"],
                             "load_average": os.getloadavg()[0]}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=list(TREES), help="time one tree only")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build the trees in DIR and keep them")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    results = run(args.only, args.keep)
    print(f"{'tree':<22} {'':>5} {'metrics':>8} {'compare':>8} {'heatmaps':>8} {'total':>8} {'target':>7} "
          f"{'ratio':>6}")
    for name, r in results.items():
        label = f"{name} {r['models']}x{r['iterations']}x{r['items']}"
        for kind, steps, total in (("wall", r["steps_s"], r["total_s"]), ("cpu", r["cpu_s"], r["total_cpu_s"])):
            s = list(steps.values())
            print(f"{label if kind == 'wall' else '':<22} {kind:>5} {s[0]:8.1f} {s[1]:8.1f} {s[2]:8.1f} {total:8.1f} "
                  f"{r['target_s']:7.0f} {total / r['target_s']:6.2f}")
        print(f"{'':<22} load average at the end: {r['load_average']:.1f} (on {os.cpu_count()} cores)")
    print("ratio = seconds / target; <= 1.00 meets the target (wall: what a user waits; cpu: the work)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
