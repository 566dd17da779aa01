"""Where a `cpu-hour` pretraining step's time goes: seconds per step with one part changed at a time.

    python3 -m experiments.step_share --ids runs/levers/ids.npy base nobigram frozen_tables adam sgd lazy
    python3 -m experiments.step_share --ids runs/levers/ids.npy base vocab16000 vocab8000 base

Each variant times 40 steps (after 5 that trace) of 32 packed 128-token blocks, as `cpu-hour` pretrains
(`pretrain.pretraining_model`, compiled with XLA as `--mlm-xla` compiles it), with `planner.seconds_per_step`,
the planner's own clock:

    base           the preset as it is: AdamW (decay 0.01), global-norm clipping, word-pair table
    nobigram       no word-pair table (--bigram-buckets 0: another architecture)
    frozen_tables  the token and word-pair tables frozen: what their optimizer updates cost
    adam           plain Adam, no clipping, no weight decay
    sgd            plain SGD: what any Adam costs
    lazy           a lazy AdamW (below): only the rows a step's tokens touched are updated (compiled without
                   XLA, as it was first timed)
    vocabN         a vocabulary of the N most frequent words (--vocab-size N): the ids past N become [UNK],
                   as `TextVectorization` (which numbers words by frequency) would make them; the record
                   also gives the share of the real tokens that are then [UNK]

Keras's Adam densifies an embedding table's sparse gradient and updates every row of it, its moments
and (AdamW) its decay at every step; at `cpu-hour`'s size the tables hold 12.2 of the model's 16.4 M
parameters. Prints and appends to --results one JSON line per variant. Not used by train.py; run it on an
otherwise idle machine.
"""

import argparse
import dataclasses
import json
import os

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "step_share.jsonl")


def lazy_adamw(**kwargs):
    """AdamW whose sparse (embedding) gradients update only the rows they touch, as TF Addons' LazyAdam."""
    import keras
    import tensorflow as tf

    class LazyAdamW(keras.optimizers.AdamW):
        def update_step(self, gradient, variable, learning_rate):
            if not isinstance(gradient, tf.IndexedSlices):
                return super().update_step(gradient, variable, learning_rate)
            rows, where = tf.unique(gradient.indices)  # a word seen twice in a batch: its rows summed
            values = tf.math.unsorted_segment_sum(gradient.values, where, tf.shape(rows)[0])
            step = tf.cast(self.iterations + 1, variable.dtype)
            alpha = (tf.cast(learning_rate, variable.dtype) * tf.sqrt(1 - tf.pow(self.beta_2, step))
                     / (1 - tf.pow(self.beta_1, step)))
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            m_rows = self.beta_1 * tf.gather(m, rows) + (1 - self.beta_1) * values
            v_rows = self.beta_2 * tf.gather(v, rows) + (1 - self.beta_2) * tf.square(values)
            self.assign(m, tf.IndexedSlices(m_rows, rows))
            self.assign(v, tf.IndexedSlices(v_rows, rows))
            self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))

    optimizer = LazyAdamW(**kwargs)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", required=True, help="token ids of the corpus (experiments.pretrain_levers' ids.npy)")
    parser.add_argument("variants", nargs="*", default=["base"], help="variants to time (default: base)")
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_bert_mlm import masking, memory, planner, pretrain
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.optimizer import make_optimizer
    from keras_bert_mlm.runinfo import current_commit, matmul_peak_gflops
    from keras_bert_mlm.text import PAD_ID, UNK_ID

    from . import within_vocabulary

    memory.keep_freed_memory()
    gflops, commit = round(matmul_peak_gflops(), 1), current_commit()
    corpus = np.load(args.ids)
    real = corpus[corpus != PAD_ID]
    base = Config.from_preset("cpu-hour")
    optimizers = {
        "adam": lambda: keras.optimizers.Adam(1e-3),
        "sgd": lambda: keras.optimizers.SGD(1e-3),
        "lazy": lambda: lazy_adamw(learning_rate=1e-3, weight_decay=base.weight_decay, global_clipnorm=base.clip_norm),
    }
    for variant in args.variants:
        cfg = dataclasses.replace(base, bigram_buckets=0) if variant == "nobigram" else base
        if variant.startswith("vocab"):
            cfg = dataclasses.replace(base, vocab_size=int(variant[len("vocab"):]))
        ids = within_vocabulary(corpus[:20000], cfg.vocab_size)
        dataset, _ = masking.packed_dataset(ids, cfg)

        def build():
            keras.utils.set_random_seed(cfg.seed)
            mlm = pretrain.pretraining_model(cfg)
            if variant == "frozen_tables":
                embeddings = mlm.encoder.get_layer("embeddings")
                embeddings.token_embedding.trainable = embeddings.bigram_embedding.trainable = False
            optimizer = optimizers.get(variant, lambda: make_optimizer(cfg, 1e-3, 10000))()
            mlm.compile(optimizer=optimizer, jit_compile=cfg.mlm_xla and variant != "lazy")
            return mlm

        seconds = planner.seconds_per_step(build, dataset, steps=40, skip=5)
        unknown = float(((real == UNK_ID) | (real >= cfg.vocab_size)).mean())
        record = {"variant": variant, "seconds_per_step": round(seconds, 4), "unknown_share": round(unknown, 4),
                  "matmul_gflops": gflops, "commit": commit}
        print(json.dumps(record), flush=True)
        with open(args.results, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
