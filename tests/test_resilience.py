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


# A few instants of tests/kill_sweep.py, each chosen by what the run is writing when it is killed. One command
# is killed at each in turn and rerun: every rerun continues from what the killed ones left (four start-ups of
# TensorFlow and one run's work, instead of a run and a rerun per instant).
# Four epochs of packed 8-token blocks, a backup at every step: backups are written often and some steps are left.
KILLED = kill_sweep.COMMAND + ["--mlm-epochs", "4", "--backup-every", "1", "--mlm-block-len", "8"]


def start(args, log):
    """train.py with `args` in the background, its output (unbuffered, so all of it) in `log`."""
    return kill_sweep.start(args, log, env={"PYTHONUNBUFFERED": "1"})


def kill_when(proc, ready, log):
    """SIGKILL `proc` once `ready()` holds; its output so far."""
    kill_sweep.kill_when(proc, ready, log)
    assert proc.returncode == -signal.SIGKILL
    return open(log).read()


def wait_until_it_holds(out, proc, log):
    """Wait until `proc` has locked the output dir `out` (its process id in `out/.lock`)."""
    lock = os.path.join(out, ".lock")
    deadline = time.time() + 120
    while not (os.path.isfile(lock) and open(lock).read().strip() == str(proc.pid)):
        assert proc.poll() is None and time.time() < deadline, open(log).read()
        time.sleep(0.05)


def test_a_run_killed_at_each_stage_continues_each_time_and_finishes(data_dir, tmp_path):
    out = str(tmp_path / "out")
    args = KILLED + ["--data-dir", data_dir, "--output-dir", out]
    history = os.path.join(out, "mlm", "history.csv")

    # 1. While reading the data or building the vocabulary: its settings are written, nothing else yet.
    log = tmp_path / "1.log"
    kill_when(start(args, log), lambda: os.path.exists(os.path.join(out, "config.json")), log)

    # 2. While writing a later backup of pretraining: the rerun continues from the previous backup.
    def writing_a_later_backup():
        return (os.path.isfile(history) and len(kill_sweep.epochs_in(history)) >= 2
                and bool(glob.glob(os.path.join(out, "mlm", "backup.tmp-*"))))

    log = tmp_path / "2.log"
    kill_when(start(args, log), writing_a_later_backup, log)

    # 3. While fine-tuning. Before that, while it pretrains, a second run into the same output dir is refused.
    # Its log shows how the pretraining continued: packed blocks first, whole texts last, and only the packed
    # steps that the backup lacks.
    log = tmp_path / "3.log"
    proc = start(args, log)
    wait_until_it_holds(out, proc, log)
    assert_user_error(run_script("train.py", *args), f"--output-dir {out}", f"process {proc.pid}")
    output = kill_when(proc, lambda: bool(glob.glob(os.path.join(out, "rotten_tomatoes", "history_*.csv"))), log)
    assert "pretraining: continuing an interrupted run from its backup" in output, output
    packed, left = map(int, re.search(r"(\d+) steps on blocks of 8 tokens \((\d+) of them left\)", output).groups())
    assert 0 <= left < packed
    assert "vocab.txt from an interrupted run" in output

    # 4. While exporting the classifier's SavedModel into its temporary sibling: no half model is left where
    # test.py looks, and test.py says which model is missing.
    def exporting():
        return bool(glob.glob(os.path.join(out, "rotten_tomatoes", "savedmodel.tmp-*")))

    log = tmp_path / "4.log"
    assert "skipped" in kill_when(start(args, log), exporting, log)  # pretraining was finished: not done again
    assert not os.path.exists(os.path.join(out, "rotten_tomatoes", "savedmodel"))
    assert_user_error(run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline"),
                      "rotten_tomatoes/savedmodel")

    # 5. The last rerun only exports.
    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rotten_tomatoes: trained by an interrupted run" in result.stdout
    assert kill_sweep.check_finished(out) == []
    assert history_epochs(out) == list(range(4))  # each epoch once: none lost, none twice
    result = run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mirrored_over_two_cpu_devices(data_dir, tmp_path):
    out = str(tmp_path / "out")
    result = run_script("train.py", *QUICK, "--data-dir", data_dir, "--output-dir", out,
                        "--distribute", "mirrored", "--cpu-replicas", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MirroredStrategy with 2 replicas" in result.stdout
    assert "steps of 32 texts on 2 replicas" in result.stdout  # tiny's batch of 16 per replica
    with open(os.path.join(out, "run.json")) as f:
        assert json.load(f)["replicas"] == 2
    assert kill_sweep.check_finished(out) == []  # no leftovers, SavedModels that load and answer


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
    assert kill_sweep.check_finished(out) == []  # no leftovers, SavedModels that load and answer


def test_multi_worker_without_tf_config_is_refused(data_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "train.py", *QUICK, "--data-dir", data_dir, "--output-dir",
                             str(tmp_path / "out"), "--distribute", "multi-worker"], cwd=ROOT, capture_output=True,
                            text=True, env={**env, "PYTHONPATH": ROOT}, timeout=300)
    assert_user_error(result, "TF_CONFIG")
