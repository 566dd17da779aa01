"""The tables of runs (keras_bert_mlm.results) and the README that shows them."""

import json
import os

import pytest
from conftest import ROOT, assert_user_error, run_script
from keras_bert_mlm import results
from keras_bert_mlm.config import PRESETS, PURPOSES, Config

README = os.path.join(ROOT, "README.md")
RUNS = sorted(os.path.join(ROOT, "docs", "runs", d) for d in os.listdir(os.path.join(ROOT, "docs", "runs")))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def fake_run(folder, config, wall_minutes, val, test, commit="abc1234", gflops=None, finished=None, preset=None):
    os.makedirs(folder)
    record = {"commit": commit, "machine": "x86_64, 2 CPU cores, no GPU", "wall_minutes": wall_minutes,
              **({"matmul_gflops": gflops} if gflops else {}), **({"finished": finished} if finished else {}),
              **({"preset": preset} if preset else {})}
    files = {"config.json": config, "run.json": record,
             "validation.json": {name: {"val_accuracy": v} for name, v in val.items()},
             "metrics.json": {name: {"accuracy": t} for name, t in test.items()}}
    for name, obj in files.items():
        with open(os.path.join(folder, name), "w") as f:
            json.dump(obj, f)
    return str(folder)


def test_results_table_names_the_preset_and_what_differs(tmp_path):
    ours = fake_run(tmp_path / "a", Config.from_preset("cpu-hour", seed=7).to_dict(), 58.25,
                    {"imdb": 0.9012, "rotten_tomatoes": 0.7811}, {"imdb": 0.8999, "rotten_tomatoes": 0.7801},
                    gflops=117.4)
    baseline = fake_run(tmp_path / "b", {}, 1.0, {"imdb": 0.9}, {"imdb": 0.89})
    os.remove(os.path.join(baseline, "config.json"))
    with open(os.path.join(baseline, "baseline.json"), "w") as f:
        json.dump({"model": "bag of bigrams"}, f)
    lines = results.table([ours, baseline]).splitlines()
    assert lines[0].startswith("| run | settings | train minutes | machine | IMDB val % | IMDB test % | RT val % "
                               "| RT test %")
    assert lines[2] == ("| `a` | `cpu-hour`, seed=7 | 58.2 | x86_64, 2 CPU cores, no GPU, 117 GFLOP/s | 90.12 | 89.99 "
                        "| 78.11 | 78.01 | `abc1234` |")
    assert lines[3].startswith("| `b` | bag of bigrams (baseline, not shipped) | 1.0 |") and "| – | – |" in lines[3]
    os.remove(os.path.join(ours, "metrics.json"))  # set aside on validation: its test split never scored
    assert results.table([], unscored=[ours]).splitlines()[2] == (
        "| `a` | `cpu-hour`, seed=7 | 58.2 | x86_64, 2 CPU cores, no GPU, 117 GFLOP/s | 90.12 | not scored | 78.11 "
        "| not scored "
        "| `abc1234` |")


def test_a_run_is_named_by_the_preset_it_was_run_with_else_the_nearest(tmp_path):
    # cpu-hour made as deep and as long as `best`, untied, with learned positions and no prompt: 4 settings from
    # `best`, 7 from cpu-hour.
    cfg = Config.from_preset("cpu-hour", num_layers=4, ff_dim=512, time_budget=150.0, tie_embeddings=False,
                             positions="learned", prompt="", prompt_words="")
    assert results.describe(cfg) == '`best`, positions=learned, tie_embeddings=False, prompt="", prompt_words=""'
    assert results.describe(cfg, "cpu-hour") == ("`cpu-hour`, ff_dim=512, num_layers=4, positions=learned, "
                                                 'tie_embeddings=False, time_budget=150.0, prompt="", prompt_words=""')
    run = fake_run(tmp_path / "a", cfg.to_dict(), 1.0, {"imdb": 0.9}, {"imdb": 0.9}, preset="cpu-hour")
    assert results.table([run]).splitlines()[2].startswith("| `a` | `cpu-hour`, ff_dim=512, ")


@pytest.mark.slow
def test_results_refuses_a_run_without_its_files(tmp_path):
    run = tmp_path / "run"
    os.makedirs(run)
    assert_user_error(run_script("-m", "keras_bert_mlm.results", str(run)), "config.json")
    for name, obj in (("config.json", Config().to_dict()), ("validation.json", {})):
        with open(run / name, "w") as f:
            json.dump(obj, f)
    assert_user_error(run_script("-m", "keras_bert_mlm.results", str(run)), "metrics.json")


def test_presets_table_shows_the_newest_run_of_each_exact_preset(tmp_path):
    cpu_hour = Config.from_preset("cpu-hour").to_dict()
    older = fake_run(tmp_path / "older", cpu_hour, 59.0, {}, {"imdb": 0.5, "rotten_tomatoes": 0.5},
                     finished="2026-01-01 10:00:00")
    newer = fake_run(tmp_path / "newer", cpu_hour, 58.25, {}, {"imdb": 0.9012, "rotten_tomatoes": 0.7801},
                     finished="2026-01-02 09:00:00")
    changed = fake_run(tmp_path / "changed", Config.from_preset("best", seed=7).to_dict(), 1.0, {}, {"imdb": 0.99},
                       finished="2026-01-03 09:00:00")  # not exactly `best`: no row of its own
    baseline = fake_run(tmp_path / "baseline", {}, 1.0, {}, {"imdb": 0.89})
    os.remove(os.path.join(baseline, "config.json"))
    with open(os.path.join(baseline, "baseline.json"), "w") as f:
        json.dump({"model": "bag of bigrams"}, f)
    lines = results.presets_table([newer, baseline, older, changed]).splitlines()
    assert lines[0] == "| preset | purpose | minutes on 2 cores | IMDB test % | RT test % |"
    rows = dict(zip(PRESETS, lines[2:]))
    assert len(lines) == 2 + len(PRESETS)
    assert rows["cpu-hour"] == f"| `cpu-hour` | {PURPOSES['cpu-hour']} | 58.2 | 90.12 | 78.01 |"
    assert rows["best"] == f"| `best` | {PURPOSES['best']} | – | – | – |"  # no run of exactly `best`
    assert rows["tiny"] == f"| `tiny` | {PURPOSES['tiny']} | – | – | – |"


