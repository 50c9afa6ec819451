"""The Leaderboard: one row per model, ranked, saying per criterion which model is best,
which models cannot be told apart from it, and what the design could have detected.

A criterion's best is the model with the best mean over its items among the models with
a value on at least 80% of the criterion's items (:func:`~utils.reports.criteria.eligible`);
a model below that is shown, not ranked on that criterion. Every other ranked model is
compared with the best on the items both answered: an exact sign test for the yes/no
criteria (valid JSON, accuracy: per-item shares, so the item stays the unit), a paired
t-test for label disagreement and latency. p-values are Holm-adjusted over the family
named in the sheet's foot, equal comparisons included (p = 1). "tied" means the adjusted
p is 0.05 or more, "worse" that it is below. The Group column is a compact letter display
over every pair of ranked models on the ranking's first criterion: models sharing a
letter cannot be told apart, and group "a" holds the best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils import stats
from utils.na import NOT_APPLICABLE
from utils.reports.context import ReportContext, join_notes
from utils.reports.criteria import BY_KEY, MIN_COVERAGE, YES_NO, eligible, primary_keys
from utils.reports.model_labels import ModelLabel

TESTED = ["accuracy", "valid_json_rate", "consistency", "latency"]
SHORT = {"accuracy": "Accuracy", "valid_json_rate": "Valid JSON", "consistency": "Disagreement",
         "latency": "Latency"}
POWER_TARGETS = {"accuracy": 0.02, "valid_json_rate": 0.02, "consistency": 0.05, "latency": 0.5,
                 "mean_sentiment": 0.05}
DROPPABLE = ["Macro-F1", "ICC(2,1)", "ICC CI", "ICC Items", "Latency Invalid (s)", "Inference Rate (s)", "Tokens/s",
             "Mean Sentiment", "Sentiment Items"]


def test_name(key: str) -> str:
    """The test a criterion's comparisons use."""
    return "exact sign test on per-item shares" if key in YES_NO else "paired t-test on per-item values"


def _pair_tests(matrix: np.ndarray, left: np.ndarray, right: np.ndarray, yes_no: bool) -> stats.PairedColumns:
    """Sign tests (yes/no) or paired t-tests; a t-test with no variance in its differences gets the sign test's p."""
    signs = stats.sign_test_columns(matrix, left, right)
    if yes_no:
        return signs
    tests = stats.paired_t_columns(matrix, left, right)
    constant = np.array([r.startswith("all differences are equal") for r in tests.reasons], dtype=bool)
    p = np.where(constant, signs.p, stats.family_p(tests))
    reasons = [("" if c else r) for r, c in zip(tests.reasons, constant)]
    return stats.PairedColumns(tests.n, tests.diff, tests.low, tests.high, tests.t, p, reasons)


@dataclass(frozen=True)
class Versus:
    """One criterion: its best model, per model the comparison with it, and the family adjusted."""

    best: str | None
    table: pd.DataFrame  # per model: mean, items, diff, low, high, p_holm, verdict, reason
    family: str
    comparisons: int
    groups: dict[str, str] | None = None  # letter groups (the ranking criterion only)


def versus_best(matrix: pd.DataFrame, higher_is_better: bool, prefer: list[str] | None = None,
                yes_no: bool = False, all_pairs: bool = False) -> tuple[str | None, pd.DataFrame]:
    """(best model, per model: mean, items, difference to best, CI, Holm p, verdict) for one criterion."""
    found = compare_with_best(matrix, higher_is_better, prefer, yes_no, all_pairs)
    return found.best, found.table


