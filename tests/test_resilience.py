"""Distribution (mirrored over 2 CPU devices, 2 localhost workers) and runs killed with SIGKILL, then rerun."""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, assert_user_error, run_script

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess

QUICK = ["--preset", "tiny", "--offline", "--quiet", "--datasets", "rotten_tomatoes"]


def start(args, log_path, env=None):
    """train.py in the background, its output in `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})


def kill_when(proc, ready, log_path, timeout=300):
    """SIGKILL `proc` as soon as `ready()` holds (polled every 10 ms)."""
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "ended before the moment to kill it:\n" + open(log_path).read()
        assert time.time() < deadline, "never reached the moment to kill it"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def history_epochs(out):
    with open(os.path.join(out, "mlm", "history.csv")) as f:
        return [int(line.split(",")[0]) for line in f.read().splitlines()[1:]]


def assert_complete(out, data_dir):
    """No leftovers of interrupted writes, and test.py scores the exported models."""
    assert not glob.glob(os.path.join(out, "**", "*.tmp-*"), recursive=True)
    assert not os.path.exists(os.path.join(out, "mlm", "backup"))
    result = run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr


def test_killed_during_pretraining_continues_from_its_backup(data_dir, tmp_path):
    out = str(tmp_path / "out")
    args = QUICK + ["--data-dir", data_dir, "--output-dir", out, "--mlm-epochs", "12", "--backup-every", "5"]
    csv = os.path.join(out, "mlm", "history.csv")
    proc = start(args, tmp_path / "first.log")
    kill_when(proc, lambda: os.path.isfile(csv) and len(history_epochs(out)) >= 3
              and os.path.isfile(os.path.join(out, "mlm", "backup", "training_metadata.json")), tmp_path / "first.log")
    assert proc.returncode == -signal.SIGKILL
    done_before = len(history_epochs(out))
    assert 3 <= done_before < 12

    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "continuing an interrupted run from its backup" in result.stdout
    assert "vocab.txt from an interrupted run" in result.stdout
    assert history_epochs(out) == list(range(12))  # each epoch once: none lost, none twice
    assert_complete(out, data_dir)


def test_killed_during_export_leaves_no_half_model_and_finishes_on_rerun(data_dir, tmp_path):
    out = str(tmp_path / "out")
    args = QUICK + ["--data-dir", data_dir, "--output-dir", out]
    proc = start(args, tmp_path / "first.log")
    # the SavedModel of the classifier is being written into its temporary sibling
    writing = os.path.join(out, "rotten_tomatoes", "savedmodel.tmp-*")
    kill_when(proc, lambda: bool(glob.glob(writing)), tmp_path / "first.log")
    assert not os.path.exists(os.path.join(out, "rotten_tomatoes", "savedmodel"))
    assert_user_error(run_script("test.py", "--artifacts", out, "--data-dir", data_dir, "--offline"),
                      "rotten_tomatoes/savedmodel")

    result = run_script("train.py", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout  # pretraining was finished: not done again
    assert "rotten_tomatoes: trained by an interrupted run" in result.stdout  # only exported
    assert_complete(out, data_dir)


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
        procs.append(start(QUICK + ["--data-dir", data_dir, "--output-dir", out, "--distribute", "multi-worker"],
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
