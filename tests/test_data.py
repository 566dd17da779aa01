import hashlib
import os

import pytest

import fixtures
from conftest import SHARED_DATA
from keras_bert_mlm import data
from keras_bert_mlm.config import UserError


@pytest.mark.parametrize("archives", [True, False], ids=["archives", "folders"])
def test_imdb_splits_and_labels(tmp_path, archives):
    data_dir = fixtures.make_data_dir(str(tmp_path), archives=archives, n_train=40, n_test=30, n_unsup=20)
    splits = data.load_dataset("imdb", data_dir, imdb_val_size=10, seed=1, offline=True)
    assert {k: len(v) for k, v in splits.items()} == {"train": 30, "validation": 10, "test": 30}
    assert splits["validation"]["label"].value_counts().to_dict() == {0: 5, 1: 5}  # stratified
    assert set(splits["train"]["label"]) == {0, 1}
    # Labels come from the folder: fixture positives end with "!", negatives with "."
    for df in splits.values():
        first_sentence = df["text"].str.split("<br />").str[0]
        assert (first_sentence.str.endswith("!") == (df["label"] == 1)).all()
    assert not set(splits["train"]["text"]) & set(splits["validation"]["text"])


def test_imdb_validation_is_seeded(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path), n_train=40)
    a, b, c = (data.load_dataset("imdb", data_dir, 10, seed, True)["validation"] for seed in (1, 1, 2))
    assert a.equals(b) and not a.equals(c)


def test_rotten_tomatoes_canonical_split_and_latin1(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path), n_per_class=50)
    splits = data.load_dataset("rotten_tomatoes", data_dir, offline=True)
    # round(0.8 * 50) = 40 train, round(0.9 * 50) = 45: 5 validation, 5 test per class.
    assert {k: len(v) for k, v in splits.items()} == {"train": 80, "validation": 10, "test": 10}
    for split, first, last in (("train", 0, 39), ("validation", 40, 44), ("test", 45, 49)):
        pos = splits[split][splits[split]["label"] == 1]["text"].tolist()
        assert f" pos{first} " in pos[0] and f" pos{last} " in pos[-1]
        neg = splits[split][splits[split]["label"] == 0]["text"].tolist()
        assert f" neg{first} " in neg[0] and all(" neg" in t for t in neg)
    text = splits["train"]["text"][0]
    assert "café naïve" in text and text == text.strip()


def test_pretraining_corpus_has_no_validation_or_test_text(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path), n_train=40, n_test=30, n_unsup=20, n_per_class=50)
    corpus = data.pretraining_corpus(data_dir, offline=True, imdb_val_size=8, seed=3)
    assert len(corpus) == 40 - 8 + 20 + 80  # IMDB train less validation + unsup + RT train
    assert not any("testonlyword" in t for t in corpus)
    imdb = data.load_dataset("imdb", data_dir, imdb_val_size=8, seed=3, offline=True)
    assert set(imdb["train"]["text"]) <= set(corpus) and not set(corpus) & set(imdb["validation"]["text"])
    rt = data.load_dataset("rotten_tomatoes", data_dir, offline=True)
    assert not set(corpus) & (set(rt["test"]["text"]) | set(rt["validation"]["text"]))


def test_reviews_that_repeat_a_validation_or_test_review_are_never_trained_on(tmp_path):
    # IMDB repeats some reviews word for word across its folders: copies of an evaluated review are dropped.
    data_dir = fixtures.make_data_dir(str(tmp_path), archives=False, n_train=40, n_test=30, n_unsup=20)
    before = data.load_dataset("imdb", data_dir, imdb_val_size=8, seed=3, offline=True)
    test_text, val_text, train_text = (before[split]["text"][0] for split in ("test", "validation", "train"))
    reviews = data.read_imdb(data.find_source("imdb", data_dir))
    train_file = reviews.loc[reviews["text"] == train_text, "file"].item()
    for path, text in ((train_file, test_text), ("aclImdb/train/unsup/900_0.txt", test_text),
                       ("aclImdb/train/unsup/901_0.txt", val_text)):
        with open(os.path.join(data_dir, path), "w", encoding="utf-8") as f:
            f.write(text)
    data.read_imdb.cache_clear()
    after = data.load_dataset("imdb", data_dir, imdb_val_size=8, seed=3, offline=True)
    # the same validation draw; the training review made a copy of a test one is gone, the copy stays in test
    assert after["validation"].equals(before["validation"])
    assert after["train"]["text"].tolist() == before["train"]["text"][1:].tolist()
    assert after["test"]["text"].tolist() == before["test"]["text"].tolist()
    unlabelled = data.imdb_unlabelled(data_dir, offline=True, imdb_val_size=8, seed=3)
    corpus = data.pretraining_corpus(data_dir, offline=True, imdb_val_size=8, seed=3)
    assert len(unlabelled) == 20 and len(corpus) == 31 + 20 + 80  # IMDB train, unsup, RT train
    assert test_text not in corpus and val_text not in corpus


