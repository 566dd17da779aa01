"""What pretraining buys when labels are few: test accuracy against the number of labelled texts.

    python3 -m keras_bert_mlm.lift --data-dir ../shared/data --output-dir runs/lift \\
        --pretrained runs/example --labels 500,2000,all

For each dataset and each number N of labelled training texts (a stratified draw, seeded; validation
and test splits as train.py's), three arms, none with a teacher:

    pretrained  the classifier recipe on the encoder that RUN pretrained
    random      the same recipe on the same architecture, randomly initialized (the same epochs and
                steps, so the same compute)
    bigrams     the NBSVM-style bag of uni- and bigrams of `teacher.nbsvm` on the same N texts

Validation picks each arm's epoch; the test split is scored once per arm (never, with
`--validation-only`: the way to compare pretrainings before scoring the chosen one; the same command
without it then scores the classifiers already trained, and retrains only the bag of bigrams). The recipe is the preset's
(with RUN's pretraining settings, as `train.py --pretrained`), and any setting flag overrides it.
Writes OUT/<dataset>-<N>-<arm>.json per arm (a rerun skips those there), OUT/lift.png, and prints
the table (`python3 -m keras_bert_mlm.results --lift OUT` prints it again). One seed's figures move by
points at a few hundred labels; `--seeds 42,43,44` repeats every arm with each seed (its own draw of the
N texts, initialization and order; the same validation and test texts), records it as
OUT/<dataset>-<N>-<arm>-seed<S>.json (the preset's own seed keeps the plain name) and reports the means
and the lift's standard error.
"""

import dataclasses
import os
import time

import numpy as np

from . import cli, rundir
from .cli import log

ARMS = ("pretrained", "random", "bigrams")


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data", help="the data, as for train.py (default: data)")
    parser.add_argument("--output-dir", required=True, help="where the records, models and lift.png go")
    parser.add_argument("--pretrained", required=True, metavar="RUN_DIR",
                        help="a finished train.py run: its vocabulary and pretrained encoder")
    parser.add_argument("--labels", default="500,2000,all",
                        help="comma-separated numbers of labelled training texts, or all (default: 500,2000,all)")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated arms to train (default: {','.join(ARMS)})")
    parser.add_argument("--seeds", default="", metavar="S1,S2,...",
                        help="comma-separated seeds, each a repeat of every arm on its own draw of the N texts "
                        "(default: the preset's --seed alone)")
    parser.add_argument("--validation-only", action="store_true",
                        help="leave the test split unscored: for choosing between pretrainings, whose test "
                        "accuracy is then measured once, for the one chosen")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only stage lines")
    cli.add_config_flags(parser, default_preset="cpu-hour")
    args = parser.parse_args(argv)
    args.label_counts = [parse_count(n, parser) for n in args.labels.split(",") if n.strip()]
    args.arm_list = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    seeds = [seed.strip() for seed in args.seeds.split(",") if seed.strip()]
    bad = [seed for seed in seeds if not seed.isdigit()]
    if bad:
        parser.error(f"--seeds: {bad[0]!r} is not a whole number")
    args.seed_list = sorted({int(seed) for seed in seeds})
    for arm in args.arm_list:
        if arm not in ARMS:
            parser.error(f"--arms: unknown arm {arm!r} (known: {', '.join(ARMS)})")
    return args


def parse_count(value, parser):
    value = value.strip()
    if value == "all":
        return value
    if not value.isdigit() or int(value) < 2:
        parser.error(f"--labels: {value!r} is neither a number of texts (2 or more) nor all")
    return int(value)


def draw(train, n, seed):
    """`n` texts of the DataFrame `train` (text, label), each label in its share, in a seeded order."""
    if n == "all" or n >= len(train):
        return train.sample(frac=1, random_state=seed)
    shares = train["label"].value_counts(normalize=True).sort_index()
    counts = np.maximum(1, np.round(shares.to_numpy() * n).astype(int))
    counts[np.argmax(counts)] += n - counts.sum()  # rounding: the largest class takes up the difference
    parts = [train[train["label"] == label].sample(n=int(k), random_state=seed) for label, k in zip(shares.index, counts)]
    import pandas as pd

    return pd.concat(parts).sample(frac=1, random_state=seed)


def bigrams_arm(split, cfg, score_test=True):
    """Fit the bag of bigrams on split["train"], its epoch picked on validation; test accuracy and all."""
    import keras

    from . import teacher

    texts = {part: split[part]["text"].to_numpy(object) for part in ("train", "validation", "test")}
    labels = {part: split[part]["label"].to_numpy(np.float32) for part in texts}
    model, batches = teacher.nbsvm(texts["train"], labels["train"], cfg.seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True)
    history = model.fit(batches(texts["train"], labels["train"], shuffle=True), epochs=8, verbose=0,
                        validation_data=batches(texts["validation"], labels["validation"]), callbacks=[stop]).history
    record = {"epoch": int(np.argmax(history["val_accuracy"])) + 1, "val_accuracy": max(history["val_accuracy"])}
    if score_test:
        test = model.predict(batches(texts["test"]), verbose=0).reshape(-1)
        record["test_accuracy"] = float(np.mean((test >= 0.5) == labels["test"]))
    return record


