"""Packed pretraining's switch to whole texts (`phases.py`): at the planned step, or earlier by the clock."""

import keras
import numpy as np
import tensorflow as tf

from keras_bert_mlm import phases


class Reader(keras.Model):
    """Notes what each training step reads (0: a packed batch, 1: a whole-text one) and counts it as an
    optimizer step, without training."""

    def __init__(self):
        super().__init__()
        self.dense, self.read = keras.layers.Dense(1), []

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        self.read.append(int(data[0][0, 0]))
        self.optimizer.iterations.assign_add(1)
        return {"loss": tf.constant(0.0)}


def steps_read(switch, *others, steps=6):
    """What each of `steps` steps read from `phases.phased_dataset`, switched by `switch` (a `WholeTexts` whose
    variable is `switch.switched`)."""
    packed = tf.data.Dataset.from_tensors((tf.zeros((2, 3)), tf.zeros((2, 1)))).repeat()
    whole = tf.data.Dataset.from_tensors((tf.ones((2, 3)), tf.zeros((2, 1)))).repeat()
    model = Reader()
    model.compile(keras.optimizers.SGD(0.0), "mse", run_eagerly=True)
    model.fit(phases.phased_dataset(packed, whole, switch.switched), steps_per_epoch=steps, epochs=1, verbose=0,
              callbacks=[*others, switch])
    return model.read


def test_the_steps_read_blocks_until_the_planned_step_then_whole_texts():
    switch = phases.WholeTexts(tf.Variable(False, trainable=False), at_step=4)
    assert steps_read(switch) == [0, 0, 0, 0, 1, 1] and switch.whole


def test_the_clock_switches_before_the_planned_step_when_the_steps_run_slow(monkeypatch):
    clock, late = [0.0], []

    class Tick(keras.callbacks.Callback):  # each step takes 10 s
        def on_train_batch_end(self, batch, logs=None):
            clock[0] += 10.0

    monkeypatch.setattr(phases.time, "time", lambda: clock[0])
    switch = phases.WholeTexts(tf.Variable(False, trainable=False), at_step=5, at_time=20.0, on_late=late.append)
    assert steps_read(switch, Tick()) == [0, 0, 1, 1, 1, 1]  # from the step that starts at 20 s, not step 5
    assert late == [2]
    # Without a clock, or on time, nothing is late.
    assert steps_read(phases.WholeTexts(tf.Variable(False), at_step=5, on_late=late.append)) == [0] * 5 + [1]
    assert late == [2]


def test_pace_moves_the_deadline_and_the_switch_earlier_when_the_steps_run_slower_than_timed(monkeypatch):
    from keras_bert_mlm.callbacks import Deadline
    from keras_bert_mlm.pacing import Pace

    clock = [0.0]

    class Tick(keras.callbacks.Callback):  # each step takes 10 s: twice the 5 s timed
        def on_train_batch_end(self, batch, logs=None):
            clock[0] += 10.0

    monkeypatch.setattr(phases.time, "time", lambda: clock[0])
    plan = {"seconds": 200.0, "seconds_per_step": 5.0, "seconds_kept_back": 100.0, "seconds_floor": 0.0}

    def run(paced, steps=30):
        clock[0] = 0.0
        deadline = Deadline(plan["seconds"], next_share=0)
        switch = phases.WholeTexts(tf.Variable(False, trainable=False), at_step=100, at_time=180.0)
        pace = [Pace(deadline, plan, switch, full_share=0.1, after=2, every=1, skip=0)] if paced else []
        return steps_read(switch, Tick(), deadline, *pace, steps=steps), deadline.deadline, switch.at_time

    # Unpaced: whole texts from 180 s, stopped by the 200 s deadline after the step that ends at 210 s.
    assert run(paced=False) == ([0] * 18 + [1] * 3, 200.0, 180.0)
    # Paced: fine-tuning will need 2 x 100 s, so pretraining ends at 100 s, its whole texts from 90 s.
    assert run(paced=True) == ([0] * 9 + [1] * 2, 100.0, 90.0)


def test_copy_positions_happens_once_when_the_whole_text_steps_begin_or_at_the_end():
    from keras_bert_mlm.models.layers import TokenAndPositionEmbedding

    embed = TokenAndPositionEmbedding(vocab_size=10, max_len=6, embed_dim=3)
    model = keras.Sequential([keras.Input((6,), dtype="int32"), embed, keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    x, y = np.random.default_rng(0).integers(1, 10, (16, 6)), np.ones((16, 1))
    table = embed.position_embedding.embeddings

    def copied():
        rows = table.numpy()
        return bool(np.allclose(rows[2:4], rows[:2]) and np.allclose(rows[4:], rows[:2]))

    def switch(at_step):  # the data switches by itself here: no variable
        return phases.WholeTexts(None, at_step, before_whole=lambda: embed.copy_positions(2))

    seen = {}

    class Probe(keras.callbacks.Callback):  # listed after the switch: sees each step's table before it trains
        def on_train_batch_begin(self, batch, logs=None):
            seen[int(model.optimizer.iterations.numpy())] = copied()

    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[switch(2), Probe()])
    assert seen == {0: False, 1: False, 2: True, 3: False}  # copied at step 2, then trained on
    # A resumed fit past the step does not copy again; one that stops before it copies at its end.
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[switch(2), Probe()])
    assert not any(seen[step] for step in range(4, 8)) and not copied()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[switch(100)])
    assert copied()


def test_the_steps_before_the_switch_are_compiled_with_xla_and_never_the_validation():
    from keras_bert_mlm.losses import in_xla

    traced = []

    class Probe(keras.layers.Layer):  # notes, each time a function is traced, whether XLA compiles it
        def call(self, x):
            traced.append(bool(in_xla()))
            return x

    model = keras.Sequential([keras.Input((3,)), Probe(), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x, y = np.ones((16, 3)), np.ones((16, 1))
    traced.clear()  # the model's build
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y),
              callbacks=[phases.WholeTexts(None, at_step=2, xla=True)])
    assert traced == [True, False, False]  # steps 0-1 compiled, then steps 2-3, then the validation
    assert model.jit_compile is False
    # A resumed fit already past the switch never compiles with XLA.
    traced.clear()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[phases.WholeTexts(None, at_step=2, xla=True)])
    assert traced == [False]