@pytest.mark.slow
def test_results_prints_the_presets_table_when_told(tmp_path):
    run = fake_run(tmp_path / "run", Config.from_preset("tiny").to_dict(), 0.5, {}, {"imdb": 0.75})
    printed = run_script("-m", "keras_bert_mlm.results", "--presets", run)
    assert printed.returncode == 0 and printed.stdout.strip() == results.presets_table([run]), printed.stderr
    assert "| `tiny` | " in printed.stdout and "| 0.5 | 75.00 | – |" in printed.stdout
    assert_user_error(run_script("-m", "keras_bert_mlm.results", "--presets", run, "--unscored", run), "--unscored")


def shown_runs(doc, flag=""):
    """The runs that `doc`'s results command (`flag`: '--presets ' for the presets table) names: each committed.
    results.md names every run in docs/runs; the README, the presets' records and the baseline."""
    prefix = "    python3 -m keras_bert_mlm.results " + flag + "docs/runs/"
    lines = [line for line in read(doc).splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, doc
    runs = [os.path.join(ROOT, arg) for arg in lines[0].split()[3 + bool(flag):]]
    assert runs and all(run in RUNS for run in runs), lines[0]
    return runs


def test_results_tables_in_the_docs_are_what_the_committed_run_records_print():
    for doc in (README, os.path.join(ROOT, "docs", "results.md")):
        for flag, table in (("", results.table), ("--presets ", results.presets_table)):
            runs = shown_runs(doc, flag)
            command = "python3 -m keras_bert_mlm.results " + flag + " ".join(os.path.relpath(r, ROOT) for r in runs)
            assert command + "\n\n" + table(runs) + "\n" in read(doc), (doc, flag)
    assert shown_runs(os.path.join(ROOT, "docs", "results.md")) == RUNS  # the full record


def test_readme_is_a_short_manual():
    assert os.path.getsize(README) <= 12_500  # bytes, as `wc -c` counts: the long story lives in docs/


LIFT = sorted(os.path.join(ROOT, "docs", "lift", d) for d in os.listdir(os.path.join(ROOT, "docs", "lift")))


def test_lift_tables_in_the_docs_are_what_the_committed_records_print():
    text = read(os.path.join(ROOT, "docs", "results.md"))
    assert LIFT
    for run in LIFT:
        command = f"python3 -m keras_bert_mlm.results --lift docs/lift/{os.path.basename(run)}"
        assert command + "\n\n" + results.lift_table(results.lift_records(run)) + "\n" in text, run


def test_lift_table_reports_each_arm_and_the_lift_of_pretraining():
    records = [{"dataset": "imdb", "labels": 500, "arm": arm, "test_accuracy": acc}
               for arm, acc in (("pretrained", 0.8), ("random", 0.7512), ("bigrams", 0.84))]
    lines = results.lift_table(records[:2] + [{**records[2], "labels": 2000}]).splitlines()
    assert lines[0] == ("| dataset | labels | pretrained test % | random init test % | bag of bigrams test % "
                        "| lift (points) |")
    assert lines[2:] == ["| IMDB | 500 | 80.00 | 75.12 | – | +4.88 |", "| IMDB | 2,000 | – | – | 84.00 | – |"]


def test_lift_table_of_several_seeds_gives_means_and_the_paired_lifts_standard_error():
    accuracies = {("pretrained", 1): 0.80, ("random", 1): 0.70, ("pretrained", 2): 0.84, ("random", 2): 0.70,
                  ("bigrams", 1): 0.75, ("bigrams", 2): 0.77}
    records = [{"dataset": "imdb", "labels": 500, "arm": arm, "seed": seed, "test_accuracy": acc}
               for (arm, seed), acc in accuracies.items()]
    lines = results.lift_table(records).splitlines()
    assert lines[0].endswith("| lift (points) | seeds |")
    # lifts of 10 and 14 points: their mean, and the standard error sqrt(((-2)^2 + 2^2) / 1 / 2) = 2
    assert lines[2] == "| IMDB | 500 | 82.00 | 70.00 | 76.00 | +12.00 ± 2.00 | 2 |"
    # a seed whose random arm is missing counts in the arms' means, not in the lift
    lines = results.lift_table(records[:-3] + records[-2:]).splitlines()
    assert lines[2] == "| IMDB | 500 | 82.00 | 70.00 | 76.00 | +10.00 | 2 |"


def test_lift_table_of_validation_accuracy():
    records = [{"dataset": "rotten_tomatoes", "labels": 500, "arm": arm, "val_accuracy": acc}
               for arm, acc in (("pretrained", 0.65), ("random", 0.6))]
    lines = results.lift_table(records, split="val").splitlines()
    assert lines[0].startswith("| dataset | labels | pretrained val % | random init val % | bag of bigrams val %")
    assert lines[2] == "| RT | 500 | 65.00 | 60.00 | – | +5.00 |"
