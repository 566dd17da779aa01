"""Training curves and confusion matrices as PNG files (matplotlib, no display needed).

    plot_history("OUT/mlm/history.csv", "OUT/plots/mlm.png", "MLM pretraining", ["loss", "masked_accuracy"])
    plot_confusion([[tn, fp], [fn, tp]], "OUT/plots/confusion_imdb.png", "IMDB test")
    plot_lift(results.lift_records("runs/lift"), "runs/lift/lift.png")
"""

import json
import os

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import results  # noqa: E402
from .data import BINARY_LABELS  # noqa: E402
from .rundir import atomic_path  # noqa: E402


def plot_history(csv_paths, path, title, metrics, chosen=None):
    """One panel per metric, training and validation per epoch; phases (several CSVs) follow each other.

    `chosen`: `(phase index, epoch)` (1-based epoch) to mark with a star.
    """
    frames = [pd.read_csv(p) for p in ([csv_paths] if isinstance(csv_paths, str) else csv_paths)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        offset = 0
        for i, df in enumerate(frames):
            epochs = df["epoch"] + 1 + offset
            ax.plot(epochs, df[metric], "o-", color="tab:blue", label="training" if i == 0 else None)
            if f"val_{metric}" in df:
                ax.plot(epochs, df[f"val_{metric}"], "s--", color="tab:orange", label="validation" if i == 0 else None)
                if chosen and chosen[0] == i:
                    ax.plot(offset + chosen[1], df[f"val_{metric}"].iloc[chosen[1] - 1], "*", color="red",
                            markersize=16, label="chosen epoch")
            if i:
                ax.axvline(offset + 0.5, color="gray", linestyle=":")
            offset += len(df)
        ax.set_xlabel("epoch" + (" (dotted line: encoder unfrozen)" if len(frames) > 1 else ""))
        ax.set_ylabel(metric.replace("_", " ") + (" (cross-entropy, nats)" if metric == "loss" else " (fraction)"))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save(fig, path)


def plot_confusion(confusion, path, title, labels=BINARY_LABELS):
    """The K x K matrix (row: true class, column: predicted; binary: [[tn, fp], [fn, tp]]) with counts and
    row percentages, its classes named by `labels`."""
    k = len(confusion)
    fig, ax = plt.subplots(figsize=(2.4 + k, 1.8 + k))
    ax.imshow(confusion, cmap="Blues")
    for r in range(k):
        total = max(sum(confusion[r]), 1)
        for c in range(k):
            ax.text(c, r, f"{confusion[r][c]}\n{100 * confusion[r][c] / total:.1f}%", ha="center", va="center",
                    color="white" if confusion[r][c] > 0.6 * max(map(max, confusion)) else "black")
    ax.set_xticks(range(k), labels, rotation=30 if k > 3 else 0)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted (threshold 0.5)" if k == 2 else "predicted (likeliest class)")
    ax.set_ylabel("true label")
    ax.set_title(title)
    _save(fig, path)


def plot_lift(records, path):
    """Test accuracy against the number of labelled texts (log scale), one curve per arm, one panel per
    dataset, from the records of `python3 -m keras_bert_mlm.lift` (with several seeds, their mean)."""
    datasets = sorted({r["dataset"] for r in records})
    accuracies = results.lift_accuracies(records)
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(5.5 * max(1, len(datasets)), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for arm, style in (("pretrained", "o-"), ("random", "s--"), ("bigrams", "^:")):
            points = sorted((labels, results.mean(list(seeds.values())))  # with several seeds, their mean
                            for (d, labels, a), seeds in accuracies.items() if d == dataset and a == arm)
            if points:
                ax.plot(*zip(*points), style, label=arm)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.set_xlabel("labelled training texts")
        ax.set_ylabel("test accuracy")
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def _save(fig, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def _has_rows(path):
    return os.path.isfile(path) and os.path.getsize(path) > 0


def _drawn_since(picture, sources):
    """Whether `picture` was written after every one of the files `sources` it is drawn from."""
    return os.path.isfile(picture) and all(os.path.getmtime(picture) > os.path.getmtime(source)
                                           for source in sources if os.path.exists(source))


def plot_run(out, redraw=False):
    """Draw the pictures of a train.py run from its files: history CSVs, validation.json, metrics.json. A
    training curve already drawn after its files last changed is kept, unless `redraw` (a run draws after
    each stage, and test.py after scoring: the curves of earlier stages stay as they are).

        python3 -m keras_bert_mlm.plots OUT      # redraws OUT/plots/*.png
    """
    def read(name):
        path = os.path.join(out, name)
        return json.load(open(path)) if os.path.isfile(path) else {}

    def stale(picture, *sources):
        return redraw or not _drawn_since(picture, sources)

    chosen, metrics = read("validation.json"), read("metrics.json")
    history, picture = os.path.join(out, "mlm", "history.csv"), os.path.join(out, "plots", "mlm.png")
    if _has_rows(history) and stale(picture, history):
        electra = "replaced_accuracy" in pd.read_csv(history, nrows=0).columns
        plot_history(history, picture, "ELECTRA pretraining" if electra else "MLM pretraining",
                     ["loss", "masked_accuracy"] + ["replaced_accuracy"] * electra)
    names = [n for n in {**chosen, **metrics} if n != "mlm"]  # the run's classifiers, in order
    for name in names:
        # a phase's CSV is empty until its first epoch ends (an interrupted run's may stay so)
        csvs = {p: os.path.join(out, name, f"history_{p}.csv") for p in ("frozen", "finetune")}
        phases = [p for p, csv in csvs.items() if _has_rows(csv)]
        picture = os.path.join(out, "plots", f"{name}.png")
        if phases and stale(picture, os.path.join(out, "validation.json"), *(csvs[p] for p in phases)):
            best = chosen.get(name, {})
            mark = (phases.index(best["phase"]), best["epoch"]) if best.get("phase") in phases else None
            plot_history([csvs[p] for p in phases], picture, f"{name} classifier", ["loss", "accuracy"], mark)
        picture = os.path.join(out, "plots", f"confusion_{name}.png")
        if name in metrics and stale(picture, os.path.join(out, "metrics.json")):
            plot_confusion(metrics[name]["confusion"], picture, f"{name} test ({metrics[name]['n']} examples)",
                           metrics[name].get("labels", BINARY_LABELS))


if __name__ == "__main__":
    import sys

    plot_run(sys.argv[1], redraw=True)
    print(f"wrote {os.path.join(sys.argv[1], 'plots')}/")
