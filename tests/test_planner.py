"""--time-budget planning: epochs of pretraining, fine-tuning deadlines, epochs shortened to fit."""

import json
import os
import time

import pytest

from conftest import run_script
from keras_bert_mlm import planner


@pytest.mark.parametrize("total, per_pass, max_epochs, expected", [
    (3270, 2580, 20, (2, 1635)),   # more than one pass: two shorter epochs, no step wasted
    (1000, 2580, 20, (1, 1000)),   # less than a pass: one short epoch
    (10000, 34, 20, (20, 34)),     # capped by max_epochs
    (0, 5, 3, (1, 1)),             # nothing fits: still one step
])
def test_plan_epochs(total, per_pass, max_epochs, expected):
    epochs, steps = planner.plan_epochs(total, per_pass, max_epochs)
    assert (epochs, steps) == expected
    assert epochs * steps <= max(total, 1)


def test_fine_tuning_deadlines_share_the_time_by_timed_cost(monkeypatch):
    monkeypatch.setattr(planner.time, "time", lambda: 1000.0)
    deadlines = planner.finetune_deadlines({"imdb": 300.0, "rotten_tomatoes": 100.0}, ["imdb", "rotten_tomatoes"],
                                           deadline=1000.0 + 800 + 2 * planner.EXPORT_SECONDS)
    assert deadlines == {"imdb": pytest.approx(1600.0), "rotten_tomatoes": pytest.approx(1800.0)}
    assert planner.finetune_deadlines({"imdb": 300.0}, [], 2000.0) == {}
    assert planner.finetune_deadlines({"imdb": 300.0}, ["imdb"], None) == {}


def test_epochs_that_would_miss_the_deadline_are_shortened_not_cut():
    timing = {"per_step": 1.0, "overhead": 10.0, "steps": 100, "val_steps": 30, "epochs": 2, "phases": 1}
    assert planner.finetune_cost(timing, 100) == pytest.approx(2 * (100 + 10) + 10)  # validation at 1/3 a step
    assert planner.steps_that_fit(timing, 1000.0) == 100  # a whole pass fits: never more
    fitted = planner.steps_that_fit(timing, 120.0)
    assert fitted == 42 and planner.finetune_cost(timing, fitted) <= 0.95 * 120.0 < planner.finetune_cost(timing, 43)
    assert planner.steps_that_fit(timing, 5.0) == 1  # nothing fits: still one step an epoch


def test_pretraining_gets_what_the_fine_tuning_leaves(monkeypatch):
    from keras_bert_mlm.config import Config

    monkeypatch.setattr(planner.time, "time", lambda: 1000.0)
    cfg = Config.from_preset("cpu-hour", mlm_min_share=0.0)
    assert planner.pretraining_plan(cfg, None, None, 50, 0.0) == {"epochs": 20, "steps_per_epoch": 50}
    # 600 s left, 200 kept back: 400 s at 2 s a step, with a 5% margin: 190 steps, in epochs of at most 50.
    plan = planner.pretraining_plan(cfg, 1600.0, 2.0, 50, 200.0)
    assert (plan["epochs"], plan["steps_per_epoch"], plan["seconds"]) == (4, 47, 400.0)
    # The fine-tuning needs more than is left: one step.
    plan = planner.pretraining_plan(cfg, 1600.0, 2.0, 50, 900.0)
    assert (plan["epochs"], plan["steps_per_epoch"], plan["seconds"]) == (1, 1, 0.0)
    # With a floor of a fifth of a 20-minute budget, pretraining keeps 240 s and fine-tuning is squeezed.
    cfg = Config.from_preset("cpu-hour", mlm_min_share=0.2, time_budget=20)
    plan = planner.pretraining_plan(cfg, 1600.0, 2.0, 50, 900.0)
    assert (plan["epochs"], plan["steps_per_epoch"], plan["seconds"]) == (3, 38, 240.0)
    # The floor never takes more than is left.
    assert planner.pretraining_plan(cfg, 1100.0, 2.0, 50, 900.0)["seconds"] == 100.0
    timings = {"imdb": {"seconds": 100.0}, "rotten_tomatoes": {"seconds": 50.0}}
    assert planner.finetune_reserve(timings) == pytest.approx(1.1 * 150 + 2 * planner.EXPORT_SECONDS)


@pytest.mark.slow
def test_time_budget_run_plans_and_finishes_in_time(data_dir, tmp_path):
    out = str(tmp_path / "out")
    start = time.time()
    result = run_script("train.py", "--preset", "tiny", "--offline", "--quiet", "--data-dir", data_dir,
                        "--output-dir", out, "--datasets", "rotten_tomatoes", "--time-budget", "1",
                        "--mlm-epochs", "1000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s/step measured for fine-tuning" in result.stdout and "must end by" in result.stdout
    with open(os.path.join(out, "mlm", "plan.json")) as f:
        plan = json.load(f)
    assert plan["epochs"] < 1000 and plan["seconds_per_step"] > 0
    # The fine-tuning's timed epochs (and the export) are kept back; pretraining gets at most the rest.
    assert plan["seconds_kept_back"] > planner.EXPORT_SECONDS and plan["seconds"] + plan["seconds_kept_back"] < 60
    assert time.time() - start < 60 + 45  # the budget, and the start-up of Python and TensorFlow


def test_packed_steps_leave_the_last_share_to_whole_texts():
    assert planner.packed_steps({"epochs": 3, "steps_per_epoch": 10}, 0.1) == 27
    assert planner.packed_steps({"epochs": 1, "steps_per_epoch": 5}, 0.0) == 5
    assert planner.packed_steps({"epochs": 1, "steps_per_epoch": 5}, 0.01) == 4  # at least one whole-text step
    assert planner.packed_steps({"epochs": 1, "steps_per_epoch": 5}, 1.0) == 0
