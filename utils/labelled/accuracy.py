"""Accuracy against human labels: per-model metrics, calibration and significance tests.

The tests themselves (Cochran's Q, McNemar's exact test, the item bootstrap, Holm) live in
:mod:`utils.stats`; this module applies them to majority votes. It computes and renders
nothing: each table is a list of rows (dicts of values), which the sheets
(``utils.reports.accuracy_sheets``) turn into cells, with the metrics' formats and directions
from the metric registry (``utils.reports.metrics.LABEL_METRIC_LIST``).

Pure functions over the long results frame (``utils.reports.results_table.load_results_frame``)
limited to labelled items. A metric is a float or a ``NotAvailable`` carrying the reason,
never a silent NaN; in the sheets it reads "n/a" and the reasons go to a ``notes`` column.
A row's own ``notes`` value, where it has one, is a note about the whole row.

Conventions, also stated in the sheets' notes where they matter:

* A sentiment maps to a label with the neutral band: ``|s| < band`` is neutral.
* An invalid answer is the label "invalid": always wrong, never a false positive of a class,
  and counted on its own (``invalid``, ``invalid_rate``, ``accuracy_valid_only``).
* Metrics pool every answer of every iteration. The majority vote over a model's iterations
  counts invalid answers as votes; a tie for the most votes gives "neutral".
* Significance tests compare majority votes on the items every compared model answered.
  Cochran's Q row: Q, df and p. Pair rows: McNemar's exact test (its statistic is the smaller
  discordant count, p two-sided binomial, Holm-adjusted over the subject's pairs) and a paired
  bootstrap of the accuracy and macro-F1 differences (A - B, percentile 95% CI, seeded).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from utils import stats
from utils.labels import INVALID, LABEL_SCORES, LABELS, labels_from_scores
from utils.na import NotAvailable

log = logging.getLogger(__name__)

PREDICTED = (*LABELS, INVALID)
BASELINE = "majority-class baseline"
CALIBRATION_BINS = 10

BIN_COLUMNS = ["bin", "confidence_from", "confidence_to", "answers", "mean_confidence", "accuracy", "gap"]
BOOTSTRAP_COLUMNS = [
    "accuracy_a", "accuracy_b", "accuracy_diff", "accuracy_diff_ci_low", "accuracy_diff_ci_high",
    "macro_f1_a", "macro_f1_b", "macro_f1_diff", "macro_f1_diff_ci_low", "macro_f1_diff_ci_high",
]
_ANSWER_COLUMNS = [
    "model", "subject", "iteration", "key", "gold", "gold_score", "predicted", "correct",
    "sentiment", "confidence",
]


Value = float | NotAvailable
Labels = Sequence[str] | np.ndarray  # labels, as a sequence or an object array
Scores = Sequence[float] | np.ndarray
Row = dict[str, Any]  # column → value (float, int, text or NotAvailable); "notes": about the whole row


# --- answers -------------------------------------------------------------------------


def prepare_answers(frame: pd.DataFrame, neutral_band: float = 0.2) -> pd.DataFrame:
    """One row per labelled answer: gold label and score, predicted label, correctness."""
    if frame is None or frame.empty or "gold_label" not in frame.columns:
        return pd.DataFrame(columns=_ANSWER_COLUMNS)
    data = frame[frame["gold_label"].notna()].copy()
    data["gold"] = data["gold_label"].astype(str).str.strip().str.lower()
    unknown = ~data["gold"].isin(LABELS)
    if unknown.any():
        log.warning("ignored %d answers whose gold label is not one of %s", unknown.sum(), LABELS)
        data = data[~unknown]
    sentiment = pd.to_numeric(data["sentiment"], errors="coerce")
    valid = data["valid"].eq(True).to_numpy() & sentiment.notna().to_numpy()
    data["sentiment"] = sentiment.where(valid)
    data["confidence"] = pd.to_numeric(data["confidence"], errors="coerce").where(valid)
    data["predicted"] = labels_from_scores(data["sentiment"].to_numpy(dtype=float), neutral_band)
    gold_score = pd.to_numeric(data["gold_score"], errors="coerce")
    data["gold_score"] = gold_score.fillna(data["gold"].map(LABEL_SCORES)).astype(float)
    data["correct"] = data["predicted"] == data["gold"]
    return data[_ANSWER_COLUMNS].reset_index(drop=True)


def majority_vote(labels: Iterable[str]) -> str:
    """The most frequent label ('invalid' included); a tie for the top gives 'neutral'."""
    ranked = Counter(labels).most_common()
    if not ranked:
        return INVALID
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "neutral"
    return ranked[0][0]


def vote_frame(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, subject, key): gold label, majority-vote label, correctness."""
    if answers.empty:
        return pd.DataFrame(columns=["model", "subject", "key", "gold", "voted", "correct"])
    votes = (
        answers.groupby(["model", "subject", "key"], sort=True)
        .agg(gold=("gold", "first"), voted=("predicted", majority_vote))
        .reset_index()
    )
    votes["correct"] = votes["gold"] == votes["voted"]
    return votes