def compare_with_best(matrix: pd.DataFrame, higher_is_better: bool, prefer: list[str] | None = None,
                      yes_no: bool = False, all_pairs: bool = False) -> Versus:
    """The comparisons of one criterion with its best model (see the module docstring).

    Among models tied on the best value, the first in ``prefer`` (the overall ranking) is
    the best. With ``all_pairs`` every pair of ranked models is tested (Holm over them all)
    and the letter groups are formed; the comparisons with the best are those pairs.
    """
    means = matrix.mean(axis=0)
    ok = eligible(matrix)
    items = matrix.notna().sum(axis=0)
    base = pd.DataFrame({"mean": means, "items": items, "diff": np.nan, "low": np.nan, "high": np.nan,
                         "p_holm": np.nan, "verdict": "n/a", "reason": ""})
    ordered = stats.round_ties(means.where(ok).to_numpy(float))
    total = int(matrix.notna().any(axis=1).sum())
    base.loc[~ok & (items > 0), "verdict"] = [f"not ranked ({n} of {total} items)" for n in items[~ok & (items > 0)]]
    if not np.isfinite(ordered).any():
        return Versus(None, base, "no model has enough data", 0)
    top = np.nanmax(ordered) if higher_is_better else np.nanmin(ordered)
    rank = {m: i for i, m in enumerate(prefer or [])}
    candidates = [str(m) for m, v in zip(matrix.columns, ordered) if v == top]
    first = min(candidates, key=lambda m: rank.get(m, len(matrix.columns)))
    columns = list(matrix.columns)
    best_index = columns.index(first)
    ranked = [i for i in range(len(columns)) if np.isfinite(ordered[i])]
    values = matrix.to_numpy(float)
    groups = None
    if all_pairs and len(ranked) > 1:
        left, right = (np.asarray(ranked)[index] for index in np.triu_indices(len(ranked), 1))
        tests = _pair_tests(values, left, right, yes_no)
        adjusted = stats.holm(tests.p)
        significant = np.zeros((len(columns), len(columns)), dtype=bool)
        significant[left, right] = significant[right, left] = adjusted < stats.ALPHA
        order = sorted(ranked, key=lambda i: (-ordered[i] if higher_is_better else ordered[i],
                                              rank.get(columns[i], len(columns))))
        letters = stats.letter_groups(significant[np.ix_(order, order)], list(range(len(order))))
        groups = {columns[i]: letter for i, letter in zip(order, letters)}
        pick = [(j, (l_, r_)) for j, (l_, r_) in enumerate(zip(left, right)) if best_index in (l_, r_)]
        others = np.array([r_ if l_ == best_index else l_ for _, (l_, r_) in pick], dtype=int)
        sign = np.array([1.0 if l_ != best_index else -1.0 for _, (l_, r_) in pick])
        index = np.array([j for j, _ in pick], dtype=int)
        diff, low, high = tests.diff[index] * sign, tests.low[index] * sign, tests.high[index] * sign
        low, high = np.minimum(low, high), np.maximum(low, high)
        p_holm, n, reasons = adjusted[index], tests.n[index], [tests.reasons[j] for j in index]
        family = (f"{len(left)} pairs of the {len(ranked)} ranked models")
        comparisons = len(left)
    else:
        others = np.array([i for i in ranked if i != best_index], dtype=int)
        tests = _pair_tests(values, others, np.full(others.size, best_index), yes_no)
        diff, low, high, n, reasons = tests.diff, tests.low, tests.high, tests.n, tests.reasons
        p_holm = stats.holm(tests.p)
        family = f"{others.size} comparisons with the best"
        comparisons = int(others.size)
    verdict = np.where(p_holm >= stats.ALPHA, [f"tied {stats.format_p(p)}" for p in p_holm],
                       [f"worse {stats.format_p(p)}" for p in p_holm]).astype(object)
    equal = ordered[others] == ordered[best_index]
    untested = np.isnan(p_holm)
    verdict[untested] = "untested"
    verdict[~untested & equal & (np.nan_to_num(p_holm) >= stats.ALPHA)] = "tied (equal)"
    out = base.copy()
    out.loc[first, ["verdict", "items"]] = ["best", int(items[first])]
    rows = matrix.columns[others]
    out.loc[rows, ["diff", "low", "high", "p_holm"]] = np.column_stack([diff, low, high, p_holm])
    out.loc[rows, "items"] = n
    out.loc[rows, "verdict"] = verdict
    out.loc[rows, "reason"] = np.where(untested, np.array(reasons, dtype=object), "")
    return Versus(first, out, family, comparisons, groups)


