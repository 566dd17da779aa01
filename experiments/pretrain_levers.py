"""Which pretraining settings teach the encoder most per CPU-minute (#23, part 3): masked-token accuracy
on the same held-out texts after the same wall-clock minutes of pretraining.

    python3 -m experiments.pretrain_levers --data-dir ../shared/data --work runs/levers --minutes 6 \\
        --arm base= --arm budget=norm_first:true,dropout:0,adam_beta2:0.98,lr_schedule:linear

Each `--arm NAME=KEY:VALUE,...` overrides the preset's settings (Config field names); all arms read the
same corpus (`data.pretraining_corpus`: IMDB train and unsup, Rotten Tomatoes train; no test text) with the
same vocabulary and the same shuffled order, hold out the same first `mlm_val_size` texts, and pretrain with
`pretrain.fit_mlm` under a deadline `--minutes` away (the planner times the steps and ends the learning-rate
schedule at the deadline, as train.py does). Every arm is then scored alike, whatever its own mask rate or
block length: masked-token accuracy on the held-out texts, whole (up to max_len), 15% of their tokens
chosen with the same seeded masks, overall and by the chosen token's position
(`experiments.position_accuracy`). One JSON line per arm is appended to --results; an arm whose
`WORK/NAME/result.json` exists is not run again. Not used by train.py; run it on an otherwise idle machine.
"""

import argparse
import dataclasses
import json
import os
import time

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_levers.jsonl")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data", help="where the datasets' archives are")
    p.add_argument("--work", required=True, help="folder for the shared token ids and each arm's run")
    p.add_argument("--preset", default="cpu-hour", help="the settings the arms override (default: cpu-hour)")
    p.add_argument("--minutes", type=float, default=6.0, help="wall-clock minutes of pretraining per arm")
    p.add_argument("--arm", action="append", required=True, metavar="NAME=KEY:VALUE,...",
                   help="an arm: its name and its overrides (repeatable; 'base=' for none)")
    p.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    return p.parse_args(argv)


def parse_arm(spec, config_cls):
    """`("name", {field: typed value})` from "name=key:value,...".

    >>> from keras_bert_mlm.config import Config
    >>> parse_arm("fast=norm_first:true,mask_rate:0.3,lr_schedule:linear", Config)
    ('fast', {'norm_first': True, 'mask_rate': 0.3, 'lr_schedule': 'linear'})
    """
    name, _, body = spec.partition("=")
    types = {f.name: type(f.default) for f in dataclasses.fields(config_cls)}
    overrides = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition(":")
        kind = types[key]
        overrides[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return name, overrides


def shared_ids(cfg, data_dir, work):
    """The corpus's token ids, shuffled as `pretrain.pretrain` shuffles them, cached in WORK (vocab.txt, ids.npy)."""
    import numpy as np

    from keras_bert_mlm import data, pretrain, text

    ids_path, vocab_path = os.path.join(work, "ids.npy"), os.path.join(work, "vocab.txt")
    if os.path.isfile(ids_path):
        return np.load(ids_path)
    corpus = data.pretraining_corpus(data_dir, offline=True)
    vectorizer = text.adapt_vectorizer(corpus, cfg.vocab_size, cfg.max_len, total=len(corpus))
    text.save_vocabulary(vectorizer, vocab_path)
    ids = pretrain.shuffled(text.vectorize(vectorizer, corpus), cfg.seed)
    np.save(ids_path, ids)
    return ids


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    from experiments.position_accuracy import hits_by_position, percent_by_position
    from keras_bert_mlm import pretrain
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.rundir import read_json, write_json
    from keras_bert_mlm.runinfo import current_commit, matmul_peak_gflops

    base = Config.from_preset(args.preset)
    os.makedirs(args.work, exist_ok=True)
    ids = shared_ids(base, args.data_dir, args.work)
    for spec in args.arm:
        name, overrides = parse_arm(spec, Config)
        out = os.path.join(args.work, name)
        if read_json(os.path.join(out, "result.json")):
            print(f"{name}: done before, skipped", flush=True)
            continue
        cfg = dataclasses.replace(base, **overrides)
        os.makedirs(os.path.join(out, "mlm"), exist_ok=True)
        gflops = matmul_peak_gflops()
        started = time.time()
        mlm = pretrain.fit_mlm(ids, cfg, out, verbose=2, deadline=started + 60 * args.minutes,
                               strategy=tf.distribute.get_strategy(), backup_steps=10**9)
        seconds = time.time() - started
        plan = read_json(os.path.join(out, "mlm", "plan.json"))
        hits, chosen = hits_by_position(mlm, ids[: cfg.mlm_val_size], base)  # the held-out texts, scored once
        record = dict(arm=name, overrides=overrides, preset=args.preset, minutes=args.minutes,
                      seconds=round(seconds, 1), steps=int(mlm.optimizer.iterations.numpy()),
                      seconds_per_step=round(plan["seconds_per_step"], 4),
                      held_out_masked_accuracy=float(hits.sum() / chosen.sum()),
                      by_position=percent_by_position(hits, chosen),
                      matmul_gflops=round(gflops, 1), commit=current_commit())
        write_json(os.path.join(out, "result.json"), record)
        with open(args.results, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