# --- label metrics -------------------------------------------------------------------


def accuracy(gold: Labels, pred: Labels, empty: str = "no answers") -> Value:
    """Share of predictions equal to the gold label."""
    gold, pred = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    return float(np.mean(gold == pred)) if len(gold) else NotAvailable(empty)


def class_scores(gold: Labels, pred: Labels) -> dict[str, dict[str, Value]]:
    """Precision, recall, F1 and support per gold class ('invalid' is a miss, not a class)."""
    gold, pred = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    scores: dict[str, dict[str, Value]] = {}
    for label in LABELS:
        tp = int(np.sum((pred == label) & (gold == label)))
        fp = int(np.sum((pred == label) & (gold != label)))
        fn = int(np.sum((pred != label) & (gold == label)))
        scores[label] = {
            "precision": tp / (tp + fp) if tp + fp else NotAvailable(f"'{label}' never predicted"),
            "recall": tp / (tp + fn) if tp + fn else NotAvailable(f"no gold '{label}' items"),
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else NotAvailable(f"'{label}' neither gold nor predicted"),
            "support": tp + fn,
        }
    return scores


def macro_f1(gold: Labels, pred: Labels) -> Value:
    """Unweighted mean F1 over the classes present in gold or predictions."""
    f1s = [s["f1"] for s in class_scores(gold, pred).values() if not isinstance(s["f1"], NotAvailable)]
    return float(np.mean(f1s)) if f1s else NotAvailable("no answers")


def weighted_f1(gold: Labels, pred: Labels) -> Value:
    """Mean F1 over classes weighted by their gold support (a class with gold items always has an F1)."""
    scores = [(s["support"], s["f1"]) for s in class_scores(gold, pred).values()]
    present = [(float(n), f1) for n, f1 in scores if isinstance(n, (int, float)) and n and isinstance(f1, float)]
    total = sum(n for n, _ in present)
    if not total:
        return NotAvailable("no answers")
    return float(sum(n * f1 for n, f1 in present) / total)


def matthews(gold: Labels, pred: Labels) -> Value:
    """Multiclass Matthews correlation (Gorodkin's R_K) over gold and predicted labels."""
    gold, pred = list(gold), list(pred)
    if not gold:
        return NotAvailable("no answers")
    t, p = Counter(gold), Counter(pred)
    n = len(gold)
    correct = sum(g == q for g, q in zip(gold, pred))
    labels = set(t) | set(p)
    cov_tp = correct * n - sum(t[k] * p[k] for k in labels)
    cov_pp = n * n - sum(v * v for v in p.values())
    cov_tt = n * n - sum(v * v for v in t.values())
    if cov_pp == 0 or cov_tt == 0:
        return NotAvailable("all gold labels or all predictions are one class")
    return float(cov_tp / math.sqrt(cov_pp * cov_tt))


