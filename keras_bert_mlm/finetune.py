"""Fine-tuning: one classifier per dataset on a copy of the pretrained encoder, the best validation
epoch kept, exported as a SavedModel that takes raw strings.

    chosen = finetune("imdb", splits["imdb"], encoder, vectorizer, cfg, "runs/example", verbose=2)
    chosen["val_accuracy"]      # of the epoch kept; OUT/imdb/{classifier.keras,savedmodel} written

Phase 1 trains the head on a frozen encoder, phase 2 everything (either may have 0 epochs).
"""

import os
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from . import batching, distribute, export, models, planner, text
from .callbacks import Deadline, Interruptible, StageClock
from .cli import log
from .data import BINARY_LABELS
from .optimizer import build_slots, make_optimizer
from .rundir import atomic_path, read_json, write_json


def compile_classifier(classifier, optimizer, num_classes):
    """Compile `classifier` for fine-tuning (`models.training_setup`) and build its optimizer's moments
    (`build_slots`). Never with XLA, which Keras turns on by itself on a GPU: batches are padded to their
    own longest text, so every new length would be compiled anew."""
    classifier.compile(optimizer=optimizer, jit_compile=False, **models.training_setup(num_classes))
    build_slots(classifier)


def training_texts(split):
    """The texts a classifier trains on: the training split, and the teacher-labelled ones when distilling."""
    if "unlabelled" not in split:
        return split["train"]
    return pd.concat([split["train"], split["unlabelled"]], ignore_index=True)


def classifier_batches(part, vectorizer, cfg, shuffle, replicas=1):
    """Batches of (token ids, label) of the DataFrame `part`; shuffled ones repeat without end."""
    ds = batching.make_batches(text.vectorize(vectorizer, part["text"]), cfg.clf_batch_size * replicas,
                               part["label"].to_numpy(np.float32), shuffle=shuffle, seed=cfg.seed,
                               by_length=cfg.bucket_by_length, repeat=shuffle, replicas=replicas)
    return ds.prefetch(tf.data.AUTOTUNE)


def label_names(split):
    """The classes of a dataset's `split` (binary sentiment when it does not say)."""
    return split.get("label_names", BINARY_LABELS)


def prompt_of(cfg, vectorizer, labels):
    """The ids of `cfg.prompt` for a classifier of the classes `labels` (`text.prompt_ids`), or None: without
    a prompt, or when `cfg.prompt_words` does not name all of `labels` (that classifier pools instead)."""
    return text.prompt_ids(vectorizer, cfg.prompt, cfg.prompt_words, labels) if cfg.prompt else None


def build_classifier(encoder, cfg, vectorizer, labels=BINARY_LABELS):
    """The classifier of `cfg`'s settings on `encoder`, for the classes `labels`: a head on pooled vectors,
    or with a prompt (`prompt_of`), the masked-LM head filling in its blank with one word per class."""
    prompt = prompt_of(cfg, vectorizer, labels)
    if prompt:
        return models.build_prompt_classifier(encoder, *prompt, head_dropout=cfg.head_dropout)
    return models.build_classifier(encoder, **cfg.classifier_settings(), num_classes=len(labels))


def timing_sample(train, cfg):
    """The texts of the DataFrame `train` that `time_classifiers` times a classifier on: 64 batches' worth,
    drawn with the run's seed."""
    return train.sample(n=min(len(train), 64 * cfg.clf_batch_size), random_state=cfg.seed)


