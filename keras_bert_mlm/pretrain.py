"""Pretraining: the vocabulary, then the masked language model (or with `--objective electra` the
replaced-token detector, `models.ReplacedTokenDetector`), into OUT/vocab.txt and OUT/mlm/.

    figures = pretrain(corpus, cfg, "runs/example", verbose=2)   # the last epoch's loss and accuracy
    encoder = keras.saving.load_model("runs/example/mlm/encoder.keras")

Interrupted runs continue: vocab.txt and mlm/plan.json are reused, `fit` restores mlm/backup/
(saved every `backup_steps` steps and each epoch), and a trained mlm/mlm.keras is only exported.
"""

import csv
import dataclasses
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from . import distribute, export, masking, models, pacing, phases, planner, text
from .callbacks import Backup, Deadline, HistoryCSV, Interruptible, StageClock, optimizer_step
from .cli import log
from .optimizer import build_slots, make_optimizer
from .rundir import atomic_path, read_json, write_json


def pretrain(corpus, cfg, out, verbose, deadline=None, strategy=None, backup_steps=200, reserve=None,
             on_vocabulary=None):
    """Adapt the vocabulary to `corpus` (texts: a list, or any re-iterable such as `sources.Corpus`, which
    is streamed; never test text), pretrain, export; returns the last epoch's figures.

    The texts are shuffled (seeded) and, with `cfg.max_corpus_texts`, cut to that many.
    With a `deadline` (a `time.time()`), pretraining takes the time left but what `reserve(vectorizer)`
    keeps back (in seconds; for fine-tuning), and at most `cfg.mlm_time_share` of it. `on_vocabulary(vectorizer)`
    runs once the vocabulary is ready, before any pretraining step: a check that needs it fails early.
    """
    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    keras.utils.set_random_seed(cfg.seed)
    # The shuffled order is decided on the texts' positions, so that a streamed corpus is read in its own
    # order while the ids come out shuffled. Only a cut (`max_corpus_texts`) needs the count up front, to
    # pick the texts before the vocabulary sees them; otherwise the corpus is read just twice (vocabulary, ids).
    cut = kept = None
    if cfg.max_corpus_texts:
        total = known_size(corpus)
        total = sum(1 for _ in corpus) if total is None else total
        cut = np.random.default_rng(cfg.seed).permutation(total)[: cfg.max_corpus_texts]
        kept = np.sort(cut)
    count = len(kept) if kept is not None else known_size(corpus)

    def texts():
        return iter(corpus) if kept is None else pick(corpus, kept)

    def shuffled_ids():
        ids = text.vectorize(vectorizer, texts())
        return shuffled(ids, cfg.seed) if kept is None else ids[np.searchsorted(kept, cut)]

    vocab_path = os.path.join(out, "vocab.txt")
    if os.path.isfile(vocab_path):
        log(f"vocabulary: {vocab_path} from an interrupted run with these settings, reused")
        vectorizer = text.make_vectorizer(text.load_vocabulary(vocab_path), cfg.max_len)
    else:
        log(f"vocabulary: adapting {cfg.vocab_size} tokens on {count if count is not None else 'the streamed'} "
            "pretraining texts (no test text)")
        vectorizer = text.adapt_vectorizer(texts(), cfg.vocab_size, cfg.max_len, total=count)
        if chief:
            with atomic_path(vocab_path) as tmp:
                text.save_vocabulary(vectorizer, tmp)

    if on_vocabulary:
        on_vocabulary(vectorizer)
    stage_dir = os.path.join(out, "mlm")
    os.makedirs(stage_dir, exist_ok=True)
    if os.path.isfile(os.path.join(stage_dir, "mlm.keras")):
        log("pretraining: finished by an interrupted run with these settings; exporting it")
        mlm = keras.saving.load_model(os.path.join(stage_dir, "mlm.keras"))
    else:
        mlm = fit_mlm(shuffled_ids(), cfg, out, verbose, deadline, strategy, backup_steps,
                      reserve and (lambda: reserve(vectorizer)))
        if chief:
            with atomic_path(os.path.join(stage_dir, "mlm.keras")) as tmp:
                mlm.save(tmp)
    if not chief:  # a multi-worker cluster's other workers: the chief writes, and fine-tunes alone
        return {}
    for backup in ("backup", "checkpoints"):  # mlm.keras holds the result now
        shutil.rmtree(os.path.join(stage_dir, backup), ignore_errors=True)
    with atomic_path(os.path.join(stage_dir, "encoder.keras")) as tmp:
        mlm.encoder.save(tmp)
    export.export_fill_mask(mlm, vectorizer, os.path.join(stage_dir, "savedmodel"), cfg.top_k, cfg.pooling)
    with open(os.path.join(stage_dir, "history.csv"), newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return {k: float(v) for k, v in last.items() if k != "epoch"}


def shuffled(ids, seed):
    """The rows of `ids` in pretraining's seeded order (the order `pretrain` reads an uncut corpus in)."""
    return ids[np.random.default_rng(seed).permutation(len(ids))]


def known_size(corpus):
    """How many texts `corpus` holds when that is known without reading it (a list; `data.Texts` of lists)."""
    return len(corpus) if hasattr(corpus, "__len__") else getattr(corpus, "size", None)


def pick(texts, positions):
    """The items of the iterable `texts` at the sorted `positions`, read up to the last of them.

    >>> list(pick("abcdef", [1, 4]))
    ['b', 'e']
    """
    wanted = iter(positions)
    target = next(wanted, None)
    for i, item in enumerate(texts):
        if target is None:
            return
        if i == target:
            yield item
            target = next(wanted, None)


def pretraining_model(cfg):
    """The model that `fit_mlm` trains, not compiled: `cfg`'s encoder with its pretraining dropout
    (`mlm_dropout`) under the masked-LM head, or with `--objective electra` under ELECTRA's generator.
    `bench` and the experiments time this same model.

    >>> from keras_bert_mlm.config import Config
    >>> type(pretraining_model(Config.from_preset("tiny"))).__name__
    'MaskedLanguageModel'
    """
    encoder = models.build_encoder(**{**cfg.encoder_settings(), "dropout": cfg.mlm_dropout})
    if cfg.objective == "electra":
        return models.ReplacedTokenDetector(encoder, **cfg.generator_settings(), name="mlm")
    return models.MaskedLanguageModel(encoder, tie_embeddings=cfg.tie_embeddings, name="mlm")


def fit_mlm(ids, cfg, out, verbose, deadline, strategy, backup_steps, reserve=None):
    """Train a new masked language model on the token ids `ids` (the first `mlm_val_size` held out)."""
    replicas = strategy.num_replicas_in_sync
    val_ids, train_ids = ids[: cfg.mlm_val_size], ids[cfg.mlm_val_size:]
    global_cfg = dataclasses.replace(cfg, mlm_batch_size=cfg.mlm_batch_size * replicas)
    # An endless stream of full batches (see batching.py), cut into epochs of a fixed number of steps.
    train_ds = masking.mlm_dataset(train_ids, global_cfg, shuffle=True)
    val_ds = masking.mlm_dataset(val_ids, global_cfg, shuffle=False, replicas=replicas) if len(val_ids) else None
    steps_per_pass = -(-len(train_ids) // global_cfg.mlm_batch_size)
    # With --mlm-block-len, the steps read packed blocks first and whole texts for the last mlm_full_share.
    packed_ds = None
    if cfg.mlm_block_len:
        packed_ds, steps_per_pass = masking.packed_dataset(train_ids, global_cfg)
    learning_rate = distribute.scaled_learning_rate(cfg.mlm_learning_rate, strategy)
    # On a single replica, the dataset switches to whole texts when `phases.WholeTexts` says (at the planned
    # step, or earlier by the clock), and the packed steps may be compiled with XLA; under tf.distribute Keras
    # itself keeps XLA off, and the data switches at the planned step (a multi-worker fit runs a loop of its own).
    single = packed_ds is not None and replicas == 1 and not distribute.is_multi_worker(strategy)
    xla = single and cfg.mlm_xla and cfg.objective == "mlm"

    def build(total_steps, jit_compile=False):
        keras.utils.set_random_seed(cfg.seed)
        with strategy.scope():
            mlm = pretraining_model(cfg)
            mlm.compile(optimizer=make_optimizer(cfg, learning_rate, total_steps), jit_compile=jit_compile)
            build_slots(mlm)
        return mlm

    # The plan: an interrupted run's, whose backup was made for its schedule, else a new one.
    stage_dir = os.path.join(out, "mlm")
    plan_path = os.path.join(stage_dir, "plan.json")
    # Where an interrupted run continues from: a single machine's backup, or a multi-worker run's checkpoints.
    backup_dir, checkpoint_dir = os.path.join(stage_dir, "backup"), os.path.join(stage_dir, "checkpoints")
    chief = distribute.is_chief(strategy)
    plan = read_json(plan_path) if chief else None
    if plan:
        log(f"pretraining: continuing the plan of an interrupted run ({plan_path})")
    else:
        timed = deadline and not distribute.is_multi_worker(strategy)
        kept = reserve() if timed and reserve else 0.0
        per_step = planner.seconds_per_step(lambda: build(1), train_ds) if timed else None
        packed = planner.seconds_per_step(lambda: build(1, xla), packed_ds) if timed and packed_ds is not None else None
        if packed:  # the steps' mean time, each phase weighted by its share
            per_step = cfg.mlm_full_share * per_step + (1 - cfg.mlm_full_share) * packed
        plan = planner.pretraining_plan(cfg, deadline if timed else None, per_step, steps_per_pass, kept)
        if packed_ds is not None:
            plan["packed_steps"] = planner.packed_steps(plan, cfg.mlm_full_share)
        if packed:
            plan["packed_seconds_per_step"] = packed  # what `pacing.Pace` compares the packed steps with
        if chief:
            write_json(plan_path, plan)
    epochs, steps = plan["epochs"], plan["steps_per_epoch"]
    unit = f"{global_cfg.mlm_batch_size} texts"
    if packed_ds is not None:
        unit += f"' worth of tokens ({masking.blocks_per_batch(global_cfg)} blocks)"
    log(f"pretraining ({cfg.objective}): {epochs} epochs x {steps} steps of {unit} "
        f"on {replicas} replica{'s' * (replicas > 1)} ({epochs * steps / steps_per_pass:.2f} passes over "
        f"{len(train_ids)} texts), "
        f"{len(val_ids)} texts held out, learning rate {learning_rate:g}")

    if packed_ds is not None:
        # A resumed run redoes its interrupted epoch from the start: only the packed steps before it are done.
        if distribute.is_multi_worker(strategy):
            done = distribute.epochs_done(checkpoint_dir, strategy) * steps
        else:
            done = Backup.epochs_done(backup_dir) * steps
        packed_left = max(0, plan["packed_steps"] - done)
        switched = tf.Variable(False, trainable=False) if single else None
        train_ds = (phases.phased_dataset(packed_ds, train_ds, switched) if single
                    else packed_ds.take(packed_left).concatenate(train_ds))
        log(f"pretraining: {plan['packed_steps']} steps on blocks of {cfg.mlm_block_len} tokens "
            f"({packed_left} of them left){', compiled with XLA,' if xla else ''} "
            f"then {epochs * steps - plan['packed_steps']} on whole texts")
    mlm = build(epochs * steps)
    history_path = os.path.join(stage_dir, "history.csv")
    copy_positions = packed_ds is not None and cfg.mlm_copy_positions
    if distribute.is_multi_worker(strategy):
        if copy_positions:
            log("pretraining: --mlm-copy-positions is not applied across workers (it needs a single machine's fit)")
        distribute.multi_worker_fit(mlm, strategy, train_ds, steps, epochs, val_ds,
                                    checkpoint_dir, history_path, log=log)
        return mlm
    callbacks = [HistoryCSV(history_path),  # before the backup: see HistoryCSV
                 Backup(backup_dir, save_freq=backup_steps, stage="pretraining"),
                 keras.callbacks.TensorBoard(os.path.join(out, "logs", "mlm")),
                 StageClock("pretraining", steps, epochs), Interruptible()]
    clock = Deadline(time.time() + plan["seconds"], next_share=0) if plan.get("seconds") else None
    if clock:
        callbacks.append(clock)
    switch = None
    if packed_ds is not None:

        def late(step):  # the steps ran slower than timed: record the switch, which a resumed run keeps
            plan["packed_steps"] = step
            write_json(plan_path, plan)
            log(f"pretraining: slower than the {plan['seconds_per_step']:.3f} s/step timed; whole texts from step "
                f"{step} of {epochs * steps}, for the last {cfg.mlm_full_share:.0%} of the time")

        by_clock = single and clock and cfg.mlm_full_share  # the whole texts' share of the time, at least
        switch = phases.WholeTexts(
            switched, plan["packed_steps"], clock.deadline - cfg.mlm_full_share * plan["seconds"] if by_clock else None,
            xla=xla, on_late=late, before_whole=copy_positions and (
                lambda: mlm.encoder.get_layer("embeddings").copy_positions(cfg.mlm_block_len)))
        callbacks.append(switch)
    if clock:  # slower steps than timed: end earlier, for fine-tuning's sake
        callbacks.append(pacing.Pace(clock, plan, switch, cfg.mlm_full_share))
    mlm.fit(train_ds, steps_per_epoch=steps, validation_data=val_ds, epochs=epochs, verbose=verbose,
            shuffle=False, callbacks=callbacks)  # the dataset shuffles itself
    done = optimizer_step(mlm)
    if done < epochs * steps:  # the deadline came first: the steps ran slower than the plan timed them
        whole = "" if packed_ds is None or done > plan["packed_steps"] else ", none of them on whole texts"
        log(f"pretraining: the deadline stopped it after {done} of its {epochs * steps} steps{whole} (timed at "
            f"{plan['seconds_per_step']:.3f} s/step, they ran slower), before the learning rate's decay ended")
    return mlm
