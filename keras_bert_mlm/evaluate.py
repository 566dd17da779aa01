"""Scoring: the metrics of a binary classifier, and a run's SavedModels scored on the test splits.

>>> m = binary_metrics([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
>>> m["accuracy"], m["confusion"]
(0.75, [[1, 0], [1, 2]])

`score_run` is what `test.py` does: only the SavedModels are used, not the Keras models, so what is
scored is exactly what ships.
"""

import os
import time

import numpy as np

from .config import Config, UserError
from .rundir import read_json, write_json

THRESHOLD = 0.5


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


def check_run(out, datasets=None):
    """The run's settings and the datasets to score (`datasets`: comma-separated, default all it trained);
    a one-line error for a folder that is not a finished run or a dataset it did not train."""
    from . import data

    if not os.path.isdir(out):
        raise UserError(f"--artifacts {out}: no such directory")
    config_path = os.path.join(out, "config.json")
    if not os.path.isfile(config_path):
        raise UserError(f"--artifacts {out}: no config.json, so not the output of a finished train.py run")
    cfg = Config.from_json(config_path)
    names = [d.strip() for d in (datasets or cfg.datasets).split(",") if d.strip()]
    for name in names:
        if name not in data.SOURCES:
            raise UserError(f"--datasets: unknown dataset {name!r} (known: {', '.join(data.SOURCES)})")
        if name not in cfg.dataset_list:
            raise UserError(f"--artifacts {out}: no {name} model (this run trained {cfg.datasets})")
    return cfg, names


def score_run(out, data_dir, datasets=None, batch_size=256, offline=False):
    """Score the `serve` endpoint of each dataset's SavedModel in the run `out` on its test split; add the
    figures to OUT/metrics.json (and a confusion-matrix picture each) and return them."""
    cfg, names = check_run(out, datasets)
    from . import data, export, memory, plots, text

    memory.keep_freed_memory()
    vocabulary = text.load_vocabulary(os.path.join(out, "vocab.txt"))
    models = {name: export.load_savedmodel(os.path.join(out, name, "savedmodel"), "serve", vocabulary)
              for name in names}
    results = {}
    for name in names:
        test = data.load_dataset(name, data_dir, cfg.imdb_val_size, cfg.seed, offline)["test"]
        if not len(test):
            raise UserError(f"--data-dir {data_dir}: {name} has no test examples")
        start = time.time()
        probabilities = serve_probabilities(models[name], test["text"].tolist(), batch_size)
        results[name] = binary_metrics(test["label"].to_numpy(), probabilities)
        results[name]["seconds"] = round(time.time() - start, 1)
    path = os.path.join(out, "metrics.json")
    write_json(path, {**read_json(path, {}), **results})
    plots.plot_run(out)  # adds plots/confusion_<dataset>.png
    return results


def serve_probabilities(loaded, texts, batch_size=256):
    """P(positive) of each of `texts` (a list of strings) from the `serve` endpoint of a loaded SavedModel."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    return np.concatenate([loaded.serve(batch).numpy().reshape(-1) for batch in batches])


def metrics_table(results):
    """`results` ({dataset: binary_metrics}) as the fixed-width table test.py prints."""
    lines = [f"{'dataset':<16} {'n':>6} {'accuracy':>9} {'precision':>9} {'recall':>7} {'f1':>7}   "
             "confusion [[tn, fp], [fn, tp]]"]
    for name, m in results.items():
        lines.append(f"{name:<16} {m['n']:>6} {m['accuracy']:>9.4f} {m['precision']:>9.4f} {m['recall']:>7.4f} "
                     f"{m['f1']:>7.4f}   {m['confusion']}")
    return "\n".join(lines)
