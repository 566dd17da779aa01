"""The bag-of-bigrams baseline of the README's results table: a point of comparison, not a shipped model.

    python3 -m keras_bert_mlm.baseline --data-dir ../shared/data --output-dir runs/bag-of-bigrams

`TextVectorization(output_mode="tf_idf", ngrams=2, max_tokens=100000)` and one sigmoid `Dense` layer,
5 epochs, no tuning. Same splits (`data.load_dataset`) and the same metrics (`test.binary_metrics`)
as our models; writes validation.json, metrics.json, run.json and baseline.json into OUT, which
`python3 -m keras_bert_mlm.results` reads like a train.py run.

Also the teacher of `train.py --distill-unlabelled` (`soft_labels`): a stronger bag of bigrams, NBSVM-style.
"""

import os
import sys
import time

from .cli import ArgumentParser, run_command
from .config import Config, UserError

SETTINGS = dict(output_mode="tf_idf", ngrams=2, max_tokens=100000, epochs=5, batch_size=32)
# The teacher of `soft_labels`: NBSVM-style features, 91.84% IMDB validation after 4 epochs against 90.80% for
# the tf-idf bag of bigrams (experiments/teachers.py, teachers.jsonl).
TEACHER = dict(ngrams=2, max_tokens=400000, epochs=4)


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
    """Batches of `texts` (with `labels`) vectorized batch by batch: 25,000 x 100,000 tf-idf floats
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


def nbsvm(texts, labels, seed, max_tokens=TEACHER["max_tokens"], ngrams=TEACHER["ngrams"]):
    """The NBSVM-style teacher (Wang & Manning 2012), compiled, not fitted: binary 1- to `ngrams`-grams of `texts`
    (the `max_tokens` most frequent) scaled by their naive-Bayes log-count ratio under `labels` (add-one
    smoothing), and one sigmoid unit. Returns (model, batches), `batches(texts, labels=None, shuffle=False)`
    giving its sparse inputs."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    vectorizer = keras.layers.TextVectorization(output_mode="multi_hot", ngrams=ngrams,
                                                max_tokens=max_tokens, sparse=True)
    vectorizer.adapt(texts)

    def teacher_batches(texts, labels=None, shuffle=False):
        return batches(vectorizer, texts, labels, seed if shuffle else None)

    positive = np.ones(vectorizer.vocabulary_size())  # per feature: the positive reviews holding it, plus one
    negative = np.ones(vectorizer.vocabulary_size())
    for x, y in teacher_batches(texts, np.asarray(labels, np.float64)):
        x = tf.cast(x, tf.float64)  # 0/1 counts, sparse
        in_positive = tf.sparse.sparse_dense_matmul(x, y[:, None], adjoint_a=True).numpy()[:, 0]
        positive += in_positive
        negative += tf.sparse.reduce_sum(x, axis=0).numpy() - in_positive
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)
    inputs = keras.Input((vectorizer.vocabulary_size(),), sparse=True)
    scaled = keras.layers.Lambda(lambda x: x * ratio)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(scaled))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model, teacher_batches


def soft_labels(train, texts, seed):
    """Probabilities of the positive class for `texts`, from the NBSVM-style teacher trained for
    `TEACHER["epochs"]` on the DataFrame `train` (text, label): the targets `train.py --distill-unlabelled`
    fine-tunes on."""
    import numpy as np

    from . import budget

    train_texts, train_labels = train["text"].to_numpy(), train["label"].to_numpy(np.float32)
    model, batches = nbsvm(train_texts, train_labels, seed)
    model.fit(batches(train_texts, train_labels, shuffle=True), epochs=TEACHER["epochs"], verbose=0,
              callbacks=[budget.Interruptible()])
    return model.predict(batches(np.asarray(texts, object)), verbose=0).reshape(-1)


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

    from . import bench, data, memory

    memory.keep_freed_memory()
    gflops = bench.matmul_peak_gflops(seconds=1.0)  # the machine's speed, for the results tables (run.json)

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
                      ("metrics.json", metrics), ("run.json", run_record(started, commit, gflops))):
        write_json(os.path.join(args.output_dir, file), obj)
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    run_command(main)
