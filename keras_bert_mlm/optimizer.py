"""The optimizer of every training stage: Adam, or AdamW, with the configured learning-rate schedule.

>>> from keras_bert_mlm.config import Config
>>> type(make_optimizer(Config(), peak=1e-3, total_steps=100)).__name__
'Adam'
>>> type(make_optimizer(Config(weight_decay=0.01), peak=1e-3, total_steps=100)).__name__
'AdamW'
"""

import keras


def make_optimizer(cfg, peak, total_steps, schedule=True):
    """Adam, or AdamW when `cfg.weight_decay`; with `cfg.lr_schedule == "cosine"` (and `schedule`) the
    learning rate warms up linearly to `peak` over `cfg.warmup_fraction` of `total_steps`, then decays
    along a cosine to a tenth of `peak`. Gradients are clipped to `cfg.clip_norm` (0: not clipped).
    Biases and LayerNorm parameters are not decayed.
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
