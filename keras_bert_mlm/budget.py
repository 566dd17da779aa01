"""Optimizers with the configured schedule, and fitting training into a wall-clock budget.

    optimizer = make_optimizer(cfg, peak=1e-3, total_steps=5000)   # Adam(W), warm-up + cosine if asked
    seconds = seconds_per_step(build, dataset)                     # measured on a throwaway model
    fit(..., callbacks=[Deadline(time.time() + 600)])              # stops in time, at a step or epoch end

`train.py --time-budget MINUTES` uses them: pretraining gets the steps that fit its share of the
budget at the speed measured on this machine, and every stage stops by its deadline.
"""

import os
import time

import keras

from . import cli


def make_optimizer(cfg, peak, total_steps, schedule=True):
    """Adam, or AdamW when `cfg.weight_decay`; with `cfg.lr_schedule == "cosine"` (and `schedule`) the
    learning rate warms up linearly to `peak` over `cfg.warmup_fraction` of `total_steps`, then decays
    along a cosine to a tenth of `peak`. Biases and LayerNorm parameters are not decayed.
    """
    learning_rate = peak
    if schedule and cfg.lr_schedule == "cosine" and total_steps > 1:
        warmup = int(cfg.warmup_fraction * total_steps)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else peak, decay_steps=max(1, total_steps - warmup), alpha=0.1,
            warmup_target=peak if warmup else None, warmup_steps=warmup)
    options = dict(learning_rate=learning_rate, global_clipnorm=cfg.clip_norm or None)
    if not cfg.weight_decay:
        return keras.optimizers.Adam(**options)
    optimizer = keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **options)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


class Interruptible(keras.callbacks.Callback):
    """Ctrl-C during `fit` stops at the end of the current batch (see `cli.defer_interrupts`)."""

    def on_train_begin(self, logs=None):
        cli.defer_interrupts(True)

    def on_train_batch_end(self, batch, logs=None):
        cli.check_interrupt()

    on_test_batch_end = on_train_batch_end

    def on_train_end(self, logs=None):
        cli.defer_interrupts(False)


class _StepTimer(keras.callbacks.Callback):
    def __init__(self, skip):
        super().__init__()
        self.skip, self.start, self.timed = skip, None, 0

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.skip:  # the first steps trace the function: not counted
            self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.skip:
            self.timed += 1
            self.seconds = (time.time() - self.start) / self.timed


def seconds_per_step(build, dataset, steps=30, skip=3):
    """Seconds per training step of the compiled model `build()` returns, over `steps` batches of `dataset`.

    The model is thrown away: the caller builds (and seeds) the one it trains afterwards.
    """
    model = build()
    timer = _StepTimer(skip)
    model.fit(dataset, steps_per_epoch=steps + skip, epochs=1, verbose=0, callbacks=[timer, Interruptible()])
    return timer.seconds


def plan_epochs(total_steps, steps_per_pass, max_epochs):
    """`(epochs, steps_per_epoch)`: as many of the `total_steps` as `max_epochs` passes over the data allow,
    in epochs of at most one pass (`plan_epochs(3270, 2580, 20)` is `(2, 1635)`)."""
    epochs = max(1, min(max_epochs, -(-total_steps // steps_per_pass)))
    return epochs, max(1, min(steps_per_pass, total_steps // epochs))


class Deadline(keras.callbacks.Callback):
    """Stop `fit` at the end of an epoch when another one would end after `deadline` (a `time.time()`),
    and in the middle of one when the deadline has passed. `stopped` says whether it stopped the fit.
    """

    def __init__(self, deadline):
        super().__init__()
        self.deadline, self.stopped = deadline, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.time()

    def _stop(self):
        self.model.stop_training = self.stopped = True

    def on_train_batch_end(self, batch, logs=None):
        if time.time() > self.deadline:
            self._stop()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        if now + (now - self.epoch_start) > self.deadline:
            self._stop()


class HistoryCSV(keras.callbacks.CSVLogger):
    """`CSVLogger` that continues the file of an interrupted `fit`, one row per epoch.

    List it before `keras.callbacks.BackupAndRestore`: an epoch's row is written before its backup,
    and when a rerun starts again from an earlier epoch, the rows from that epoch on are dropped first.
    """

    def __init__(self, filename):
        super().__init__(filename, append=True)
        self._trimmed = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._trimmed:
            return
        self._trimmed = True
        self.csv_file.close()
        with open(self.filename) as f:
            lines = f.read().splitlines()
        kept = lines[:1] + [line for line in lines[1:] if int(line.split(",")[0]) < epoch]
        with open(self.filename + ".tmp", "w") as f:
            f.write("".join(line + "\n" for line in kept))
        os.replace(self.filename + ".tmp", self.filename)
        self.append_header = not kept
        self.csv_file = open(self.filename, "a")


class Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that records the right epoch while a resumed run is in its first epoch.

    Keras 3.15 counts the epoch of its backups from 0 in every new `fit` until an epoch ends, so a
    step backup early in a resumed run would send the next resume back to epoch 0.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