def time_classifiers(splits, cfg, vectorizer, encoder=None):
    """{name: timing} of each classifier, from the speed of a throwaway classifier (on a copy of `encoder`, or
    a new encoder of `cfg`'s architecture) trained a few steps on a sample of its training texts, and the
    time it took to build and trace. A timing holds `per_step` and `overhead` (seconds), the `steps` and
    `val_steps` of a pass, the `epochs` and `phases`, and `seconds`: what its epochs will take (see
    `planner.finetune_cost`). Frozen epochs are counted at the trainable speed (fewer gradients: an
    overestimate)."""
    timings = {}
    for name, split in splits.items():
        train = training_texts(split)
        sample = timing_sample(train, cfg)

        def build():
            keras.utils.set_random_seed(cfg.seed)
            new = (models.copy_encoder(encoder, cfg.dropout) if encoder
                   else models.build_encoder(**cfg.encoder_settings()))
            classifier = build_classifier(new, cfg, vectorizer, label_names(split))
            compile_classifier(classifier, make_optimizer(cfg, cfg.clf_finetune_learning_rate, 100),
                               len(label_names(split)))
            return classifier

        # Batches differ in length (and a step in cost, 0.1 to 0.9 s for IMDB): 60 of them average that out.
        batches, started, timed = classifier_batches(sample, vectorizer, cfg, True), time.time(), 60
        per_step = planner.seconds_per_step(build, batches, steps=timed)
        steps, val_steps = (-(-len(part) // cfg.clf_batch_size) for part in (train, split["validation"]))
        t = {"per_step": per_step, "overhead": max(0.0, time.time() - started - timed * per_step),  # build, trace
             "steps": steps, "val_steps": val_steps, "epochs": cfg.clf_frozen_epochs + cfg.clf_finetune_epochs,
             "phases": bool(cfg.clf_frozen_epochs) + bool(cfg.clf_finetune_epochs)}
        timings[name] = {**t, "seconds": planner.finetune_cost(t, steps)}
        log(f"{name}: {per_step:.3f} s/step measured for fine-tuning; {t['epochs']} epochs of {steps} steps "
            f"~{timings[name]['seconds'] / 60:.1f} minutes")
    return timings


def steps_in_time(name, split, steps, encoder, vectorizer, cfg, deadline, timing):
    """Training steps per epoch of classifier `name` that fit before `deadline`: the pass of `steps` when its
    `timing`'s epochs fit (`planner.steps_that_fit`), else fewer. A timing that says they do not fit is taken
    again first when they would lose more than a tenth of a pass: it was measured at the run's start, when the
    machine may have been busier than now, and timing again takes about a minute (not worth a tenth)."""
    left = max(deadline - time.time(), 0.0)  # past the deadline, it still trains a step or so
    if planner.steps_that_fit(timing, left) < 0.9 * steps:
        log(f"{name}: at {timing['per_step']:.3f} s/step (timed at the start) its epochs would be shortened to "
            f"fit the {left / 60:.1f} minutes left: timing it again")
        timing = time_classifiers({name: split}, cfg, vectorizer, encoder)[name]
        left = max(deadline - time.time(), 0.0)
    fitted = min(steps, planner.steps_that_fit(timing, left))
    if fitted < steps:
        log(f"{name}: {timing['epochs']} epochs of {steps} steps would take "
            f"~{planner.finetune_cost(timing, steps) / 60:.1f} minutes and {left / 60:.1f} are left: epochs of "
            f"{fitted} steps ({fitted / steps:.0%} of a pass) drawn from the reshuffled texts")
    return fitted


def finetune(name, split, pretrained_encoder, vectorizer, cfg, out, verbose, deadline=None, strategy=None,
             timing=None):
    """Train, choose and export the classifier of dataset `name`; returns the chosen epoch's figures.

    `split` holds "train" and "validation" DataFrames (text, label: 0..K-1), "label_names" (the K classes)
    and, when distilling, an "unlabelled" DataFrame whose labels are the teacher's probabilities
    (`teacher.label_unlabelled`): trained on beside "train".

    With a `deadline` (a `time.time()`), phase 1 ends by a third of the time left, phase 2 by the deadline.
    With its `timing` too (`time_classifiers`), epochs that would not fit in the time left are shortened
    (`steps_in_time`) instead of cut off. A classifier that an interrupted run finished
    (NAME/chosen.json and NAME/classifier.keras) is only exported; an interrupted fine-tuning starts
    again (minutes, against hours of pretraining)."""
    stage_dir = os.path.join(out, name)
    chosen_path, classifier_path = os.path.join(stage_dir, "chosen.json"), os.path.join(stage_dir, "classifier.keras")
    if os.path.isfile(classifier_path):  # chosen.json is written first
        log(f"{name}: trained by an interrupted run with these settings; exporting it")
        export.export_classifier(keras.saving.load_model(classifier_path), vectorizer,
                                 os.path.join(stage_dir, "savedmodel"), label_names(split))
        return read_json(chosen_path)

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    train = training_texts(split)
    steps = -(-len(train) // (cfg.clf_batch_size * replicas))
    if deadline and timing:
        steps = steps_in_time(name, split, steps, pretrained_encoder, vectorizer, cfg, deadline, timing)
    keras.utils.set_random_seed(cfg.seed)  # each stage seeds itself: skipping earlier ones changes nothing
    split = {**split, "train": train}  # with the teacher's probabilities as labels
    train_ds, val_ds = (classifier_batches(split[part], vectorizer, cfg, part == "train", replicas)
                        for part in ("train", "validation"))
    os.makedirs(stage_dir, exist_ok=True)
    with strategy.scope():
        encoder = models.copy_encoder(pretrained_encoder, cfg.dropout)
        classifier = build_classifier(encoder, cfg, vectorizer, label_names(split))
    if cfg.prompt and not prompt_of(cfg, vectorizer, label_names(split)):
        log(f"{name}: --prompt-words names not all of its classes ({', '.join(label_names(split))}): pooled head")

    best = {"val_accuracy": -1.0}
    for phase, trainable, epochs, lr in (
        ("frozen", False, cfg.clf_frozen_epochs, cfg.clf_learning_rate),
        ("finetune", True, cfg.clf_finetune_epochs, cfg.clf_finetune_learning_rate),
    ):
        if not epochs:
            continue
        frozen_tables = trainable and cfg.clf_freeze_embeddings
        encoder.trainable = trainable
        if frozen_tables:  # set after the encoder's: that one sets all its layers
            encoder.get_layer("embeddings").trainable = False
        log(f"{name}: phase {phase}, {epochs} epochs on {len(split['train'])} texts, "
            f"encoder {'trainable' if trainable else 'frozen'}{', its embeddings frozen' if frozen_tables else ''}, "
            f"learning rate {lr}")
        with strategy.scope():
            optimizer = make_optimizer(cfg, distribute.scaled_learning_rate(lr, strategy), epochs * steps,
                                       schedule=trainable)
            compile_classifier(classifier, optimizer, len(label_names(split)))
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=cfg.patience, restore_best_weights=True)
        callbacks = [stop, keras.callbacks.CSVLogger(os.path.join(stage_dir, f"history_{phase}.csv")),
                     keras.callbacks.TensorBoard(os.path.join(out, "logs", f"{name}_{phase}")),
                     StageClock(f"{name} {phase}", steps, epochs), Interruptible()]
        clock = None
        if deadline:
            phase_end = deadline if trainable else time.time() + (deadline - time.time()) / 3
            clock = Deadline(phase_end, next_share=0.5)
            callbacks.append(clock)
            log(f"{name}: phase {phase} must end by {time.strftime('%H:%M:%S', time.localtime(phase_end))}")
        history = classifier.fit(
            train_ds, steps_per_epoch=steps, validation_data=val_ds, epochs=epochs, verbose=verbose, shuffle=False,
            callbacks=callbacks).history
        if clock and clock.cut:
            log(f"{name}: the deadline cut epoch {clock.cut[0] + 1} after {clock.cut[1]} of its {steps} steps; "
                "it was validated as it stood")
        epoch = int(np.argmax(history["val_accuracy"]))
        if history["val_accuracy"][epoch] > best["val_accuracy"]:
            best = {"phase": phase, "epoch": epoch + 1, "steps_per_epoch": steps,
                    **{k: float(v[epoch]) for k, v in history.items()}}
            best_weights = classifier.get_weights()

    classifier.set_weights(best_weights)
    log(f"{name}: chose phase {best['phase']} epoch {best['epoch']}, validation accuracy {best['val_accuracy']:.4f}")
    write_json(chosen_path, best)
    with atomic_path(classifier_path) as tmp:
        classifier.save(tmp)
    export.export_classifier(classifier, vectorizer, os.path.join(stage_dir, "savedmodel"), label_names(split))
    return best