def confusion_counts(gold: Labels, pred: Labels) -> pd.DataFrame:
    """Counts with gold labels as rows and predicted labels (with 'invalid') as columns."""
    pairs = Counter(zip(gold, pred))
    data = [[pairs.get((g, p), 0) for p in PREDICTED] for g in LABELS]
    return pd.DataFrame(data, index=list(LABELS), columns=list(PREDICTED))


def label_metrics(gold: Labels, pred: Labels) -> dict[str, Value]:
    """Accuracy, macro and weighted F1, MCC and per-class precision/recall/F1/support."""
    row: dict[str, Value] = {
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred),
        "weighted_f1": weighted_f1(gold, pred),
        "mcc": matthews(gold, pred),
    }
    for label, scores in class_scores(gold, pred).items():
        row.update({f"{name}_{label}": value for name, value in scores.items()})
    return row


# --- scores, agreement, calibration --------------------------------------------------


def mean_absolute_error(scores: Scores, gold_scores: Scores) -> Value:
    """Mean |sentiment - gold score| over valid answers."""
    scores, gold_scores = np.asarray(scores, float), np.asarray(gold_scores, float)
    if not len(scores):
        return NotAvailable("no valid answers")
    return float(np.mean(np.abs(scores - gold_scores)))


def spearman(scores: Scores, gold_scores: Scores) -> Value:
    """Spearman rank correlation of sentiment with the gold score over valid answers."""
    scores, gold_scores = np.asarray(scores, float), np.asarray(gold_scores, float)
    if len(scores) < 3:
        return NotAvailable("fewer than 3 valid answers")
    if np.unique(gold_scores).size < 2:
        return NotAvailable("the gold scores are all equal")
    if np.unique(scores).size < 2:
        return NotAvailable("the model gave the same score to every item")
    from scipy.stats import spearmanr

    return float(spearmanr(scores, gold_scores)[0])


def fleiss_agreement(answers: pd.DataFrame) -> Value:
    """Fleiss' kappa of the labels across iterations ('invalid' a category), items answered in all."""
    if answers["iteration"].nunique() < 2:
        return NotAvailable("needs at least 2 iterations")
    wide = answers.drop_duplicates(["key", "iteration"]).pivot(index="key", columns="iteration", values="predicted")
    complete = wide.dropna()
    if len(complete) < 2:
        return NotAvailable("fewer than 2 items answered in every iteration")
    from statsmodels.stats.inter_rater import fleiss_kappa

    table = np.stack([(complete == label).sum(axis=1).to_numpy() for label in PREDICTED], axis=1)
    if np.count_nonzero(table.sum(axis=0)) < 2:
        return NotAvailable("every answer has the same label; kappa is undefined")
    return _finite(fleiss_kappa(table, method="fleiss"))


def calibration_inputs(answers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct as 0/1) of the valid answers with a confidence in [0, 1]."""
    confidence = answers["confidence"].astype(float)
    usable = confidence.notna() & confidence.between(0.0, 1.0)
    return confidence[usable].to_numpy(float), answers["correct"][usable].to_numpy(float)


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Per non-empty equal-width confidence bin: answers, mean confidence, accuracy and gap."""
    index = np.minimum(np.floor(np.asarray(confidence) * bins), bins - 1).astype(int)
    rows = []
    for b in sorted(set(index.tolist())):
        inside = index == b
        mean_conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        rows.append({
            "bin": b + 1, "confidence_from": b / bins, "confidence_to": (b + 1) / bins,
            "answers": int(inside.sum()), "mean_confidence": mean_conf, "accuracy": acc, "gap": acc - mean_conf,
        })
    return pd.DataFrame(rows, columns=BIN_COLUMNS)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> Value:
    """ECE: answer-weighted mean |accuracy - mean confidence| over equal-width bins."""
    if not len(confidence):
        return NotAvailable("no valid answers with a confidence in [0, 1]")
    table = reliability_bins(confidence, correct, bins)
    return float((table["answers"] * table["gap"].abs()).sum() / table["answers"].sum())