def leaderboard_columns(labelled: bool) -> list[str]:
    """Column names of the Leaderboard sheet (before columns that are n/a for every model are left out)."""
    accuracy = ["Accuracy", "Accuracy Items", "Accuracy vs Best", "Macro-F1"] if labelled else []
    return ["Rank", "Group", "Model", "Quantization", *accuracy,
            "Valid JSON Rate", "Valid JSON Items", "Valid JSON vs Best",
            "Label Disagreement", "Disagreement Items", "Disagreement vs Best",
            "ICC(2,1)", "ICC CI", "ICC Items",
            "Latency All (s)", "Latency Items", "Latency vs Best", "Latency Invalid (s)", "Inference Rate (s)",
            "Tokens/s", "Mean Sentiment", "Sentiment Items", "Notes"]


@dataclass(frozen=True)
class Board:
    """The Leaderboard table and the sentences above and below it."""

    table: pd.DataFrame
    head: list[str]
    foot: list[str]


def ranking_key(ctx: ReportContext) -> str:
    """The ranking's first criterion (the one the groups are formed on)."""
    keys = [k for k in primary_keys(ctx.settings.rank_by, ctx.ranks_by_accuracy) if k in ctx.criterion_matrices]
    return keys[0] if keys else "valid_json_rate"


def criterion_results(ctx: ReportContext) -> dict[str, Versus]:
    """Every tested criterion compared with its best; the ranking criterion over all pairs."""
    order = [str(m) for m in ctx.ranking.index]
    first = ranking_key(ctx)
    return {key: compare_with_best(ctx.criterion_matrices[key], bool(BY_KEY[key].higher_is_better), order,
                                   key in YES_NO, all_pairs=key == first)
            for key in TESTED if key in ctx.criterion_matrices}


def leaderboard(ctx: ReportContext) -> Board:
    """The Leaderboard sheet, sorted by rank (ties share a rank), with its head and foot sentences."""
    labelled = ctx.has_gold_labels
    columns = leaderboard_columns(labelled)
    if not ctx.models:
        return Board(pd.DataFrame(columns=columns), [], [])
    results = criterion_results(ctx)
    first = ranking_key(ctx)
    groups = results[first].groups or {}
    total = len(ctx.item_index)
    macro = _macro_f1(ctx) if labelled else {}
    rows, notes_by_row = [], []
    for model, rank in ctx.ranking.items():
        label = ctx.labels.get(model) or ModelLabel(model)
        icc = ctx.icc[model]
        notes: list[tuple[str, str]] = [("ICC", icc.note)]
        row = {"Rank": rank, "Group": groups.get(model), "Model": model,
               "Quantization": label.quantization or "unknown"}
        for key, found in results.items():
            short, result = SHORT[key], found.table
            row[BY_KEY[key].column] = result.loc[model, "mean"]
            row[f"{short} Items"] = int(result.loc[model, "items"])
            row[f"{short} vs Best"] = result.loc[model, "verdict"]
            if result.loc[model, "reason"]:
                notes.append((f"{short} vs best", result.loc[model, "reason"]))
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
        if groups and row["Group"] is None:
            notes.append(("Group", f"not ranked on {BY_KEY[first].column}: too few items"))
        answered = int(matrices["Valid JSON Rate"][model].notna().sum())
        if pd.isna(row["Latency Invalid (s)"]):  # blank by design when every answer was valid
            row["Latency Invalid (s)"] = NOT_APPLICABLE if row.get("Valid JSON Rate") == 1 else None
            if row["Latency Invalid (s)"] is None:
                notes.append(("Latency Invalid (s)", "no time recorded for the invalid answers"))
        for column, reason in (("Inference Rate (s)", "no valid answers with a time"),
                               ("Tokens/s", "no token counts recorded"), ("Mean Sentiment", "no valid answers")):
            if pd.isna(row[column]):
                notes.append((column, reason))
        if answered < total:
            notes.append(("", f"answered {answered} of {total} items: compared with the best on shared items only"))
        rows.append(row)
        notes_by_row.append(notes)
    table = pd.DataFrame(rows, columns=columns)
    table, notes_by_row, left_out = _drop_empty_columns(table, notes_by_row)
    table["Notes"] = [join_notes(n) for n in notes_by_row]
    return Board(table, _head(ctx, results, first), _foot(ctx, results, first, left_out))


