"""IMDB and Rotten Tomatoes, read from their official archives (or extracted folders) into pandas, and
what a run reads: built-in datasets or your own tasks (`sources.py`), and the pretraining texts.

    splits = load_dataset("imdb", "../shared/data", imdb_val_size=2500, seed=42)
    splits["train"].head()   # DataFrame with columns text, label (positive = 1)
    texts = pretraining_corpus("../shared/data")   # IMDB train + unsup + RT train, never validation or test
    splits, label_names = load_labelled(cfg, "imdb", "../shared/data")   # a built-in dataset or a --task

A dataset missing from the data dir is fetched once with `keras.utils.get_file` (cached under
~/.keras/datasets, or $KERAS_HOME/datasets) and checked against its pinned checksum, unless
`offline=True`; when that fails the error says which file to put where.
"""

import contextlib
import functools
import itertools
import os
import re
import tarfile
import zlib

import pandas as pd

from .cli import progress
from .config import UserError

# Each official archive with the checksum a download must match. IMDB's SHA-256 is the one TensorFlow
# Datasets records for imdb_reviews; Rotten Tomatoes' archive has no published SHA-256, and its MD5 is
# the one published alongside it. Archives a user puts in --data-dir are not checked: repacked copies
# of the same texts are welcome.
SOURCES = {
    "imdb": dict(
        folder="aclImdb", archive="aclImdb_v1.tar.gz",
        url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        file_hash="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", hash_algorithm="sha256",
    ),
    "rotten_tomatoes": dict(
        folder="rt-polaritydata", archive="rt-polaritydata.tar.gz",
        url="https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
        file_hash="50c1c2c047b4225e148e97aa7708c34e", hash_algorithm="md5",
    ),
}
_IMDB_FILE = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/\d+_\d+\.txt$")
_RT_FILE = re.compile(r"(?:^|/)rt-polaritydata/rt-polarity\.(pos|neg)$")


def find_source(name, data_dir, offline=False):
    """Path of the extracted folder or archive of `name` in `data_dir`, else a cached download."""
    src = SOURCES[name]
    if data_dir:
        for entry in (src["folder"], src["archive"]):
            path = os.path.join(data_dir, entry)
            if os.path.exists(path):
                return path
    where = f"put {src['archive']} or an extracted {src['folder']}/ in --data-dir {data_dir or '(none given)'}"
    if offline:
        raise UserError(f"{name} not found: {where} (downloading is off)")
    import keras  # here, so that reading local data never loads TensorFlow

    # get_file fetches again a cached copy whose checksum is wrong, and refuses a download whose is.
    cache = os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))
    cached = os.path.join(cache, "datasets", src["archive"])
    with contextlib.suppress(OSError):  # a cache it cannot create sends get_file to /tmp/.keras
        os.makedirs(os.path.dirname(cached), exist_ok=True)
    try:
        return keras.utils.get_file(src["archive"], origin=src["url"], cache_dir=cache, cache_subdir="datasets",
                                    file_hash=src["file_hash"], hash_algorithm=src["hash_algorithm"])
    except ValueError as e:
        if "hash" not in str(e):
            raise
        with contextlib.suppress(OSError):  # never read later (get_file would fetch it again anyway)
            os.remove(cached)
        raise UserError(f"{name}: the download from {src['url']} does not match its {src['hash_algorithm']} "
                        f"checksum (cut short or altered; deleted): {where}") from None
    except Exception as e:  # any network or disk failure ends up as the same advice
        raise UserError(f"{name} not found and the download from {src['url']} failed "
                        f"({type(e).__name__}): {where}") from None


def _read_files(path, pattern):
    """Yield (regex match, bytes) for every file under `path` (folder or tar archive) matching `pattern`."""
    if os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        for root, _, files in os.walk(path):
            for fname in sorted(files):
                full = os.path.join(root, fname)
                match = pattern.search(os.path.relpath(full, parent).replace(os.sep, "/"))
                if match:
                    with open(full, "rb") as f:
                        yield match, f.read()
        return
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r:*") as tar:
            for i, member in enumerate(tar):
                match = pattern.search(member.name)
                if match and member.isfile():
                    yield match, tar.extractfile(member).read()
                if i % 5000 == 0:
                    progress(f"reading {os.path.basename(path)}", raw.tell() / max(size, 1))
        progress(f"reading {os.path.basename(path)}", 1.0)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise UserError(f"{path}: corrupt or incomplete archive ({e or type(e).__name__})") from None