def brier_score(confidence: np.ndarray, correct: np.ndarray) -> Value:
    """Mean squared difference between confidence and correctness (0/1)."""
    if not len(confidence):
        return NotAvailable("no valid answers with a confidence in [0, 1]")
    return float(np.mean((np.asarray(confidence) - np.asarray(correct)) ** 2))


# --- per-model rows ------------------------------------------------------------------


def model_row(answers: pd.DataFrame) -> Row:
    """Every per-model metric for one (model, subject)'s answers."""
    gold, pred = answers["gold"].to_numpy(object), answers["predicted"].to_numpy(object)
    valid = pred != INVALID
    votes = vote_frame(answers)
    confidence, correct = calibration_inputs(answers)
    row: dict[str, Any] = {
        "model": answers["model"].iloc[0], "subject": answers["subject"].iloc[0],
        "items": answers["key"].nunique(), "iterations": answers["iteration"].nunique(),
        "answers": len(answers), "invalid": int((~valid).sum()), "invalid_rate": float((~valid).mean()),
        **label_metrics(gold, pred),
        "accuracy_valid_only": accuracy(gold[valid], pred[valid], "no valid answers"),
        "majority_vote_accuracy": accuracy(votes["gold"], votes["voted"]),
        "fleiss_kappa": fleiss_agreement(answers),
        "mae": mean_absolute_error(answers["sentiment"][valid], answers["gold_score"][valid]),
        "spearman": spearman(answers["sentiment"][valid], answers["gold_score"][valid]),
        "ece": expected_calibration_error(confidence, correct),
        "brier": brier_score(confidence, correct),
        "calibrated_answers": len(confidence),
    }
    return row


def majority_class(gold: Iterable[str]) -> str:
    """The most frequent gold label; ties go to the label first in negative, neutral, positive."""
    counts = Counter(gold)
    return max(LABELS, key=lambda label: (counts.get(label, 0), -LABELS.index(label)))


def baseline_row(answers: pd.DataFrame) -> Row:
    """Metrics of always answering the subject's most frequent gold label, one answer per item."""
    items = answers.drop_duplicates("key")
    gold = items["gold"].to_numpy(object)
    label = majority_class(gold)
    pred = np.full(len(gold), label, dtype=object)
    no_conf = NotAvailable("the baseline has no confidence")
    return {
        "model": BASELINE, "subject": answers["subject"].iloc[0], "items": len(items),
        "iterations": 1, "answers": len(items), "invalid": 0, "invalid_rate": 0.0,
        **label_metrics(gold, pred),
        "accuracy_valid_only": accuracy(gold, pred), "majority_vote_accuracy": accuracy(gold, pred),
        "fleiss_kappa": NotAvailable("the baseline has a single constant answer"),
        "mae": mean_absolute_error(np.full(len(gold), LABEL_SCORES[label]), items["gold_score"]),
        "spearman": NotAvailable("the baseline gives every item the same score"),
        "ece": no_conf, "brier": no_conf, "calibrated_answers": 0,
        "notes": f"always answers '{label}'",
    }


def accuracy_table(answers: pd.DataFrame) -> list[Row]:
    """The "Accuracy" table: a row per (model, subject) plus a baseline row per subject (none without answers)."""
    rows = []
    for _, per_subject in answers.groupby("subject", sort=True):
        rows += [model_row(group) for _, group in per_subject.groupby("model", sort=True)]
        rows.append(baseline_row(per_subject))
    return rows


def confusion_table(answers: pd.DataFrame) -> list[Row]:
    """The "Confusion" table: per (model, subject) a row per gold label, predicted counts across."""
    rows = []
    for (model, subject), group in answers.groupby(["model", "subject"], sort=True):
        counts = confusion_counts(group["gold"], group["predicted"])
        for gold, line in counts.iterrows():
            cells = {f"pred_{p}": int(line[p]) for p in PREDICTED}
            rows.append({"model": model, "subject": subject, "gold": gold, **cells, "total": int(line.sum())})
    return rows


