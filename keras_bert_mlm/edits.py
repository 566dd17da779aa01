"""The minimal-edit probe (#23): does a classifier change its answer when a few words flip a review's sentiment
(where a bag of n-grams cannot tell "a great film" from "not a great film"), and keep it when they should not?

    python3 -m keras_bert_mlm.edits --artifacts runs/cpu-hour --data-dir ../shared/data --bigrams
    python3 -m keras_bert_mlm.edits --artifacts runs/lift --data-dir ../shared/data \\
        --savedmodel runs/lift/imdb-500-pretrained/savedmodel --train-draw 500 --output edits-500.json

The edits (`edit_rules.py`: negation, antonym, verdict flip the label; intensifier, neutral keep it) are made
on two sources, never on test reviews: the run's validation split, held out from training, and the training
reviews the model was fine-tuned on (the memorization probe: a model that remembers a review pulls its edit
back to the old label). Each is scored through the shipped SavedModel's `serve` endpoint, and with
`--bigrams` through an NBSVM-style bag of bigrams trained on the same training reviews (the n-gram
reference). Accuracy is against the edit's label: on flips, under 50% means the model mostly kept the old
answer. `changed` is the share of edits whose answer differs from the model's answer on the original,
`shift` the mean move of P(the edit's label) from the original to the edit. `--excerpts` edits the reviews'
evaluative sentences instead of whole reviews (`excerpt`), whose flipped labels hold more often; `--checked`
keeps of those flips only the ones a reader judged to read as the new label, so flip accuracy is an accuracy.

>>> records = build_edits(["The movie was great. 9/10", "Dull.", "It was bad. 2/10"], [1, 0, 0], seed=0)
>>> sorted((r["source_index"], r["kind"], r["label"]) for r in records if r["source_index"] == 0)
[(0, 'intensifier', 1), (0, 'negation', 0), (0, 'neutral', 1), (0, 'verdict', 0)]
"""

import collections
import hashlib
import json
import os
import re
import time

import numpy as np

from . import edit_rules
from .cli import ArgumentParser, log, run_command
from .config import UserError

