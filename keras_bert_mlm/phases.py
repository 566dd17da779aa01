"""Packed pretraining's two phases (`--mlm-block-len`): blocks of that many tokens first, whole texts at the end.

    switched = tf.Variable(False, trainable=False)
    ds = phased_dataset(packed_ds, whole_ds, switched)     # blocks while `switched` is False, then whole texts
    model.fit(ds, callbacks=[WholeTexts(switched, at_step=900, at_time=deadline - 60, xla=True)])

The plan puts the switch at a step (`planner.packed_steps`: the last tenth of the steps read whole texts).
When the steps run slower than the plan timed them, the deadline stops the run before that step, and the
whole texts, the only steps that show the encoder the positions past the blocks, never come. So with a
deadline the switch comes at that step or when only the whole texts' share of the time is left, whichever
is first.
"""

import time

import keras
import tensorflow as tf

from .callbacks import optimizer_step


def phased_dataset(packed, whole, switched):
    """Batches of `packed` while the variable `switched` is False, then of `whole`. The variable is read when a
    step asks for its batch: a callback that sets it before a step decides what that step reads.

    >>> switched = tf.Variable(False)
    >>> batches = iter(phased_dataset(tf.data.Dataset.range(0, 9), tf.data.Dataset.range(100, 109), switched))
    >>> first = [int(next(batches)) for _ in range(2)]
    >>> _ = switched.assign(True)
    >>> first + [int(next(batches)) for _ in range(2)]
    [0, 1, 100, 101]
    """
    selector = tf.data.Dataset.from_tensors(0).repeat().map(lambda _: tf.cast(switched, tf.int64))
    # tf.data would add a prefetch at the end, which reads the variable a batch ahead; both datasets prefetch.
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    return tf.data.Dataset.choose_from_datasets([packed, whole], selector).with_options(options)


class WholeTexts(keras.callbacks.Callback):
    """Switches pretraining to whole texts before the step where the optimizer reaches `at_step`, or before
    the first step after `at_time` (a `time.time()`), whichever comes first: sets `switched` (the variable of
    `phased_dataset`; None where the dataset switches by itself at `at_step`), and calls `on_late(step)` when
    the clock came first. A resumed fit already past `at_step` starts switched.

    With `xla`, the steps before the switch run compiled with XLA, which fuses the step's many small
    operations on blocks of one shape; the whole texts (of every length: each new one would be compiled anew)
    and the validation run as compiled before. `before_whole` (the position copy of `--mlm-copy-positions`)
    runs once at the switch, or at the end of a fit that ends before it.
    """

    def __init__(self, switched, at_step, at_time=None, xla=False, before_whole=None, on_late=None):
        super().__init__()
        self.switched, self.at_step, self.at_time, self.xla = switched, at_step, at_time, xla
        self.before_whole, self.on_late = before_whole, on_late

    def _compile(self, xla):
        # `fit` calls `model.train_function` at every step: one made now serves the steps that follow.
        self.model.jit_compile = xla
        self.model.make_train_function(force=True)
        self.model.jit_compile = False  # the validation's function is made later, from this

    def _set(self, whole):
        self.whole = whole
        if self.switched is not None:
            self.switched.assign(whole)

    def on_train_begin(self, logs=None):
        self._set(optimizer_step(self.model) >= self.at_step)
        if self.xla:
            self._compile(not self.whole)

    def on_train_batch_begin(self, batch, logs=None):
        if self.whole:
            return
        step = optimizer_step(self.model)
        late = self.at_time is not None and time.time() >= self.at_time
        if step >= self.at_step or late:
            if self.xla:  # first: a whole-text batch must never reach the XLA-compiled step
                self._compile(False)
            if self.before_whole:
                self.before_whole()
            self._set(True)
            if step < self.at_step and self.on_late:
                self.on_late(step)

    def on_train_end(self, logs=None):
        if not self.whole and self.before_whole:  # no whole-text step will come to undo it
            self.before_whole()