def test_imdb_sentences_are_cut_from_the_unlabelled_reviews(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path), n_train=20, n_test=10, n_unsup=30)
    unlabelled = data.imdb_unlabelled(data_dir, offline=True, imdb_val_size=4)
    sentences = data.imdb_sentences(data_dir, offline=True, imdb_val_size=4)
    # The fixture's reviews: one sentence of 8 to 40 words, "<br /><br />", "The end." (2 words: dropped).
    assert sentences == [review.split("<br")[0].strip() for review in unlabelled]
    assert all(5 <= len(s.split()) <= 60 and "<br" not in s for s in sentences)
    assert data.imdb_sentences(data_dir, offline=True, limit=7, imdb_val_size=4) == sentences[:7]


def test_missing_dataset_offline_names_the_files(tmp_path):
    with pytest.raises(UserError, match="aclImdb_v1.tar.gz.*aclImdb/"):
        data.load_dataset("imdb", str(tmp_path), offline=True)
    with pytest.raises(UserError, match="rt-polaritydata.tar.gz"):
        data.load_dataset("rotten_tomatoes", str(tmp_path), offline=True)


def test_corrupt_archive_is_a_user_error(tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path))
    archive = os.path.join(data_dir, "aclImdb_v1.tar.gz")
    with open(archive, "r+b") as f:
        f.truncate(os.path.getsize(archive) // 2)
    data.read_imdb.cache_clear()
    with pytest.raises(UserError, match="aclImdb_v1.tar.gz: corrupt or incomplete"):
        data.load_dataset("imdb", data_dir, 10, 0, offline=True)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED_DATA, "aclImdb_v1.tar.gz")), reason="no real data")
def test_real_data_counts():
    imdb = data.read_imdb(data.find_source("imdb", SHARED_DATA, offline=True))
    assert imdb.groupby("split").size().to_dict() == {"train": 25000, "test": 25000, "unsup": 50000}
    splits = data.load_dataset("imdb", SHARED_DATA, imdb_val_size=2500, seed=42, offline=True)
    # 133 of the 22,500 others repeat a validation or test review word for word, and are left out of train
    assert {k: len(v) for k, v in splits.items()} == {"train": 22367, "validation": 2500, "test": 25000}
    assert len(data.imdb_unlabelled(SHARED_DATA, offline=True)) == 50000 - 321  # repeats of evaluated reviews
    rt = data.load_dataset("rotten_tomatoes", SHARED_DATA, offline=True)
    assert {k: len(v) for k, v in rt.items()} == {"train": 8530, "validation": 1066, "test": 1066}
    assert {k: int(v["label"].sum()) for k, v in rt.items()} == {"train": 4265, "validation": 533, "test": 533}


def test_failed_download_says_which_file_to_put_where(tmp_path, monkeypatch):
    import keras

    def no_network(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    with pytest.raises(UserError, match=r"download from https://\S+aclImdb_v1.tar.gz failed.*put aclImdb_v1"):
        data.find_source("imdb", str(tmp_path))


def serve_archive(tmp_path, monkeypatch, file_hash=None):
    """Rotten Tomatoes' download comes from a fixture archive (a file:// origin) pinned to `file_hash`
    (default: its own SHA-256), into a Keras cache under `tmp_path`; returns the cached copy's path and
    the archive's bytes."""
    origin = os.path.join(fixtures.make_data_dir(str(tmp_path / "origin")), "rt-polaritydata.tar.gz")
    with open(origin, "rb") as f:
        content = f.read()
    source = {**data.SOURCES["rotten_tomatoes"], "url": "file://" + origin,
              "file_hash": file_hash or hashlib.sha256(content).hexdigest(), "hash_algorithm": "sha256"}
    monkeypatch.setitem(data.SOURCES, "rotten_tomatoes", source)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return str(tmp_path / "keras" / "datasets" / "rt-polaritydata.tar.gz"), content


def test_download_matching_its_checksum_is_used_and_a_damaged_cached_copy_is_fetched_again(tmp_path, monkeypatch):
    cached, content = serve_archive(tmp_path, monkeypatch)
    assert data.find_source("rotten_tomatoes", str(tmp_path / "empty")) == cached
    with open(cached, "r+b") as f:  # damaged in the cache: cut short
        f.truncate(100)
    assert data.find_source("rotten_tomatoes", None) == cached
    with open(cached, "rb") as f:
        assert f.read() == content


def test_download_not_matching_its_checksum_is_refused_and_deleted(tmp_path, monkeypatch):
    cached, _ = serve_archive(tmp_path, monkeypatch, "0" * 64)
    with pytest.raises(UserError, match=r"rotten_tomatoes: the download from file://\S+ does not match its "
                                        r"sha256 checksum.*put rt-polaritydata.tar.gz"):
        data.find_source("rotten_tomatoes", str(tmp_path / "empty"))
    assert not os.path.exists(cached)


def test_every_official_archive_has_a_pinned_checksum():
    for source in data.SOURCES.values():
        assert len(source["file_hash"]) == {"sha256": 64, "md5": 32}[source["hash_algorithm"]]
