"""Small copies of the real datasets, in their official on-disk layouts, built on the fly."""

import os
import random
import tarfile

POSITIVE = ["great", "wonderful", "superb", "loved", "brilliant", "moving", "funny", "excellent"]
NEGATIVE = ["awful", "boring", "terrible", "hated", "dull", "weak", "silly", "worst"]
FILLER = ["the", "movie", "film", "plot", "actors", "was", "a", "and", "story", "scenes", "it", "of"]


def review(rng, label, n_words):
    """A short review whose sentiment words make its label learnable."""
    words = [rng.choice(FILLER) for _ in range(n_words)]
    for _ in range(max(1, n_words // 5)):
        words[rng.randrange(n_words)] = rng.choice(POSITIVE if label else NEGATIVE)
    return " ".join(words).capitalize() + (" !" if label else " .")


def make_imdb(root, n_train=40, n_test=30, n_unsup=40, seed=0):
    """An `aclImdb/` tree: train/{pos,neg,unsup}, test/{pos,neg}, `<id>_<rating>.txt` files.

    Test reviews contain the marker word `testonlyword` so tests can check it never reaches
    pretraining. Returns the path of `aclImdb/`.
    """
    rng = random.Random(seed)
    base = os.path.join(root, "aclImdb")
    counts = {("train", "pos"): n_train // 2, ("train", "neg"): n_train // 2,
              ("test", "pos"): n_test // 2, ("test", "neg"): n_test // 2, ("train", "unsup"): n_unsup}
    for (split, kind), n in counts.items():
        os.makedirs(os.path.join(base, split, kind), exist_ok=True)
        for i in range(n):
            label = {"pos": 1, "neg": 0}.get(kind, rng.randrange(2))
            rating = 0 if kind == "unsup" else (rng.randint(7, 10) if label else rng.randint(1, 4))
            body = review(rng, label, rng.randint(8, 40)) + "<br /><br />The end."
            if split == "test":
                body += " testonlyword"
            with open(os.path.join(base, split, kind, f"{i}_{rating}.txt"), "w", encoding="utf-8") as f:
                f.write(body)
    with open(os.path.join(base, "README"), "w") as f:
        f.write("fixture\n")
    return base


def make_rt(root, n_per_class=50, seed=0):
    """`rt-polaritydata/rt-polarity.{pos,neg}`: one sentence a line, latin-1 with non-ASCII bytes."""
    rng = random.Random(seed)
    base = os.path.join(root, "rt-polaritydata")
    os.makedirs(base, exist_ok=True)
    for kind, label in (("pos", 1), ("neg", 0)):
        lines = [f"{review(rng, label, rng.randint(5, 15))} {kind}{i} caf\xe9 na\xefve \n" for i in range(n_per_class)]
        with open(os.path.join(base, f"rt-polarity.{kind}"), "wb") as f:
            f.write("".join(lines).encode("latin-1"))
    return base


def tar_gz(folder, archive):
    """Pack `folder` into `archive` with the folder's name at the top, as the official archives do."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=os.path.basename(folder))
    return archive


def make_data_dir(root, archives=True, **sizes):
    """A `--data-dir` holding both datasets, as archives (default) or as extracted folders."""
    src = os.path.join(root, "src")
    imdb = make_imdb(src, **{k: v for k, v in sizes.items() if k != "n_per_class"})
    rt = make_rt(src, **{k: v for k, v in sizes.items() if k == "n_per_class"})
    data_dir = os.path.join(root, "data")
    os.makedirs(data_dir, exist_ok=True)
    if archives:
        tar_gz(imdb, os.path.join(data_dir, "aclImdb_v1.tar.gz"))
        tar_gz(rt, os.path.join(data_dir, "rt-polaritydata.tar.gz"))
    else:
        os.rename(imdb, os.path.join(data_dir, "aclImdb"))
        os.rename(rt, os.path.join(data_dir, "rt-polaritydata"))
    return data_dir


def write_table(path, rows, fmt=None):
    """Write `rows` (dicts) as a .csv, .tsv or .jsonl file (`fmt`, else the extension of `path`); return path."""
    import csv
    import json

    fmt = fmt or os.path.splitext(str(path))[1].lstrip(".")
    with open(path, "w", encoding="utf-8", newline="") as f:
        if fmt == "jsonl":
            f.writelines(json.dumps(row) + "\n" for row in rows)
        else:
            columns = list(dict.fromkeys(key for row in rows for key in row))
            writer = csv.DictWriter(f, columns, delimiter="\t" if fmt == "tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)
    return str(path)


def three_class_rows(n, seed=0, labels=("negative", "neutral", "positive")):
    """`n` rows {text, label} cycling through three classes, each text marked by its class's words."""
    rng = random.Random(seed)
    words = {labels[0]: NEGATIVE, labels[1]: ["fine", "okay", "average", "mixed"], labels[2]: POSITIVE}
    rows = []
    for i in range(n):
        label = labels[i % 3]
        text = " ".join(rng.choice(FILLER + words[label]) for _ in range(rng.randint(4, 12)))
        rows.append({"text": f"{text} number{i}", "label": label})
    return rows


def mock_tfds(data_dir, name, examples):
    """A `tfds.testing.mock_data` context in which dataset `name` is prepared in `data_dir` with exactly
    `examples` ({split: [feature dict, ...]}): its metadata (features, splits) is written there, and
    `as_dataset` serves those examples. Nothing is downloaded; tfds redirects every data_dir to this one."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(name=split, shard_lengths=[len(rows)], num_bytes=0, filename_template=None)
        for split, rows in examples.items()
    ]))
    os.makedirs(builder.data_path, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)

    def as_dataset(self, split, **kwargs):
        rows = examples[split]
        return tf.data.Dataset.from_tensor_slices({key: [row[key] for row in rows] for key in rows[0]})

    return tfds.testing.mock_data(data_dir=data_dir, as_dataset_fn=as_dataset)
