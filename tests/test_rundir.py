"""The run directory: atomic writes, tidying after a kill, finished stages, --overwrite."""

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT
from keras_bert_mlm import rundir
from keras_bert_mlm.config import Config, UserError


def touch(out, *paths):
    for path in paths:
        path = os.path.join(out, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


def test_a_write_that_fails_leaves_the_previous_file_and_no_leftovers(tmp_path):
    path = str(tmp_path / "config.json")
    rundir.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with rundir.atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write("{half")
            raise RuntimeError("killed")
    assert rundir.read_json(path) == {"a": 1} and os.listdir(tmp_path) == ["config.json"]


def test_leftovers_of_killed_writes_are_tidied(tmp_path):
    touch(str(tmp_path), "mlm/savedmodel.tmp-0123abcd/saved_model.pb", "imdb/savedmodel.old-89abcdef/saved_model.pb",
          "rotten_tomatoes/savedmodel/saved_model.pb", "rotten_tomatoes/savedmodel.old-00000000/saved_model.pb")
    rundir.clean_interrupted_writes(str(tmp_path))
    assert not os.path.exists(tmp_path / "mlm" / "savedmodel.tmp-0123abcd")
    # killed between the two renames: the old one comes back
    assert os.path.isfile(tmp_path / "imdb" / "savedmodel" / "saved_model.pb")
    # the new one arrived: the old one goes
    assert os.listdir(tmp_path / "rotten_tomatoes") == ["savedmodel"]


def test_a_stage_is_finished_when_all_its_files_are_there(tmp_path):
    out = str(tmp_path)
    rundir.write_json(os.path.join(out, "validation.json"), {"mlm": {"loss": 1.0}, "imdb": {"val_accuracy": 0.9}})
    touch(out, *rundir.stage_paths("mlm")["done"], "imdb/classifier.keras")
    assert set(rundir.finished_stages(out)) == {"mlm"}  # imdb's SavedModel is missing
    assert rundir.missing_stage_files(out, "imdb") == ["imdb/savedmodel/saved_model.pb"]
    assert rundir.finished_artifacts(out) == ["vocab.txt", "mlm/savedmodel"]


def test_prepare_refuses_other_settings_and_overwrite_forgets_what_runs_kept(tmp_path):
    out = str(tmp_path / "out")
    cfg = Config.from_preset("tiny")
    assert rundir.prepare(out, cfg, overwrite=False) == {}
    assert Config.from_json(os.path.join(out, "config.json")) == cfg
    with pytest.raises(UserError, match=r"other settings \(embed_dim, seed\).*--overwrite"):
        rundir.prepare(out, Config.from_preset("tiny", seed=1, embed_dim=8), overwrite=False)
    kept = [p for stage in rundir.stages(out) for p in rundir.stage_paths(stage)["resume"]]
    touch(out, *[p + "/x" if p.endswith(("backup", "checkpoints")) else p for p in kept], "notes.txt")
    rundir.prepare(out, Config.from_preset("tiny", seed=1), overwrite=True)
    assert sorted(os.listdir(out)) == [".lock", "config.json", "imdb", "mlm", "notes.txt", "rotten_tomatoes"]
    assert not any(files for _, _, files in os.walk(os.path.join(out, "mlm")))
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["seed"] == 1


def test_a_busy_run_directory_is_refused_naming_its_owner_and_a_dead_owners_lock_is_taken_over(tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(out)
    # another process takes the lock, says so, and waits
    owner = subprocess.Popen([sys.executable, "-c", f"from keras_bert_mlm import rundir; rundir.lock({out!r}); "
                              "print('locked', flush=True); import time; time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        assert owner.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"--output-dir {out} is in use by another train.py run "
                                            rf"\(process {owner.pid}\)"):
            rundir.prepare(out, Config(), overwrite=False)
        assert not os.path.exists(os.path.join(out, "config.json"))  # nothing written
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    rundir.prepare(out, Config(), overwrite=False)  # its lock file is still there, its owner gone
    with open(os.path.join(out, ".lock")) as f:
        assert f.read().strip() == str(os.getpid())
