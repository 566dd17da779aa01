"""Score the exported SavedModels on each dataset's test split, as a user would load them.

    python3 test.py --artifacts runs/example --data-dir ../shared/data

Prints a table and writes ARTIFACTS/metrics.json. Only the SavedModels are used, not the Keras
models, so what is scored is exactly what ships.
"""

import json
import os
import time

import numpy as np

from keras_bert_mlm.cli import ArgumentParser, run_command
from keras_bert_mlm.config import UserError

THRESHOLD = 0.5


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", required=True, help="the --output-dir of a train.py run")
    parser.add_argument("--data-dir", default="data", help="folder with the datasets, as for train.py (default: data)")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated datasets to score (default: every dataset the run trained)")
    parser.add_argument("--batch-size", type=int, default=256, help="texts per call of serve (default: 256)")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    return parser.parse_args(argv)


def binary_metrics(labels, probabilities, threshold=THRESHOLD):
    """Accuracy, precision, recall, F1 and the confusion matrix [[tn, fp], [fn, tp]] of positive = 1."""
    labels = np.asarray(labels).astype(int)
    predicted = (np.asarray(probabilities).reshape(-1) >= threshold).astype(int)
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    tn = int(np.sum((predicted == 0) & (labels == 0)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": (tp + tn) / max(len(labels), 1), "precision": precision, "recall": recall, "f1": f1,
            "confusion": [[tn, fp], [fn, tp]], "n": int(len(labels)), "threshold": threshold}


def main(argv=None):
    args = parse_args(argv)
    out = args.artifacts
    if not os.path.isdir(out):
        raise UserError(f"--artifacts {out}: no such directory")
    config_path = os.path.join(out, "config.json")
    if not os.path.isfile(config_path):
        raise UserError(f"--artifacts {out}: no config.json, so not the output of a finished train.py run")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be positive, not {args.batch_size}")

    import tensorflow as tf
    from keras_bert_mlm import data, export, memory, plots, text
    from keras_bert_mlm.config import Config

    memory.keep_freed_memory()

    cfg = Config.from_json(config_path)
    names = [d.strip() for d in (args.datasets or cfg.datasets).split(",") if d.strip()]
    for name in names:
        if name not in data.SOURCES:
            raise UserError(f"--datasets: unknown dataset {name!r} (known: {', '.join(data.SOURCES)})")
        if name not in cfg.dataset_list:
            raise UserError(f"--artifacts {out}: no {name} model (this run trained {cfg.datasets})")
    vocabulary = text.load_vocabulary(os.path.join(out, "vocab.txt"))
    models = {name: export.load_savedmodel(os.path.join(out, name, "savedmodel"), "serve", vocabulary)
              for name in names}

    results = {}
    for name in names:
        test = data.load_dataset(name, args.data_dir, cfg.imdb_val_size, cfg.seed, args.offline)["test"]
        if not len(test):
            raise UserError(f"--data-dir {args.data_dir}: {name} has no test examples")
        start = time.time()
        batches = tf.data.Dataset.from_tensor_slices(test["text"].tolist()).batch(args.batch_size)
        probabilities = np.concatenate([models[name].serve(batch).numpy().reshape(-1) for batch in batches])
        results[name] = binary_metrics(test["label"].to_numpy(), probabilities)
        results[name]["seconds"] = round(time.time() - start, 1)

    path = os.path.join(out, "metrics.json")
    previous = {}
    if os.path.isfile(path):
        with open(path) as f:
            previous = json.load(f)
    with export.atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump({**previous, **results}, f, indent=2)
    plots.plot_run(out)  # adds plots/confusion_<dataset>.png

    print(f"{'dataset':<16} {'n':>6} {'accuracy':>9} {'precision':>9} {'recall':>7} {'f1':>7}   confusion [[tn, fp], [fn, tp]]")
    for name, m in results.items():
        print(f"{name:<16} {m['n']:>6} {m['accuracy']:>9.4f} {m['precision']:>9.4f} {m['recall']:>7.4f} "
              f"{m['f1']:>7.4f}   {m['confusion']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    run_command(main, interrupted=lambda: "interrupted: metrics.json was not changed")