def _drop_empty_columns(table: pd.DataFrame, notes: list[list[tuple[str, str]]]
                        ) -> tuple[pd.DataFrame, list[list[tuple[str, str]]], list[str]]:
    """Columns with no value for any model left out, their per-row notes with them; one line each for the foot."""
    lines = []
    for column in DROPPABLE:
        if column in table and table[column].map(lambda v: v is None or v is NOT_APPLICABLE or pd.isna(v)).all():
            reasons = sorted({why for row in notes for what, why in row if what == column})
            lines.append(f"{column} left out: " + (reasons[0] if len(reasons) == 1 else "no model has a value")
                         + " for any model.")
            table = table.drop(columns=column)
            notes = [[(what, why) for what, why in row if what != column] for row in notes]
    shared = set.intersection(*(set(row) for row in notes)) if len(notes) > 1 else set()
    for what, why in sorted(shared):
        if what and why:
            lines.append(f"Every model: {what}: {why}.")
    notes = [[entry for entry in row if entry not in shared] for row in notes]
    return table, notes, lines


def _head(ctx: ReportContext, results: dict[str, Versus], first: str) -> list[str]:
    """The first screen: the best model, how many share its group, and how the ranks are made."""
    found = results.get(first)
    criterion = BY_KEY[first].column
    if found is None or found.best is None:
        return [f"No model has enough data to be ranked on {criterion}."]
    groups = found.groups or {found.best: "a"}
    top = sorted(m for m, letters in groups.items() if "a" in letters)
    ranked = len(groups)
    if len(top) == 1:
        lead = f"{found.best} is best on {criterion}, told apart from each of the other {ranked - 1} ranked models."
    else:
        lead = (f"Top group: {len(top)} of {ranked} ranked models cannot be told apart on {criterion} "
                f"(group a; the best mean is {found.best}'s). Their order inside the group is not evidence.")
    rule = (f"Ranked by {', then '.join(BY_KEY[k].column for k in primary_keys(ctx.settings.rank_by, ctx.ranks_by_accuracy) if k in results)}; "
            f"a model is ranked on a criterion only with {BY_KEY[first].needs} on at least {MIN_COVERAGE:.0%} of "
            "its items (else shown, 'not ranked'). Group: models sharing a letter cannot be told apart "
            f"({test_name(first)}, Holm over {found.family}).")
    if ctx.synthetic_label_subjects:
        return [lead, rule, synthetic_note(ctx)]
    return [lead, rule]


def synthetic_note(ctx: ReportContext) -> str:
    """The sentence that marks accuracy on synthetic labels (the shipped sample articles')."""
    return (f"Gold labels of {', '.join(ctx.synthetic_label_subjects)} are SYNTHETIC (the intended sentiment the "
            "shipped sample articles were written with; mixed articles have none): accuracy is shown but "
            "does not rank the models (label a real snapshot with --labels, or pass --rank-by accuracy).")


def _foot(ctx: ReportContext, results: dict[str, Versus], first: str, left_out: list[str]) -> list[str]:
    """The families adjusted, the power of the design, and the columns left out."""
    families = "; ".join(f"{BY_KEY[k].column}: {test_name(k)}, Holm over {v.family}" for k, v in results.items()
                         if v.best is not None)
    lines = [f"vs Best, on the items both models answered (the Items column counts them): {families}; "
             "equal comparisons count in the family with p = 1."]
    lines += power_lines(ctx, results)
    return lines + left_out


