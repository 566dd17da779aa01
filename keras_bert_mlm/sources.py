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

import csv
import glob
import itertools
import json
import os
import re

import numpy as np
import pandas as pd

from .cli import log
from .config import UserError

TABLES = (".csv", ".tsv", ".jsonl")
SPLITS = dict(train="train", validation="validation", valid="validation", val="validation", dev="validation",
              test="test")


def _lines(path):
    """Yield (line number, line) of a UTF-8 file, decoded a line at a time: a bad byte is named with its line."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror})") from None
    with f:
        for number, raw in enumerate(f, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")  # -sig: a BOM is no text
            except UnicodeDecodeError:
                raise UserError(f"{path}:{number}: not UTF-8 text (save the file as UTF-8)") from None


def _json_object(path, number, line):
    """(number, the object on .jsonl line `number`); anything but an object is a UserError naming the line."""
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if not isinstance(row, dict):
        raise UserError(f"{path}:{number}: not a JSON object (a .jsonl file holds one object a line)")
    return number, row


def _csv_rows(path):
    """Yield (line number, cells) of a .csv or .tsv file; a row quoted over several lines gets its last line."""
    csv.field_size_limit(2**31 - 1)  # a document may be longer than csv's default cell of 128 KiB
    reader = csv.reader((line for _, line in _lines(path)), delimiter="\t" if path.lower().endswith(".tsv") else ",")
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as e:
        raise UserError(f"{path}:{reader.line_num}: {e}") from None


def _table(path, *wanted):
    """The rows of a .csv, .tsv or .jsonl file as (line number, {column: value}), streamed. The header (a
    .jsonl: its first object) is read now: a column of `wanted` that it lacks is a UserError before any work."""
    if path.lower().endswith(".jsonl"):
        rows = (_json_object(path, number, line) for number, line in _lines(path) if line.strip())
        first = next(rows, None)
        columns, rows = (list(first[1]) if first else []), itertools.chain([first] if first else [], rows)
    else:
        rows = _csv_rows(path)
        columns = [column.strip() for column in next(rows, (0, []))[1]]
        rows = ((number, dict(zip(columns, cells))) for number, cells in rows if any(c.strip() for c in cells))
    for column in wanted:
        if column not in columns:
            raise UserError(f"{path}: no column {column!r} (its columns: {', '.join(columns) or 'none'})")
    return rows


def _cell(value):
    """A value as text, stripped: a .jsonl may hold numbers or null where a .csv holds strings."""
    return "" if value is None else str(value).strip()


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


def _tfds(name, tfds_dir, offline, download):
    """(tfds, the builder of NAME[/CONFIG]); not prepared: a UserError when offline, else prepared if `download`."""
    import tensorflow_datasets as tfds  # here, so that reading local files never loads TensorFlow

    try:
        builder = tfds.builder(name, data_dir=tfds_dir)
    except ValueError as e:  # DatasetNotFoundError is one, and so is an unknown config
        first_line = str(e).splitlines()[0].split(" Here are")[0]  # not its list of near names
        raise UserError(f"tfds:{name}: TensorFlow Datasets does not know it ({first_line})") from None
    if not builder.is_prepared() and offline:
        raise UserError(f"tfds:{name}: not prepared in the data dir {tfds_dir or tfds.core.constants.DATA_DIR} "
                        f"(no {builder.data_dir}) and downloading is off")
    try:
        if not builder.is_prepared() and download:
            builder.download_and_prepare()
    except Exception as e:  # any network or disk failure ends up as the same one line
        raise UserError(f"tfds:{name}: download_and_prepare into {builder.data_dir} failed "
                        f"({type(e).__name__}: {(str(e).splitlines() or [''])[0]})") from None
    return tfds, builder


def _feature(name, builder, wanted, kind):
    """The feature `wanted` if the dataset has it, else its only feature of `kind` (Text, ClassLabel)."""
    features = builder.info.features
    found = [key for key, feature in features.items() if isinstance(feature, kind)]
    if wanted not in features and len(found) != 1:
        raise UserError(f"tfds:{name}: no feature {wanted!r}, and not one {kind.__name__} feature but "
                        f"{len(found)} (its features: {', '.join(features)})")
    return wanted if wanted in features else found[0]


def _tfds_texts(source, column, tfds_dir, offline, read=True):
    """Yield the texts of `NAME[/CONFIG]:SPLIT` after checking dataset, feature and split (only that if not `read`)."""
    name, _, split = source.partition(":")
    if not split:
        raise UserError(f"tfds:{source}: name a split too, as in tfds:{name}:train")
    tfds, builder = _tfds(name, tfds_dir, offline, download=read)
    feature, known = _feature(name, builder, column, tfds.features.Text), list(builder.info.splits)
    if known and not set(re.findall(r"(?:^|\+)\s*(\w+)", split)) <= set(known):  # "train", "train[:10%]+test"
        raise UserError(f"tfds:{name}: no split {split!r} (its splits: {', '.join(known)})")
    for text in tfds.as_numpy(builder.as_dataset(split=split).map(lambda ex: ex[feature])) if read else ():
        yield text.decode("utf-8", errors="replace")


def _tfds_task(source, text_column, label_column, tfds_dir, offline):
    """({split: DataFrame}, ClassLabel names) of `NAME[/CONFIG]`: train, validation and test where present,
    a split whose labels are all -1 (unlabelled, as GLUE's test splits) counting as absent."""
    tfds, builder = _tfds(source, tfds_dir, offline, download=True)
    label = _feature(source, builder, label_column, tfds.features.ClassLabel)
    text = _feature(source, builder, text_column, tfds.features.Text)
    frames = {}
    for split in [split for split in ("train", "validation", "test") if split in builder.info.splits]:
        pairs = tfds.as_numpy(builder.as_dataset(split=split).map(lambda ex: (ex[text], ex[label])))
        frame = pd.DataFrame([(t.decode("utf-8", errors="replace").strip(), y) for t, y in pairs],
                             columns=["text", "label"])
        if frame["label"].ge(0).any():
            frames[split] = frame[frame["label"] >= 0]
    if "train" not in frames:
        raise UserError(f"tfds:{source}: no labelled train split (its splits: {', '.join(builder.info.splits)})")
    return frames, list(builder.info.features[label].names)


def iter_texts(spec, text_column="text", tfds_dir=None, offline=False):
    """Yield the texts of one corpus source, streamed (never the whole file in a list), stripped, blank ones
    skipped. `spec`: a folder (each .txt file under it, sorted, one text), a .txt (one text a line), a
    .csv/.tsv/.jsonl (the column `text_column`, or COLUMN of `FILE:COLUMN`), or `tfds:NAME[/CONFIG]:SPLIT`."""
    if spec.startswith("tfds:"):
        texts = _tfds_texts(spec[len("tfds:"):], text_column, tfds_dir, offline)
    else:
        kind, path, column = _source(spec, text_column)
        if kind == "folder":
            files = sorted(glob.glob(os.path.join(glob.escape(path), "**", "*.txt"), recursive=True))
            if not files:
                raise UserError(f"{path}: no .txt files in it or its subfolders")
            texts = ("".join(line for _, line in _lines(file)) for file in files if os.path.isfile(file))
        elif kind == ".txt":
            texts = (line for _, line in _lines(path))
        else:
            texts = (_cell(row.get(column)) for _, row in _table(path, column))
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
                list(_tfds_texts(spec[len("tfds:"):], self.text_column, self.tfds_dir, self.offline, read=False))
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
    for line, row in _table(path, text_column, label_column):
        label, split = _cell(row.get(label_column)), _cell(row.get(split_column, "train")).lower()
        if not label:
            raise UserError(f"{path}:{line}: no {label_column!r} in this row")
        if split not in SPLITS:
            raise UserError(f"{path}:{line}: unknown {split_column} {split!r} (train, validation, val, dev or test)")
        records.append((_cell(row.get(text_column)), label, SPLITS[split], f"{path}:{line}"))
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
        frames, label_names = _tfds_task(spec[len("tfds:"):], text_column, label_column, tfds_dir, offline)
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
    return {split: pd.DataFrame({"text": frames[split]["text"].astype(str).to_numpy(),
                                 "label": frames[split]["label"].astype("int64").to_numpy()})
            for split in ("train", "validation", "test")}, label_names
