"""Distribution (mirrored over 2 CPU devices, 2 localhost workers) and runs killed with SIGKILL, then rerun."""

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import kill_sweep
from conftest import ROOT, assert_user_error, run_script

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess

QUICK = ["--preset", "tiny", "--offline", "--quiet", "--datasets", "rotten_tomatoes"]


def history_epochs(out):
    return kill_sweep.epochs_in(os.path.join(out, "mlm", "history.csv"))


def assert_complete(out, data_dir):
    """No leftovers of interrupted writes, and test.py scores the exported models."""
    assert not glob.glob(os.path.join(out, "**", "*.tmp-*"), recursive=True)
    assert not os.path.exists(os.path.join(out, "mlm", "backup"))
    result = run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr


# A few instants of tests/kill_sweep.py, each chosen by what the run is writing when it is killed.

def kill_then_rerun(data_dir, tmp_path, ready, *extra):
    """Start the sweep's command, SIGKILL it once `ready(out)` holds, rerun it: the rerun's stdout."""
    out = str(tmp_path / "out")
    args = kill_sweep.COMMAND + ["--data-dir", data_dir, "--output-dir", out, *extra]
    proc = kill_sweep.start(args, tmp_path / "first.log")
    kill_sweep.kill_when(proc, lambda: ready(out), tmp_path / "first.log")
    assert proc.returncode == -signal.SIGKILL
    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert kill_sweep.check_finished(out) == []
    return out, result.stdout


def test_killed_while_reading_data_or_building_the_vocabulary(data_dir, tmp_path):
    kill_then_rerun(data_dir, tmp_path, lambda out: os.path.exists(os.path.join(out, "config.json")))


def test_killed_while_writing_a_backup_continues_from_the_previous_one(data_dir, tmp_path):
    def writing_a_later_backup(out):
        history = os.path.join(out, "mlm", "history.csv")
        return (os.path.isfile(history) and len(kill_sweep.epochs_in(history)) >= 2
                and bool(glob.glob(os.path.join(out, "mlm", "backup.tmp-*"))))

    # Packed blocks first, whole texts last: the rerun reads only the packed steps that its backup lacks.
    out, stdout = kill_then_rerun(data_dir, tmp_path, writing_a_later_backup, "--mlm-epochs", "8",
                                  "--backup-every", "1", "--mlm-block-len", "8")
    assert "pretraining: continuing an interrupted run from its backup" in stdout
    packed, left = map(int, re.search(r"(\d+) steps on blocks of 8 tokens \((\d+) of them left\)", stdout).groups())
    assert 0 <= left < packed
    assert "vocab.txt from an interrupted run" in stdout
    assert history_epochs(out) == list(range(8))  # each epoch once: none lost, none twice


def test_killed_while_fine_tuning(data_dir, tmp_path):
    _, stdout = kill_then_rerun(data_dir, tmp_path, lambda out: bool(
        glob.glob(os.path.join(out, "rotten_tomatoes", "history_*.csv"))))
    assert "skipped" in stdout  # pretraining was finished: not done again


def test_killed_during_export_leaves_no_half_model_and_finishes_on_rerun(data_dir, tmp_path):
    out = str(tmp_path / "out")
    args = kill_sweep.COMMAND + ["--data-dir", data_dir, "--output-dir", out]
    proc = kill_sweep.start(args, tmp_path / "first.log")
    # the SavedModel of the classifier is being written into its temporary sibling
    writing = os.path.join(out, "rotten_tomatoes", "savedmodel.tmp-*")
    kill_sweep.kill_when(proc, lambda: bool(glob.glob(writing)), tmp_path / "first.log")
    assert not os.path.exists(os.path.join(out, "rotten_tomatoes", "savedmodel"))
    assert_user_error(run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline"),
                      "rotten_tomatoes/savedmodel")

    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout  # pretraining was finished: not done again
    assert "rotten_tomatoes: trained by an interrupted run" in result.stdout  # only exported
    assert_complete(out, data_dir)


def test_a_second_run_into_a_busy_output_dir_is_refused_and_the_first_finishes(data_dir, tmp_path):
    out = str(tmp_path / "out")
    args = kill_sweep.COMMAND + ["--data-dir", data_dir, "--output-dir", out]
    first = kill_sweep.start(args, tmp_path / "first.log")
    lock = os.path.join(out, ".lock")
    deadline = time.time() + 120
    while not (os.path.isfile(lock) and open(lock).read().strip() == str(first.pid)):
        assert first.poll() is None and time.time() < deadline, open(tmp_path / "first.log").read()
        time.sleep(0.05)
    assert_user_error(run_script("train.py", *args), f"--output-dir {out}", f"process {first.pid}")
    assert first.wait(timeout=300) == 0, open(tmp_path / "first.log").read()
    assert kill_sweep.check_finished(out) == []


def test_mirrored_over_two_cpu_devices(data_dir, tmp_path):
    out = str(tmp_path / "out")
    result = run_script("train.py", *QUICK, "--data-dir", data_dir, "--output-dir", out,
                        "--distribute", "mirrored", "--cpu-replicas", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MirroredStrategy with 2 replicas" in result.stdout
    assert "steps of 32 texts on 2 replicas" in result.stdout  # tiny's batch of 16 per replica
    with open(os.path.join(out, "run.json")) as f:
        assert json.load(f)["replicas"] == 2
    assert_complete(out, data_dir)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_localhost_workers_pretrain_together(data_dir, tmp_path):
    out = str(tmp_path / "out")
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(kill_sweep.start(QUICK + ["--data-dir", data_dir, "--output-dir", out, "--distribute", "multi-worker"],
                           tmp_path / f"worker{index}.log", env={"TF_CONFIG": tf_config}))
    try:
        for proc in procs:
            proc.wait(timeout=400)
    finally:
        for proc in procs:
            proc.kill()
    logs = [open(tmp_path / f"worker{i}.log").read() for i in range(2)]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(logs)
    for log in logs:
        assert "epoch 2/2 on 2 replicas" in log
    # both workers report the same, all-reduced figures
    assert logs[0].split("epoch 2/2")[1].split("\n")[0] == logs[1].split("epoch 2/2")[1].split("\n")[0]
    assert "worker 1: pretraining done" in logs[1]
    assert history_epochs(out) == [0, 1]
    assert_complete(out, data_dir)


def test_multi_worker_without_tf_config_is_refused(data_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "train.py", *QUICK, "--data-dir", data_dir, "--output-dir",
                             str(tmp_path / "out"), "--distribute", "multi-worker"], cwd=ROOT, capture_output=True,
                            text=True, env={**env, "PYTHONPATH": ROOT}, timeout=300)
    assert_user_error(result, "TF_CONFIG")