@functools.lru_cache(maxsize=2)
def read_imdb(path):
    """All IMDB reviews in `path` as a DataFrame: text, label (1 pos, 0 neg, -1 unsup), split, file."""
    labels = {"pos": 1, "neg": 0, "unsup": -1}
    rows = [
        (data.decode("utf-8", errors="replace"), labels[m.group(2)], m.group(1), m.group(0))
        for m, data in _read_files(path, _IMDB_FILE)
    ]
    df = pd.DataFrame(rows, columns=["text", "label", "split", "file"])
    for split in ("train", "test"):
        if not (df["split"].eq(split) & df["label"].ge(0)).any():
            raise UserError(f"{path}: no aclImdb/{split}/pos or /neg reviews found")
    # Archive order is arbitrary: sort by file name so splits do not depend on how the tree was packed.
    df["split"] = df["split"].where(df["label"] >= 0, "unsup")
    return df.sort_values("file", kind="stable").reset_index(drop=True)


def imdb_splits(df, val_size, seed):
    """train / validation / test DataFrames; validation is a seeded, stratified draw from train. IMDB repeats
    some reviews word for word across its folders: a training review that is also a validation or test text
    is left out of train, so no evaluated text is ever trained on."""
    train = df[(df["split"] == "train") & (df["label"] >= 0)]
    fraction = val_size / max(len(train), 1)
    if not 0 <= fraction < 1:
        raise UserError(f"--imdb-val-size {val_size} is not smaller than the {len(train)} IMDB training reviews")
    val = train.groupby("label", group_keys=False).sample(frac=fraction, random_state=seed)
    test = df[df["split"] == "test"]
    train = train.drop(val.index)
    train = train[~train["text"].isin(val["text"]) & ~train["text"].isin(test["text"])]
    keep = ["text", "label"]
    return {
        "train": train[keep].reset_index(drop=True),
        "validation": val.sort_index()[keep].reset_index(drop=True),
        "test": test[keep].reset_index(drop=True),
    }


@functools.lru_cache(maxsize=2)
def read_rotten_tomatoes(path):
    """The canonical split: per class, the first 80% of lines train, the next 10% validation, the rest test."""
    lines = {}
    for m, data in _read_files(path, _RT_FILE):
        text = data.decode("latin-1")
        lines[m.group(1)] = [line.strip() for line in text.split("\n") if line.strip()]
    missing = [f"rt-polarity.{c}" for c in ("pos", "neg") if c not in lines]
    if missing:
        raise UserError(f"{path}: {' and '.join(missing)} not found under rt-polaritydata/")
    splits = {"train": [], "validation": [], "test": []}
    for polarity, label in (("neg", 0), ("pos", 1)):
        items = lines[polarity]
        i1, i2 = round(0.8 * len(items)), round(0.9 * len(items))
        for split, part in (("train", items[:i1]), ("validation", items[i1:i2]), ("test", items[i2:])):
            splits[split] += [(text, label) for text in part]
    return {k: pd.DataFrame(v, columns=["text", "label"]) for k, v in splits.items()}


def load_dataset(name, data_dir, imdb_val_size=2500, seed=42, offline=False):
    """{"train", "validation", "test"} DataFrames (text, label) of `name`."""
    path = find_source(name, data_dir, offline)
    if name == "imdb":
        return imdb_splits(read_imdb(path), imdb_val_size, seed)
    return {k: v.copy() for k, v in read_rotten_tomatoes(path).items()}


def imdb_unlabelled(data_dir, offline=False, imdb_val_size=2500, seed=42):
    """IMDB's unlabelled (train/unsup) reviews, in file-name order, less any that repeat a validation or test
    review (validation as `imdb_splits` draws it with `imdb_val_size` and `seed`)."""
    imdb = read_imdb(find_source("imdb", data_dir, offline))
    splits = imdb_splits(imdb, imdb_val_size, seed)
    unread = set(splits["validation"]["text"]) | set(splits["test"]["text"])
    return [t for t in imdb.loc[imdb["split"] == "unsup", "text"] if t not in unread]


