import keras
import numpy as np
import pytest

from keras_bert_mlm import models
from keras_bert_mlm.config import Config
from keras_bert_mlm.models.classifier import output_head
from keras_bert_mlm.optimizer import build_slots, make_optimizer


def test_optimizer_follows_the_settings():
    adam = make_optimizer(Config(), 1e-3, 100)
    assert type(adam) is keras.optimizers.Adam and float(adam.learning_rate) == pytest.approx(1e-3)
    cfg = Config(lr_schedule="cosine", warmup_fraction=0.1, weight_decay=0.01, clip_norm=1.0)
    adamw = make_optimizer(cfg, 1e-3, 100)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.global_clipnorm == 1.0
    schedule = adamw._learning_rate
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0 and rates[1] == pytest.approx(5e-4) and rates[2] == pytest.approx(1e-3)
    assert 1e-4 < rates[3] < 1e-3 and rates[4] == pytest.approx(1e-4)  # decays to a tenth


@pytest.mark.parametrize("classes, built_first", [(2, True), (3, True), (2, False)])
def test_a_classifier_s_fit_traces_its_step_once_when_the_optimizer_is_built_first(classes, built_first):
    model = keras.Sequential([keras.Input((3,)), output_head(classes)])
    traced = []
    train_step = model.train_step
    model.train_step = lambda data: traced.append(1) or train_step(data)  # runs only while tf.function traces
    model.compile(optimizer=make_optimizer(Config(weight_decay=0.01), 1e-3, 10), **models.training_setup(classes))
    if built_first:
        build_slots(model)
    model.fit(np.ones((8, 3)), np.zeros(8), batch_size=4, epochs=2, verbose=0)
    # Unbuilt, the first step creates Adam's moments: tf.function traces it again without creating them.
    # (A metric given as a function would do the same: training_setup gives metric objects.)
    assert len(traced) == (1 if built_first else 2)
