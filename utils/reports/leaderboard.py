"""The Leaderboard: one row per model, ranked, saying per criterion which model is best and
which models cannot be told apart from it.

For each ranked criterion the best model is the one with the best mean over its items;
every other model is compared with it by a paired t-test on the items both answered, the
p-values Holm-adjusted over those comparisons. "tied" means the adjusted p is 0.05 or
more (on these items the difference is not distinguishable from chance), "tied (equal)" that
the values are equal, "worse" that the adjusted p is below 0.05.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from utils.na import NOT_APPLICABLE
from utils.reports import stats
from utils.reports.context import ReportContext, join_notes
from utils.reports.criteria import BY_KEY
from utils.reports.model_labels import ModelLabel

TESTED = ["accuracy", "valid_json_rate", "consistency", "latency"]
SHORT = {"accuracy": "Accuracy", "valid_json_rate": "Valid JSON", "consistency": "Disagreement",
         "latency": "Latency"}


def versus_best(matrix: pd.DataFrame, higher_is_better: bool,
                prefer: list[str] | None = None) -> tuple[str | None, pd.DataFrame]:
    """(best model, per model: mean, items, difference to best, CI, Holm p, verdict) for one criterion.

    Among models tied on the best value, the first in ``prefer`` (the overall ranking) is the best.
    """
    means = matrix.mean(axis=0)
    items = matrix.notna().sum(axis=0)
    ordered = stats.round_ties(means.to_numpy(float))
    if not np.isfinite(ordered).any():
        return None, pd.DataFrame({"mean": means, "items": items, "verdict": "n/a", "reason": ""})
    top = np.nanmax(ordered) if higher_is_better else np.nanmin(ordered)
    candidates = [str(m) for m, v in zip(matrix.columns, ordered) if v == top]
    first = min(candidates, key=lambda m: (prefer or []).index(m) if m in (prefer or []) else len(matrix.columns))
    best_index = int(list(matrix.columns).index(first))
    others = np.array([i for i in range(matrix.shape[1]) if i != best_index], dtype=int)
    tests = stats.paired_t_columns(matrix.to_numpy(float), others, np.full(others.size, best_index))
    adjusted = np.array([np.nan if p is None else p
                         for p in stats.holm([None if np.isnan(p) else float(p) for p in tests.p])], dtype=float)
    verdict = np.where(adjusted >= stats.ALPHA, [f"tied p={p:.2g}" for p in adjusted],
                       [f"worse p={p:.2g}" for p in adjusted]).astype(object)
    untested = np.isnan(adjusted)
    equal = ordered[others] == ordered[best_index]
    verdict[untested & equal] = "tied (equal)"
    verdict[untested & ~equal] = "untested"  # the reason goes to the Notes
    # every shared item differs by the same amount (e.g. 50% against 100% valid on each): no t-test
    # is needed to see that; say so rather than "untested"
    constant = np.array([r.startswith("all differences are equal") for r in tests.reasons], dtype=bool)
    worse_side = tests.diff < 0 if higher_is_better else tests.diff > 0
    verdict[untested & constant & worse_side] = "worse (every item)"
    verdict[untested & ~np.isfinite(ordered[others])] = "n/a"
    reasons = np.where(verdict == "untested", np.array(tests.reasons, dtype=object), "")
    out = pd.DataFrame({"mean": means, "items": items, "diff": np.nan, "low": np.nan, "high": np.nan,
                        "p_holm": np.nan, "verdict": "best", "reason": ""})
    rows = matrix.columns[others]
    out.loc[rows, ["diff", "low", "high", "p_holm"]] = np.column_stack([tests.diff, tests.low, tests.high, adjusted])
    out.loc[rows, "verdict"] = verdict
    out.loc[rows, "reason"] = reasons
    return str(matrix.columns[best_index]), out


def leaderboard_columns(labelled: bool) -> list[str]:
    """Column names of the Leaderboard sheet."""
    accuracy = ["Accuracy", "Accuracy Items", "Accuracy vs Best", "Macro-F1"] if labelled else []
    return ["Rank", "Model", "Quantization", *accuracy,
            "Valid JSON Rate", "Valid JSON Items", "Valid JSON vs Best",
            "Label Disagreement", "Disagreement Items", "Disagreement vs Best",
            "ICC(2,1)", "ICC CI", "ICC Items",
            "Latency All (s)", "Latency Items", "Latency vs Best", "Latency Invalid (s)", "Inference Rate (s)",
            "Tokens/s", "Mean Sentiment", "Sentiment Items", "Notes"]


def leaderboard_table(ctx: ReportContext) -> pd.DataFrame:
    """The Leaderboard sheet, sorted by rank (ties share a rank)."""
    labelled = ctx.has_gold_labels
    columns = leaderboard_columns(labelled)
    if not ctx.models:
        return pd.DataFrame(columns=columns)
    order = [str(m) for m in ctx.ranking.index]
    results = {key: versus_best(ctx.criterion_matrices[key], bool(BY_KEY[key].higher_is_better), order)[1]
               for key in TESTED if key in ctx.criterion_matrices}
    total = len(ctx.item_index)
    macro = _macro_f1(ctx) if labelled else {}
    rows = []
    for model, rank in ctx.ranking.items():
        label = ctx.labels.get(model) or ModelLabel(model)
        icc = ctx.icc[model]
        untested: list[tuple[str, str]] = []
        row = {"Rank": rank, "Model": model, "Quantization": label.quantization or "unknown"}
        for key, result in results.items():
            short = SHORT[key]
            row[BY_KEY[key].column] = result.loc[model, "mean"]
            row[f"{short} Items"] = int(result.loc[model, "items"])
            row[f"{short} vs Best"] = result.loc[model, "verdict"]
            if result.loc[model, "reason"]:
                untested.append((f"{short} vs best", result.loc[model, "reason"]))
        if labelled:
            row["Macro-F1"] = macro.get(model)
        matrices = ctx.metric_matrices
        row.update({
            "ICC(2,1)": icc.value, "ICC CI": _ci_text(icc), "ICC Items": icc.extra.get("items"),
            "Latency Invalid (s)": matrices["Latency Invalid (s)"][model].mean(),
            "Inference Rate (s)": matrices["Inference Rate (s)"][model].mean(),
            "Tokens/s": matrices["Tokens/s"][model].mean(),
            "Mean Sentiment": matrices["Mean Sentiment"][model].mean(),
            "Sentiment Items": int(matrices["Mean Sentiment"][model].notna().sum()),
        })
        answered = int(matrices["Valid JSON Rate"][model].notna().sum())
        notes = [("ICC", icc.note), *untested]
        if pd.isna(row["Latency Invalid (s)"]):  # blank by design when every answer was valid
            row["Latency Invalid (s)"] = NOT_APPLICABLE if row.get("Valid JSON Rate") == 1 else None
            if row["Latency Invalid (s)"] is None:
                notes.append(("Latency Invalid", "no time recorded for the invalid answers"))
        for column, reason in (("Inference Rate (s)", "no valid answers with a time"),
                               ("Tokens/s", "no token counts recorded"), ("Mean Sentiment", "no valid answers")):
            if pd.isna(row[column]):
                notes.append((column, reason))
        if answered < total:
            notes.append(("", f"answered {answered} of {total} items: compared with the best on shared items only"))
        row["Notes"] = join_notes(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _ci_text(estimate: stats.Estimate) -> str | None:
    """'[0.512, 0.803]' or None."""
    if estimate.low is None or estimate.high is None:
        return None
    return f"[{estimate.low:.3f}, {estimate.high:.3f}]"


def _macro_f1(ctx: ReportContext) -> dict[str, float | None]:
    """Macro-F1 per model over all its labelled answers."""
    from utils.labelled import accuracy

    out: dict[str, float | None] = {}
    for model, group in ctx.labelled_answers.groupby("model"):
        value = accuracy.macro_f1(group["gold"], group["predicted"])
        out[str(model)] = value if isinstance(value, float) else None
    return out


def primary_differences(ctx: ReportContext) -> tuple[str, str | None, pd.DataFrame]:
    """(criterion column, best model, per model difference to the best with CI) for the figure."""
    key = "accuracy" if ctx.has_gold_labels else "valid_json_rate"
    criterion = BY_KEY[key]
    best, result = versus_best(ctx.criterion_matrices[key], bool(criterion.higher_is_better),
                               [str(m) for m in ctx.ranking.index])
    return criterion.column, best, result.reindex(ctx.ranking.index)
