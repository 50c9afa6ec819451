"""Accuracy metrics: hand-worked cases, cross-checks against scikit-learn and scipy, degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from utils.labelled.accuracy import (
    BASELINE,
    INVALID,
    PREDICTED,
    _holm,
    _weighted_macro_f1,
    accuracy,
    accuracy_table,
    brier_score,
    class_scores,
    cochran_test,
    confusion_counts,
    expected_calibration_error,
    fleiss_agreement,
    label_metrics,
    macro_f1,
    majority_vote,
    matthews,
    mcnemar_exact,
    mean_absolute_error,
    paired_bootstrap,
    prepare_answers,
    reliability_bins,
    spearman,
    weighted_f1,
)
from utils.labels import LABEL_SCORES, LABELS
from utils.na import NA_TEXT, NotAvailable
from utils.reports.accuracy_plots import accuracy_plots, f1_matrix
from utils.reports.accuracy_sheets import COLUMNS as SHEET_COLUMNS, accuracy_frames, cells
from utils.reports.results_table import COLUMNS

SCORE = {"positive": 0.8, "negative": -0.8, "neutral": 0.0}


def sheets_of(frame: pd.DataFrame, pairs, seed: int = 42, resamples: int = 400) -> dict[str, pd.DataFrame]:
    """The accuracy sheets of a results frame (no pairs given: every pair), neutral band 0.2."""
    return accuracy_frames(prepare_answers(frame, 0.2), pairs or None, resamples=resamples, seed=seed)


def results_frame(records, subject="S") -> pd.DataFrame:
    """A load_results_frame-shaped frame from (model, iteration, key, gold, answer label or None, confidence)."""
    rows = []
    for model, iteration, key, gold, answer, conf in records:
        valid = answer is not None
        rows.append({c: None for c in COLUMNS} | {
            "model": model, "subject": subject, "iteration": iteration, "key": key, "valid": valid,
            "sentiment": SCORE[answer] if valid else None, "confidence": conf if valid else None,
            "gold_label": gold, "gold_score": LABEL_SCORES[gold],
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def random_records(models, items=60, iterations=3, seed=0, p_invalid=0.1, skill=None):
    """Seeded invented answers: each model is right with its own probability."""
    rng = np.random.default_rng(seed)
    gold = rng.choice(LABELS, size=items)
    records = []
    for m, model in enumerate(models):
        p_right = (skill or {}).get(model, 0.5 + 0.1 * m)
        for it in range(iterations):
            for k in range(items):
                if rng.random() < p_invalid:
                    answer = None
                elif rng.random() < p_right:
                    answer = gold[k]
                else:
                    answer = rng.choice(LABELS)
                records.append((model, it, f"k{k:03d}", gold[k], answer, float(rng.uniform(0.3, 1.0))))
    return records


def assert_no_nan(sheets: dict[str, pd.DataFrame]) -> None:
    for name, sheet in sheets.items():
        for value in sheet.to_numpy().ravel():
            assert not (isinstance(value, float) and math.isnan(value)), f"NaN in sheet {name}"


# --- labels and answers ------------------------------------------------------------


def test_prepare_answers_marks_invalid_and_fills_gold_scores():
    frame = results_frame([("m", 0, "a", "positive", "positive", 0.9), ("m", 0, "b", "negative", None, None)])
    frame.loc[len(frame)] = {c: None for c in COLUMNS} | {"model": "m", "subject": "S", "key": "c", "valid": True, "sentiment": 0.5}
    frame.loc[0, "gold_score"] = None
    frame.loc[1, "gold_label"] = " Negative "
    answers = prepare_answers(frame, 0.2)
    assert list(answers["key"]) == ["a", "b"]  # the row without a gold label is not an answer here
    assert list(answers["predicted"]) == ["positive", INVALID]
    assert list(answers["correct"]) == [True, False]
    assert list(answers["gold"]) == ["positive", "negative"]
    assert list(answers["gold_score"]) == [1.0, -1.0]


@pytest.mark.parametrize("labels, vote", [
    (["positive", "positive", "negative"], "positive"),
    (["positive", "negative"], "neutral"),
    (["positive", "negative", INVALID], "neutral"),
    ([INVALID, INVALID, "positive"], INVALID),
    (["negative"], "negative"),
    ([], INVALID),
])
def test_majority_vote_ties_go_to_neutral(labels, vote):
    assert majority_vote(labels) == vote


# --- label metrics: by hand and against scikit-learn ---------------------------------

GOLD = ["positive", "positive", "negative", "neutral", "neutral", "neutral"]
PRED = ["positive", "neutral", "negative", "neutral", "positive", INVALID]


def test_label_metrics_hand_worked():
    row = label_metrics(GOLD, PRED)
    assert row["accuracy"] == pytest.approx(0.5)
    assert (row["precision_positive"], row["recall_positive"], row["f1_positive"]) == pytest.approx((0.5, 0.5, 0.5))
    assert (row["precision_negative"], row["recall_negative"], row["f1_negative"]) == pytest.approx((1, 1, 1))
    assert (row["precision_neutral"], row["recall_neutral"], row["f1_neutral"]) == pytest.approx((0.5, 1 / 3, 0.4))
    assert row["macro_f1"] == pytest.approx((0.5 + 1 + 0.4) / 3)
    assert row["weighted_f1"] == pytest.approx((2 * 0.5 + 1 * 1 + 3 * 0.4) / 6)
    assert [row[f"support_{c}"] for c in LABELS] == [1, 3, 2]


def test_confusion_counts_hand_worked():
    table = confusion_counts(GOLD, PRED)
    assert list(table.columns) == list(PREDICTED)
    assert table.loc["neutral"].tolist() == [0, 1, 1, 1]
    assert table.loc["positive"].tolist() == [0, 1, 1, 0]
    assert int(table.to_numpy().sum()) == len(GOLD)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_label_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    gold = rng.choice(LABELS, size=300).tolist()
    pred = [g if rng.random() < 0.6 else rng.choice(PREDICTED) for g in gold]
    row = label_metrics(gold, pred)
    assert row["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert row["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=list(LABELS), average="macro"))
    assert row["weighted_f1"] == pytest.approx(f1_score(gold, pred, labels=list(LABELS), average="weighted"))
    assert row["mcc"] == pytest.approx(matthews_corrcoef(gold, pred))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=list(LABELS))
    for i, label in enumerate(LABELS):
        assert (row[f"precision_{label}"], row[f"recall_{label}"], row[f"f1_{label}"]) == pytest.approx(
            (precision[i], recall[i], f1[i]))
        assert row[f"support_{label}"] == support[i]
    expected = confusion_matrix(gold, pred, labels=list(PREDICTED))[: len(LABELS)]
    assert (confusion_counts(gold, pred).to_numpy() == expected).all()


def test_matthews_matches_scikit_learn_when_a_class_is_missing():
    gold = ["positive", "negative", "positive", "negative", "positive"]
    pred = ["positive", "neutral", "negative", "negative", INVALID]
    assert matthews(gold, pred) == pytest.approx(matthews_corrcoef(gold, pred))


def test_degenerate_label_metrics_say_why():
    assert isinstance(accuracy([], []), NotAvailable)
    assert isinstance(macro_f1([], []), NotAvailable) and isinstance(weighted_f1([], []), NotAvailable)
    one_class = matthews(["neutral"] * 4, ["neutral", "positive", "neutral", "neutral"])
    assert isinstance(one_class, NotAvailable) and "one class" in one_class.reason
    all_invalid = label_metrics(["positive", "negative"], [INVALID, INVALID])
    assert all_invalid["accuracy"] == 0.0 and all_invalid["macro_f1"] == 0.0
    assert isinstance(all_invalid["mcc"], NotAvailable)
    scores = class_scores(["positive"], ["positive"])
    assert "never predicted" in scores["negative"]["precision"].reason
    assert "no gold 'negative'" in scores["negative"]["recall"].reason
    assert str(scores["negative"]["f1"]) == NA_TEXT


# --- scores, agreement, calibration --------------------------------------------------


def test_mae_and_spearman():
    scores, gold = [0.9, 0.1, -0.5, 0.0], [1.0, 0.0, -1.0, 0.0]
    assert mean_absolute_error(scores, gold) == pytest.approx((0.1 + 0.1 + 0.5 + 0.0) / 4)
    expected = pd.Series(scores).corr(pd.Series(gold), method="spearman")
    assert spearman(scores, gold) == pytest.approx(expected)
    assert "fewer than 3" in spearman([0.1, 0.2], [0, 1]).reason
    assert "same score" in spearman([0.5] * 4, gold).reason
    assert "gold scores are all equal" in spearman(scores, [1.0] * 4).reason
    assert isinstance(mean_absolute_error([], []), NotAvailable)


def agreement_answers(labels_by_item: list[list[str]]) -> pd.DataFrame:
    records = [
        ("m", it, f"k{i}", "neutral", label, 0.5)
        for i, labels in enumerate(labels_by_item)
        for it, label in enumerate(labels)
    ]
    return prepare_answers(results_frame(records))


def fleiss_by_formula(table: np.ndarray) -> float:
    n = table.sum(axis=1)[0]
    p_item = ((table ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_cat = table.sum(axis=0) / table.sum()
    p_e = (p_cat ** 2).sum()
    return (p_item.mean() - p_e) / (1 - p_e)


def test_fleiss_kappa_hand_worked():
    # items: both positive, split, both negative -> P = 2/3, Pe = 1/2, kappa = 1/3
    answers = agreement_answers([["positive", "positive"], ["positive", "negative"], ["negative", "negative"]])
    assert fleiss_agreement(answers) == pytest.approx(1 / 3)


def test_fleiss_kappa_matches_the_formula_with_invalid_as_a_category():
    rng = np.random.default_rng(4)
    labels = [[rng.choice(["positive", "negative", "neutral", None]) for _ in range(4)] for _ in range(30)]
    answers = agreement_answers(labels)
    table = np.array([[sum((label or INVALID) == c for label in row) for c in PREDICTED] for row in labels])
    assert fleiss_agreement(answers) == pytest.approx(fleiss_by_formula(table))


def test_fleiss_kappa_degenerate_cases():
    assert "2 iterations" in fleiss_agreement(agreement_answers([["positive"], ["negative"]])).reason
    same = agreement_answers([["positive", "positive"], ["positive", "positive"]])
    assert "same label" in fleiss_agreement(same).reason
    partial = agreement_answers([["positive", "negative"], ["positive"]])
    assert "fewer than 2 items" in fleiss_agreement(partial).reason


def test_calibration_hand_worked():
    confidence, correct = np.array([0.95, 0.95, 0.85, 0.35]), np.array([1.0, 0.0, 1.0, 0.0])
    # bins 10, 9 and 4: gaps 0.45 (2 answers), 0.15 and 0.35 -> ECE = (0.9 + 0.15 + 0.35) / 4
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.35)
    assert brier_score(confidence, correct) == pytest.approx(1.05 / 4)
    assert brier_score(confidence, correct) == pytest.approx(brier_score_loss(correct, confidence))
    bins = reliability_bins(confidence, correct)
    assert bins["bin"].tolist() == [4, 9, 10]
    assert bins["answers"].tolist() == [1, 1, 2]
    assert bins["accuracy"].tolist() == [0.0, 1.0, 0.5]


def test_calibration_edges_and_emptiness():
    bins = reliability_bins(np.array([0.0, 1.0, 0.1]), np.array([0.0, 1.0, 1.0]))
    assert bins["bin"].tolist() == [1, 2, 10]
    perfect = np.array([1.0, 1.0])
    assert expected_calibration_error(perfect, perfect) == 0.0
    assert isinstance(expected_calibration_error(np.array([]), np.array([])), NotAvailable)
    assert isinstance(brier_score(np.array([]), np.array([])), NotAvailable)


@pytest.mark.parametrize("seed", [0, 5])
def test_brier_matches_scikit_learn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    confidence, correct = rng.uniform(size=200), (rng.uniform(size=200) < 0.6).astype(float)
    assert brier_score(confidence, correct) == pytest.approx(brier_score_loss(correct, confidence))


# --- comparisons ---------------------------------------------------------------------


def test_mcnemar_exact_hand_worked():
    a = [True] * 3 + [False] * 5 + [False] * 2
    b = [True] * 3 + [True] * 5 + [False] * 2
    result = mcnemar_exact(a, b)
    assert (result["a_right_b_wrong"], result["a_wrong_b_right"]) == (0, 5)
    assert result["p_value"] == pytest.approx(2 * 0.5 ** 5)
    assert result["p_value"] == pytest.approx(stats.binomtest(0, 5, 0.5).pvalue)
    assert mcnemar_exact([True, False], [True, False])["p_value"] == 1.0
    assert isinstance(mcnemar_exact([], [])["p_value"], NotAvailable)


def cochran_by_formula(x: np.ndarray) -> float:
    k, column, row = x.shape[1], x.sum(axis=0), x.sum(axis=1)
    total = x.sum()
    return (k - 1) * (k * (column ** 2).sum() - total ** 2) / (k * total - (row ** 2).sum())


def test_cochran_q_matches_the_formula():
    x = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 1, 0], [1, 0, 0], [1, 0, 1]])
    result = cochran_test(pd.DataFrame(x))
    assert result["statistic"] == pytest.approx(cochran_by_formula(x))
    assert result["df"] == 2
    assert result["p_value"] == pytest.approx(stats.chi2.sf(cochran_by_formula(x), 2))


def test_cochran_q_degenerate_cases():
    assert "2 models" in cochran_test(pd.DataFrame({"a": [1, 0]}))["p_value"].reason
    assert "2 items" in cochran_test(pd.DataFrame({"a": [1], "b": [0]}))["p_value"].reason
    assert "disagree" in cochran_test(pd.DataFrame({"a": [1, 0], "b": [1, 0]}))["p_value"].reason


def test_holm_adjustment_hand_worked():
    missing = NotAvailable("no labelled answers from ghost")
    rows = _holm([{"p_value": 0.01}, {"p_value": 0.04}, {"p_value": 0.03}, {"p_value": missing}])
    assert [r["p_holm"] for r in rows[:3]] == pytest.approx([0.03, 0.06, 0.06])
    assert rows[3]["p_holm"] == missing  # no p-value, no adjusted one, for the same reason


def test_the_accuracy_module_computes_values_and_the_sheet_module_renders_them():
    records = [("m", 0, "k1", "positive", None, None), ("m", 0, "k2", "negative", None, None)]
    rows = accuracy_table(prepare_answers(results_frame(records), 0.2))
    model = rows[0]
    assert isinstance(model["mae"], NotAvailable) and model["invalid_rate"] == 1.0  # values, not cells
    assert NA_TEXT not in [v for row in rows for v in row.values() if isinstance(v, str)]
    shown = cells(model)
    assert shown["mae"] == NA_TEXT and "mae" in shown["notes"] and model["mae"].reason in shown["notes"]
    assert cells(rows[1])["notes"].startswith("always answers 'negative'")  # the baseline's own note first


def test_every_accuracy_column_is_declared_in_the_metric_registry():
    from utils.reports.metrics import LABEL_METRICS

    records = random_records(["a", "b"], items=12, seed=9)
    row = accuracy_table(prepare_answers(results_frame(records), 0.2))[0]
    computed = set(row) - {"model", "subject", "notes"}
    assert computed == set(LABEL_METRICS)
    assert SHEET_COLUMNS["Accuracy"] == ["model", "subject", *LABEL_METRICS, "notes"]
    assert all(metric.description for metric in LABEL_METRICS.values())


def test_weighted_macro_f1_matches_scikit_learn_on_an_expanded_sample():
    rng = np.random.default_rng(2)
    gold = rng.choice(LABELS, size=40).astype(object)
    pred = np.array([g if rng.random() < 0.5 else rng.choice(PREDICTED) for g in gold], dtype=object)
    weights = rng.integers(0, 3, size=(5, 40)).astype(float)
    got = _weighted_macro_f1(weights, gold, pred)
    for row, value in zip(weights.astype(int), got):
        g, p = np.repeat(gold, row), np.repeat(pred, row)
        present = [c for c in LABELS if c in set(g) | set(p)]
        assert value == pytest.approx(f1_score(g, p, labels=present, average="macro"))


def test_paired_bootstrap():
    rng = np.random.default_rng(3)
    gold = rng.choice(LABELS, size=120).astype(object)
    a = np.where(rng.random(120) < 0.8, gold, "neutral")
    b = np.where(rng.random(120) < 0.5, gold, "positive")
    result = paired_bootstrap(gold, a, b, resamples=1000, seed=11)
    assert result == paired_bootstrap(gold, a, b, resamples=1000, seed=11)
    assert result["accuracy_diff"] == pytest.approx(np.mean(a == gold) - np.mean(b == gold))
    assert result["accuracy_diff_ci_low"] < result["accuracy_diff"] < result["accuracy_diff_ci_high"]
    assert result["macro_f1_diff"] == pytest.approx(
        f1_score(gold, a, labels=list(LABELS), average="macro") - f1_score(gold, b, labels=list(LABELS), average="macro"))
    assert result["macro_f1_diff_ci_low"] < result["macro_f1_diff"] < result["macro_f1_diff_ci_high"]
    # a normal-theory interval for a paired difference of proportions, as a sanity bound
    diff = (a == gold).astype(float) - (b == gold)
    half = 1.96 * diff.std(ddof=1) / math.sqrt(len(diff))
    assert result["accuracy_diff_ci_high"] - result["accuracy_diff_ci_low"] == pytest.approx(2 * half, rel=0.2)
    same = paired_bootstrap(gold, a, a, resamples=200, seed=0)
    assert (same["accuracy_diff_ci_low"], same["accuracy_diff_ci_high"], same["macro_f1_diff"]) == (0.0, 0.0, 0.0)
    assert isinstance(paired_bootstrap(gold[:1], a[:1], b[:1], 100, 0)["accuracy_diff"], NotAvailable)


# --- the sheets ------------------------------------------------------------------------


def test_sheets_match_scikit_learn_and_hand_counts():
    records = random_records(["m_a", "m_b"], items=60, iterations=3, seed=1)
    sheets = sheets_of(results_frame(records), [("m_a", "m_b")])
    assert set(sheets) == {"Accuracy", "Confusion", "Calibration", "Significance"}
    assert_no_nan(sheets)
    table = sheets["Accuracy"].set_index("model")
    answers = prepare_answers(results_frame(records))
    for model in ("m_a", "m_b"):
        mine = answers[answers["model"] == model]
        row = table.loc[model]
        assert row["accuracy"] == pytest.approx(accuracy_score(mine["gold"], mine["predicted"]))
        assert row["macro_f1"] == pytest.approx(f1_score(mine["gold"], mine["predicted"], labels=list(LABELS), average="macro"))
        assert row["mcc"] == pytest.approx(matthews_corrcoef(mine["gold"], mine["predicted"]))
        assert (row["items"], row["iterations"], row["answers"]) == (60, 3, 180)
        assert row["invalid"] == (mine["predicted"] == INVALID).sum()
        valid = mine[mine["predicted"] != INVALID]
        assert row["accuracy_valid_only"] == pytest.approx(accuracy_score(valid["gold"], valid["predicted"]))
        assert row["brier"] == pytest.approx(brier_score_loss(valid["correct"].astype(int), valid["confidence"]))
        assert row["calibrated_answers"] == len(valid)
        votes = mine.groupby("key").agg(gold=("gold", "first"), voted=("predicted", majority_vote))
        assert row["majority_vote_accuracy"] == pytest.approx((votes["gold"] == votes["voted"]).mean())
    baseline = table.loc[BASELINE]
    gold_counts = answers.drop_duplicates("key")["gold"].value_counts()
    assert baseline["accuracy"] == pytest.approx(gold_counts.max() / 60)
    assert baseline["ece"] == NA_TEXT and "no confidence" in baseline["notes"]
    confusion = sheets["Confusion"]
    assert confusion[confusion["model"] == "m_a"]["total"].sum() == 180
    calibration = sheets["Calibration"]
    assert calibration.groupby("model")["answers"].sum().to_dict() == table["calibrated_answers"].drop(BASELINE).to_dict()
    tests = sheets["Significance"]
    assert tests["test"].tolist() == ["Cochran's Q (all models)", "McNemar exact + paired bootstrap"]
    pair = tests.iloc[1]
    assert pair["p_holm"] == pytest.approx(pair["p_value"])  # one pair: Holm changes nothing
    assert (pair["resamples"], pair["seed"]) == (400, 42)


def test_significance_with_three_models_adjusts_and_finds_a_clear_winner():
    records = random_records(["good", "fair", "poor"], items=150, iterations=1, seed=2, p_invalid=0.0,
                             skill={"good": 0.95, "fair": 0.6, "poor": 0.2})
    sheets = sheets_of(results_frame(records), [], seed=3)
    tests = sheets["Significance"]
    assert_no_nan(sheets)
    cochran = tests.iloc[0]
    assert cochran["model_a"] == "fair, good, poor" and cochran["p_value"] < 1e-6
    pairs = tests.iloc[1:].set_index(["model_a", "model_b"])
    assert len(pairs) == 3
    assert (pairs["p_holm"] >= pairs["p_value"]).all()
    good_poor = pairs.loc[("good", "poor")]
    assert good_poor["accuracy_diff_ci_low"] > 0 and good_poor["macro_f1_diff_ci_low"] > 0


def test_degenerate_inputs_give_reasons_not_crashes():
    records = [
        ("silent", 0, "k1", "positive", None, None), ("silent", 0, "k2", "positive", None, None),
        ("solo", 0, "k1", "positive", "positive", 0.9), ("solo", 0, "k2", "positive", "neutral", 0.7),
    ]
    sheets = sheets_of(results_frame(records), [("solo", "ghost")])
    assert_no_nan(sheets)
    table = sheets["Accuracy"].set_index("model")
    silent = table.loc["silent"]
    assert silent["accuracy"] == 0.0 and silent["invalid_rate"] == 1.0
    for name in ("accuracy_valid_only", "mcc", "mae", "spearman", "ece", "brier", "fleiss_kappa"):
        assert silent[name] == NA_TEXT, name
    assert "no valid answers" in silent["notes"] and "2 iterations" in silent["notes"]
    assert table.loc["solo", "mcc"] == NA_TEXT and "one class" in table.loc["solo", "notes"]
    ghost = sheets["Significance"].iloc[1]
    assert ghost["p_value"] == NA_TEXT and "no labelled answers from ghost" in ghost["notes"]


def test_one_model_only():
    sheets = sheets_of(results_frame(random_records(["only"], items=20, seed=4)), [])
    assert_no_nan(sheets)
    tests = sheets["Significance"]
    assert len(tests) == 1 and "needs at least 2 models" in tests.iloc[0]["notes"]


def test_empty_results_give_empty_sheets_with_a_note():
    frame = pd.DataFrame(columns=COLUMNS)
    sheets = sheets_of(frame, [])
    assert sheets["Accuracy"]["notes"].tolist() == ["no answers with a gold label in these results"]
    assert sheets["Confusion"].empty and sheets["Calibration"].empty and sheets["Significance"].empty
    news_only = results_frame([("m", 0, "k", "neutral", "neutral", 0.5)]).assign(gold_label=None)
    assert sheets_of(news_only, [])["Confusion"].empty


def test_subjects_are_kept_apart():
    frame = pd.concat([
        results_frame(random_records(["m1", "m2"], items=10, seed=5), subject="FPB-AllAgree"),
        results_frame(random_records(["m1", "m2"], items=10, seed=6), subject="sample"),
    ])
    sheets = sheets_of(frame, [("m1", "m2")])
    table = sheets["Accuracy"]
    assert table.groupby("subject")["model"].apply(list).to_dict() == {
        "FPB-AllAgree": ["m1", "m2", BASELINE], "sample": ["m1", "m2", BASELINE]}
    assert sheets["Significance"]["subject"].tolist() == ["FPB-AllAgree"] * 2 + ["sample"] * 2


# --- figures ---------------------------------------------------------------------------


@pytest.mark.slow  # renders the accuracy plots
def test_plots_write_pngs(tmp_path):
    records = random_records(["model:one", "model-two", "three"], items=30, seed=7)
    sheets = sheets_of(results_frame(records, subject="FPB-AllAgree"), [])
    paths = accuracy_plots(sheets, tmp_path / "heatmaps")
    assert [p.name for p in paths] == ["accuracy_f1_FPB-AllAgree.png", "reliability_FPB-AllAgree.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    matrix = f1_matrix(sheets["Accuracy"], "FPB-AllAgree")
    assert list(matrix.columns) == [*LABELS, "macro F1"] and BASELINE in matrix.index


def test_plots_with_no_results_write_nothing(tmp_path):
    sheets = sheets_of(pd.DataFrame(columns=COLUMNS), [])
    assert accuracy_plots(sheets, tmp_path) == []
