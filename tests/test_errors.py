"""Every user mistake ends in one `error:` line naming the culprit, a non-zero exit, no traceback."""

import json
import os
import re
import shutil

import fixtures
import pytest

from conftest import assert_user_error, run_script
from keras_bert_mlm.config import Config

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess


def train(*args):
    return run_script("train.py", "--preset", "tiny", "--offline", "--quiet", *args)


def test_unknown_preset_setting_and_bad_type(tmp_path):
    assert_user_error(train("--preset", "huge"), "huge")
    assert_user_error(train("--no-such-flag", "1"), "--no-such-flag")
    assert_user_error(train("--mlm-epochs", "many"), "--mlm-epochs", "many")
    assert_user_error(train("--pooling", "median"), "--pooling", "median")
    assert_user_error(train("--datasets", "imdb,sst2"), "sst2")


def test_distillation_needs_unlabelled_reviews(tmp_path):
    assert_user_error(train("--distill-unlabelled", "-5"), "--distill-unlabelled", "-5")
    data_dir = fixtures.make_data_dir(str(tmp_path), n_unsup=0)
    result = train("--data-dir", data_dir, "--output-dir", str(tmp_path / "out"), "--distill-unlabelled", "100")
    assert_user_error(result, "--distill-unlabelled", "unsup", data_dir)
    assert_user_error(train("--distill-sentences", "-1"), "--distill-sentences", "-1")
    result = train("--data-dir", data_dir, "--output-dir", str(tmp_path / "out"), "--distill-sentences", "100")
    assert_user_error(result, "--distill-sentences", "unsup", data_dir)
    assert not os.path.exists(tmp_path / "out")


def test_data_dir_without_datasets(tmp_path):
    result = train("--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert_user_error(result, "aclImdb_v1.tar.gz", str(tmp_path))
    assert not os.path.exists(tmp_path / "out")


def test_train_py_reads_the_data_and_finds_its_problems_before_tensorflow_loads(data_dir, tmp_path):
    # A fresh process reads the fixture's data as train.py does, then runs train.main on an output dir that
    # holds a run with other settings, and on a folder without datasets: TensorFlow is still not loaded after
    # all three (pipeline.py, which loads it, comes after).
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps(Config.from_preset("tiny").to_dict() | {"embed_dim": 32}))
    tiny = ["--preset", "tiny", "--offline"]
    runs = [tiny + ["--data-dir", data_dir, "--output-dir", str(other)], tiny + ["--data-dir", str(tmp_path)]]
    code = ("import sys, train\n"
            "from keras_bert_mlm import inputs\n"
            "from keras_bert_mlm.cli import config_from_args\n"
            "from keras_bert_mlm.config import UserError\n"
            f"args = train.parse_args({tiny + ['--data-dir', data_dir]!r})\n"
            "loaded = inputs.read(args, config_from_args(args))\n"
            "print(sorted(loaded.splits), loaded.corpus.description, 'tensorflow' in sys.modules)\n"
            f"for argv in {runs!r}:\n"
            "    try:\n"
            "        train.main(argv)\n"
            "    except UserError as e:\n"
            "        print('error:', e)\n"
            "print('tensorflow' in sys.modules)\n")
    result = run_script("-c", code)
    assert result.returncode == 0, result.stderr
    read, clash, missing, loaded = [line for line in result.stdout.splitlines() if not re.match(r"\[\d\d:", line)]
    assert read.startswith("['imdb', 'rotten_tomatoes'] IMDB and Rotten Tomatoes") and read.endswith(" False")
    assert clash.startswith("error: --output-dir") and "embed_dim" in clash
    assert missing.startswith("error:") and "aclImdb_v1.tar.gz" in missing and loaded == "False"


def test_corrupt_archive_leaves_output_untouched(tiny_run, tmp_path):
    data_dir = fixtures.make_data_dir(str(tmp_path))
    archive = os.path.join(data_dir, "rt-polaritydata.tar.gz")
    with open(archive, "r+b") as f:
        f.truncate(100)
    out = str(tmp_path / "out")
    shutil.copytree(tiny_run, out)
    before = {p: os.path.getmtime(os.path.join(out, p)) for p in os.listdir(out)}
    assert_user_error(train("--data-dir", data_dir, "--output-dir", out), "rt-polaritydata.tar.gz")
    assert {p: os.path.getmtime(os.path.join(out, p)) for p in os.listdir(out)} == before


def test_output_dir_not_writable(data_dir):
    # /proc refuses new entries even to root, who may run the tests.
    assert_user_error(train("--data-dir", data_dir, "--output-dir", "/proc/keras_bert_mlm_out"), "/proc/keras_bert_mlm_out")


def test_output_dir_is_a_file(data_dir, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    assert_user_error(train("--data-dir", data_dir, "--output-dir", str(target)), str(target))


def test_other_settings_in_same_output_dir_refused(tiny_run, data_dir, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(tiny_run, out)
    assert_user_error(train("--data-dir", data_dir, "--output-dir", out, "--embed-dim", "32"), "embed_dim", out)


def test_test_py_bad_artifacts(tiny_run, data_dir, tmp_path):
    def score(artifacts, *args):
        return run_script("test.py", "--artifacts", artifacts, "--data-dir", data_dir, "--offline", *args)

    assert_user_error(score(str(tmp_path / "nothing")), "nothing")
    (tmp_path / "empty").mkdir()
    assert_user_error(score(str(tmp_path / "empty")), "config.json")
    half = str(tmp_path / "half")
    shutil.copytree(tiny_run, half)
    os.remove(os.path.join(half, "imdb", "savedmodel", "saved_model.pb"))
    assert_user_error(score(half), os.path.join("imdb", "savedmodel"))
    assert_user_error(score(tiny_run, "--datasets", "sst2"), "sst2")
    assert_user_error(run_script("test.py", "--artifacts", tiny_run, "--data-dir", str(tmp_path), "--offline"),
                      "aclImdb_v1.tar.gz")


def test_pretrained_must_be_a_finished_run(data_dir, tmp_path):
    result = train("--data-dir", data_dir, "--output-dir", str(tmp_path / "out"), "--pretrained", str(tmp_path))
    assert_user_error(result, "--pretrained", "config.json")


def test_test_py_dataset_not_trained(data_dir, tiny_run, tmp_path):
    out = str(tmp_path / "imdb_only")
    result = train("--data-dir", data_dir, "--output-dir", out, "--datasets", "imdb", "--pretrained", tiny_run)
    assert result.returncode == 0, result.stderr
    assert not os.path.exists(os.path.join(out, "rotten_tomatoes"))
    result = run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline",
                        "--datasets", "rotten_tomatoes")
    assert_user_error(result, "rotten_tomatoes")
