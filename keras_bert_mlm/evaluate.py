"""Scoring: the metrics of a classifier (binary or K classes), and a run's SavedModels scored on the
test splits.

>>> m = binary_metrics([1, 0, 1, 1], [0.9, 0.2, 0.4, 0.7])
>>> m["accuracy"], m["confusion"]
(0.75, [[1, 0], [1, 2]])
>>> m = class_metrics([0, 1, 2, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .1, .8], [.6, .3, .1]], ["a", "b", "c"])
>>> m["accuracy"], m["macro_f1"], m["confusion"]
(0.75, 0.7778, [[1, 0, 0], [0, 1, 0], [1, 0, 1]])

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


def class_metrics(labels, probabilities, label_names):
    """Accuracy, per-class precision/recall/F1/support, macro-F1 (the unweighted mean of the classes' F1) and
    the K x K confusion matrix (row: true class, column: predicted) of the likeliest class of each row of
    `probabilities` `(n, K)`."""
    labels = np.asarray(labels).astype(int)
    predicted = np.argmax(np.asarray(probabilities), axis=1)
    k = len(label_names)
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(label_names):
        tp, predicted_i, actual_i = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / actual_i if actual_i else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                           "support": int(actual_i)}
    return {"accuracy": float(np.trace(confusion) / max(len(labels), 1)),
            "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
            "per_class": per_class, "confusion": confusion.tolist(), "labels": list(label_names),
            "n": int(len(labels))}


def check_run(out, datasets=None):
    """The run's settings and the datasets to score (`datasets`: comma-separated, default all it trained);
    a one-line error for a folder that is not a finished run or a dataset it did not train."""
    if not os.path.isdir(out):
        raise UserError(f"--artifacts {out}: no such directory")
    config_path = os.path.join(out, "config.json")
    if not os.path.isfile(config_path):
        raise UserError(f"--artifacts {out}: no config.json, so not the output of a finished train.py run")
    cfg = Config.from_json(config_path)
    names = [d.strip() for d in datasets.split(",") if d.strip()] if datasets else cfg.dataset_list
    for name in names:
        if name not in cfg.dataset_list:
            raise UserError(f"--datasets: {out} has no {name!r} model (this run trained "
                            f"{', '.join(cfg.dataset_list)})")
    return cfg, names


def score_run(out, data_dir, datasets=None, batch_size=256, offline=False, tfds_dir=None):
    """Score the `serve` endpoint of each dataset's SavedModel in the run `out` on its test split (a
    built-in dataset's, or a task's as its source gives or draws it); add the figures to OUT/metrics.json
    (and a confusion-matrix picture each) and return them."""
    cfg, names = check_run(out, datasets)
    from . import data

    tests = {}  # read first, as train.py does: a data problem stops here, before TensorFlow loads
    for name in names:
        splits, label_names = data.load_labelled(cfg, name, data_dir, tfds_dir, offline)
        if not len(splits["test"]):
            raise UserError(f"{name}: no test examples (--data-dir {data_dir})")
        tests[name] = splits["test"], label_names
    from . import export, memory, plots, text

    memory.keep_freed_memory()
    vocabulary = text.load_vocabulary(os.path.join(out, "vocab.txt"))
    models = {name: export.load_savedmodel(os.path.join(out, name, "savedmodel"), "serve", vocabulary)
              for name in names}
    results = {}
    for name in names:
        test, label_names = tests[name]
        shipped = saved_labels(models[name])
        if shipped is not None and shipped != list(label_names):
            raise UserError(f"{name}: the model's classes ({', '.join(shipped)}) are not the data's "
                            f"({', '.join(label_names)}): was its source changed since training?")
        start = time.time()
        probabilities = serve_probabilities(models[name], test["text"].tolist(), batch_size)
        if len(label_names) == 2:
            results[name] = {**binary_metrics(test["label"].to_numpy(), probabilities[:, 0]),
                             "labels": list(label_names)}
        else:
            results[name] = class_metrics(test["label"].to_numpy(), probabilities, label_names)
        results[name]["seconds"] = round(time.time() - start, 1)
    path = os.path.join(out, "metrics.json")
    write_json(path, {**read_json(path, {}), **results})
    plots.plot_run(out)  # adds plots/confusion_<dataset>.png
    return results


def serve_probabilities(loaded, texts, batch_size=256):
    """The `serve` endpoint's probabilities `(n, 1)` (binary) or `(n, K)` for `texts` (a list of strings)."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
    return np.concatenate([loaded.serve(batch).numpy() for batch in batches])


def saved_labels(loaded):
    """The class names a loaded classifier SavedModel carries (None for one exported before `labels`)."""
    return [name.decode() for name in loaded.labels().numpy()] if hasattr(loaded, "labels") else None


def metrics_table(results):
    """`results` ({dataset: binary_metrics or class_metrics}) as the fixed-width table test.py prints: a row
    per dataset (a K-class one: macro-F1, and a row per class below it)."""
    lines = [f"{'dataset':<16} {'n':>6} {'accuracy':>9} {'precision':>9} {'recall':>7} {'f1':>7}   "
             "confusion (binary: [[tn, fp], [fn, tp]]; K classes: row = true, column = predicted)"]
    for name, m in results.items():
        if "per_class" not in m:
            lines.append(f"{name:<16} {m['n']:>6} {m['accuracy']:>9.4f} {m['precision']:>9.4f} "
                         f"{m['recall']:>7.4f} {m['f1']:>7.4f}   {m['confusion']}")
            continue
        lines.append(f"{name:<16} {m['n']:>6} {m['accuracy']:>9.4f} {'macro':>9} {'':>7} {m['macro_f1']:>7.4f}   "
                     f"{m['confusion']}")
        for label, c in m["per_class"].items():
            lines.append(f"  {label[:14]:<14} {c['support']:>6} {'':>9} {c['precision']:>9.4f} {c['recall']:>7.4f} "
                         f"{c['f1']:>7.4f}")
    return "\n".join(lines)
