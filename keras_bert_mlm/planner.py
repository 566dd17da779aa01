"""The time budget (`--time-budget MINUTES`): what each stage may spend, from speeds measured here.

The plan, in order (docs/time-budget.md): time each classifier's steps on a throwaway model
(`finetune.time_classifiers`), keep back what their epochs will take, give pretraining the rest as
whole epochs (`pretraining_plan`), then share what is left among the classifiers in proportion to
their timed cost (`finetune_deadlines`), shortening epochs that would not fit (`steps_that_fit`).

>>> plan_epochs(total_steps=3270, steps_per_pass=2580, max_epochs=20)
(2, 1635)
"""

import math
import time

from .callbacks import Interruptible, StepTimer
from .cli import log

EXPORT_SECONDS = 15  # kept back for each classifier's export (5 to 10 measured on 2 cores)
FINETUNE_MARGIN = 1.1  # the fine-tuning's timed epochs, and a tenth more, are kept back from pretraining


def seconds_per_step(build, dataset, steps=30, skip=3):
    """Seconds per training step of the compiled model `build()` returns, over `steps` batches of `dataset`
    after `skip` (which trace the function).

    The model is thrown away: the caller builds (and seeds) the one it trains afterwards.
    """
    model = build()
    timer = StepTimer(skip)
    model.fit(dataset, steps_per_epoch=steps + skip, epochs=1, verbose=0, callbacks=[timer, Interruptible()])
    return timer.seconds


def plan_epochs(total_steps, steps_per_pass, max_epochs):
    """`(epochs, steps_per_epoch)`: as many of the `total_steps` as `max_epochs` passes over the data allow,
    in epochs of at most one pass, so that no step is wasted and the schedule ends with the last epoch."""
    epochs = max(1, min(max_epochs, -(-total_steps // steps_per_pass)))
    return epochs, max(1, min(steps_per_pass, total_steps // epochs))


def pretraining_plan(cfg, deadline, per_step, steps_per_pass, kept):
    """Pretraining's epochs and steps: all `cfg.mlm_epochs` passes without a `deadline`; with one, the
    steps of `per_step` seconds that fit the time left but the `kept` seconds (at most `cfg.mlm_time_share`
    of it), yet at least `cfg.mlm_min_share` of the whole budget while that much is left, with a 5% margin.
    The dict is what mlm/plan.json records."""
    if not deadline:
        return {"epochs": cfg.mlm_epochs, "steps_per_epoch": steps_per_pass}
    left = deadline - time.time()
    floor = min(cfg.mlm_min_share * 60 * cfg.time_budget, left)
    seconds = max(0.0, floor, min(cfg.mlm_time_share * left, left - kept))
    epochs, steps = plan_epochs(int(0.95 * seconds / per_step), steps_per_pass, cfg.mlm_epochs)
    squeezed = kept > left - seconds  # fine-tuning gets less than its timed epochs: they will be shortened
    log(f"pretraining: {per_step:.3f} s/step measured; {seconds / 60:.1f} of the {cfg.time_budget:g} "
        f"minutes for it, {kept / 60:.1f} wanted by fine-tuning and export"
        + (f" (pretraining keeps its floor of {cfg.mlm_min_share:.0%} of the budget: fine-tuning's epochs "
           "will be shortened to fit the rest)" if squeezed and seconds and seconds == floor else "")
        + (" (more than were left: one step of pretraining)" if squeezed and not seconds else ""))
    return {"epochs": epochs, "steps_per_epoch": steps, "seconds": seconds, "seconds_per_step": per_step,
            "seconds_kept_back": kept, "seconds_floor": floor}


def packed_steps(plan, full_share):
    """How many of the `plan`'s steps read packed blocks: all but the last `full_share` of them (at least one
    step on whole texts when the share is above 0).

    >>> packed_steps({"epochs": 2, "steps_per_epoch": 50}, 0.1)
    90
    """
    total = plan["epochs"] * plan["steps_per_epoch"]
    return total - min(total, math.ceil(round(full_share * total, 6)))


def finetune_reserve(timings):
    """Seconds to keep back from pretraining for the timed classifiers (`finetune.time_classifiers`) and
    their exports."""
    return FINETUNE_MARGIN * sum(t["seconds"] for t in timings.values()) + EXPORT_SECONDS * len(timings)


def finetune_cost(timing, steps):
    """Seconds of a classifier's epochs of `steps` training steps each: a validation step has no gradients
    (~1/3 of a training step), and each phase builds and traces anew."""
    return (timing["epochs"] * timing["per_step"] * (steps + timing["val_steps"] / 3)
            + timing["phases"] * timing["overhead"])


def steps_that_fit(timing, seconds, margin=0.95):
    """Training steps per epoch with which the `timing`'s epochs fit in `seconds` (with a 5% margin): a whole
    pass when they fit, else fewer (at least 1), so that every epoch, its validation and the learning-rate
    schedule still run to their end on a machine slower than the plan needed."""
    per_epoch = (margin * seconds - timing["phases"] * timing["overhead"]) / (timing["epochs"] * timing["per_step"])
    return int(max(1, min(timing["steps"], per_epoch - timing["val_steps"] / 3)))


def finetune_deadlines(costs, names, deadline):
    """When each classifier's training must end: the time left but the exports', shared in proportion to
    the timed `costs` (seconds) of their epochs; a classifier that ends early leaves its time to the next."""
    if not deadline or not names:
        return {}
    left = deadline - time.time() - EXPORT_SECONDS * len(names)
    deadlines, start = {}, time.time()
    for n in names:
        start += max(left, 0) * costs[n] / sum(costs[m] for m in names)
        deadlines[n] = start
    return deadlines
