import dataclasses
import json
import os
import time

import keras
import pytest

from keras_bert_mlm import data, finetune, models, text  # noqa: F401 (models registers the layers encoder.keras uses)
from keras_bert_mlm.config import Config


def tiny_classifier_inputs(tiny_run, data_dir):
    """The tiny run's settings (2 trainable epochs), Rotten Tomatoes' splits, its encoder and vectorizer."""
    with open(os.path.join(tiny_run, "config.json")) as f:
        cfg = dataclasses.replace(Config.from_dict(json.load(f), "config.json"), clf_frozen_epochs=0,
                                  clf_finetune_epochs=2)
    split = data.load_dataset("rotten_tomatoes", data_dir, cfg.imdb_val_size, cfg.seed, True)
    encoder = keras.saving.load_model(os.path.join(tiny_run, "mlm", "encoder.keras"))
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(tiny_run, "vocab.txt")), cfg.max_len)
    return cfg, split, encoder, vectorizer


# As timed on a machine where a step takes 5 s: 2 epochs of 4 steps (and 1 validation step each) fit in
# 0.95 x 60 s, a whole pass of 160 / 16 = 10 steps does not. The real steps take milliseconds.
SLOW = {"per_step": 5.0, "overhead": 0.0, "steps": 10, "val_steps": 3, "epochs": 2, "phases": 1}


@pytest.mark.slow
def test_fine_tuning_on_a_slow_machine_runs_every_epoch_shorter(tiny_run, data_dir, tmp_path, capsys, monkeypatch):
    cfg, split, encoder, vectorizer = tiny_classifier_inputs(tiny_run, data_dir)
    monkeypatch.setattr(finetune, "time_classifiers", lambda *args: {"rotten_tomatoes": SLOW})  # still slow
    out = str(tmp_path)
    chosen = finetune.finetune("rotten_tomatoes", split, encoder, vectorizer, cfg, out, 0, time.time() + 60.0,
                               timing=SLOW)
    logged = capsys.readouterr().out
    assert "timing it again" in logged and "epochs of 4 steps (40% of a pass)" in logged
    assert chosen["steps_per_epoch"] == 4
    with open(os.path.join(out, "rotten_tomatoes", "history_finetune.csv")) as f:
        assert len(f.read().splitlines()) == 1 + 2  # both epochs ran (and were validated)


@pytest.mark.slow
def test_fine_tuning_timed_slow_at_the_start_is_timed_again_and_reads_whole_passes(tiny_run, data_dir, tmp_path,
                                                                                   capsys):
    cfg, split, encoder, vectorizer = tiny_classifier_inputs(tiny_run, data_dir)
    chosen = finetune.finetune("rotten_tomatoes", split, encoder, vectorizer, cfg, str(tmp_path), 0,
                               time.time() + 60.0, timing=SLOW)  # the machine was busy when the run began
    logged = capsys.readouterr().out
    assert "timing it again" in logged and "of a pass)" not in logged
    assert chosen["steps_per_epoch"] == 10  # timed again, milliseconds a step: whole passes fit


@pytest.mark.slow
def test_fine_tuning_a_tenth_short_is_not_timed_again(tiny_run, data_dir, tmp_path, capsys):
    cfg, split, encoder, vectorizer = tiny_classifier_inputs(tiny_run, data_dir)
    nearly = {**SLOW, "per_step": 57.0 / 21}  # 2 epochs of 10.5 steps (less a validation) in 0.95 x 60 s: 9 of 10
    chosen = finetune.finetune("rotten_tomatoes", split, encoder, vectorizer, cfg, str(tmp_path), 0,
                               time.time() + 60.0, timing=nearly)
    logged = capsys.readouterr().out
    assert "timing it again" not in logged and "epochs of 9 steps (90% of a pass)" in logged
    assert chosen["steps_per_epoch"] == 9  # a tenth of a pass is not worth the minute a timing takes


def test_classifiers_compile_without_xla_even_where_keras_would_turn_it_on(a_gpu_visible):
    encoder = models.build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
    auto = models.build_classifier(encoder)
    auto.compile(optimizer="adam", **models.training_setup(2))
    assert auto.jit_compile  # what a GPU would get: every new batch length compiled
    classifier = models.build_classifier(encoder)
    finetune.compile_classifier(classifier, keras.optimizers.Adam(), 2)
    assert classifier.jit_compile is False and classifier.optimizer.built


@pytest.mark.slow
def test_fine_tuning_with_frozen_embeddings_trains_the_blocks_only(tiny_run, data_dir, tmp_path, capsys):
    cfg, split, encoder, vectorizer = tiny_classifier_inputs(tiny_run, data_dir)
    cfg = dataclasses.replace(cfg, clf_freeze_embeddings=True, clf_finetune_epochs=1)
    finetune.finetune("rotten_tomatoes", split, encoder, vectorizer, cfg, str(tmp_path), 0)
    assert "encoder trainable, its embeddings frozen" in capsys.readouterr().out
    trained = keras.saving.load_model(os.path.join(tmp_path, "rotten_tomatoes", "classifier.keras"))
    before = {w.path: w.numpy() for w in encoder.weights}  # "embeddings/token_embedding/embeddings", ...
    after = {w.path: w.numpy() for w in trained.get_layer(encoder.name).weights}
    assert before.keys() == after.keys()
    same = {path for path in before if (before[path] == after[path]).all()}
    tables = {path for path in before if path.startswith("embeddings/")}
    assert tables and tables <= same
    assert same != set(before)  # the blocks did train