def design_power(ctx: ReportContext, key: str, comparisons: int = 1) -> stats.Power | stats.NotAvailable:
    """The power of a paired comparison of two models on one criterion (or mean sentiment) with these items."""
    matrix = (ctx.metric_matrix("Mean Sentiment") if key == "mean_sentiment" else ctx.criterion_matrices[key])
    matrix = matrix.loc[:, eligible(matrix)]
    iterations = int(ctx.frame.groupby("model")["iteration"].nunique().median()) if len(ctx.frame) else 0
    return stats.paired_power(matrix.to_numpy(float), POWER_TARGETS[key], iterations, comparisons)


def power_sentence(name: str, found: stats.Power | stats.NotAvailable) -> str:
    """'Power (valid-JSON rate): …' in one sentence."""
    if isinstance(found, stats.NotAvailable):
        return f"Power ({name}): not computable, {found.reason}."
    needed = (f"a difference of {found.target:g} would need about {found.items_needed} items"
              if found.items_needed else f"a difference of {found.target:g} cannot be planned for")
    family = (f"; {found.detectable_family:.3g} at α/{found.comparisons}, Holm's first step"
              if found.comparisons > 1 else "")
    return (f"Power ({name}): with {found.items} items × {found.iterations} iterations, a difference of "
            f"{found.detectable:.3g} between two models is found 80% of the time (paired on items, α = 0.05"
            f"{family}); {needed}.")


def power_lines(ctx: ReportContext, results: dict[str, Versus] | None = None) -> list[str]:
    """The power sentences: the ranking criterion, then mean sentiment."""
    first = ranking_key(ctx)
    comparisons = results[first].comparisons if results and first in results else 1
    lines = [power_sentence(BY_KEY[first].column, design_power(ctx, first, comparisons))]
    models = int(ctx.metric_matrix("Mean Sentiment").notna().any(axis=0).sum())
    pairs = models * (models - 1) // 2  # the Post-hoc sheet's family
    lines.append(power_sentence("Mean Sentiment", design_power(ctx, "mean_sentiment", pairs)))
    return lines


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


@dataclass(frozen=True)
class Figure:
    """What leaderboard.png draws: per model its difference to the best with a simultaneous interval."""

    column: str
    best: str | None
    table: pd.DataFrame  # per model (ranking order): mean, diff, low, high, verdict
    level: float
    comparisons: int
    interval: str


def primary_differences(ctx: ReportContext) -> Figure:
    """The figure's data: the ranking criterion's verdicts, each with the interval of its own test.

    The interval is simultaneous: each at level 1 − 0.05/m over the m comparisons of the
    Holm family (Bonferroni), from the test the verdict uses (the sign test inverted for a
    yes/no criterion, the paired t otherwise). An interval clear of 0 is therefore always a
    "worse" verdict; Holm, a step-down, can also call "worse" a model whose interval touches 0.
    """
    key = ranking_key(ctx)
    criterion = BY_KEY[key]
    found = criterion_results(ctx)[key]
    matrix = ctx.criterion_matrices[key]
    level = 1 - stats.ALPHA / max(found.comparisons, 1)
    table = found.table.reindex(ctx.ranking.index)[["mean", "diff", "low", "high", "verdict"]].copy()
    if found.best is not None:
        for model in table.index:
            if model == found.best or not str(table.loc[model, "verdict"]).startswith(("tied", "worse")):
                continue
            a, b = matrix[model].to_numpy(float), matrix[found.best].to_numpy(float)
            if key in YES_NO:
                estimate = stats.sign_test_interval(a, b, level)
            else:
                estimate = stats.mean_difference_ci(a, b, level)
            table.loc[model, ["diff", "low", "high"]] = [estimate.value, estimate.low, estimate.high]
        table.loc[found.best, ["diff", "low", "high"]] = [0.0, np.nan, np.nan]
    interval = ("median per-item difference, sign-test interval" if key in YES_NO
                else "mean per-item difference, paired-t interval")
    return Figure(criterion.column, found.best, table, level, found.comparisons, interval)