def calibration_table(answers: pd.DataFrame) -> list[Row]:
    """The "Calibration" table: reliability-diagram bins per (model, subject)."""
    frames: list[Row] = []
    for (model, subject), group in answers.groupby(["model", "subject"], sort=True):
        confidence, correct = calibration_inputs(group)
        bins = reliability_bins(confidence, correct)
        frames += [{"model": model, "subject": subject, **row} for row in bins.to_dict("records")]
    return frames


# --- comparisons ---------------------------------------------------------------------


def cochran_test(correct: pd.DataFrame) -> dict[str, Value]:
    """Cochran's Q on an items x models table of 0/1 correctness (:func:`utils.stats.cochran_q`): statistic, df, p."""
    names = ("statistic", "df", "p_value")
    if correct.shape[1] < 2:
        return _unavailable(names, "needs at least 2 models")
    if correct.shape[0] < 2:
        return _unavailable(names, "fewer than 2 items answered by every model")
    result = stats.cochran_q(correct.to_numpy(float))
    if not result.ok:
        return _unavailable(names, "no item where the models disagree" if "differ" in result.note else result.note)
    return {"statistic": _finite(result.statistic), "df": float(result.df[0]), "p_value": _finite(result.p_value)}


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, Value]:
    """McNemar's exact test on paired correctness (:func:`utils.stats.mcnemar_exact`): counts, statistic, p."""
    result = stats.mcnemar_exact(correct_a, correct_b)
    if not result.ok:
        return _unavailable(("statistic", "p_value"), result.note)
    return {**result.extra, "statistic": result.statistic, "p_value": result.p_value}


