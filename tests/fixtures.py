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
