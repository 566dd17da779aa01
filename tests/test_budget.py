"""--time-budget planning, the optimizer settings, the allocator setting, the results table and the baseline."""

import json
import os
import time

import keras
import numpy as np
import pytest

import fixtures
import train
from conftest import assert_user_error, run_script
from keras_bert_mlm import budget, results
from keras_bert_mlm.config import Config


@pytest.mark.parametrize("total, per_pass, max_epochs, expected", [
    (3270, 2580, 20, (2, 1635)),   # more than one pass: two shorter epochs, no step wasted
    (1000, 2580, 20, (1, 1000)),   # less than a pass: one short epoch
    (10000, 34, 20, (20, 34)),     # capped by max_epochs
    (0, 5, 3, (1, 1)),             # nothing fits: still one step
])
def test_plan_epochs(total, per_pass, max_epochs, expected):
    epochs, steps = budget.plan_epochs(total, per_pass, max_epochs)
    assert (epochs, steps) == expected
    assert epochs * steps <= max(total, 1)


def test_optimizer_follows_the_settings():
    adam = budget.make_optimizer(Config(), 1e-3, 100)
    assert type(adam) is keras.optimizers.Adam and float(adam.learning_rate) == pytest.approx(1e-3)
    cfg = Config(lr_schedule="cosine", warmup_fraction=0.1, weight_decay=0.01, clip_norm=1.0)
    adamw = budget.make_optimizer(cfg, 1e-3, 100)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.global_clipnorm == 1.0
    schedule = adamw._learning_rate
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0 and rates[1] == pytest.approx(5e-4) and rates[2] == pytest.approx(1e-3)
    assert 1e-4 < rates[3] < 1e-3 and rates[4] == pytest.approx(1e-4)  # decays to a tenth


def test_fine_tuning_deadlines_share_the_time_by_timed_cost(monkeypatch):
    monkeypatch.setattr(train.time, "time", lambda: 1000.0)
    deadlines = train.finetune_deadlines({"imdb": 300.0, "rotten_tomatoes": 100.0}, ["imdb", "rotten_tomatoes"],
                                         deadline=1000.0 + 800 + 2 * train.EXPORT_SECONDS)
    assert deadlines == {"imdb": pytest.approx(1600.0), "rotten_tomatoes": pytest.approx(1800.0)}
    assert train.finetune_deadlines({"imdb": 300.0}, [], 2000.0) == {}
    assert train.finetune_deadlines({"imdb": 300.0}, ["imdb"], None) == {}


def test_epochs_that_would_miss_the_deadline_are_shortened_not_cut():
    timing = {"per_step": 1.0, "overhead": 10.0, "steps": 100, "val_steps": 30, "epochs": 2, "phases": 1}
    assert train.finetune_cost(timing, 100) == pytest.approx(2 * (100 + 10) + 10)  # validation at 1/3 a step
    assert train.steps_that_fit(timing, 1000.0) == 100  # a whole pass fits: never more
    fitted = train.steps_that_fit(timing, 120.0)
    assert fitted == 42 and train.finetune_cost(timing, fitted) <= 0.95 * 120.0 < train.finetune_cost(timing, 43)
    assert train.steps_that_fit(timing, 5.0) == 1  # nothing fits: still one step an epoch


def test_fine_tuning_on_a_slow_machine_runs_every_epoch_shorter(tiny_run, data_dir, tmp_path, capsys):
    import dataclasses

    from keras_bert_mlm import data, model, text  # noqa: F401 (model registers the layers encoder.keras uses)

    with open(os.path.join(tiny_run, "config.json")) as f:
        cfg = dataclasses.replace(Config.from_dict(json.load(f), "config.json"), clf_frozen_epochs=0,
                                  clf_finetune_epochs=2)
    split = data.load_dataset("rotten_tomatoes", data_dir, cfg.imdb_val_size, cfg.seed, True)
    encoder = keras.saving.load_model(os.path.join(tiny_run, "mlm", "encoder.keras"))
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(tiny_run, "vocab.txt")), cfg.max_len)
    # As timed on a machine where a step takes 5 s: 2 epochs of 4 steps (and 1 validation step each) fit in
    # 0.95 x 60 s, a whole pass of 160 / 16 = 10 steps does not. The real steps take milliseconds.
    timing = {"per_step": 5.0, "overhead": 0.0, "steps": 10, "val_steps": 3, "epochs": 2, "phases": 1}
    out = str(tmp_path)
    chosen = train.finetune("rotten_tomatoes", split, encoder, vectorizer, cfg, out, 0, time.time() + 60.0,
                            timing=timing)
    assert "epochs of 4 steps (40% of a pass)" in capsys.readouterr().out
    assert chosen["steps_per_epoch"] == 4
    with open(os.path.join(out, "rotten_tomatoes", "history_finetune.csv")) as f:
        assert len(f.read().splitlines()) == 1 + 2  # both epochs ran (and were validated)


def test_deadline_stops_fit_in_time():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((64, 2)), np.zeros((64, 1))

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.05)

    deadline = budget.Deadline(time.time() + 1.0)
    start = time.time()
    history = model.fit(x, y, batch_size=8, epochs=100, verbose=0, callbacks=[Slow(), deadline])
    assert deadline.stopped and time.time() - start < 3
    assert len(history.history["loss"]) < 100


def test_history_csv_keeps_one_row_per_epoch(tmp_path):
    path = str(tmp_path / "history.csv")
    with open(path, "w") as f:  # an interrupted run wrote epochs 0-2; its backup is from the end of epoch 1
        f.write("epoch,loss\n0,3.0\n1,2.0\n2,1.5\n")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=4, initial_epoch=2, verbose=0,
              callbacks=[budget.HistoryCSV(path)])
    with open(path) as f:
        rows = f.read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2", "3"]
    assert rows[1:3] == ["0,3.0", "1,2.0"]


