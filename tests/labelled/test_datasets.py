"""Labelled datasets: FPB and CSV loading, errors naming path and line, stratified sampling.

FinancialPhraseBank is never part of the project: the tests that need it read the shared
copy beside the project and skip where it is absent. Every other test writes its own tiny
invented files in tmp_path.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path

import pytest

from utils.errors import DatasetError
from utils.items import Item
from utils.labelled.datasets import (
    FPB_FILES,
    LABELS,
    LabelledItem,
    load_fpb,
    load_labelled_csv,
    sample_dataset,
    stratified_sample,
)

PROJECT = Path(__file__).resolve().parents[2]
FPB_DIR = PROJECT.parent / "shared" / "data" / "FinancialPhraseBank-v1.0"
SAMPLE_CSV = PROJECT / "data" / "labelled" / "sample.csv"

needs_fpb = pytest.mark.skipif(
    not (FPB_DIR / "Sentences_AllAgree.txt").is_file(),
    reason=f"FinancialPhraseBank v1.0 not found at {FPB_DIR} (it is not redistributed; "
    "place a copy there to run these tests)",
)


def md5_key(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:8]


def write_fpb(folder: Path, lines: list[str], name: str = "Sentences_AllAgree.txt") -> Path:
    path = folder / name
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return path


def items(labels: str) -> list[LabelledItem]:
    """Invented items, one per character: n=negative, u=neutral, p=positive."""
    names = {"n": "negative", "u": "neutral", "p": "positive"}
    return [
        LabelledItem(md5_key(f"item {i}"), f"item {i}", names[c], 0.0, i + 1)
        for i, c in enumerate(labels)
    ]


# --- FinancialPhraseBank format, on invented files ----------------------------------


def test_fpb_lines_split_on_the_last_at_sign_and_decode_latin1(tmp_path):
    path = write_fpb(tmp_path, [
        "Acme Oy's café chain grew sales by 5 %@positive",
        "",
        "Mail orders@acme.example fell@negative",
        "The meeting is on Friday@Neutral",
    ])
    data = load_fpb(tmp_path)
    assert data.name == "FPB-AllAgree"
    assert data.encoding == "latin-1"
    assert [i.text for i in data.items] == [
        "Acme Oy's café chain grew sales by 5 %", "Mail orders@acme.example fell", "The meeting is on Friday",
    ]
    assert [i.gold_label for i in data.items] == ["positive", "negative", "neutral"]
    assert [i.gold_score for i in data.items] == [1.0, -1.0, 0.0]
    assert [i.line for i in data.items] == [1, 3, 4]
    assert all(i.key == md5_key(i.text) for i in data.items)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_utf8_copy_gives_the_same_texts_and_keys(tmp_path):
    (tmp_path / "latin").mkdir()
    (tmp_path / "utf8").mkdir()
    line = "Kauppa Oyj:n liikevaihto kasvoi, sanoo Jörg@positive"
    write_fpb(tmp_path / "latin", [line])
    (tmp_path / "utf8" / "Sentences_AllAgree.txt").write_text(line + "\n", encoding="utf-8")
    latin, utf8 = load_fpb(tmp_path / "latin"), load_fpb(tmp_path / "utf8")
    assert latin.items[0].text == utf8.items[0].text == "Kauppa Oyj:n liikevaihto kasvoi, sanoo Jörg"
    assert (latin.encoding, utf8.encoding) == ("latin-1", "utf-8")


@pytest.mark.parametrize("agreement, key, name", [
    ("all", "all", "FPB-AllAgree"),
    ("75", "75", "FPB-75Agree"),
    ("66", "66", "FPB-66Agree"),
    ("50", "50", "FPB-50Agree"),
    ("AllAgree", "all", "FPB-AllAgree"),
])
def test_agreement_picks_the_file_and_names_the_dataset(tmp_path, agreement, key, name):
    write_fpb(tmp_path, ["Invented sentence@neutral"], name=FPB_FILES[key])
    data = load_fpb(tmp_path, agreement)
    assert (data.name, data.path, data.agreement) == (name, tmp_path / FPB_FILES[key], key)


def test_unknown_agreement_lists_the_allowed_ones(tmp_path):
    with pytest.raises(DatasetError, match="allowed: all, 75, 66, 50"):
        load_fpb(tmp_path, "90")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_fpb(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "Sentences_AllAgree.txt") in str(error.value)
    assert "not found" in str(error.value)


@pytest.mark.parametrize("bad_line, problem", [
    ("No separator on this line", "found no '@'"),
    ("Sales rose@bullish", "unknown label 'bullish'"),
    ("   @positive", "empty sentence"),
])
def test_malformed_line_names_path_and_line(tmp_path, bad_line, problem):
    path = write_fpb(tmp_path, ["First invented line@neutral", "Second invented line@positive", bad_line])
    with pytest.raises(DatasetError) as error:
        load_fpb(tmp_path)
    assert f"{path}: line 3: " in str(error.value)
    assert problem in str(error.value)


def test_a_file_given_as_the_folder_is_named(tmp_path):
    path = write_fpb(tmp_path, ["Invented sentence@neutral"])
    with pytest.raises(DatasetError, match="is a file; pass the folder"):
        load_fpb(path)


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "Sentences_AllAgree.txt").write_bytes(b"\n\n")
    with pytest.raises(DatasetError, match="empty"):
        load_fpb(tmp_path)


def test_duplicates_keep_the_first_and_are_counted(tmp_path):
    write_fpb(tmp_path, [
        "Profit rose@positive", "Board met@neutral", "Profit rose@positive", "Board met@negative",
    ])
    data = load_fpb(tmp_path)
    assert [(i.text, i.gold_label) for i in data.items] == [("Profit rose", "positive"), ("Board met", "neutral")]
    info = data.source_info()
    assert (info["duplicates_dropped"], info["conflicting_duplicates"], info["total_items"]) == (2, 1, 2)


# --- generic CSV -------------------------------------------------------------------


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_word_and_numeric_labels(tmp_path):
    path = write_csv(tmp_path / "my_news.csv", (
        "text,label\n"
        "Invented profit jump,POSITIVE\n"
        '"Sales fell, again",negative\n'
        "Small uptick,0.1\n"
        "Clear gain,0.5\n"
        "Edge of the band,-0.2\n"
        "\n"
        "Whole loss,-1\n"
    ))
    data = load_labelled_csv(path)
    assert data.name == "my_news"
    got = [(i.text, i.gold_label, i.gold_score, i.line) for i in data.items]
    assert got == [
        ("Invented profit jump", "positive", 1.0, 2),
        ("Sales fell, again", "negative", -1.0, 3),
        ("Small uptick", "neutral", 0.1, 4),
        ("Clear gain", "positive", 0.5, 5),
        ("Edge of the band", "negative", -0.2, 6),
        ("Whole loss", "negative", -1.0, 8),
    ]
    assert load_labelled_csv(path, neutral_band=0.6).items[3].gold_label == "neutral"


def test_csv_with_bom_and_extra_columns(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_bytes("\ufeffid,Label,Text\n7,neutral,Invented line\n".encode("utf-8"))
    assert [(i.text, i.gold_label) for i in load_labelled_csv(path).items] == [("Invented line", "neutral")]


@pytest.mark.parametrize("body, line, problem", [
    ("text,label\nok line,positive\nbad line,great\n", 3, "neither negative, neutral, positive nor a number"),
    ("text,label\nok line,positive\ntoo big,1.5\n", 3, "outside [-1, 1]"),
    ("text,label\nok line,positive\nnot a number,nan\n", 3, "outside [-1, 1]"),
    ("text,label\n  ,positive\n", 2, "empty text"),
    ("text,label\nok line,positive\nan,extra,field\n", 3, "expected 2 fields, found 3"),
    ("words,label\nok line,positive\n", 1, "header lacks column(s) text"),
])
def test_csv_errors_name_path_and_line(tmp_path, body, line, problem):
    path = write_csv(tmp_path / "bad.csv", body)
    with pytest.raises(DatasetError) as error:
        load_labelled_csv(path)
    assert f"{path}: line {line}: " in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("body, problem", [("", "empty"), ("text,label\n", "no labelled items")])
def test_csv_without_rows(tmp_path, body, problem):
    with pytest.raises(DatasetError, match=problem):
        load_labelled_csv(write_csv(tmp_path / "empty.csv", body))


def test_csv_missing_and_non_utf8(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_labelled_csv(tmp_path / "absent.csv")
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nCaf\xe9 sales,positive\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_labelled_csv(path)


# --- stratified sampling ---------------------------------------------------------


def test_sample_keeps_proportions():
    pool = items("u" * 50 + "p" * 30 + "n" * 20)
    sample = stratified_sample(pool, 10, seed=3)
    assert Counter(i.gold_label for i in sample) == {"neutral": 5, "positive": 3, "negative": 2}


def test_sample_uses_largest_remainder():
    # quotas 3.5, 2.1, 1.4 -> floors 3, 2, 1 and the one left goes to the largest remainder (neutral)
    pool = items("uuuuu" + "ppp" + "nn")
    sample = stratified_sample(pool, 7, seed=0)
    assert Counter(i.gold_label for i in sample) == {"neutral": 4, "positive": 2, "negative": 1}


def test_sample_is_seeded_ordered_and_independent_of_input_order():
    pool = items("u" * 40 + "p" * 40 + "n" * 40)
    first, again = stratified_sample(pool, 12, seed=7), stratified_sample(pool, 12, seed=7)
    assert first == again
    assert stratified_sample(pool, 12, seed=8) != first
    positions = [pool.index(i) for i in first]
    assert positions == sorted(positions)
    shuffled = pool[:]
    random.Random(1).shuffle(shuffled)
    assert {i.key for i in stratified_sample(shuffled, 12, seed=7)} == {i.key for i in first}


def test_sample_limits():
    pool = items("uupn")
    assert stratified_sample(pool, 10, seed=0) == pool
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DatasetError, match="positive whole number"):
            stratified_sample(pool, bad, seed=0)


# --- dataset objects --------------------------------------------------------------


def test_articles_and_source_info(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", "text,label\nA rose,positive\nB fell,negative\nC met,neutral\nD grew,0.7\n")
    data = sample_dataset(load_labelled_csv(path), limit=3, seed=5)
    articles = data.as_articles()
    assert all(isinstance(a, Item) for a in articles)
    for article, item in zip(articles, data.items):
        assert (article.key, article.content, article.title, article.text) == (item.key, item.text, "", item.text)
        assert (article.gold_label, article.gold_score) == (item.gold_label, item.gold_score)
    info = data.source_info()
    assert info["dataset"] == "tiny" and info["path"] == str(path)
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (info["agreement"], info["limit"], info["sample_seed"], info["total_items"]) == (None, 3, 5, 4)
    assert info["keys"] == [i.key for i in data.items] and len(info["keys"]) == 3


def test_project_sample_csv_is_balanced():
    data = load_labelled_csv(SAMPLE_CSV)
    assert data.name == "sample"
    assert data.label_counts() == {"negative": 20, "neutral": 20, "positive": 20}
    assert data.duplicates_dropped == 0
    assert len({i.key for i in data.items}) == 60
    assert SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0] == "text,label"


# --- the shared FinancialPhraseBank copy -------------------------------------------


@needs_fpb
def test_fpb_all_agree_counts():
    path = FPB_DIR / "Sentences_AllAgree.txt"
    assert len(path.read_bytes().splitlines()) == 2264
    data = load_fpb(FPB_DIR, "all")
    assert data.name == "FPB-AllAgree" and data.encoding == "latin-1"
    assert data.total_items + data.duplicates_dropped == 2264
    assert (data.total_items, data.duplicates_dropped, data.conflicting_duplicates) == (2259, 5, 0)
    assert data.label_counts() == {"negative": 303, "neutral": 1386, "positive": 570}


@needs_fpb
def test_fpb_latin1_decoding():
    data = load_fpb(FPB_DIR, "all")
    accented = [i for i in data.items if not i.text.isascii()]
    assert accented, "AllAgree has sentences with non-ASCII characters"
    assert not any("\ufffd" in i.text or "Ã" in i.text for i in data.items)
    assert all(i.key == md5_key(i.text) for i in data.items)


@needs_fpb
@pytest.mark.parametrize("agreement", ["75", "66", "50"])
def test_fpb_other_agreement_levels_load(agreement):
    data = load_fpb(FPB_DIR, agreement)
    assert data.total_items > 2259
    assert set(data.label_counts()) == set(LABELS) and min(data.label_counts().values()) > 0


@needs_fpb
def test_fpb_stratified_sample_of_30():
    data = load_fpb(FPB_DIR, "all", limit=30, seed=1)
    # 30 x (303, 1386, 570) / 2259 = 4.02, 18.41, 7.57 -> 4, 18, 8 by largest remainder
    assert data.label_counts() == {"negative": 4, "neutral": 18, "positive": 8}
    assert load_fpb(FPB_DIR, "all", limit=30, seed=1).items == data.items
    assert load_fpb(FPB_DIR, "all", limit=30, seed=2).items != data.items
    info = data.source_info()
    assert (info["limit"], info["sample_seed"], len(info["keys"])) == (30, 1, 30)


@needs_fpb
def test_project_sample_shares_no_sentence_with_fpb():
    fpb_keys = {i.key for i in load_fpb(FPB_DIR, "50").items}
    assert not fpb_keys & {i.key for i in load_labelled_csv(SAMPLE_CSV).items}