def imdb_sentences(data_dir, offline=False, limit=None, imdb_val_size=2500, seed=42):
    """Sentences cut from IMDB's unlabelled reviews (at `.`, `!`, `?` and `<br />`), those of 5 to 60 words,
    in file order, at most `limit` of them: unlabelled text of Rotten Tomatoes' kind (one sentence each)."""
    sentences = (s for review in imdb_unlabelled(data_dir, offline, imdb_val_size, seed) for s in sentences_of(review))
    return list(itertools.islice(sentences, limit))


def sentences_of(review):
    """The sentences of 5 to 60 words in `review`, cut at `.`, `!`, `?` and `<br />`."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|<br\s*/?>", review) if 5 <= len(s.split()) <= 60]


def pretraining_corpus(data_dir, offline=False, imdb_val_size=2500, seed=42):
    """Texts for MLM pretraining: IMDB's training and unlabelled reviews (`imdb_splits`' train, without its
    validation reviews or any repeat of a validation or test one) and Rotten Tomatoes train. Validation, and
    the minimal edits made of its reviews, are texts the encoder never read."""
    imdb_train = load_dataset("imdb", data_dir, imdb_val_size, seed, offline)["train"]["text"].tolist()
    rt = read_rotten_tomatoes(find_source("rotten_tomatoes", data_dir, offline))
    return imdb_train + imdb_unlabelled(data_dir, offline, imdb_val_size, seed) + rt["train"]["text"].tolist()


BINARY_LABELS = ["negative", "positive"]  # the built-in datasets' classes: label 0 and label 1


def load_labelled(cfg, name, data_dir, tfds_dir=None, offline=False):
    """(splits, label names) of `name`, one of the datasets a run with settings `cfg` fine-tunes: a built-in
    dataset (`load_dataset`) or one of its `--task`s (`sources.read_task`)."""
    if name in cfg.tasks:
        from . import sources

        return sources.read_task(name, cfg.tasks[name], cfg.text_column, cfg.label_column, cfg.split_column,
                                 cfg.seed, tfds_dir=tfds_dir, offline=offline)
    return load_dataset(name, data_dir, cfg.imdb_val_size, cfg.seed, offline), list(BINARY_LABELS)


class Texts:
    """Texts from several parts (lists, `sources.Corpus`), read again, part after part, on each iteration.
    `size` is their number when every part is a list (a streamed part is only counted by reading it)."""

    def __init__(self, parts, description):
        self.parts, self.description = parts, description
        self.size = sum(map(len, parts)) if all(isinstance(part, list) for part in parts) else None

    def __iter__(self):
        return itertools.chain.from_iterable(self.parts)


def pretraining_texts(cfg, splits, data_dir, tfds_dir=None, offline=False):
    """What a run with settings `cfg` pretrains on, as `Texts`: its `--corpus` sources (`builtin`: IMDB's
    and Rotten Tomatoes' training text), by default the built-in corpus when a built-in dataset is
    fine-tuned, else the tasks' training texts from `splits`. Never validation or test text; files are
    checked now (a missing one stops the run before anything is written) and streamed later."""
    specs = cfg.corpus or (["builtin"] if cfg.builtin_datasets else [])
    if not specs:
        texts = [t for name in cfg.tasks for t in splits[name]["train"]["text"]]
        return Texts([texts], f"the training texts of {', '.join(cfg.tasks)} ({len(texts)})")
    parts, described = [], []
    if "builtin" in specs:
        parts.append(pretraining_corpus(data_dir, offline, cfg.imdb_val_size, cfg.seed))
        described.append(f"IMDB and Rotten Tomatoes' training text ({len(parts[-1])})")
    own = [spec for spec in specs if spec != "builtin"]
    if own:
        from . import sources

        corpus = sources.Corpus(own, cfg.text_column, tfds_dir=tfds_dir, offline=offline)
        corpus.check()
        parts.append(corpus)
        described.append(corpus.describe())
    return Texts(parts, " + ".join(described))
