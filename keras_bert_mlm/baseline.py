"""The bag-of-bigrams baseline of the results table: a point of comparison, not a shipped model.

    python3 -m keras_bert_mlm.baseline --data-dir ../shared/data --output-dir runs/bag-of-bigrams

`TextVectorization(output_mode="tf_idf", ngrams=2, max_tokens=100000)` and one sigmoid `Dense` layer,
5 epochs, no tuning. Same splits (`data.load_dataset`) and the same metrics (`evaluate.binary_metrics`)
as our models; writes validation.json, metrics.json, run.json and baseline.json into OUT, which
`python3 -m keras_bert_mlm.results` reads like a train.py run. (The teacher that training distills
from is another bag of bigrams: teacher.py.)
"""

import os
import time

from .cli import ArgumentParser, run_command
from .config import Config, UserError

SETTINGS = dict(output_mode="tf_idf", ngrams=2, max_tokens=100000, epochs=5, batch_size=32)


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
    # No XLA on any device (Keras turns it on by itself on a GPU), like every model train.py fits.
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], jit_compile=False)
    return vectorizer, model


def train_and_score(split, seed):
    """Fit on `split["train"]`; return (validation accuracy, probabilities on `split["test"]`)."""
    import numpy as np

    from .callbacks import Interruptible
    from .teacher import text_batches

    vectorizer, model = build(split["train"]["text"].to_numpy(), seed)

    def part(name, shuffle=False):
        return text_batches(vectorizer, split[name]["text"].to_numpy(), split[name]["label"].to_numpy(np.float32),
                            seed if shuffle else None, SETTINGS["batch_size"])

    model.fit(part("train", shuffle=True), epochs=SETTINGS["epochs"], verbose=2, callbacks=[Interruptible()])
    val_accuracy = model.evaluate(part("validation"), verbose=0)[1]
    return val_accuracy, model.predict(part("test"), verbose=0).reshape(-1)


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    from . import data, memory, runinfo
    from .evaluate import binary_metrics
    from .rundir import write_json

    commit = runinfo.current_commit()
    names = Config(datasets=args.datasets).dataset_list  # validates the names
    memory.keep_freed_memory()
    gflops = runinfo.matmul_peak_gflops(seconds=1.0)  # the machine's speed, for the results tables (run.json)

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
                      ("metrics.json", metrics), ("run.json", runinfo.run_record(started, commit, gflops))):
        write_json(os.path.join(args.output_dir, file), obj)
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    run_command(main)
