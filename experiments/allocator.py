"""What glibc's settings (`keras_bert_mlm/memory.py`) are worth to a `cpu-hour` pretraining step.

    python3 -m experiments.allocator --data-dir ../shared/data stop41 pad arena both stop41 pad arena both

Each variant is timed in a process of its own (glibc's settings hold for a whole process), in the order
given: repeating the list spreads a noisy machine's drift over all of them.

    stop41  glibc's own arenas (MALLOC_ARENA_MAX=16, glibc's default on 2 cores), a 64 MB top pad
    pad     glibc's own arenas, the 512 MB top pad `keep_freed_memory` keeps since stop 42
    arena   one arena (`one_arena`, as importing the package does since stop 42), a 64 MB top pad
    both    one arena and a 512 MB top pad: what every command runs since stop 42

A process trains the step `cpu-hour` pretrains with most (32 packed blocks of 128 tokens, compiled with
XLA) with `fit`, as pretraining does: 5 steps to trace and compile, then --steps steps timed, and reports
seconds per step, minor page faults per second (pages handed back to the kernel and touched again) and
the kernel's share of the CPU time. Prints and appends to --results one JSON line per process. Not used
by train.py; run it on an otherwise idle machine.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import keras_bert_mlm  # noqa: F401 (first: it sets one arena before NumPy's threads start, see memory.py)

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "allocator.jsonl")
VARIANTS = {"stop41": (False, 64), "pad": (False, 512), "arena": (True, 64), "both": (True, 512)}


def time_step(variant, data_dir, steps, n_texts):
    """The packed step's seconds, faults per second and kernel share in this process, set as `variant`."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_bert_mlm import masking, memory, text
    from keras_bert_mlm.bench import compile_for_timing, load_texts
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.pretrain import pretraining_model

    memory.keep_freed_memory(top_pad=VARIANTS[variant][1] << 20)
    cfg = Config.from_preset("cpu-hour")
    keras.utils.set_random_seed(cfg.seed)
    texts, source = load_texts(data_dir, n_texts, cfg.seed)
    vectorizer = text.adapt_vectorizer(texts, cfg.vocab_size, cfg.max_len)
    blocks = masking.packed_dataset(np.asarray(vectorizer(tf.constant(texts)), np.int32), cfg)[0]
    model = pretraining_model(cfg)
    compile_for_timing(model, cfg, jit_compile=True)
    model.fit(blocks, steps_per_epoch=5, epochs=1, verbose=0)  # tracing, compiling, the heaps' first growth
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    model.fit(blocks, steps_per_epoch=steps, epochs=1, verbose=0)
    after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    user, kernel = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"variant": variant, "texts": source, "steps": steps, "s_per_step": elapsed / steps,
            "faults_per_s": (after.ru_minflt - before.ru_minflt) / elapsed, "kernel_share": kernel / (user + kernel),
            "peak_rss_mb": after.ru_maxrss / 1024}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", choices=list(VARIANTS), help="settings to time, in this order")
    parser.add_argument("--data-dir", default=None, help="real reviews from here; synthetic when absent")
    parser.add_argument("--steps", type=int, default=60, help="steps timed per process (default: 60)")
    parser.add_argument("--texts", type=int, default=2000, help="texts to pack into blocks (default: 2000)")
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one variant, this process
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_step(args.variants[0], args.data_dir, args.steps, args.texts)), flush=True)
        return
    for variant in args.variants:
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        if not VARIANTS[variant][0]:
            env["MALLOC_ARENA_MAX"] = "16"  # glibc's default limit on 2 cores; `one_arena` then leaves it
        child = [sys.executable, "-m", "experiments.allocator", variant, "--child", "--steps", str(args.steps),
                 "--texts", str(args.texts)] + (["--data-dir", args.data_dir] if args.data_dir else [])
        out = subprocess.run(child, env=env, check=True, capture_output=True, text=True).stdout
        record = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(record), flush=True)
        with open(args.results, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
