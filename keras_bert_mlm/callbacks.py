"""The Keras callbacks of our `fit` calls: Ctrl-C, deadlines, progress estimates, resumable history.

    model.fit(ds, callbacks=[Interruptible(), Deadline(time.time() + 600), StageClock("pretraining", 500, 3)])

`HistoryCSV` and `Backup` together let a killed pretraining continue where it stopped, with each
epoch once in its history file.
"""

import json
import os
import shutil
import sys
import time

import keras

from . import cli
from .rundir import atomic_path


class Interruptible(keras.callbacks.Callback):
    """Ctrl-C during `fit` stops at the end of the current batch (see `cli.defer_interrupts`)."""

    def on_train_begin(self, logs=None):
        cli.defer_interrupts(True)

    def on_train_batch_end(self, batch, logs=None):
        cli.check_interrupt()

    on_test_batch_end = on_train_batch_end

    def on_train_end(self, logs=None):
        cli.defer_interrupts(False)


class Deadline(keras.callbacks.Callback):
    """Stop `fit` in the middle of an epoch when `deadline` (a `time.time()`) has passed, and at the end of an
    epoch when less than `next_share` of another one (timed by the last) would fit before it. `stopped` says
    whether it stopped the fit, `cut` the (epoch, steps) it cut short.

    Keras still validates an epoch cut short, so fine-tuning (`next_share=0.5`) may pick it: a last epoch that
    would end a few seconds late is cut there instead of lost whole, and one with too little time left for
    its validation to be worth it is not begun. Pretraining (`next_share=0`) sized its epochs to the time: an
    epoch a little slower than planned costs the last steps, never the next epoch.
    """

    def __init__(self, deadline, next_share=1.0):
        super().__init__()
        self.deadline, self.next_share, self.stopped, self.cut = deadline, next_share, False, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_start = epoch, time.time()

    def _stop(self):
        self.model.stop_training = self.stopped = True

    def on_train_batch_end(self, batch, logs=None):
        if time.time() > self.deadline and not self.stopped:
            self._stop()
            self.cut = (self.epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        if now + self.next_share * (now - self.epoch_start) > self.deadline:
            self._stop()


class StageClock(keras.callbacks.Callback):
    """Logs when a stage should end: a first estimate after `at_steps[0]` timed steps of its first epoch, and a
    firmer one after each later count in `at_steps`. Batches of texts of varied length vary in cost several times
    over, so a few early steps are a poor sample of an epoch's pace: the clock speaks again once it has seen more."""

    def __init__(self, stage, steps_per_epoch, epochs, at_steps=(20, 200)):
        super().__init__()
        self.stage, self.steps_per_epoch, self.epochs, self.at_steps = stage, steps_per_epoch, epochs, at_steps

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == 0 and batch == 2:  # steps 0 and 1 include tracing
            self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        timed = batch - 1
        if self.epoch == 0 and timed in self.at_steps and self.steps_per_epoch > batch:
            per_step = (time.time() - self.start) / timed
            left = per_step * (self.steps_per_epoch * self.epochs - batch - 1)
            if sys.stdout.isatty():
                print(flush=True)  # end the progress bar's line
            span = f"{left / 60:.0f} min" if left >= 120 else f"{left:.0f} s"
            cli.log(f"{self.stage}: {per_step:.3f} s/step over {timed} steps, about {span} to go (until about "
                    f"{time.strftime('%H:%M', time.localtime(time.time() + left))}, validation not counted)")


class StepTimer(keras.callbacks.Callback):
    """Mean seconds of the training steps after the first `skip` (which trace the function): `seconds`."""

    def __init__(self, skip):
        super().__init__()
        self.skip, self.start, self.timed = skip, None, 0

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.skip:
            self.start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if batch >= self.skip:
            self.timed += 1
            self.seconds = (time.time() - self.start) / self.timed


def optimizer_step(model):
    """The steps `model`'s optimizer has taken: a resumed run's count goes on from its backup's."""
    return int(model.optimizer.iterations.numpy())


class HistoryCSV(keras.callbacks.CSVLogger):
    """`CSVLogger` that continues the file of an interrupted `fit`, one row per epoch.

    List it before `Backup`: an epoch's row is written before its backup, and when a rerun starts
    again from an earlier epoch, the rows from that epoch on are dropped first, as is a row cut short
    by a kill.
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
            lines = f.read().split("\n")
        header = lines[0].split(",") if lines[0] else []

        def whole(line):  # every column there, the epoch a number before `epoch`
            fields = line.split(",")
            return len(fields) == len(header) and fields[0].isdigit() and int(fields[0]) < epoch

        kept = [line for line in lines[1:] if whole(line)]
        with atomic_path(self.filename) as tmp, open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in (lines[:1] + kept if kept else [])))
        self.append_header = not kept
        self.csv_file = open(self.filename, "a")


class Backup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backups survive a kill at any instant.

    Keras writes `latest.weights.h5` and `training_metadata.json` in place: a kill while it writes
    leaves a file that no rerun can read. Here the whole backup folder is written beside its target
    and renamed into place (`rundir.atomic_path`), so it is the previous backup or the new one, never
    half of one. A backup that still does not load (written by something else, damaged on disk) is
    deleted with a log line, and the stage starts afresh instead of failing every rerun.

    Keras 3.15 also counts the epoch of its backups from 0 in every new `fit` until an epoch ends, so
    a step backup early in a resumed run would send the next resume back to epoch 0: `on_epoch_begin`
    records the right one.
    """

    def __init__(self, backup_dir, save_freq="epoch", stage="training"):
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=False, delete_checkpoint=False)
        self.stage = stage

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    @staticmethod
    def epochs_done(backup_dir):
        """Whole epochs that the backup in `backup_dir` holds (0 without one): a resumed `fit` starts after them."""
        try:
            with open(os.path.join(backup_dir, "training_metadata.json")) as f:
                return int(json.load(f)["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.backup_dir):
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        state = [v for v in self.model.variables + (optimizer.variables if optimizer else [])]
        fresh = [v.numpy() for v in state]
        try:
            self._load_model()
            with open(self._training_metadata_path) as f:
                saved = json.load(f)
        except Exception as e:  # noqa: BLE001 (h5py, JSON and Keras each raise their own)
            for variable, value in zip(state, fresh):  # undo a load that failed half-way
                variable.assign(value)
            self.model._initial_epoch = 0
            shutil.rmtree(self.backup_dir)
            cli.log(f"{self.stage}: the backup in {self.backup_dir} does not load "
                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); deleted, starting afresh")
            return
        cli.log(f"{self.stage}: continuing an interrupted run from its backup: epoch {saved['epoch'] + 1} "
                f"starts again with the weights and optimizer state saved at its step {saved['batch']}")

    def _save_model(self):
        with atomic_path(self.backup_dir) as tmp:
            os.makedirs(tmp)
            self.model.save_weights(os.path.join(tmp, os.path.basename(self._weights_path)))
            with open(os.path.join(tmp, os.path.basename(self._training_metadata_path)), "w") as f:
                json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, f)
