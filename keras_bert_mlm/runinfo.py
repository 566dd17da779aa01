"""Where and when a run happened, for `run.json` and the results tables: commit, machine, its speed.

    commit = current_commit()                  # read when the run starts: the code that trains
    gflops = matmul_peak_gflops(seconds=1.0)   # machines differ 2x in speed: record it with each run
    record = run_record(started, commit, gflops)
"""

import os
import platform
import subprocess
import time


def current_commit():
    """The short commit of the code in use ('' outside a git checkout); with `-dirty` if it has changes."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("-dirty" if commit and git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def matmul_peak_gflops(seconds=2.0, n=2048):
    """TensorFlow's float32 matmul speed on this machine, in GFLOP/s: the peak MFU figures compare with."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    mm = tf.function(lambda a: tf.matmul(a, a))
    mm(a).numpy()
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        mm(a).numpy()
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def run_record(started, commit, gflops):
    """Commit (read when the run started), machine and its matmul GFLOP/s (measured when it started),
    wall minutes since `started` (a `time.time()`), and when it finished."""
    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, " + (f"{gpus} GPU" if gpus else "no GPU")
    return {"commit": commit or None, "machine": machine, "matmul_gflops": round(gflops, 1),
            "wall_minutes": round((time.time() - started) / 60, 1), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
