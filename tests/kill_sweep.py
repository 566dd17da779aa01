"""Kill a `tiny` train.py run with SIGKILL at many instants, rerun the same command, check what it left.

    python3 tests/kill_sweep.py --instants 24                     # on a fixture it builds, ~25 minutes
    python3 tests/kill_sweep.py --instants 24 --data-dir ../shared/data --keep /tmp/sweep

A first, uninterrupted run measures the command's wall time and when it first writes into OUT; two
instants fall in start-up, the rest are spread evenly over the time it writes (reading data,
vocabulary, pretraining with a backup every 2 steps, fine-tuning, export). After each kill
the same command runs again and must finish, with every SavedModel loadable, each epoch once in every
history file and no `.tmp-`/`.old-` leftovers (`check_finished`). One JSON line per instant, then a
summary line. `tests/test_resilience.py` kills at a few chosen moments with the same helpers.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One dataset keeps each run short; a backup every 2 steps makes backup writes a large share of pretraining.
COMMAND = ["--preset", "tiny", "--offline", "--quiet", "--datasets", "rotten_tomatoes", "--mlm-epochs", "4",
           "--backup-every", "2"]


def start(args, log_path, env=None):
    """train.py with `args` in the background, its output in `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})


def kill_when(proc, ready, log_path, timeout=300):
    """SIGKILL `proc` as soon as `ready()` holds (polled every 5 ms)."""
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError("ended before the moment to kill it:\n" + open(log_path).read())
        if time.time() > deadline:
            raise AssertionError("never reached the moment to kill it")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def moment(out):
    """What a killed run was doing, read from what it left in `out`."""
    left = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*.tmp-*"), recursive=True))
    if left:
        return "writing " + left[0].split(".tmp-")[0]
    for stage, path in (("export", "rotten_tomatoes/classifier.keras"), ("fine-tuning", "rotten_tomatoes"),
                        ("pretraining export", "mlm/mlm.keras"), ("pretraining", "mlm/plan.json"),
                        ("pretraining plan", "vocab.txt"), ("data or vocabulary", "config.json")):
        if os.path.exists(os.path.join(out, path)):
            return stage
    return "start-up"


def epochs_in(path):
    with open(path) as f:
        return [int(line.split(",")[0]) for line in f.read().splitlines()[1:]]


def check_finished(out):
    """Problems with a finished run in `out` (an empty list when there are none): leftovers, history files
    with an epoch missing or twice, SavedModels that do not load and answer."""
    import tensorflow as tf

    problems = [f"leftover {p}" for p in glob.glob(os.path.join(out, "**", "*.tmp-*"), recursive=True)]
    problems += [f"leftover {p}" for p in glob.glob(os.path.join(out, "**", "*.old-*"), recursive=True)]
    problems += ["leftover mlm/backup"] * os.path.exists(os.path.join(out, "mlm", "backup"))
    for path in glob.glob(os.path.join(out, "*", "history*.csv")):
        if epochs_in(path) != list(range(len(epochs_in(path)))):
            problems.append(f"{os.path.relpath(path, out)}: epochs {epochs_in(path)}")
    for path, endpoint in ((os.path.join(out, "mlm", "savedmodel"), "fill_mask"),
                           (os.path.join(out, "rotten_tomatoes", "savedmodel"), "serve")):
        try:
            loaded = tf.saved_model.load(path)  # kept in a name: it owns the variables its endpoints read
            answer = getattr(loaded, endpoint)(tf.constant(["a [mask] film"]))
            if endpoint == "serve" and not 0 <= float(answer.numpy()[0, 0]) <= 1:
                problems.append(f"{path}: P(positive) {answer.numpy()}")
        except Exception as e:  # noqa: BLE001 (any failure to load or answer is the finding)
            problems.append(f"{path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    return problems


def kill_and_rerun(data_dir, out, at, log_dir):
    """Kill the command into `out` `at` seconds after its start, rerun it; the instant's record."""
    args = COMMAND + ["--data-dir", data_dir, "--output-dir", out]
    proc = start(args, os.path.join(log_dir, "killed.log"))
    try:
        proc.wait(timeout=at)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    record = {"at_s": round(at, 2), "killed": killed, "moment": moment(out) if killed else "finished first"}
    began = time.time()
    rerun = subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                           timeout=900, env={**os.environ, "PYTHONPATH": ROOT})
    record.update(rerun_rc=rerun.returncode, rerun_s=round(time.time() - began, 1))
    if rerun.returncode:
        record["error"] = (rerun.stderr.strip().splitlines() or ["?"])[-1]
    record["problems"] = check_finished(out) if rerun.returncode == 0 else ["rerun failed"]
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instants", type=int, default=24, help="how many kill instants (default 24)")
    parser.add_argument("--data-dir", help="the data (default: a small fixture built in the work folder)")
    parser.add_argument("--keep", help="work folder to keep (default: a temporary one, deleted at the end)")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="kill-sweep-")
    os.makedirs(work, exist_ok=True)
    data_dir = args.data_dir
    if not data_dir:
        import fixtures  # beside this script, so on its path
        data_dir = fixtures.make_data_dir(os.path.join(work, "data"), n_train=200, n_test=100, n_unsup=200,
                                          n_per_class=100)

    # The uninterrupted run: its wall time, and when it first writes into OUT (before that: start-up).
    reference = os.path.join(work, "reference")
    began = time.time()
    proc = start(COMMAND + ["--data-dir", data_dir, "--output-dir", reference], os.path.join(work, "reference.log"))
    while proc.poll() is None and not os.path.exists(os.path.join(reference, "config.json")):
        time.sleep(0.01)
    first_write = time.time() - began
    if proc.wait():
        sys.exit("error: the uninterrupted run failed:\n" + open(os.path.join(work, "reference.log")).read()[-2000:])
    wall = time.time() - began
    print(json.dumps({"uninterrupted_s": round(wall, 1), "first_write_s": round(first_write, 1),
                      "command": " ".join(COMMAND)}), flush=True)
    # Two instants in start-up (importing, reading data), the rest spread over the time it writes.
    instants = [first_write * f for f in (0.3, 0.8)][: args.instants]
    rest = args.instants - len(instants)
    instants += [first_write + (wall - first_write) * (i + 0.5) / rest for i in range(rest)]

    records = []
    for i, at in enumerate(instants):
        out = os.path.join(work, f"run-{i:02d}")
        record = kill_and_rerun(data_dir, out, at, work)
        records.append(record)
        print(json.dumps(record), flush=True)
        if not args.keep and not record["problems"]:
            shutil.rmtree(out)
    failed = [r for r in records if r["problems"]]
    print(json.dumps({"instants": len(records), "killed": sum(r["killed"] for r in records),
                      "reruns_finished_clean": len(records) - len(failed),
                      "moments": sorted({r["moment"] for r in records})}), flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