KINDS = edit_rules.FLIPS + edit_rules.KEEPS


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", required=True, metavar="OUT",
                        help="a finished run: its config.json gives the splits (validation size, seed)")
    parser.add_argument("--data-dir", required=True, help="folder with the datasets, as for train.py")
    parser.add_argument("--dataset", default="imdb", help="the dataset whose classifier is probed (default: imdb)")
    parser.add_argument("--savedmodel", metavar="PATH",
                        help="the classifier SavedModel to score (default: OUT/<dataset>/savedmodel)")
    parser.add_argument("--train-draw", type=int, metavar="N",
                        help="the model was fine-tuned on lift.py's seeded draw of N training reviews: take the "
                        "training-source edits (and the bag of bigrams' training texts) from those N only")
    parser.add_argument("--per-source", type=int, default=500,
                        help="at most this many edits of each kind from each source, from its reviews in a "
                        "seeded order (default: 500)")
    parser.add_argument("--excerpts", action="store_true",
                        help="edit and score the reviews' evaluative sentences only (those with a sentiment word "
                        "the rules know), not whole reviews: flipped labels that hold far more often")
    parser.add_argument("--checked", metavar="FILE",
                        help="with --excerpts: score the validation flips only on the hand-checked edits in FILE "
                        "whose new label holds (experiments/edits-checked.jsonl, read for this run's split)")
    parser.add_argument("--bigrams", action="store_true",
                        help="score an NBSVM-style bag of bigrams trained on the same training reviews too")
    parser.add_argument("--output", metavar="FILE", help="where the figures go (default: OUT/edits.json)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    return parser.parse_args(argv)


def split_settings(out):
    """(imdb_val_size, seed) of the run `out`, read from its config.json as plain JSON: lift.py's carries keys
    that `Config` does not know (`pretrained_in`)."""
    from .config import Config
    from .rundir import read_json

    path = os.path.join(out, "config.json")
    if not os.path.isdir(out):
        raise UserError(f"--artifacts {out}: no such directory")
    if not os.path.isfile(path):
        raise UserError(f"--artifacts {out}: no config.json, so not the output of a finished run")
    settings = read_json(path)
    return settings.get("imdb_val_size", Config().imdb_val_size), settings.get("seed", Config().seed)


def excerpt(review):
    """The sentences of `review` that hold a sentiment word or a verdict the rules know, in order.

    On whole IMDB reviews most flipped edits read mixed: the praise or blame the lexicon does not know
    ("a real jewel", "I want that hour back") survives the edit. An excerpt leaves most of it out, so its
    flipped label is right far more often; the model is scored on the unedited excerpt too.
    """
    sentences = re.split(r"(?<=[.!?])\s+|<br\s*/?>", review)
    return " ".join(s.strip() for s in sentences
                    if any(t in edit_rules.POLARITY or edit_rules.is_verdict(t) for _, _, t in edit_rules.tokens_of(s)))


def build_edits(reviews, labels, seed, per_kind=500, excerpts=False):
    """The edits of `reviews` (labels 1 positive, 0 negative), or of their `excerpt`s, walked in a seeded order
    until each kind has `per_kind` edits or the reviews run out: records {"text", "label", "kind", "flips",
    "words_changed", "original", "source_index"} (the text edited, and the index of its review in `reviews`)."""
    counts, records = collections.Counter(), []
    for index in np.random.default_rng(seed).permutation(len(reviews)):
        original = excerpt(reviews[index]) if excerpts else reviews[index]
        for record in edit_rules.edits_of(original, int(labels[index])):
            if counts[record["kind"]] < per_kind:
                counts[record["kind"]] += 1
                records.append({**record, "original": original, "source_index": int(index)})
        if all(counts[kind] >= per_kind for kind in KINDS):
            break
    return records


def edit_sources(splits, seed, per_kind, train_draw=None, excerpts=False):
    """{source: (reviews DataFrame, edits)} for the validation split and the training reviews (lift.py's draw
    of `train_draw` of them, when given). Only these two splits are read: never `splits["test"]`."""
    from .lift import draw

    train = splits["train"] if train_draw is None else draw(splits["train"], train_draw, seed)
    sources = {}
    for name, reviews in (("validation", splits["validation"]), ("train", train)):
        reviews = reviews.reset_index(drop=True)
        sources[name] = reviews, build_edits(reviews["text"].tolist(), reviews["label"].to_numpy(), seed, per_kind,
                                               excerpts)
    return sources


def edit_key(record):
    """A short hash of an edit and the text it edits: how a hand-checked edit is found again when the rules
    rebuild it from the same review."""
    return hashlib.sha1((record["original"] + "\n" + record["text"]).encode()).hexdigest()[:16]


def checked_only(records, path):
    """`records` with the flipping edits cut to those in the hand-checked file `path` (JSON lines {"key",
    "holds", ...}) whose new label holds: the rules' flipped labels hold in about half of the excerpts, a
    reader's check makes flip accuracy an accuracy. Keeping edits stay as they are (their labels hold)."""
    from .tables import table

    try:
        holds = {row["key"] for _, row in table(path, "key", "holds") if row["holds"]}
    except (UserError, KeyError) as error:  # tables names the file and line; a later row may lack a key
        raise UserError(f"--checked {path}: not a file of checked edits, one JSON object a line ({error})") from None
    kept = [r for r in records if not r["flips"] or edit_key(r) in holds]
    if not any(r["flips"] for r in kept):
        raise UserError(f"--checked {path}: none of its edits is in this run's validation split (another seed or "
                        "validation size, or no --excerpts?)")
    return kept


def mean(values):
    """The mean of `values` as a float; None for no values."""
    return float(np.mean(values)) if len(values) else None


def score(probabilities, reviews, records):
    """Figures of one scorer on one source. `probabilities`: P(positive) of the originals edited (in index
    order) then of the edits (in `records`' order), as `texts_to_score` lists them."""
    edited = sorted({r["source_index"] for r in records})
    before = dict(zip(edited, probabilities[:len(edited)]))
    after = probabilities[len(edited):]
    labels = reviews["label"].to_numpy()
    figures = {"original": {"n": len(edited), "accuracy": mean([(before[i] >= 0.5) == labels[i] for i in edited])}}
    groups = {**{kind: [r["kind"] == kind for r in records] for kind in KINDS},
              "flips": [r["flips"] for r in records], "keeps": [not r["flips"] for r in records]}
    for group, member in groups.items():
        rows = [(r, p, before[r["source_index"]]) for r, p, m in zip(records, after, member) if m]
        figures[group] = {
            "n": len(rows),
            "accuracy": mean([(p >= 0.5) == r["label"] for r, p, _ in rows]),
            "changed": mean([(p >= 0.5) != (old >= 0.5) for _, p, old in rows]),
            # How far the edit moved P(the edit's label): large and positive on flips, near 0 on keeps.
            "shift": mean([(p - old) * (1 if r["label"] else -1) for r, p, old in rows]),
            "words_changed": mean([r["words_changed"] for r, _, _ in rows]),
            "positive_originals": sum(r["label"] != r["flips"] for r, _, _ in rows)}
    return figures


def texts_to_score(records):
    """The originals edited (in index order) then the edits: what `score` expects probabilities of."""
    originals = {r["source_index"]: r["original"] for r in records}
    return [originals[i] for i in sorted(originals)] + [r["text"] for r in records]


def bigrams_predictor(train, seed):
    """P(positive) of texts from the NBSVM-style bag of bigrams (`teacher.nbsvm`, trained as the distillation
    teacher is: `TEACHER["epochs"]` epochs on the DataFrame `train`, no early stopping)."""
    from .callbacks import Interruptible
    from .teacher import TEACHER, nbsvm

    texts, labels = train["text"].to_numpy(object), train["label"].to_numpy(np.float32)
    model, batches = nbsvm(texts, labels, seed)
    model.fit(batches(texts, labels, shuffle=True), epochs=TEACHER["epochs"], verbose=0, callbacks=[Interruptible()])
    return lambda texts: model.predict(batches(np.asarray(texts, object)), verbose=0).reshape(-1)


def table(results):
    """The figures as a fixed-width table: a row per scorer, source and group."""
    lines = [f"{'scorer':<11} {'source':<11} {'edits':<12} {'n':>5} {'accuracy':>9} {'changed':>8} {'shift':>7} "
             f"{'words':>6}"]
    for scorer, by_source in results.items():
        for source, figures in by_source.items():
            for group, f in figures.items():
                acc = "-" if f["accuracy"] is None else f"{f['accuracy']:.3f}"
                changed = f"{f['changed']:.3f}" if f.get("changed") is not None else ""
                words = f"{f['words_changed']:.1f}" if f.get("words_changed") is not None else ""
                shift = f"{f['shift']:+.3f}" if f.get("shift") is not None else ""
                lines.append(f"{scorer:<11} {source:<11} {group:<12} {f['n']:>5} {acc:>9} {changed:>8} {shift:>7} "
                             f"{words:>6}")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    if not os.path.isdir(args.data_dir):
        raise UserError(f"--data-dir {args.data_dir}: no such directory")
    from . import data, evaluate, export, memory, rundir, runinfo

    val_size, seed = split_settings(args.artifacts)
    model_path = args.savedmodel or os.path.join(args.artifacts, args.dataset, "savedmodel")
    memory.keep_freed_memory()
    served = export.load_savedmodel(model_path, "serve")
    splits = data.load_dataset(args.dataset, args.data_dir, val_size, seed, args.offline)
    sources = edit_sources(splits, seed, args.per_source, args.train_draw, args.excerpts)
    if args.checked:
        reviews, records = sources["validation"]
        sources["validation"] = reviews, checked_only(records, args.checked)
    for name, (reviews, records) in sources.items():
        counts = collections.Counter(r["kind"] for r in records)
        log(f"{name}: {len(reviews)} reviews, edits " + ", ".join(f"{k} {counts[k]}" for k in KINDS))
    scorers = {"savedmodel": lambda texts: evaluate.serve_probabilities(served, texts)[:, 0]}
    if args.bigrams:
        log(f"training the bag of bigrams on {len(sources['train'][0])} training reviews")
        scorers["bigrams"] = bigrams_predictor(sources["train"][0], seed)
    results = {scorer: {name: score(predict(texts_to_score(records)), reviews, records)
                        for name, (reviews, records) in sources.items()} for scorer, predict in scorers.items()}
    record = {"dataset": args.dataset, "savedmodel": os.path.abspath(model_path), "seed": seed,
              "per_source": args.per_source, "train_draw": args.train_draw,
              "excerpts": args.excerpts, "checked": args.checked, "scores": results,
              **runinfo.run_record(started, runinfo.current_commit(), runinfo.matmul_peak_gflops(seconds=1.0))}
    output = args.output or os.path.join(args.artifacts, "edits.json")
    rundir.write_json(output, record)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(table(results))
        print(f"wrote {output}")


if __name__ == "__main__":
    run_command(main)