def _weighted_macro_f1(weights: np.ndarray, gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 of each resample (row of weights), over the classes present in that resample."""
    f1s = []
    for label in LABELS:
        said, truth = (pred == label).astype(float), (gold == label).astype(float)
        hit = said * truth
        tp = weights @ hit
        denominator = weights @ said + weights @ truth
        f1s.append(np.divide(2 * tp, denominator, out=np.full_like(tp, np.nan), where=denominator > 0))
    return np.nanmean(np.stack(f1s), axis=0)


def paired_bootstrap(
    gold: Labels, pred_a: Labels, pred_b: Labels, resamples: int, seed: int
) -> dict[str, Value]:
    """Observed A-B differences in accuracy and macro-F1 with percentile 95% CIs over items."""
    gold, a, b = (np.asarray(x, dtype=object) for x in (gold, pred_a, pred_b))
    if len(gold) < 2:
        return _unavailable(BOOTSTRAP_COLUMNS, "fewer than 2 items answered by both models")
    acc_diffs, f1_diffs = [], []
    for weights in stats.bootstrap_weights(len(gold), resamples, seed):
        acc_diffs.append(weights @ ((a == gold).astype(float) - (b == gold)) / len(gold))
        f1_diffs.append(_weighted_macro_f1(weights, gold, a) - _weighted_macro_f1(weights, gold, b))
    acc_low, acc_high = stats.percentile_interval(np.concatenate(acc_diffs))
    f1_low, f1_high = stats.percentile_interval(np.concatenate(f1_diffs))
    return {
        "accuracy_a": accuracy(gold, a), "accuracy_b": accuracy(gold, b),
        "accuracy_diff": float(np.mean(a == gold) - np.mean(b == gold)),
        "accuracy_diff_ci_low": float(acc_low), "accuracy_diff_ci_high": float(acc_high),
        "macro_f1_a": macro_f1(gold, a), "macro_f1_b": macro_f1(gold, b),
        "macro_f1_diff": _difference(macro_f1(gold, a), macro_f1(gold, b)),
        "macro_f1_diff_ci_low": float(f1_low), "macro_f1_diff_ci_high": float(f1_high),
        "resamples": resamples, "seed": seed,
    }


def pair_row(votes: pd.DataFrame, subject: str, a: str, b: str, resamples: int, seed: int) -> Row:
    """McNemar exact test and paired bootstrap for models a and b on their common items."""
    row: Row = {"subject": subject, "test": "McNemar exact + paired bootstrap", "model_a": a, "model_b": b}
    missing = [m for m in (a, b) if m not in set(votes["model"])]
    if missing:
        reason = f"no labelled answers from {', '.join(missing)} for {subject}"
        return {**row, **_unavailable(("statistic", "p_value"), reason)}
    wide = votes.pivot(index="key", columns="model", values="voted")[[a, b]].dropna()
    gold = votes.drop_duplicates("key").set_index("key")["gold"].reindex(wide.index)
    row["items"] = len(wide)
    row.update(mcnemar_exact(wide[a] == gold, wide[b] == gold))
    row.update(paired_bootstrap(gold, wide[a], wide[b], resamples, seed))
    if not row.get("a_right_b_wrong", 1) + row.get("a_wrong_b_right", 1):
        row["notes"] = "no item where exactly one model is right"
    return row


def significance_table(
    answers: pd.DataFrame, pairs: Iterable[Sequence[str]] | None, resamples: int, seed: int
) -> list[Row]:
    """Cochran's Q across all models and, per pair, McNemar (Holm-adjusted) and bootstrap CIs.

    ``pairs`` are result-folder names as the report resolved them; None compares every pair.
    """
    rows: list[Row] = []
    for subject, per_subject in answers.groupby("subject", sort=True):
        votes = vote_frame(per_subject)
        models = sorted(votes["model"].unique())
        correct = votes.pivot(index="key", columns="model", values="correct").dropna()
        cochran = {"subject": subject, "test": "Cochran's Q (all models)", "model_a": ", ".join(models),
                   "items": len(correct), **cochran_test(correct)}
        rows.append(cochran)
        wanted = list(itertools.combinations(models, 2)) if pairs is None else list(pairs)
        pair_rows = [pair_row(votes, subject, a, b, resamples, seed) for a, b in wanted]
        rows += _holm(pair_rows)
    return rows


def accuracy_tables(
    answers: pd.DataFrame, pairs: Iterable[Sequence[str]] | None, *, resamples: int, seed: int
) -> dict[str, list[Row]]:
    """The tables "Accuracy", "Confusion", "Calibration" and "Significance" of prepared answers.

    ``answers`` come from :func:`prepare_answers`; ``pairs`` are result-folder names (None: every pair).
    """
    return {
        "Accuracy": accuracy_table(answers),
        "Confusion": confusion_table(answers),
        "Calibration": calibration_table(answers),
        "Significance": significance_table(answers, pairs, resamples, seed),
    }


# --- values ----------------------------------------------------------------------------


def _unavailable(names: Iterable[str], reason: str) -> dict[str, Value]:
    """The same NotAvailable for every name."""
    return {name: NotAvailable(reason) for name in names}


def _finite(value: Any) -> Value:
    """A float, or NotAvailable when the computation produced NaN or infinity."""
    value = float(value)
    return value if math.isfinite(value) else NotAvailable("the computation gave no finite number")


def _difference(a: Value, b: Value) -> Value:
    """a - b, or the first NotAvailable."""
    if isinstance(a, NotAvailable):
        return a
    if isinstance(b, NotAvailable):
        return b
    return float(a) - float(b)


def _holm(rows: list[Row]) -> list[Row]:
    """The pair rows with Holm-adjusted McNemar p-values (:func:`utils.stats.holm`) over the pairs
    that have one; a row without a p-value has no adjusted one, for the same reason."""
    adjusted = stats.holm([row["p_value"] if isinstance(row.get("p_value"), float) else None for row in rows])
    for row, p in zip(rows, adjusted):
        missing = row.get("p_value")
        row["p_holm"] = float(p) if np.isfinite(p) else (
            missing if isinstance(missing, NotAvailable) else NotAvailable("no p-value to adjust"))
    return rows
