"""The optimizer of every training stage: Adam, or AdamW, with the configured learning-rate schedule.

>>> from keras_bert_mlm.config import Config
>>> type(make_optimizer(Config(), peak=1e-3, total_steps=100)).__name__
'Adam'
>>> type(make_optimizer(Config(weight_decay=0.01), peak=1e-3, total_steps=100)).__name__
'AdamW'
"""

import keras
from keras import ops


def make_optimizer(cfg, peak, total_steps, schedule=True):
    """Adam, or AdamW when `cfg.weight_decay`, with `cfg.adam_beta2`. With `schedule`, the learning
    rate warms up linearly to `peak` over `cfg.warmup_fraction` of `total_steps`, then decays along a
    cosine to a tenth of `peak` (`cfg.lr_schedule` cosine) or in a straight line to zero at the last
    step (linear: the one-cycle of budget BERTs). Gradients are clipped to `cfg.clip_norm` (0: not
    clipped). Biases and LayerNorm parameters are not decayed.
    """
    learning_rate = peak
    if schedule and cfg.lr_schedule != "constant" and total_steps > 1:
        warmup = int(cfg.warmup_fraction * total_steps)
        if cfg.lr_schedule == "linear":
            learning_rate = WarmupLinearDecay(peak, warmup, total_steps)
        else:
            learning_rate = keras.optimizers.schedules.CosineDecay(
                0.0 if warmup else peak, decay_steps=max(1, total_steps - warmup), alpha=0.1,
                warmup_target=peak if warmup else None, warmup_steps=warmup)
    options = dict(learning_rate=learning_rate, global_clipnorm=cfg.clip_norm or None, beta_2=cfg.adam_beta2)
    if not cfg.weight_decay:
        return keras.optimizers.Adam(**options)
    optimizer = keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **options)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def build_slots(model):
    """Create `model`'s optimizer variables (Adam's moments) now, before `fit`. A train step that creates
    variables is traced twice by tf.function, once to create them and once without; built first, each
    `fit` traces its step once. Call it in the strategy scope that compiled `model`."""
    model.optimizer.build(model.trainable_variables)


@keras.saving.register_keras_serializable(package="keras_bert_mlm")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then a straight line to 0 at `total_steps`.

    >>> schedule = WarmupLinearDecay(peak=1.0, warmup_steps=2, total_steps=10)
    >>> [round(float(schedule(step)), 3) for step in (0, 1, 2, 6, 10, 12)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, peak, warmup_steps, total_steps):
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * ops.clip(ops.minimum(warmup, decay), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}
