"""Pretraining keeps pace with the machine (`--time-budget`): when its steps run slower than the planner timed
them, it ends earlier, so that the fine-tuning after it, which will run slower too, gets the time it needs.

    clock = Deadline(ends, next_share=0)
    model.fit(ds, callbacks=[clock, switch, Pace(clock, plan, whole_texts=switch, full_share=0.1)])

The planner times a few dozen steps of each stage before pretraining, gives fine-tuning's timed epochs
`plan["seconds_kept_back"]` and pretraining the rest. A machine that turns slower during the run (shared,
throttled) slows both stages alike, and the time lost came all out of fine-tuning, whose last epoch the
deadline then cut. Here, once `after` steps are measured and every `every` steps after, the steps' mean time
over the timed one is the ratio by which fine-tuning will need more than was kept: pretraining's deadline moves
earlier by `kept x (ratio - 1)`, never past the plan's floor (`--mlm-min-share`) and never later than planned.
The switch to whole texts (`phases.WholeTexts`' clock) moves with it and keeps its share of the time. The
learning rate's schedule is not moved (see docs/time-budget.md: the cosine's last fifth is under a fifth of
its peak).
"""

import time

import keras

from .cli import log


class Pace(keras.callbacks.Callback):
    """Moves `clock` (the pretraining's `callbacks.Deadline`) earlier when the steps run slower than `plan`'s
    timing (`packed_seconds_per_step`, else `seconds_per_step`); `whole_texts` (a `phases.WholeTexts` with a
    clock) switches when `full_share` of the moved time is left. Only the steps before that switch are
    measured (the ones the timing was of), after the first `skip` of each fit (tracing). `ratio` is the last
    measured one (None before `after` steps).

    >>> clock = type("Clock", (), {"deadline": 1000.0})()
    >>> plan = {"seconds": 800.0, "seconds_per_step": 1.0, "seconds_kept_back": 300.0, "seconds_floor": 400.0}
    >>> pace = Pace(clock, plan)
    >>> pace.move(1.5), clock.deadline   # fine-tuning will need 450 s, not 300
    (True, 850.0)
    >>> pace.move(3.0), clock.deadline   # never before the floor, 400 s after the start
    (True, 600.0)
    >>> pace.move(0.9), clock.deadline   # never later than planned
    (True, 1000.0)
    """

    def __init__(self, clock, plan, whole_texts=None, full_share=0.0, after=200, every=100, skip=5):
        super().__init__()
        self.clock, self.whole_texts, self.full_share = clock, whole_texts, full_share
        self.after, self.every, self.skip = after, every, skip
        self.timed = plan.get("packed_seconds_per_step", plan["seconds_per_step"])
        self.kept, self.planned = plan["seconds_kept_back"], clock.deadline
        self.begin = clock.deadline - plan["seconds"]
        self.earliest = self.begin + plan.get("seconds_floor", 0.0)
        self.spent, self.measured, self.logged, self.ratio = 0.0, 0, None, None

    def move(self, ratio):
        """Put the deadline where a slowdown of `ratio` leaves fine-tuning its time; True if it moved."""
        self.ratio = ratio
        ends = min(self.planned, max(self.earliest, self.planned - self.kept * (ratio - 1)))
        moved, self.clock.deadline = ends != self.clock.deadline, ends
        if self.whole_texts is not None and self.whole_texts.at_time is not None:
            self.whole_texts.at_time = ends - self.full_share * (ends - self.begin)
        return moved

    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1
        self.started = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.batches <= self.skip or (self.whole_texts is not None and self.whole_texts.whole):
            return
        self.spent += time.time() - self.started
        self.measured += 1
        if self.measured >= self.after and self.measured % self.every == 0:
            per_step = self.spent / self.measured
            moved = self.move(per_step / self.timed)  # logged the first time, then when it moves by a minute
            if moved and (self.logged is None or abs(self.clock.deadline - self.logged) >= 60):
                self.logged = self.clock.deadline
                log(f"pretraining: {per_step:.3f} s/step over {self.measured} steps, {self.ratio:.2f}x the "
                    f"{self.timed:.3f} timed: it ends at {time.strftime('%H:%M', time.localtime(self.logged))} "
                    f"(planned {time.strftime('%H:%M', time.localtime(self.planned))}), leaving fine-tuning "
                    f"{(self.kept + self.planned - self.logged) / 60:.1f} minutes (kept back: {self.kept / 60:.1f})")
