"""Users' own corpora and labelled tasks (#24): every form of source, the splits, the label names, the errors."""

import os
import threading

import pytest

import fixtures
from keras_bert_mlm.config import UserError
from keras_bert_mlm.sources import Corpus, iter_texts, read_task


def write(path, text, mode="w"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(text)
    return str(path)


def user_error(call, *culprits):
    """Run `call`, expect a one-line UserError naming every culprit; return its message."""
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for culprit in culprits:
        assert str(culprit) in message, message
    return message


# Corpora

def test_a_folder_is_every_txt_file_under_it_in_sorted_order(tmp_path):
    os.makedirs(tmp_path / "docs" / "b")
    write(tmp_path / "docs" / "b" / "2.txt", "second\nfile\n")
    write(tmp_path / "docs" / "a.txt", "  first file  \n")
    write(tmp_path / "docs" / "c.txt", "\n \n")  # blank: skipped
    write(tmp_path / "docs" / "notes.md", "not a .txt")
    assert list(iter_texts(str(tmp_path / "docs"))) == ["first file", "second\nfile"]


def test_a_txt_file_is_one_text_a_line(tmp_path):
    path = write(tmp_path / "lines.txt", "\ufeffone\n\n   \ntwo words\r\nthree")
    assert list(iter_texts(path)) == ["one", "two words", "three"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_tables_give_their_text_column(tmp_path, fmt):
    rows = [{"id": 1, "text": 'a "quoted", comma'}, {"id": 2, "text": "two\nlines"}, {"id": 3, "text": " "},
            {"id": 4, "body": "x", "text": "last"}]
    path = fixtures.write_table(tmp_path / f"t.{fmt}", rows)
    assert list(iter_texts(path)) == ['a "quoted", comma', "two\nlines", "last"]
    assert list(iter_texts(path + ":id")) == ["1", "2", "3", "4"]  # FILE:COLUMN overrides text_column
    assert list(iter_texts(path, text_column="id"))[-1] == "4"


def test_a_path_that_exists_with_a_colon_wins_over_the_column_split(tmp_path):
    fixtures.write_table(tmp_path / "a.csv", [{"text": "split at the colon", "v2.csv": "column v2.csv"}])
    path = fixtures.write_table(tmp_path / "a.csv:v2.csv", [{"text": "whole path"}])
    assert list(iter_texts(path)) == ["whole path"]
    os.remove(path)
    assert list(iter_texts(path)) == ["column v2.csv"]


def test_corpus_reads_its_sources_in_order_again_and_again(tmp_path):
    os.makedirs(tmp_path / "reviews")
    write(tmp_path / "reviews" / "1.txt", "a review")
    notes = fixtures.write_table(tmp_path / "notes.csv", [{"body": "a note", "text": ""}])
    lines = write(tmp_path / "lines.txt", "a line\n")
    corpus = Corpus([str(tmp_path / "reviews"), notes + ":body", lines])
    corpus.check()
    assert list(corpus) == list(corpus) == ["a review", "a note", "a line"]
    assert corpus.describe() == (f"3 sources: {tmp_path / 'reviews'} (folder of .txt), {notes}[body], {lines}")
    assert Corpus(notes).describe() == f"1 source: {notes}[text]"


def test_corpus_streams_its_files(tmp_path):
    """The first text comes back while the rest of the file is not written yet: nothing reads it whole."""
    for name, head, tail in [("big.csv", "text\nfirst\n", "second\n"), ("big.jsonl", '{"text": "first"}\n',
                             '{"text": "second"}\n'), ("big.txt", "first\n", "second\n")]:
        path = str(tmp_path / name)
        os.mkfifo(path)
        got_first = threading.Event()

        def writer():
            with open(path, "w") as f:
                f.write(head)
                f.flush()
                f.write(tail if got_first.wait(30) else "read whole\n")

        thread = threading.Thread(target=writer)
        thread.start()
        texts = iter(Corpus([path]))
        assert next(texts) == "first"
        got_first.set()
        assert list(texts) == ["second"]
        thread.join()


def test_corpus_check_names_the_bad_source(tmp_path):
    good = fixtures.write_table(tmp_path / "good.csv", [{"text": "fine"}])
    user_error(Corpus([good, str(tmp_path / "missing.csv")]).check, "missing.csv", "no such file")
    user_error(Corpus([good + ":body"]).check, good, "'body'", "its columns: text")
    user_error(Corpus([str(tmp_path)]).check, str(tmp_path), "no .txt files")
    user_error(Corpus([write(tmp_path / "blank.txt", "\n  \n")]).check, "blank.txt", "no text")
    user_error(Corpus([fixtures.write_table(tmp_path / "empty.csv", [{"text": ""}])]).check, "empty.csv", "no text")
    user_error(Corpus([write(tmp_path / "data.parquet", "x")]).check, "data.parquet", ".parquet")
    user_error(Corpus([]).check, "no corpus sources")
    latin1 = write(tmp_path / "latin1.txt", "fine\ncaf\xe9\n".encode("latin-1"), "wb")
    user_error(lambda: list(iter_texts(latin1)), f"{latin1}:2", "UTF-8")
    bad_csv = write(tmp_path / "bad.csv", "text\nok\n\xff\n".encode("latin-1"), "wb")
    user_error(lambda: list(Corpus([bad_csv])), f"{bad_csv}:3", "UTF-8")
    jsonl = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n\n["a list"]\n')
    user_error(lambda: list(iter_texts(jsonl)), f"{jsonl}:3", "JSON object")
    user_error(lambda: list(iter_texts(write(tmp_path / "j.jsonl", "{not json\n"))), "j.jsonl:1", "JSON object")


# Labelled tasks

def test_one_file_with_a_split_column(tmp_path):
    rows = [{"text": f"text {i}", "label": "pos" if i % 2 else "neg", "split": split}
            for i, split in enumerate(["train"] * 6 + ["dev", "valid"] * 2 + ["Test", "test"])]
    splits, names = read_task("t", fixtures.write_table(tmp_path / "t.csv", rows))
    assert names == ["neg", "pos"]
    assert {k: len(v) for k, v in splits.items()} == {"train": 6, "validation": 4, "test": 2}
    assert splits["validation"]["text"].tolist() == ["text 6", "text 7", "text 8", "text 9"]
    assert splits["train"]["label"].tolist() == [0, 1, 0, 1, 0, 1]
    for frame in splits.values():
        assert list(frame.columns) == ["text", "label"] and str(frame["label"].dtype) == "int64"


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_a_folder_of_split_files(tmp_path, fmt):
    rows = fixtures.three_class_rows(30)
    for split, part in (("train", rows[:18]), ("dev", rows[18:24]), ("test", rows[24:])):
        fixtures.write_table(tmp_path / f"{split}.{fmt}", part)
    splits, names = read_task("t", str(tmp_path))
    assert names == ["negative", "neutral", "positive"]
    assert {k: len(v) for k, v in splits.items()} == {"train": 18, "validation": 6, "test": 6}
    assert splits["test"]["text"].tolist() == [row["text"] for row in rows[24:]]
    assert splits["test"]["label"].tolist() == [names.index(row["label"]) for row in rows[24:]]


def test_missing_splits_are_drawn_stratified_and_seeded(tmp_path, capsys):
    path = fixtures.write_table(tmp_path / "t.jsonl", fixtures.three_class_rows(300))
    splits, names = read_task("sentiment", path, seed=1)
    assert "sentiment: validation and test drawn from train" in capsys.readouterr().out
    assert {k: len(v) for k, v in splits.items()} == {"train": 240, "validation": 30, "test": 30}
    for frame in splits.values():
        assert set(frame["label"]) == {0, 1, 2}
    assert splits["validation"]["label"].value_counts().tolist() == [10, 10, 10]
    texts = [set(frame["text"]) for frame in splits.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    again, _ = read_task("sentiment", path, seed=1)
    other, _ = read_task("sentiment", path, seed=2)
    assert all(splits[k].equals(again[k]) for k in splits)
    assert not splits["validation"].equals(other["validation"])
    small, _ = read_task("sentiment", path, holdout=0.2)
    assert len(small["validation"]) == len(small["test"]) == 60


def test_test_is_drawn_from_train_when_only_validation_is_given(tmp_path, capsys):
    rows = fixtures.three_class_rows(90)
    fixtures.write_table(tmp_path / "train.csv", rows[:60])
    fixtures.write_table(tmp_path / "validation.csv", rows[60:])
    splits, _ = read_task("t", str(tmp_path))
    assert "t: test drawn from train" in capsys.readouterr().out
    assert splits["validation"]["text"].tolist() == [row["text"] for row in rows[60:]]
    assert len(splits["test"]) == 6 and set(splits["test"]["label"]) == {0, 1, 2}
    assert len(splits["train"]) == 54


def test_label_names_sort_integers_as_numbers_and_strings_alphabetically(tmp_path):
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate([2, 10, 0, 2, 10, 0] * 4)]
    _, names = read_task("t", fixtures.write_table(tmp_path / "ints.jsonl", rows))
    assert names == ["0", "2", "10"]
    _, names = read_task("t", fixtures.write_table(tmp_path / "ints.csv", rows))
    assert names == ["0", "2", "10"]
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate(["pos", "neg", "Mixed"] * 8)]
    splits, names = read_task("t", fixtures.write_table(tmp_path / "strings.csv", rows))
    assert names == ["Mixed", "neg", "pos"]


def test_rows_with_an_empty_text_are_dropped_and_counted(tmp_path, capsys):
    rows = fixtures.three_class_rows(30) + [{"text": "  ", "label": "neutral"}, {"label": "positive"}]
    splits, _ = read_task("t", fixtures.write_table(tmp_path / "t.jsonl", rows))
    assert "t: dropped 2 rows with an empty text" in capsys.readouterr().out
    assert sum(len(frame) for frame in splits.values()) == 30


def test_training_texts_that_repeat_a_scored_text_are_left_out(tmp_path, capsys):
    rows = [{"text": f"text {i % 8}", "label": "pos" if i % 2 else "neg", "split": split}
            for i, split in enumerate(["train"] * 8 + ["validation"] * 2 + ["test"] * 2 + ["train"] * 2)]
    splits, _ = read_task("t", fixtures.write_table(tmp_path / "t.csv", rows))
    assert "t: left out 4 training texts that repeat a validation or test text" in capsys.readouterr().out
    assert splits["train"]["text"].tolist() == ["text 4", "text 5", "text 6", "text 7", "text 4", "text 5"]
    with pytest.raises(UserError, match="every training text repeats a validation or test text"):
        read_task("t", fixtures.write_table(tmp_path / "u.csv", rows[:4] + [dict(r, split="test") for r in rows[:4]]))


def test_task_errors_name_the_culprit(tmp_path):
    def task(rows, name="t.csv", **kwargs):
        return lambda: read_task("t", fixtures.write_table(tmp_path / name, rows), **kwargs)

    rows = fixtures.three_class_rows(12)
    user_error(lambda: read_task("t", str(tmp_path / "nope.csv")), "nope.csv", "no such file")
    user_error(task(rows, label_column="stars"), "t.csv", "'stars'", "its columns: text, label")
    user_error(task(rows, text_column="review"), "t.csv", "'review'")
    user_error(task([{"text": f"t{i}", "label": "pos"} for i in range(5)]), "t.csv", "one class", "pos")
    user_error(task(rows[:3] + [{"text": "no label", "label": ""}]), "t.csv:5", "'label'")
    user_error(task(rows[:3] + [{"text": "no label"}], "t.jsonl"), "t.jsonl:4", "'label'")
    user_error(task([dict(row, split="holdout") for row in rows]), "t.csv:2", "'holdout'")
    unseen = [dict(row, split="train") for row in rows[:6]] + [{"text": "x", "label": "angry", "split": "test"}]
    user_error(task(unseen), "t.csv:8", "'angry'", "test")
    user_error(task([{"text": " ", "label": i % 2} for i in range(4)]), "t.csv", "no training texts")
    user_error(lambda: read_task("t", write(tmp_path / "t.txt", "a\nb\n")), "t.txt", ".txt")
    user_error(lambda: read_task("t", write(tmp_path / "t.tsv", "text\tlabel\ncaf\xe9\t1\n".encode("latin-1"),
                                                 "wb")), "t.tsv:2", "UTF-8")
    os.makedirs(tmp_path / "folder")
    fixtures.write_table(tmp_path / "folder" / "validation.csv", rows)
    user_error(lambda: read_task("t", str(tmp_path / "folder")), "folder", "train.csv")
    user_error(task(rows[:4], "few.csv"), "too few training texts")
    user_error(task(rows, holdout=0.5), "holdout 0.5")
    fixtures.write_table(tmp_path / "folder" / "train.csv", rows)
    fixtures.write_table(tmp_path / "folder" / "train.jsonl", rows)
    user_error(lambda: read_task("t", str(tmp_path / "folder")), "train.csv", "train.jsonl")
    user_error(lambda: read_task("t", write(tmp_path / "cr.csv", "text,label\na\rb,1\n")), "cr.csv:2")


# TensorFlow Datasets (mocked: nothing downloads)

def imdb_examples():
    return {"train": [{"text": "labelled review", "label": 1}],
            "unsupervised": [{"text": f"unlabelled review {i}", "label": -1} for i in range(3)] + [{"text": " ",
                                                                                                     "label": -1}]}


def sst2_examples():
    rows = fixtures.three_class_rows(60, labels=("a", "b", "c"))
    label = {"a": 0, "b": 1, "c": 1}
    make = lambda part: [{"sentence": r["text"], "label": label[r["label"]], "idx": i} for i, r in enumerate(part)]
    test = [dict(row, label=-1) for row in make(rows[50:])]  # GLUE's test splits have no labels
    return {"train": make(rows[:40]), "validation": make(rows[40:50]), "test": test}


def test_tfds_corpus_reads_the_split_and_its_text_feature(tmp_path):
    with fixtures.mock_tfds(str(tmp_path), "imdb_reviews", imdb_examples()):
        corpus = Corpus(["tfds:imdb_reviews:unsupervised"], tfds_dir=str(tmp_path), offline=True)
        corpus.check()
        assert list(corpus) == ["unlabelled review 0", "unlabelled review 1", "unlabelled review 2"]
        assert corpus.describe() == "1 source: tfds:imdb_reviews:unsupervised"
        user_error(Corpus(["tfds:imdb_reviews:validation"], offline=True).check, "'validation'", "unsupervised")
        user_error(Corpus(["tfds:imdb_reviews"]).check, "tfds:imdb_reviews", "split")


def test_tfds_task_with_an_unlabelled_test_split(tmp_path, capsys):
    with fixtures.mock_tfds(str(tmp_path), "glue/sst2", sst2_examples()):
        splits, names = read_task("sst2", "tfds:glue/sst2", offline=True, tfds_dir=str(tmp_path))
        iterated = list(iter_texts("tfds:glue/sst2:validation", offline=True))  # "sentence", the only Text
    assert names == ["negative", "positive"]  # the ClassLabel's names, in its order
    assert "sst2: test drawn from train" in capsys.readouterr().out
    assert {k: len(v) for k, v in splits.items()} == {"train": 36, "validation": 10, "test": 4}
    assert splits["validation"]["text"].tolist() == iterated
    assert set(splits["test"]["label"]) == {0, 1} and str(splits["test"]["label"].dtype) == "int64"


def test_tfds_errors(tmp_path):
    empty = str(tmp_path / "empty")
    user_error(Corpus(["tfds:imdb_reviews:train"], tfds_dir=empty, offline=True).check, "imdb_reviews", empty,
               "not prepared")
    user_error(lambda: read_task("t", "tfds:imdb_reviews", tfds_dir=empty, offline=True), "imdb_reviews", empty)
    user_error(lambda: list(iter_texts("tfds:no_such_dataset:train", tfds_dir=empty)), "no_such_dataset")
    user_error(Corpus(["tfds:glue/mnli:train"], tfds_dir=empty).check, "glue/mnli", "premise", "hypothesis")
