"""The README's results table, generated from runs' files (never typed by hand).

    python3 -m keras_bert_mlm.results runs/cpu-hour runs/keras-example runs/bag-of-bigrams

Each RUN_DIR is a train.py --output-dir scored by test.py (config.json, run.json, validation.json,
metrics.json), or a `python3 -m keras_bert_mlm.baseline` output. Prints a Markdown table: the run
(its directory's name), the preset (and the settings that differ from it), wall time and machine of
train.py (with its float32 matmul GFLOP/s where run.json records it), validation and test accuracy of
each dataset, and the commit that trained it. Runs given with `--unscored` were set aside on
validation: their test split is never scored, and their test columns say so.
"""

import json
import os

from .cli import ArgumentParser, run_command
from .config import PRESETS, Config, UserError

DATASETS = (("imdb", "IMDB"), ("rotten_tomatoes", "RT"))


def describe(cfg):
    """The preset closest to `cfg`, with the settings that differ from it: 'keras-example, mlm_epochs=3'."""
    def differences(preset):
        base = Config.from_preset(preset).to_dict()
        return {k: v for k, v in cfg.to_dict().items() if base[k] != v}

    preset = min(PRESETS, key=lambda p: len(differences(p)))
    return ", ".join([f"`{preset}`"] + [f"{k}={v}" for k, v in differences(preset).items()])


def _read(run, name, required=True):
    path = os.path.join(run, name)
    if not os.path.isfile(path):
        if required:
            raise UserError(f"{run}: no {name} (run train.py and test.py into it first)")
        return {}
    with open(path) as f:
        return json.load(f)


def row(run, scored=True):
    if os.path.isfile(os.path.join(run, "baseline.json")):
        baseline = _read(run, "baseline.json")
        what = f"{baseline['model']} (baseline, not shipped)"
    else:
        what = describe(Config.from_dict(_read(run, "config.json"), os.path.join(run, "config.json")))
    # run.json is written by train.py since commit 4fd594e; earlier runs show "–" for its columns
    record, validation = _read(run, "run.json", required=False), _read(run, "validation.json")
    metrics = _read(run, "metrics.json") if scored else {}

    def pct(x):
        return ("–" if scored else "not scored") if x is None else f"{100 * x:.2f}"

    minutes = record.get("wall_minutes")
    name = os.path.basename(os.path.normpath(run))
    machine = record.get("machine", "–") + (f", {record['matmul_gflops']:.0f} GFLOP/s" if "matmul_gflops" in record
                                             else "")
    cells = [f"`{name}`", what, "–" if minutes is None else f"{minutes:.1f}", machine]
    for name, _ in DATASETS:
        cells += [pct(validation.get(name, {}).get("val_accuracy")), pct(metrics.get(name, {}).get("accuracy"))]
    return cells + [f"`{record.get('commit') or '?'}`"]


def table(runs, unscored=()):
    header = ["run", "settings", "train minutes", "machine"]
    for _, label in DATASETS:
        header += [f"{label} val %", f"{label} test %"]
    header.append("commit")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [row(run) for run in runs] + [row(run, scored=False) for run in unscored]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="output dirs of train.py (scored by test.py) "
                        "or of keras_bert_mlm.baseline")
    parser.add_argument("--unscored", action="append", default=[], metavar="RUN_DIR",
                        help="a train.py output dir set aside on validation (its test split not scored): "
                        "listed last, validation only; may be repeated")
    args = parser.parse_args(argv)
    for run in args.runs + args.unscored:
        if not os.path.isdir(run):
            raise UserError(f"{run}: no such directory")
    print(table(args.runs, args.unscored))


if __name__ == "__main__":
    run_command(main)
