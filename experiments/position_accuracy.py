"""Where in a text a pretraining taught the encoder (#23): held-out masked-token accuracy by token position.

    python3 -m experiments.position_accuracy --ids runs/levers/ids.npy runs/pre-v3 runs/pre-v4

Packed pretraining (`--mlm-block-len 128`) shows the encoder positions 0-127 at every step and the
positions past 128 only in its last whole-text steps, while half of IMDB's tokens sit past 128. This
scores each RUN's `mlm/mlm.keras` as `experiments.pretrain_levers` scores its arms (the first `mlm_val_size`
texts of IDS, whole, 15% of their tokens chosen with fixed seeded masks, the same for every run scored here;
`pretrain_levers` seeds TensorFlow globally first, so its masks are others) and splits the accuracy by the
position of the chosen token. IDS must be the run's corpus in its vocabulary: `pretrain_levers` caches it
(with its vocab.txt beside it, which must equal the run's, or begin with it: a run of a smaller `--vocab-size`
on the same corpus, whose vocabulary is the first words of the larger one). Such a run reads the ids past its
vocabulary as [UNK] and is scored against the larger vocabulary's targets, so that a word it cannot name counts
as a miss and its figures compare with the larger vocabulary's runs on the same chosen tokens. Prints and
appends one JSON line per run to --results. Not used by train.py.
"""

import argparse
import dataclasses
import json
import os

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "position_accuracy.jsonl")
EDGES = (0, 64, 128, 256, 384, 512)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="train.py runs whose mlm/mlm.keras to score")
    p.add_argument("--ids", required=True, help="the corpus's token ids (pretrain_levers' WORK/ids.npy)")
    p.add_argument("--preset", default="cpu-hour", help="settings for the held-out count and masks")
    p.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    return p.parse_args(argv)


def hits_by_position(mlm, val_ids, cfg, edges=EDGES, vocab_size=None):
    """`(hits, chosen)`: for each span of positions in `edges`, how many of the chosen tokens `mlm` predicts
    right and how many were chosen, the held-out texts `val_ids` whole, 15% of their tokens chosen with fixed
    masks (`masking.mlm_dataset`). Their sums give the overall masked-token accuracy. With `vocab_size` (the
    run's, smaller than `cfg`'s), `mlm` reads the ids from `vocab_size` on as [UNK]."""
    import numpy as np
    import tensorflow as tf

    from keras_bert_mlm import masking
    from keras_bert_mlm.text import UNK_ID

    scoring = dataclasses.replace(cfg, mask_rate=0.15, mlm_batch_size=32)
    hits, chosen = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
    for inputs, targets, weights in masking.mlm_dataset(val_ids, scoring, shuffle=False):
        if vocab_size:
            ids = inputs["token_ids"]
            inputs = {**inputs, "token_ids": tf.where(ids >= vocab_size, UNK_ID, ids)}
        right = np.argmax(mlm(inputs, training=False), axis=-1) == targets.numpy()
        span = np.digitize(inputs["mask_positions"].numpy(), edges) - 1
        picked = weights.numpy() > 0
        for i in range(len(chosen)):
            where = picked & (span == i)
            chosen[i] += where.sum()
            hits[i] += right[where].sum()
    return hits, chosen


def percent_by_position(hits, chosen, edges=EDGES):
    """`{"START-END": [masked-token accuracy %, chosen tokens]}` from `hits_by_position`'s counts."""
    return {f"{lo}-{hi - 1}": [round(100 * h / max(c, 1), 2), int(c)]
            for lo, hi, h, c in zip(edges, edges[1:], hits, chosen)}


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np

    from keras_bert_mlm import models  # noqa: F401 (registers the layers mlm.keras holds)
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.rundir import read_json
    from keras_bert_mlm.text import load_vocabulary

    vocab = os.path.join(os.path.dirname(args.ids), "vocab.txt")
    corpus_words = load_vocabulary(vocab)
    # The masks' random replacement words are drawn from the corpus's vocabulary, not the preset's: the masks
    # then depend on IDS alone, the same for every run scored on it whatever the preset's --vocab-size.
    cfg = dataclasses.replace(Config.from_preset(args.preset), vocab_size=len(corpus_words))
    val_ids = np.load(args.ids, mmap_mode="r")[: cfg.mlm_val_size]  # 2 MB of a 170 MB file
    for run in args.runs:
        words = load_vocabulary(os.path.join(run, "vocab.txt"))
        if words != corpus_words[: len(words)]:
            raise SystemExit(f"{run}: its vocab.txt is not {vocab} or its beginning, so {args.ids} is not its corpus")
        mlm = keras.models.load_model(os.path.join(run, "mlm", "mlm.keras"), compile=False)
        settings = read_json(os.path.join(run, "config.json"))
        record = dict(run=os.path.basename(os.path.normpath(run)), mlm_block_len=settings.get("mlm_block_len"),
                      tie_embeddings=settings.get("tie_embeddings"), positions=settings.get("positions", "learned"),
                      vocab_size=len(words),
                      by_position=percent_by_position(*hits_by_position(
                          mlm, val_ids, cfg, vocab_size=len(words) if len(words) < len(corpus_words) else None)))
        with open(args.results, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
