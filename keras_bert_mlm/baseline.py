"""The bag-of-bigrams baseline of the README's results table: a point of comparison, not a shipped model.

    python3 -m keras_bert_mlm.baseline --data-dir ../shared/data --output-dir runs/bag-of-bigrams

`TextVectorization(output_mode="tf_idf", ngrams=2, max_tokens=100000)` and one sigmoid `Dense` layer,
5 epochs, no tuning. Same splits (`data.load_dataset`) and the same metrics (`test.binary_metrics`)
as our models; writes validation.json, metrics.json, run.json and baseline.json into OUT, which
`python3 -m keras_bert_mlm.results` reads like a train.py run.
"""

import os
import sys
import time

from .cli import ArgumentParser, run_command
from .config import Config, UserError

SETTINGS = dict(output_mode="tf_idf", ngrams=2, max_tokens=100000, epochs=5, batch_size=32)
TEACHER_EPOCHS = 2  # as a teacher (`soft_labels`): its best IMDB validation epoch (experiments/blend_bigrams.jsonl)


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data", help="folder with the datasets, as for train.py (default: data)")
    parser.add_argument("--output-dir", default="runs/bag-of-bigrams", help="where the figures go")
    parser.add_argument("--datasets", default="imdb,rotten_tomatoes", help="comma-separated datasets")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    return parser.parse_args(argv)


def build(train_texts, seed):
    """The vectorizer, adapted to `train_texts`, and the compiled one-`Dense` model of the baseline."""
    import keras

    keras.utils.set_random_seed(seed)
    vectorizer = keras.layers.TextVectorization(
        output_mode=SETTINGS["output_mode"], ngrams=SETTINGS["ngrams"], max_tokens=SETTINGS["max_tokens"])
    vectorizer.adapt(train_texts)
    model = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return vectorizer, model


def batches(vectorizer, texts, labels=None, shuffle_seed=None):
    """tf-idf batches of `texts` (with `labels`), vectorized batch by batch: 25,000 x 100,000 floats
    would be 10 GB."""
    import tensorflow as tf

    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(texts).batch(SETTINGS["batch_size"]).map(vectorizer)
    else:
        ds = tf.data.Dataset.from_tensor_slices((texts, labels))
        if shuffle_seed is not None:
            ds = ds.shuffle(len(texts), seed=shuffle_seed)
        ds = ds.batch(SETTINGS["batch_size"]).map(lambda x, y: (vectorizer(x), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def soft_labels(train, texts, seed):
    """Probabilities of the positive class for `texts`, from the bag of bigrams trained for `TEACHER_EPOCHS`
    on the DataFrame `train` (text, label): the targets `train.py --distill-unlabelled` fine-tunes on."""
    import numpy as np

    from . import budget

    vectorizer, model = build(train["text"].to_numpy(), seed)
    model.fit(batches(vectorizer, train["text"].to_numpy(), train["label"].to_numpy(np.float32), seed),
              epochs=TEACHER_EPOCHS, verbose=0, callbacks=[budget.Interruptible()])
    return model.predict(batches(vectorizer, np.asarray(texts, object)), verbose=0).reshape(-1)


def train_and_score(split, seed):
    """Fit on `split["train"]`; return (validation accuracy, probabilities on `split["test"]`)."""
    import numpy as np

    from . import budget

    vectorizer, model = build(split["train"]["text"].to_numpy(), seed)

    def part(name, shuffle=False):
        return batches(vectorizer, split[name]["text"].to_numpy(), split[name]["label"].to_numpy(np.float32),
                       seed if shuffle else None)

    model.fit(part("train", shuffle=True), epochs=SETTINGS["epochs"], verbose=2, callbacks=[budget.Interruptible()])
    val_accuracy = model.evaluate(part("validation"), verbose=0)[1]
    return val_accuracy, model.predict(part("test"), verbose=0).reshape(-1)


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from train import current_commit, run_record, write_json  # the repository's commands, beside this package

    commit = current_commit()
    names = Config(datasets=args.datasets).dataset_list  # validates the names
    from test import binary_metrics

    from . import data

    seed = Config().seed
    validation, metrics = {}, {}
    for name in names:
        split = data.load_dataset(name, args.data_dir, Config().imdb_val_size, seed, args.offline)
        val_accuracy, probabilities = train_and_score(split, seed)
        validation[name] = {"val_accuracy": float(val_accuracy)}
        metrics[name] = binary_metrics(split["test"]["label"].to_numpy(), probabilities)
        print(f"{name}: validation accuracy {val_accuracy:.4f}, test accuracy {metrics[name]['accuracy']:.4f}")
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"--output-dir {args.output_dir}: not writable ({e.strerror})") from None
    for file, obj in (("baseline.json", {"model": "bag of bigrams", **SETTINGS}), ("validation.json", validation),
                      ("metrics.json", metrics), ("run.json", run_record(started, commit))):
        write_json(os.path.join(args.output_dir, file), obj)
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    run_command(main)
