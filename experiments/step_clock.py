"""Does the planner's clock agree with a run's? One model's seconds per step, timed as the planner times it and
then window by window over a longer fit, as a run trains it.

    python3 -m experiments.step_clock --data-dir ../shared/data --vocab runs/best/vocab.txt --preset best finetune
    python3 -m experiments.step_clock --ids runs/levers/ids.npy --preset best pretrain

The planner sizes a run by a few dozen steps timed right after the model is traced (`planner.seconds_per_step`):
pretraining's 30 packed steps compiled with XLA, each classifier's 60 steps of random batches of a sample of its
training texts (`finetune.time_classifiers`). Each task here takes that figure with the planner's own code, then
fits a fresh model of the same settings for `--steps` steps and gives the mean seconds per step of each window
of `--window` steps:

    finetune   IMDB's classifier on a new encoder, on the stream a run trains on (`finetune.classifier_batches`
               over the training split and the unlabelled reviews, which a run trains on with a teacher's
               labels: here random ones, which cost the same), and on the sample the planner drew, each after
               the planner's figure is taken again; with `--pretrain-first STEPS`, the pretraining model
               trains that many steps between the first timing and the run stream's fit, in the same process
    pretrain   the pretraining model on the packed stream (`masking.packed_dataset`) compiled with XLA, plain
               and with the run's step backups (`callbacks.Backup` every `--backup-every` steps)

Prints and appends to --results one JSON line per stream. Not used by train.py; run it on an otherwise idle
machine.
"""

import argparse
import json
import os
import tempfile
import time

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "step_clock.jsonl")


def windows(fit, steps, window, skip=3):
    """Mean seconds per step of each `window` steps after the first `skip` (which trace), from a `fit(steps,
    callback)` that trains `steps` steps."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.time())

    clock = Clock()
    fit(skip + steps, clock)
    ends = clock.ends[skip - 1:]
    return [round((ends[i + window] - ends[i]) / window, 4) for i in range(0, len(ends) - window, window)]


def finetune_streams(args, cfg, record):
    import keras
    import numpy as np
    import pandas as pd

    from keras_bert_mlm import data, finetune, models, text
    from keras_bert_mlm.optimizer import make_optimizer

    split = data.load_dataset("imdb", args.data_dir, cfg.imdb_val_size, cfg.seed, offline=True)
    unlabelled = data.imdb_unlabelled(args.data_dir, True, cfg.imdb_val_size, cfg.seed)[:cfg.distill_unlabelled]
    labels = np.random.default_rng(cfg.seed).integers(0, 2, len(unlabelled)).astype(np.float32)
    split["unlabelled"] = pd.DataFrame({"text": unlabelled, "label": labels})
    vectorizer = text.make_vectorizer(text.load_vocabulary(args.vocab), cfg.max_len)
    train = finetune.training_texts(split)
    sample = finetune.timing_sample(train, cfg)

    def build(steps=100):
        keras.utils.set_random_seed(cfg.seed)
        classifier = finetune.build_classifier(models.build_encoder(**cfg.encoder_settings()), cfg, vectorizer)
        finetune.compile_classifier(classifier, make_optimizer(cfg, cfg.clf_finetune_learning_rate, steps), 2)
        return classifier

    def fit_on(texts):
        def fit(steps, clock):
            build(steps).fit(finetune.classifier_batches(texts, vectorizer, cfg, True), steps_per_epoch=steps,
                             epochs=1, verbose=0, callbacks=[clock])
        return fit

    for stream, texts in (("run", train), ("sample", sample)):
        per_step = finetune.time_classifiers({"imdb": split}, cfg, vectorizer)["imdb"]["per_step"]
        before = {}
        if args.pretrain_first and stream == "run":  # as a run pretrains between timing and fine-tuning
            dataset, build_mlm = pretraining(args, cfg)
            build_mlm(args.pretrain_first).fit(dataset, steps_per_epoch=args.pretrain_first, epochs=1, verbose=0)
            before = {"pretraining_steps_before": args.pretrain_first}
        yield {**record, "task": "finetune", "stream": stream, "texts": len(texts), **before,
               "planner_seconds_per_step": round(per_step, 4),
               "window_seconds_per_step": windows(fit_on(texts), args.steps, args.window)}


def pretraining(args, cfg):
    """`(dataset, build)`: the packed stream of the corpus `args.ids`, and `build(steps)`, a new pretraining model
    compiled as a run compiles it for a schedule of `steps`."""
    import keras
    import numpy as np

    from keras_bert_mlm import masking, pretrain
    from keras_bert_mlm.optimizer import make_optimizer

    from . import within_vocabulary

    dataset, _ = masking.packed_dataset(within_vocabulary(np.load(args.ids)[cfg.mlm_val_size:], cfg.vocab_size), cfg)

    def build(steps=1):
        keras.utils.set_random_seed(cfg.seed)
        mlm = pretrain.pretraining_model(cfg)
        mlm.compile(optimizer=make_optimizer(cfg, cfg.mlm_learning_rate, steps), jit_compile=cfg.mlm_xla)
        return mlm

    return dataset, build


def pretrain_streams(args, cfg, record):
    from keras_bert_mlm import planner
    from keras_bert_mlm.callbacks import Backup

    dataset, build = pretraining(args, cfg)
    per_step = planner.seconds_per_step(build, dataset)
    for stream in ("plain", "backups"):
        def fit(steps, clock):
            with tempfile.TemporaryDirectory() as backup_dir:
                callbacks = [clock] + ([Backup(os.path.join(backup_dir, "backup"), save_freq=args.backup_every)]
                                       if stream == "backups" else [])
                build(steps).fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=callbacks)
        yield {**record, "task": "pretrain", "stream": stream, "planner_seconds_per_step": round(per_step, 4),
               "window_seconds_per_step": windows(fit, args.steps, args.window)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=("finetune", "pretrain"), help="which model and stream to time")
    parser.add_argument("--preset", default="best", help="the preset whose settings are timed (default: best)")
    parser.add_argument("--data-dir", default="data", help="finetune: the data, as for train.py")
    parser.add_argument("--vocab", help="finetune: a run's vocab.txt")
    parser.add_argument("--ids", help="pretrain: token ids of the corpus (experiments.pretrain_levers' ids.npy)")
    parser.add_argument("--steps", type=int, default=300, help="steps timed after the first 3 (default: 300)")
    parser.add_argument("--window", type=int, default=50, help="steps per window (default: 50)")
    parser.add_argument("--pretrain-first", type=int, default=0, metavar="STEPS",
                        help="finetune: train the pretraining model (with --ids) this many steps between the "
                        "planner's timing and the run stream's fit, in the same process, as a run does")
    parser.add_argument("--backup-every", type=int, default=200, help="pretrain: steps between backups, as train.py")
    parser.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    args = parser.parse_args(argv)
    if args.task == "finetune" and not args.vocab or args.task == "pretrain" and not args.ids:
        parser.error(f"{args.task} needs {'--vocab' if args.task == 'finetune' else '--ids'}")
    if args.pretrain_first and not args.ids:
        parser.error("--pretrain-first needs --ids")

    from keras_bert_mlm import memory
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.runinfo import current_commit, matmul_peak_gflops

    memory.keep_freed_memory()
    cfg = Config.from_preset(args.preset)
    record = {"preset": args.preset, "matmul_gflops": round(matmul_peak_gflops(), 1), "commit": current_commit()}
    for result in (finetune_streams if args.task == "finetune" else pretrain_streams)(args, cfg, record):
        print(json.dumps(result), flush=True)
        with open(args.results, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
