"""Tables of runs, generated from their files (never typed by hand): results, presets, label efficiency.

    python3 -m keras_bert_mlm.results docs/runs/bag-of-bigrams docs/runs/best-v3 docs/runs/cpu-hour-v9
    python3 -m keras_bert_mlm.results --presets docs/runs/best-v3 docs/runs/cpu-hour-v9
    python3 -m keras_bert_mlm.results --lift docs/runs/lift

Each RUN_DIR is a train.py --output-dir scored by test.py (config.json, run.json, validation.json,
metrics.json), or a `python3 -m keras_bert_mlm.baseline` output. Prints a Markdown table: the run
(its directory's name), the preset (and the settings that differ from it), wall time and machine of
train.py (with its float32 matmul GFLOP/s where run.json records it), validation and test accuracy of
each dataset, and the commit that trained it. Runs given with `--unscored` were set aside on
validation: their test split is never scored, and their test columns say so.

With `--presets`, prints one row per preset of `config.PRESETS` instead: its purpose, and the minutes
on 2 cores and test accuracy of the newest given run whose settings are exactly that preset's.
With `--lift`, each RUN_DIR is a `python3 -m keras_bert_mlm.lift` output: test accuracy per dataset,
number of labels and arm, and the lift of pretraining (pretrained minus random initialization); with several
seeds, means over them and the lift's standard error.
"""

import glob
import json
import os
import statistics

from .cli import ArgumentParser, run_command
from .config import PRESETS, PURPOSES, Config, UserError

DATASETS = (("imdb", "IMDB"), ("rotten_tomatoes", "RT"))
NONE = "–"


def describe(cfg, preset=None):
    """`preset` (the run's own, from run.json; else the preset closest to `cfg`, for runs that predate it), with
    the settings of `cfg` that differ from its values today: 'keras-example, mlm_epochs=3'."""
    def differences(preset):
        base = Config.from_preset(preset).to_dict()
        return {k: v for k, v in cfg.to_dict().items() if base[k] != v}

    def shown(v):  # an empty text or one with spaces in quotes, as on a command line
        return json.dumps(v) if isinstance(v, str) and (not v or " " in v) else v

    if preset not in PRESETS:
        preset = min(PRESETS, key=lambda p: len(differences(p)))
    return ", ".join([f"`{preset}`"] + [f"{k}={shown(v)}" for k, v in differences(preset).items()])


def _read(run, name, required=True):
    path = os.path.join(run, name)
    if not os.path.isfile(path):
        if required:
            raise UserError(f"{run}: no {name} (run train.py and test.py into it first)")
        return {}
    with open(path) as f:
        return json.load(f)


def _pct(x):
    return NONE if x is None else f"{100 * x:.2f}"


def row(run, scored=True):
    record = _read(run, "run.json", required=False)  # runs older than run.json show "–" for its columns
    if os.path.isfile(os.path.join(run, "baseline.json")):
        baseline = _read(run, "baseline.json")
        what = f"{baseline['model']} (baseline, not shipped)"
    else:
        cfg = Config.from_dict(_read(run, "config.json"), os.path.join(run, "config.json"))
        what = describe(cfg, record.get("preset"))
    validation = _read(run, "validation.json")
    metrics = _read(run, "metrics.json") if scored else {}

    def pct(x):
        return _pct(x) if scored or x is not None else "not scored"

    minutes = record.get("wall_minutes")
    name = os.path.basename(os.path.normpath(run))
    machine = record.get("machine", NONE) + (f", {record['matmul_gflops']:.0f} GFLOP/s" if "matmul_gflops" in record
                                             else "")
    cells = [f"`{name}`", what, NONE if minutes is None else f"{minutes:.1f}", machine]
    for name, _ in DATASETS:
        cells += [pct(validation.get(name, {}).get("val_accuracy")), pct(metrics.get(name, {}).get("accuracy"))]
    return cells + [f"`{record.get('commit') or '?'}`"]


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def table(runs, unscored=()):
    header = ["run", "settings", "train minutes", "machine"]
    for _, label in DATASETS:
        header += [f"{label} val %", f"{label} test %"]
    header.append("commit")
    return _markdown(header, [row(run) for run in runs] + [row(run, scored=False) for run in unscored])


