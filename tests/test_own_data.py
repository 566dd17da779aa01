"""The README's worked example of your own data, run as written (with --preset tiny): a folder of texts to
pretrain on and a three-class CSV to fine-tune on, then test.py, predict and the SavedModel in Keras."""

import csv
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, assert_user_error

pytestmark = pytest.mark.slow  # trains in a subprocess

TOPICS = {"sport": "match goal team striker league season coach",
          "music": "album song band guitar concert singer chorus",
          "food": "recipe dinner sauce bake flavour kitchen spicy"}


def write_own_data(folder, n_per_class=60, seed=0):
    """my_texts/ (a .txt per document) and topics.csv (text, label, split) of three topics, as a user would."""
    rng = np.random.default_rng(seed)
    filler = "the a of and it was very quite really so this that".split()
    rows = []
    for label, words in TOPICS.items():
        for i in range(n_per_class):
            text = " ".join(rng.choice(words.split() + filler, size=int(rng.integers(6, 20))))
            split = "test" if i % 6 == 0 else ("validation" if i % 6 == 1 else "train")
            rows.append({"text": text.capitalize() + ".", "label": label, "split": split})
    with open(os.path.join(folder, "topics.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["text", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    os.makedirs(os.path.join(folder, "my_texts"))
    for i, row in enumerate(rows * 2):
        if row["split"] == "train":
            with open(os.path.join(folder, "my_texts", f"{i:04d}.txt"), "w", encoding="utf-8") as f:
                f.write(row["text"] + " " + row["text"][::-1])
    return rows


def readme_own_data_commands():
    """The shell lines of the README's "Your own data" example."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## Your own data", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.strip().splitlines()]


def run_in(folder, argv):
    """A README line (`python3 train.py ...`) run in `folder` with this checkout's scripts and package."""
    argv = [sys.executable] + [os.path.join(ROOT, a) if a in ("train.py", "test.py") else a for a in argv[1:]]
    return subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})


def test_readme_own_data_example_runs_end_to_end(tmp_path):
    folder = str(tmp_path)
    write_own_data(folder)
    commands = readme_own_data_commands()
    assert [c[1] for c in commands] == ["train.py", "test.py", "-m"]
    train, score, predict = commands
    train = [a if a != "cpu-hour" else "tiny" for a in train] + ["--offline", "--quiet"]
    result = run_in(folder, train)
    assert result.returncode == 0, result.stdout + result.stderr
    out = os.path.join(folder, train[train.index("--output-dir") + 1])
    assert json.load(open(os.path.join(out, "config.json")))["datasets"] == ""  # the built-ins are left out

    result = run_in(folder, score)
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = json.load(open(os.path.join(out, "metrics.json")))["topics"]
    assert metrics["labels"] == ["food", "music", "sport"] and metrics["n"] == 30
    assert np.array(metrics["confusion"]).shape == (3, 3) and np.sum(metrics["confusion"]) == 30
    assert set(metrics["per_class"]) == set(TOPICS) and 0 <= metrics["macro_f1"] <= 1
    assert os.path.isfile(os.path.join(out, "plots", "confusion_topics.png"))

    result = run_in(folder, predict + ["--json"])
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["label"] in TOPICS and sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-4)

    # The SavedModel in plain Keras, in a process that never imports this package.
    code = ("import keras, numpy as np, tensorflow as tf\n"
            f"serve = keras.layers.TFSMLayer({os.path.join(out, 'topics', 'savedmodel')!r}, call_endpoint='serve')\n"
            "p = np.asarray(serve(tf.constant(['goal for the team', 'a spicy sauce', ''])))\n"
            "labels = tf.saved_model.load(" + repr(os.path.join(out, "topics", "savedmodel")) + ").labels()\n"
            "print(p.shape, np.allclose(p.sum(axis=1), 1, atol=1e-5), [x.decode() for x in labels.numpy()])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "(3, 3) True ['food', 'music', 'sport']", result.stderr


@pytest.mark.parametrize("flags, culprit", [
    (["--task", "topics=missing.csv"], "missing.csv"),
    (["--task", "topics=topics.csv", "--label-column", "stars"], "stars"),
    (["--task", "topics=topics.csv", "--corpus", "nowhere/"], "nowhere"),
    (["--task", "topics=topics.csv", "--task", "topics=topics.csv"], "used twice"),
])
def test_bad_own_data_stops_before_anything_is_written(tmp_path, flags, culprit):
    write_own_data(str(tmp_path), n_per_class=12)
    out = tmp_path / "out"
    result = run_in(str(tmp_path), ["python3", "train.py", "--preset", "tiny", "--offline", "--quiet",
                                    "--output-dir", str(out), *flags])
    assert_user_error(result, culprit)
    assert not out.exists()
