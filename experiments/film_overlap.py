"""How much IMDB's validation reviews share their films with the training reviews, and whether a validation
split of contiguous file ids would share less.

    python3 -m experiments.film_overlap --data-dir ../shared/data

The archive names no film (its url lists are left out), so a film is seen through its rare names: two reviews
that share two or more capitalized words found in 2 to 30 of the labelled reviews are likely about one film.
For validation as `data.imdb_splits` draws it, for a draw of test reviews (whose films are others: the
baseline of chance sharing) and for a validation split of one contiguous run of file ids per class (`--block`,
of the same size), prints the share of reviews that share two rare names with a training review of their own
class (what a model that learns films can use) and of the other class. First, whether file ids follow films:
how often a review shares a rare name with the next id of its class, against a random review. Appends one
JSON line to --results. Reads training, validation and test text (no model); chooses nothing.
"""

import argparse
import collections
import json
import os
import re

import numpy as np

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "film_overlap.jsonl")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="folder with aclImdb_v1.tar.gz or aclImdb/")
    p.add_argument("--val-size", type=int, default=2500, help="validation reviews, as train.py's --imdb-val-size")
    p.add_argument("--seed", type=int, default=42, help="seed of the validation draw, as train.py's --seed")
    p.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    return p.parse_args(argv)


def rare_names(texts):
    """Per text, the capitalized words of 4+ letters found in 2 to 30 of `texts`: a film's names."""
    names = [set(re.findall(r"\b[A-Z][a-z]{3,}\b", t)) for t in texts]
    count = collections.Counter(w for n in names for w in n)
    return [frozenset(w for w in n if 2 <= count[w] <= 30) for n in names]


def shares_film(names, labels, train_names, train_labels, relation, at_least=2):
    """For each review (rare `names`, `labels`), does it share `at_least` names with one training review of its
    own class (`relation` "own") or of the other ("other")?"""
    index = collections.defaultdict(set)  # (class, name) -> training reviews
    for i, (n, y) in enumerate(zip(train_names, train_labels)):
        for w in n:
            index[y, w].add(i)
    wanted = [y if relation == "own" else 1 - y for y in labels]
    return [max(collections.Counter(j for w in n for j in index[y, w]).values(), default=0) >= at_least
            for n, y in zip(names, wanted)]


def block_split(labelled, val_size, seed):
    """Validation as one contiguous run of file ids per class (half of `val_size` each, at a seeded offset)."""
    rng, val = np.random.default_rng(seed), []
    for _, rows in labelled.groupby("label"):
        rows = rows.assign(id=rows["file"].str.extract(r"(\d+)_\d+\.txt$")[0].astype(int)).sort_values("id")
        start = rng.integers(0, len(rows) - val_size // 2)
        val.append(rows.index[start:start + val_size // 2])
    val = np.concatenate(val)
    return labelled.drop(val), labelled.loc[val]


def main(argv=None):
    from keras_bert_mlm import data

    args = parse_args(argv)
    df = data.read_imdb(data.find_source("imdb", args.data_dir, offline=True))
    labelled = df[df["label"] >= 0].reset_index(drop=True)
    names = dict(zip(labelled.index, rare_names(labelled["text"].tolist())))
    figures = {"args": vars(args)}
    # Do file ids follow films? Neighbours in id order, within one class of train, against random pairs.
    rng = np.random.default_rng(args.seed)
    for label, kind in ((1, "pos"), (0, "neg")):
        rows = labelled[(labelled["split"] == "train") & (labelled["label"] == label)]
        order = rows.index[np.argsort(rows["file"].str.extract(r"(\d+)_\d+\.txt$")[0].astype(int).to_numpy())]
        figures[f"next_id_shares_a_name_{kind}"] = np.mean([bool(names[a] & names[b]) for a, b in zip(order, order[1:])])
        figures[f"random_pair_shares_a_name_{kind}"] = np.mean([bool(names[a] & names[b]) for a, b in
                                                                zip(order, rng.permutation(order))])
    train_rows = labelled[labelled["split"] == "train"]
    val = train_rows.groupby("label", group_keys=False).sample(frac=args.val_size / len(train_rows),
                                                               random_state=args.seed)
    test = labelled[labelled["split"] == "test"].sample(args.val_size, random_state=args.seed)
    block_train, block_val = block_split(train_rows, args.val_size, args.seed)
    for split, held, train in (("validation", val, train_rows.drop(val.index)), ("test", test, train_rows),
                               ("block_validation", block_val, block_train)):
        train_names, held_names = [names[i] for i in train.index], [names[i] for i in held.index]
        for relation in ("own", "other"):
            hits = shares_film(held_names, held["label"].tolist(), train_names, train["label"].tolist(), relation)
            figures[f"{split}_shares_a_film_with_train_{relation}_class"] = np.mean(hits)
    figures = {k: (round(float(v), 4) if not isinstance(v, dict) else v) for k, v in figures.items()}
    print(json.dumps(figures, indent=1))
    with open(args.results, "a") as f:
        f.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
