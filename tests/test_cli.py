"""The shell experience: predict / fill-mask, pictures, TensorBoard logs, Ctrl-C."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from conftest import ROOT, assert_user_error, run_script

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess


def cli(*args, **kwargs):
    return run_script("-m", "keras_bert_mlm", *args, **kwargs)


def test_predict_plain_json_and_stdin(tiny_run):
    result = cli("predict", "--artifacts", tiny_run, "--dataset", "imdb", "a great film", "boring awful plot")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["a great film", "boring awful plot"]):
        p, label, rest = line.split(maxsplit=2)
        assert 0 <= float(p) <= 1 and label in ("positive", "negative") and rest == text
        assert label == "positive" or float(p) <= 0.5  # p is printed rounded
    result = cli("predict", "--artifacts", tiny_run, "--json", "--dataset", "rotten_tomatoes",
                 input="first line\nsecond line\n")
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["first line", "second line"]
    assert all(0 <= r["probability"] <= 1 for r in records)


def test_fill_mask_plain_and_json(tiny_run):
    result = cli("fill-mask", "--artifacts", tiny_run, "--top-k", "3", "--json", "the [mask] was great", "no mask")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.strip().splitlines())
    ps = [p["probability"] for p in first["predictions"]]
    assert len(ps) == 3 and ps == sorted(ps, reverse=True) and 0 < sum(ps) <= 1
    assert second["predictions"] == []
    plain = cli("fill-mask", "--artifacts", tiny_run, "a [mask] movie")
    assert plain.returncode == 0 and plain.stdout.startswith("a [mask] movie\n")
    assert len(plain.stdout.strip().splitlines()) == 6  # the text, then 5 tokens


def test_cli_mistakes(tiny_run, tmp_path):
    assert_user_error(cli("predict", "--artifacts", tiny_run, "--dataset", "sst2", "x"), "sst2", "imdb")
    assert_user_error(cli("fill-mask", "--artifacts", tiny_run, "--top-k", "50", "a [mask]"), "--top-k 50")
    assert_user_error(cli("predict", "--artifacts", tiny_run, "--file", str(tmp_path / "none.txt")), "none.txt")
    assert_user_error(cli("predict", "--artifacts", str(tmp_path), "x"), str(tmp_path))
    assert_user_error(cli("predict"), "--artifacts")


def test_pictures_and_tensorboard_logs(tiny_metrics, tiny_run):
    for name in ("mlm", "imdb", "rotten_tomatoes", "confusion_imdb", "confusion_rotten_tomatoes"):
        with Image.open(os.path.join(tiny_run, "plots", f"{name}.png")) as image:
            assert image.format == "PNG" and image.width >= 300 and image.height >= 300
    for stage in ("mlm", "imdb_frozen", "imdb_finetune"):
        files = [f for _, _, fs in os.walk(os.path.join(tiny_run, "logs", stage)) for f in fs]
        assert any(f.startswith("events.out.tfevents") for f in files), stage


def test_test_py_refuses_artifacts_of_another_vocabulary(tiny_run, data_dir, tmp_path):
    out = str(tmp_path / "mixed")
    shutil.copytree(tiny_run, out)
    vocab = open(os.path.join(out, "vocab.txt")).read().split("\n")
    vocab[5], vocab[6] = vocab[6], vocab[5]
    open(os.path.join(out, "vocab.txt"), "w").write("\n".join(vocab))
    result = run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline")
    assert_user_error(result, "another vocabulary")


def test_ctrl_c_exits_cleanly_and_says_what_was_saved(data_dir, tmp_path):
    out = str(tmp_path / "out")
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--preset", "tiny", "--offline", "--data-dir", data_dir, "--output-dir", out,
         "--mlm-epochs", "200"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        # A suite started in the background (`nohup ... &`) passes SIGINT down as ignored, and Python
        # then never raises KeyboardInterrupt: give the child the default that a terminal gives.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 180
    while not os.path.exists(os.path.join(out, "logs", "mlm")) and time.time() < deadline:  # fit has begun
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted: vocab.txt saved in" in stderr
    assert not os.path.exists(os.path.join(out, "mlm", "savedmodel"))


def test_a_held_ctrl_c_is_raised_once_then_the_next_stops_at_once():
    from keras_bert_mlm import cli

    cli.defer_interrupts(True)
    cli._on_sigint(signal.SIGINT, None)  # held: training is inside a batch
    try:
        cli.check_interrupt()
        raise AssertionError("the held Ctrl-C was not raised at the batch end")
    except KeyboardInterrupt:
        pass
    try:  # fit unwound without on_train_end: a second Ctrl-C must not be held
        cli._on_sigint(signal.SIGINT, None)
        raise AssertionError("a Ctrl-C after the held one was swallowed")
    except KeyboardInterrupt:
        pass
    cli.check_interrupt()  # nothing left pending
