"""Users' own texts and labelled data (#24): folders of .txt, .txt, .csv, .tsv, .jsonl and TensorFlow Datasets.

    corpus = Corpus(["reviews/", "notes.csv:body", "tfds:imdb_reviews:unsupervised"])
    corpus.check()              # a missing file, column or dataset is a UserError now, not an hour in
    for text in corpus: ...     # streamed, source after source, blank texts skipped
    splits, label_names = read_task("spam", "mail.jsonl", label_column="is_spam")   # train/validation/test

Files are decoded as UTF-8 a line at a time, so that any size streams and an error names its line:

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "notes.csv")
    ...     _ = open(path, "w").write('text,label\\n"good, and short",pos\\n  ,neg\\nbad,neg\\n')
    ...     print(Corpus([path]).describe(), list(Corpus([path])))
    1 source: ...notes.csv[text] ['good, and short', 'bad']
"""

import glob
import os
import re

import numpy as np
import pandas as pd

from .cli import log
from .config import UserError
from . import tfds_data
from .tables import cell, lines, table

TABLES = (".csv", ".tsv", ".jsonl")
SPLITS = dict(train="train", validation="validation", valid="validation", val="validation", dev="validation",
              test="test")


def _path_and_column(spec, text_column):
    """`FILE:COLUMN` names the column of a table, unless the whole spec is a path that exists."""
    path, colon, column = spec.rpartition(":")
    if colon and not os.path.exists(spec) and path.lower().endswith(TABLES):
        return path, column
    return spec, text_column


def _source(spec, text_column, allowed=("folder", ".txt") + TABLES):
    """(kind, path, column) of a file or folder spec, kind one of `allowed`: a UserError when the path is
    missing or of another kind."""
    path, column = _path_and_column(spec, text_column)
    if os.path.isdir(path) and "folder" in allowed:
        return "folder", path, column
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file or folder")
    kind = os.path.splitext(path)[1].lower()
    if kind not in allowed:
        raise UserError(f"{path}: unknown kind of file {kind or '(no extension)'} (use {', '.join(allowed)})")
    return kind, path, column


def iter_texts(spec, text_column="text", tfds_dir=None, offline=False):
    """Yield the texts of one corpus source, streamed (never the whole file in a list), stripped, blank ones
    skipped. `spec`: a folder (each .txt file under it, sorted, one text), a .txt (one text a line), a
    .csv/.tsv/.jsonl (the column `text_column`, or COLUMN of `FILE:COLUMN`), or `tfds:NAME[/CONFIG]:SPLIT`."""
    if spec.startswith("tfds:"):
        texts = tfds_data.read_texts(spec[len("tfds:"):], text_column, tfds_dir, offline)
    else:
        kind, path, column = _source(spec, text_column)
        if kind == "folder":
            files = sorted(glob.glob(os.path.join(glob.escape(path), "**", "*.txt"), recursive=True))
            if not files:
                raise UserError(f"{path}: no .txt files in it or its subfolders")
            texts = ("".join(line for _, line in lines(file)) for file in files if os.path.isfile(file))
        elif kind == ".txt":
            texts = (line for _, line in lines(path))
        else:
            texts = (cell(row.get(column)) for _, row in table(path, column))
    yield from (text.strip() for text in texts if text.strip())


class Corpus:
    """Pretraining texts from several sources (see `iter_texts`), streamed; each `iter` reads them again, in order."""

    def __init__(self, specs, text_column="text", tfds_dir=None, offline=False):
        self.specs = [specs] if isinstance(specs, str) else list(specs)
        self.text_column, self.tfds_dir, self.offline = text_column, tfds_dir, offline

    def check(self):
        """A UserError now for a bad source, read up to its first text (tfds: the dataset, its text feature and
        split are known, and it is prepared when offline), so that a run does not fail hours in."""
        if not self.specs:
            raise UserError("no corpus sources given")
        for spec in self.specs:
            if spec.startswith("tfds:"):
                list(tfds_data.read_texts(spec[len("tfds:"):], self.text_column, self.tfds_dir, self.offline, read=False))
            elif next(iter_texts(spec, self.text_column), None) is None:
                raise UserError(f"{spec}: no text in it (every text is empty or blank)")

    def __iter__(self):
        for spec in self.specs:
            yield from iter_texts(spec, self.text_column, self.tfds_dir, self.offline)

    def describe(self):
        """One line for the log: `3 sources: reviews/ (folder of .txt), notes.csv[text], mail.jsonl[body]`."""
        parts = []
        for spec in self.specs:
            path, column = _path_and_column(spec, self.text_column)
            if path.lower().endswith(TABLES) and not spec.startswith("tfds:"):
                parts.append(f"{path}[{column}]")
            else:
                parts.append(spec + (" (folder of .txt)" if os.path.isdir(spec) else ""))
        return f"{len(parts)} source{'' if len(parts) == 1 else 's'}: {', '.join(parts)}"


def _labelled(path, text_column, label_column, split_column=None):
    """DataFrame (text, label as read, split, where: FILE:LINE) of a labelled .csv, .tsv or .jsonl file."""
    _, path, _ = _source(path, None, TABLES)
    records = []
    for line, row in table(path, text_column, label_column):
        label, split = cell(row.get(label_column)), cell(row.get(split_column, "train")).lower()
        if not label:
            raise UserError(f"{path}:{line}: no {label_column!r} in this row")
        if split not in SPLITS:
            raise UserError(f"{path}:{line}: unknown {split_column} {split!r} (train, validation, val, dev or test)")
        records.append((cell(row.get(text_column)), label, SPLITS[split], f"{path}:{line}"))
    return pd.DataFrame(records, columns=["text", "label", "split", "where"])