def fake_run(folder, config, wall_minutes, val, test, commit="abc1234", gflops=None):
    os.makedirs(folder)
    record = {"commit": commit, "machine": "x86_64, 2 CPU cores, no GPU", "wall_minutes": wall_minutes}
    files = {"config.json": config, "run.json": {**record, **({"matmul_gflops": gflops} if gflops else {})},
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


def test_results_refuses_a_run_without_its_files(tmp_path):
    run = tmp_path / "run"
    os.makedirs(run)
    assert_user_error(run_script("-m", "keras_bert_mlm.results", str(run)), "config.json")
    for name, obj in (("config.json", Config().to_dict()), ("validation.json", {})):
        with open(run / name, "w") as f:
            json.dump(obj, f)
    assert_user_error(run_script("-m", "keras_bert_mlm.results", str(run)), "metrics.json")


def test_baseline_trains_and_scores_by_the_same_splits(data_dir, tmp_path):
    out = str(tmp_path / "baseline")
    result = run_script("-m", "keras_bert_mlm.baseline", "--data-dir", data_dir, "--output-dir", out,
                        "--datasets", "rotten_tomatoes", "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)["rotten_tomatoes"]
    assert metrics["n"] == 20 and sum(map(sum, metrics["confusion"])) == 20
    table = run_script("-m", "keras_bert_mlm.results", out)
    assert table.returncode == 0 and "bag of bigrams" in table.stdout


def test_the_nbsvm_teacher_labels_unlabelled_reviews_with_probabilities(tmp_path):
    from keras_bert_mlm import baseline, data

    data_dir = fixtures.make_data_dir(str(tmp_path), n_train=400, n_unsup=100)
    reviews = data.read_imdb(data.find_source("imdb", data_dir))
    unlabelled = reviews.loc[reviews["split"] == "unsup", "text"]
    train = data.imdb_splits(reviews, 8, 0)["train"]
    p = baseline.soft_labels(train, unlabelled, seed=0)
    assert p.shape == (100,) and ((0 < p) & (p < 1)).all() and p.std() > 0.01  # probabilities, not decisions
    positive = unlabelled.str.contains(" !<br").to_numpy()  # the fixture's reviews end in "!" when positive
    # Agreement with the fixture's sentiment: chance is 0.5; 0.99 measured (the tf-idf teacher before it: 0.78).
    assert ((p > 0.5) == positive).mean() >= 0.9 and p[positive].mean() > p[~positive].mean()


def test_time_budget_run_plans_and_finishes_in_time(data_dir, tmp_path):
    out = str(tmp_path / "out")
    start = time.time()
    result = run_script("train.py", "--preset", "tiny", "--offline", "--quiet", "--data-dir", data_dir,
                        "--output-dir", out, "--datasets", "rotten_tomatoes", "--time-budget", "1.5",
                        "--mlm-epochs", "1000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s/step measured for fine-tuning" in result.stdout and "must end by" in result.stdout
    with open(os.path.join(out, "mlm", "plan.json")) as f:
        plan = json.load(f)
    assert plan["epochs"] < 1000 and plan["seconds_per_step"] > 0
    # The fine-tuning's timed epochs (and the export) are kept back; pretraining gets at most the rest.
    assert plan["seconds_kept_back"] > train.EXPORT_SECONDS and plan["seconds"] + plan["seconds_kept_back"] < 90
    assert time.time() - start < 1.5 * 60 + 45  # the budget, and the start-up of Python and TensorFlow


def test_glibc_keeps_freed_memory_for_the_next_step():
    import platform

    from keras_bert_mlm import memory

    # mallopt answers 1 when glibc takes the setting; elsewhere the call is skipped (False).
    assert memory.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_readme_results_table_is_what_the_committed_run_records_print():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = sorted(os.path.join(root, "docs", "runs", d) for d in os.listdir(os.path.join(root, "docs", "runs")))
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    assert runs and all(line in readme for line in results.table(runs).splitlines()[2:])
    assert "python3 -m keras_bert_mlm.results " + " ".join(f"docs/runs/{os.path.basename(r)}" for r in runs) in readme


def test_rotten_tomatoes_teacher_learns_from_imdb_reviews_when_told(tmp_path):
    import pandas as pd
    from keras_bert_mlm import data

    imdb = data.read_imdb(data.find_source("imdb", fixtures.make_data_dir(str(tmp_path), n_train=400)))
    imdb_train = data.imdb_splits(imdb, 8, 0)["train"]
    # Sentences whose labels say nothing (filler words only, labels alternating), and sentences to label that
    # carry the fixture's sentiment words: only IMDB's reviews can teach the teacher those.
    rng = np.random.default_rng(0)
    rt = {"train": pd.DataFrame({"text": [" ".join(rng.choice(fixtures.FILLER, 8)) for _ in range(40)],
                                 "label": np.arange(40) % 2})}
    positive = np.arange(60) % 2 == 1
    sentences = [f"the film was {fixtures.POSITIVE[i % 8] if p else fixtures.NEGATIVE[i % 8]}"
                 for i, p in enumerate(positive)]
    agreement = {}  # of the teacher's labels with the sentences' sentiment, with and without IMDB's reviews
    for name, reads in (("with", imdb_train), ("without", None)):
        rt["unlabelled"] = pd.DataFrame({"text": sentences, "label": np.nan})
        train.label_unlabelled("rotten_tomatoes", rt, 0, reads)
        agreement[name] = ((rt["unlabelled"]["label"].to_numpy() > 0.5) == positive).mean()
    assert agreement["with"] >= 0.9 and agreement["without"] <= 0.7, agreement
