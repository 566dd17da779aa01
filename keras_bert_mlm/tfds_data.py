"""TensorFlow Datasets as sources of texts and of labelled tasks (`sources.py` names them `tfds:...`):
the builder from its data dir (prepared, downloaded, or a one-line error when offline), its text and
class-label features, its splits.

    texts = read_texts("imdb_reviews:unsupervised", "text", tfds_dir=None, offline=True)   # a generator
    frames, names = read_task("glue/sst2", "sentence", "label", tfds_dir=None, offline=False)
"""

import re

import pandas as pd

from .config import UserError

def make_builder(name, tfds_dir, offline, download):
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


def find_feature(name, builder, wanted, kind):
    """The feature `wanted` if the dataset has it, else its only feature of `kind` (Text, ClassLabel)."""
    features = builder.info.features
    found = [key for key, feature in features.items() if isinstance(feature, kind)]
    if wanted not in features and len(found) != 1:
        raise UserError(f"tfds:{name}: no feature {wanted!r}, and not one {kind.__name__} feature but "
                        f"{len(found)} (its features: {', '.join(features)})")
    return wanted if wanted in features else found[0]


def read_texts(source, column, tfds_dir, offline, read=True):
    """Yield the texts of `NAME[/CONFIG]:SPLIT` after checking dataset, feature and split (only that if not `read`)."""
    name, _, split = source.partition(":")
    if not split:
        raise UserError(f"tfds:{source}: name a split too, as in tfds:{name}:train")
    tfds, builder = make_builder(name, tfds_dir, offline, download=read)
    feature, known = find_feature(name, builder, column, tfds.features.Text), list(builder.info.splits)
    if known and not set(re.findall(r"(?:^|\+)\s*(\w+)", split)) <= set(known):  # "train", "train[:10%]+test"
        raise UserError(f"tfds:{name}: no split {split!r} (its splits: {', '.join(known)})")
    for text in tfds.as_numpy(builder.as_dataset(split=split).map(lambda ex: ex[feature])) if read else ():
        yield text.decode("utf-8", errors="replace")


def read_task(source, text_column, label_column, tfds_dir, offline):
    """({split: DataFrame}, ClassLabel names) of `NAME[/CONFIG]`: train, validation and test where present,
    a split whose labels are all -1 (unlabelled, as GLUE's test splits) counting as absent."""
    tfds, builder = make_builder(source, tfds_dir, offline, download=True)
    label = find_feature(source, builder, label_column, tfds.features.ClassLabel)
    text = find_feature(source, builder, text_column, tfds.features.Text)
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