def _table_task(spec, text_column, label_column, split_column):
    """{split: DataFrame} of one labelled file (its split column, else all train) or a folder of split files."""
    if not os.path.isdir(spec):
        return dict(list(_labelled(spec, text_column, label_column, split_column).groupby("split")))
    files = {}
    for stem, ext in sorted(os.path.splitext(name) for name in os.listdir(spec) if name.lower().endswith(TABLES)):
        split = SPLITS.get(stem.lower())
        if split in files:
            raise UserError(f"{spec}: {os.path.basename(files[split])} and {stem}{ext} both hold {split}")
        files.update({split: os.path.join(spec, stem + ext)} if split else {})
    if "train" not in files:
        raise UserError(f"{spec}: no train.csv, train.tsv or train.jsonl in it")
    return {split: _labelled(path, text_column, label_column) for split, path in files.items()}


def _encode_labels(spec, frames, label_column):
    """(frames with class ids 0..K-1, the K names): training's labels, sorted as numbers if all are integers."""
    key = int if all(re.fullmatch(r"[+-]?\d+", v) for f in frames.values() for v in f["label"]) else str
    values = sorted({key(v) for v in frames["train"]["label"]})
    if len(values) < 2:
        raise UserError(f"{spec}: {label_column!r} has one class in training ({values[0]}); a classifier needs two")
    index = {v: i for i, v in enumerate(values)}
    for split, frame in frames.items():
        for where, label in zip(frame["where"], frame["label"]):
            if key(label) not in index:
                raise UserError(f"{where}: label {label!r} in {split} never occurs in training (training labels: "
                                f"{', '.join(map(str, values))})")
    frames = {split: frame.assign(label=frame["label"].map(lambda v: index[key(v)])) for split, frame in frames.items()}
    return frames, [str(v) for v in values]


def _draw(name, frames, holdout, seed):
    """Draw each missing validation/test split from train: `holdout` of each class (at least one text while
    one stays in train), seeded. Test is drawn when only validation is given too: never score on what tunes."""
    missing = [split for split in ("validation", "test") if split not in frames]
    if not missing:
        return frames
    if not 0 < holdout * len(missing) < 1:
        raise UserError(f"{name}: holdout {holdout} for {' and '.join(missing)} leaves nothing to train on")
    rng, train = np.random.default_rng(seed), frames["train"]
    parts = {split: [] for split in missing + ["train"]}  # row positions; train keeps the rest
    for _, rows in sorted(train.groupby("label").indices.items()):
        take = min(max(1, round(holdout * len(rows))), (len(rows) - 1) // len(missing))
        cuts = take * np.arange(1, len(missing) + 1)  # `take` rows for each missing split, in order
        for split, part in zip(parts, np.split(rng.permutation(rows), cuts)):
            parts[split].extend(part)
    if not all(parts.values()):
        raise UserError(f"{name}: too few training texts ({len(train)}) to draw {' and '.join(missing)} from")
    log(f"{name}: {' and '.join(missing)} drawn from train ({holdout:.0%} of each class, seed {seed})")
    return {**frames, **{split: train.iloc[sorted(rows)] for split, rows in parts.items()}}


def read_task(name, spec, text_column="text", label_column="label", split_column="split", seed=42,
              holdout=0.1, tfds_dir=None, offline=False):
    """-> (splits, label_names): splits = {"train", "validation", "test"} DataFrames with columns text (str) and
    label (int64, 0..K-1); label_names[i] names class i. `spec`: a labelled .csv/.tsv/.jsonl (with an optional
    split column), a folder of train/validation/test files, or `tfds:NAME[/CONFIG]`. Missing splits are drawn."""
    if spec.startswith("tfds:"):
        frames, label_names = tfds_data.read_task(spec[len("tfds:"):], text_column, label_column, tfds_dir, offline)
    else:
        frames = _table_task(spec, text_column, label_column, split_column)
    dropped = sum(int(frame["text"].eq("").sum()) for frame in frames.values())
    frames = {split: frame[frame["text"] != ""] for split, frame in frames.items() if frame["text"].ne("").any()}
    if dropped:
        log(f"{name}: dropped {dropped} rows with an empty text")
    if "train" not in frames:
        raise UserError(f"{spec}: no training texts (every {text_column!r} in train is empty)")
    if not spec.startswith("tfds:"):
        frames, label_names = _encode_labels(spec, frames, label_column)
    frames = _draw(name, frames, holdout, seed)
    repeats = frames["train"]["text"].isin(pd.concat([frames["validation"]["text"], frames["test"]["text"]]))
    if repeats.any():  # a text that is scored is never trained on, even as a word-for-word copy
        if repeats.all():
            raise UserError(f"{spec}: every training text repeats a validation or test text")
        log(f"{name}: left out {int(repeats.sum())} training texts that repeat a validation or test text")
        frames["train"] = frames["train"][~repeats]
    return {split: pd.DataFrame({"text": frames[split]["text"].astype(str).to_numpy(),
                                 "label": frames[split]["label"].astype("int64").to_numpy()})
            for split in ("train", "validation", "test")}, label_names