def presets_table(runs):
    """One row per preset: its purpose, then the train.py minutes (on a 2-core machine; "–" on any other)
    and test accuracy of the newest run in `runs` (by run.json's "finished") trained with exactly that
    preset's settings; "–" where none was. Baseline runs are skipped."""
    presets = {name: Config.from_preset(name) for name in PRESETS}
    newest = {}  # preset -> (run.json, metrics.json)
    for run in runs:
        if os.path.isfile(os.path.join(run, "baseline.json")):
            continue
        cfg = Config.from_dict(_read(run, "config.json"), os.path.join(run, "config.json"))
        record = _read(run, "run.json", required=False)
        for name, preset in presets.items():
            if cfg == preset and record.get("finished", "") >= newest.get(name, ({}, {}))[0].get("finished", ""):
                newest[name] = (record, _read(run, "metrics.json"))
    rows = []
    for name in PRESETS:
        record, metrics = newest.get(name, ({}, {}))
        minutes = record.get("wall_minutes")
        on_2_cores = "2 CPU cores" in record.get("machine", "")
        rows.append([f"`{name}`", PURPOSES[name], f"{minutes:.1f}" if minutes is not None and on_2_cores else NONE]
                    + [_pct(metrics.get(dataset, {}).get("accuracy")) for dataset, _ in DATASETS])
    return _markdown(["preset", "purpose", "minutes on 2 cores"] + [f"{label} test %" for _, label in DATASETS],
                     rows)


def lift_records(out):
    """The records of `python3 -m keras_bert_mlm.lift` in `out`: one dict per dataset, labels, arm and seed."""
    records = []
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        with open(path) as f:
            record = json.load(f)
        if "arm" in record:
            records.append(record)
    return records


def lift_split(records):
    """"test" when every record has a test accuracy, else "val" (`lift --validation-only` records)."""
    return "test" if all("test_accuracy" in r for r in records) else "val"


def lift_accuracies(records, split="test"):
    """{(dataset, labels, arm): {seed: accuracy}} of lift records, `split` "test" or "val" (records older
    than `lift --seeds` have seed None)."""
    accuracies = {}
    for r in records:
        accuracies.setdefault((r["dataset"], r["labels"], r["arm"]), {})[r.get("seed")] = r.get(f"{split}_accuracy")
    return accuracies


def mean(values):
    """The mean of `values`, or None when there are none or one is missing."""
    return None if not values or None in values else statistics.fmean(values)


def lift_table(records, split="test"):
    """Accuracy (`split` "test" or "val") of each arm per dataset and number of labels, and pretrained
    minus random. With records of several seeds (`lift --seeds`), each accuracy is the mean over the seeds,
    the lift is the mean of each seed's difference (both arms trained on that seed's draw) +- its standard
    error, and a last column counts the seeds."""
    by = lift_accuracies(records, split)
    seeded = any(len(seeds) > 1 for seeds in by.values())
    rows = []
    for dataset, labels in sorted({(r["dataset"], r["labels"]) for r in records}):
        arms = {arm: by.get((dataset, labels, arm), {}) for arm in ("pretrained", "random", "bigrams")}
        means = [mean(list(arms[arm].values())) for arm in arms]
        lifts = [arms["pretrained"][s] - arms["random"][s] for s in arms["pretrained"]
                 if s in arms["random"] and None not in (arms["pretrained"][s], arms["random"][s])]
        cells = [dict(DATASETS).get(dataset, dataset), f"{labels:,}"] + [_pct(v) for v in means]
        rows.append(cells + [_lift(lifts)] + ([str(max(len(seeds) for seeds in arms.values()))] if seeded else []))
    return _markdown(["dataset", "labels", f"pretrained {split} %", f"random init {split} %",
                      f"bag of bigrams {split} %", "lift (points)"] + (["seeds"] if seeded else []), rows)


def _lift(lifts):
    """'+4.76 ± 0.31': the mean of the seeds' lifts and its standard error (one seed: the mean alone)."""
    if not lifts:
        return NONE
    if len(lifts) == 1:
        return f"{100 * lifts[0]:+.2f}"
    error = statistics.stdev(lifts) / len(lifts) ** 0.5
    return f"{100 * statistics.fmean(lifts):+.2f} ± {100 * error:.2f}"


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="output dirs of train.py (scored by test.py) "
                        "or of keras_bert_mlm.baseline")
    parser.add_argument("--unscored", action="append", default=[], metavar="RUN_DIR",
                        help="a train.py output dir set aside on validation (its test split not scored): "
                        "listed last, validation only; may be repeated")
    parser.add_argument("--presets", action="store_true",
                        help="print the presets table instead: each preset's purpose, and the minutes and test "
                        "accuracy of the newest given run that used exactly its settings")
    parser.add_argument("--lift", action="store_true",
                        help="print the label-efficiency table instead, of keras_bert_mlm.lift output dirs")
    args = parser.parse_args(argv)
    for run in args.runs + args.unscored:
        if not os.path.isdir(run):
            raise UserError(f"{run}: no such directory")
    if args.presets and args.unscored:
        raise UserError("--unscored: the presets table shows scored runs only")
    if args.lift:
        records = [r for run in args.runs for r in lift_records(run)]
        if not records:
            raise UserError(f"{args.runs[0]}: no records of keras_bert_mlm.lift")
        print(lift_table(records, lift_split(records)))
        return
    print(presets_table(args.runs) if args.presets else table(args.runs, args.unscored))


if __name__ == "__main__":
    run_command(main)
