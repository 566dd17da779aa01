"""Label efficiency: the stratified draw, and a lift run on the fixture with the tiny run's encoder."""

import json
import os

import pandas as pd
import pytest

from keras_bert_mlm import lift, results


def test_the_draw_keeps_each_label_in_its_share_and_is_seeded():
    train = pd.DataFrame({"text": [f"t{i}" for i in range(1000)], "label": [0] * 700 + [1] * 300})
    drawn = lift.draw(train, 50, seed=1)
    assert len(drawn) == 50 and drawn["label"].sum() == 15 and drawn["text"].is_unique
    assert drawn["text"].tolist() == lift.draw(train, 50, seed=1)["text"].tolist()
    assert drawn["text"].tolist() != lift.draw(train, 50, seed=2)["text"].tolist()
    assert len(lift.draw(train, "all", seed=1)) == len(lift.draw(train, 5000, seed=1)) == 1000


def test_bad_label_counts_are_refused(capsys):
    with pytest.raises(SystemExit):
        lift.parse_args(["--output-dir", "o", "--pretrained", "p", "--labels", "500,many"])
    assert "--labels: 'many'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lift.parse_args(["--output-dir", "o", "--pretrained", "p", "--arms", "pretrained,electra"])
    assert "--arms: unknown arm 'electra'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lift.parse_args(["--output-dir", "o", "--pretrained", "p", "--seeds", "1,two"])
    assert "--seeds: 'two' is not a whole number" in capsys.readouterr().err
    assert lift.parse_args(["--output-dir", "o", "--pretrained", "p", "--seeds", "3, 1,3"]).seed_list == [1, 3]


@pytest.mark.slow
def test_lift_trains_every_arm_records_it_and_a_rerun_skips_it(tiny_run, data_dir, tmp_path, capsys):
    out = str(tmp_path / "lift")
    argv = ["--data-dir", data_dir, "--output-dir", out, "--pretrained", tiny_run, "--labels", "20,all",
            "--datasets", "rotten_tomatoes", "--preset", "tiny", "--offline", "--quiet"]
    lift.main(argv)
    records = results.lift_records(out)
    assert sorted((r["labels"], r["arm"]) for r in records) == sorted(
        (n, arm) for n in (20, 160) for arm in lift.ARMS)  # the fixture: 160 RT training sentences
    for r in records:
        assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["val_accuracy"] <= 1
    with open(os.path.join(out, "rotten_tomatoes-20-pretrained.json")) as f:
        assert json.load(f)["requested"] == 20
    assert os.path.getsize(os.path.join(out, "lift.png")) > 0
    table = capsys.readouterr().out
    assert "| RT | 20 |" in table and "| RT | 160 |" in table
    lift.main(argv)
    assert capsys.readouterr().out.count("recorded by an earlier run, skipped") == 6


@pytest.mark.slow
def test_validation_only_leaves_the_test_split_unscored_until_the_chosen_run_is_scored(
        tiny_run, data_dir, tmp_path, capsys):
    out = str(tmp_path / "lift")
    argv = ["--data-dir", data_dir, "--output-dir", out, "--pretrained", tiny_run, "--labels", "20",
            "--arms", "pretrained,bigrams", "--datasets", "rotten_tomatoes", "--preset", "tiny", "--offline", "--quiet"]
    lift.main(argv + ["--validation-only"])
    records = results.lift_records(out)
    assert sorted(r["arm"] for r in records) == ["bigrams", "pretrained"]
    assert all("test_accuracy" not in r and 0 <= r["val_accuracy"] <= 1 for r in records)
    assert not os.path.exists(os.path.join(out, "lift.png"))
    assert "| dataset | labels | pretrained val % |" in capsys.readouterr().out
    # Without --validation-only, the classifier trained then is scored on test, not trained again.
    classifier = os.path.join(out, "rotten_tomatoes-20-pretrained", "classifier.keras")
    trained_at = os.path.getmtime(classifier)
    lift.main(argv)
    assert "rotten_tomatoes-20-pretrained: trained by a --validation-only run; test" in capsys.readouterr().out
    assert os.path.getmtime(classifier) == trained_at
    records = {r["arm"]: r for r in results.lift_records(out)}
    assert all(0 <= r["test_accuracy"] <= 1 for r in records.values())
    assert os.path.getsize(os.path.join(out, "lift.png")) > 0


@pytest.mark.slow
def test_seeds_repeat_each_arm_on_its_own_draw_and_the_table_averages_them(tiny_run, data_dir, tmp_path, capsys):
    out = str(tmp_path / "lift")
    lift.main(["--data-dir", data_dir, "--output-dir", out, "--pretrained", tiny_run, "--labels", "20",
               "--arms", "random,bigrams", "--seeds", "42,7", "--datasets", "rotten_tomatoes", "--preset", "tiny",
               "--offline", "--quiet"])
    names = sorted(os.path.basename(p) for p in os.listdir(out) if p.endswith(".json") and p != "config.json")
    assert names == ["rotten_tomatoes-20-bigrams-seed7.json", "rotten_tomatoes-20-bigrams.json",
                     "rotten_tomatoes-20-random-seed7.json", "rotten_tomatoes-20-random.json"]  # tiny's seed: 42
    records = results.lift_records(out)
    assert sorted(r["seed"] for r in records) == [7, 7, 42, 42]
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith("| RT | 20 | – |") and row.endswith("| – | 2 |")  # no pretrained arm: no lift