def encoder_arm(arm, name, split, cfg, out, vectorizer, pretrained, verbose, score_test=True):
    """Fine-tune the classifier on `pretrained` (or on a new encoder of its architecture), score its
    SavedModel on the test split."""
    import keras

    from . import models
    from .finetune import finetune

    keras.utils.set_random_seed(cfg.seed)
    encoder = pretrained if arm == "pretrained" else models.build_encoder(**cfg.encoder_settings())
    chosen = finetune(name, split, encoder, vectorizer, cfg, out, verbose)
    return {**chosen, "test_accuracy": test_accuracy(out, name, split)} if score_test else chosen


def test_accuracy(out, name, split):
    """Accuracy on split["test"] of the SavedModel that stage `name` exported into `out`."""
    from . import evaluate, export

    served = export.load_savedmodel(os.path.join(out, name, "savedmodel"), "serve")
    test = evaluate.serve_probabilities(served, split["test"]["text"].tolist())[:, 0]  # P(positive)
    return float(np.mean((test >= 0.5) == split["test"]["label"].to_numpy()))


def run_arm(args, stage, name, n, arm, drawn, cfg, vectorizer, pretrained):
    """Train and score `arm` on `drawn` (dataset `name`, its draw of `n` labelled texts) into OUT/`stage`.json,
    unless an earlier run did."""
    out = args.output_dir
    path = os.path.join(out, stage + ".json")
    if os.path.isfile(path):
        record = rundir.read_json(path)
        if args.validation_only or "test_accuracy" in record:
            log(f"{stage}: recorded by an earlier run, skipped")
            return
        if arm != "bigrams":  # chosen by a --validation-only run: its test split, scored once now
            record["test_accuracy"] = test_accuracy(out, stage, drawn)
            rundir.write_json(path, record)
            log(f"{stage}: trained by a --validation-only run; test {record['test_accuracy']:.4f}")
            return
    log(f"{stage}: training on {len(drawn['train'])} labelled texts")
    began = time.time()
    score_test = not args.validation_only
    record = (bigrams_arm(drawn, cfg, score_test) if arm == "bigrams" else
              encoder_arm(arm, stage, drawn, cfg, out, vectorizer, pretrained, 0 if args.quiet else 2, score_test))
    record.update(dataset=name, labels=len(drawn["train"]), requested=n, arm=arm, seed=cfg.seed,
                  seconds=round(time.time() - began, 1))
    rundir.write_json(path, record)
    test = f", test {record['test_accuracy']:.4f}" if "test_accuracy" in record else ""
    log(f"{stage}: validation {record['val_accuracy']:.4f}{test}")


def run(args, cfg):
    import keras

    from . import data, memory, models, plots, results, text  # noqa: F401 (models: encoder.keras's layers)

    memory.keep_freed_memory()
    out = args.output_dir
    splits = {name: data.load_dataset(name, args.data_dir, cfg.imdb_val_size, cfg.seed, args.offline)
              for name in cfg.dataset_list}
    os.makedirs(out, exist_ok=True)
    rundir.lock(out)
    rundir.clean_interrupted_writes(out)
    rundir.write_json(os.path.join(out, "config.json"), {**cfg.to_dict(), "pretrained_in": args.pretrained})
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(args.pretrained, "vocab.txt")), cfg.max_len)
    pretrained = keras.saving.load_model(os.path.join(args.pretrained, "mlm", "encoder.keras"))
    for name, split in splits.items():
        for n in args.label_counts:
            for seed in args.seed_list or [cfg.seed]:
                seeded = dataclasses.replace(cfg, seed=seed)  # the draw, initialization and order; splits stay
                drawn = {**split, "train": draw(split["train"], n, seed)}
                for arm in args.arm_list:
                    stage = f"{name}-{n}-{arm}" + ("" if seed == cfg.seed else f"-seed{seed}")
                    run_arm(args, stage, name, n, arm, drawn, seeded, vectorizer, pretrained)
    records = results.lift_records(out)
    split = results.lift_split(records)
    if split == "test":  # the plot shows test accuracy
        plots.plot_lift(records, os.path.join(out, "lift.png"))
    print(results.lift_table(records, split))


def main(argv=None):
    args = parse_args(argv)
    cfg = rundir.adopt_pretraining_settings(cli.config_from_args(args), args.pretrained)
    # No teacher, no time budget: every arm learns from the N labelled texts alone, for its full epochs.
    cfg = dataclasses.replace(cfg, distill_unlabelled=0, distill_sentences=0, time_budget=0.0, max_train_texts=0)
    run(args, cfg)


if __name__ == "__main__":
    cli.run_command(main)
