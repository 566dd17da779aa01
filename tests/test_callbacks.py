import json
import os
import time

import keras
import numpy as np

from keras_bert_mlm import callbacks


def test_deadline_stops_fit_in_time():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((64, 2)), np.zeros((64, 1))

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.05)

    deadline = callbacks.Deadline(time.time() + 1.0)
    start = time.time()
    history = model.fit(x, y, batch_size=8, epochs=100, verbose=0, callbacks=[Slow(), deadline])
    assert deadline.stopped and time.time() - start < 3
    assert len(history.history["loss"]) < 100


def test_another_epoch_begins_when_its_share_fits_and_the_deadline_cuts_it(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    for next_share, first_epoch, stops in ((1.0, 6.0, True), (0.5, 6.0, False), (0.5, 7.0, True), (0, 9.9, False)):
        deadline = callbacks.Deadline(10.0, next_share=next_share)
        deadline.set_model(model)
        clock[0] = 0.0
        deadline.on_epoch_begin(0)
        clock[0] = first_epoch  # half of a second 6 s epoch fits before 10 s, half of a 7 s one does not
        deadline.on_train_batch_end(0)
        deadline.on_epoch_end(0)
        assert deadline.stopped == stops and deadline.cut is None
    deadline.on_epoch_begin(1)
    deadline.on_train_batch_end(0)
    clock[0] = 10.5  # the second epoch stops when the time is up, and says where
    deadline.on_train_batch_end(1)
    assert deadline.stopped and deadline.cut == (1, 2)


def test_history_csv_keeps_one_row_per_epoch(tmp_path):
    path = str(tmp_path / "history.csv")
    with open(path, "w") as f:  # an interrupted run wrote epochs 0-2; its backup is from the end of epoch 1
        f.write("epoch,loss\n0,3.0\n1,2.0\n2,1.5\n")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=4, initial_epoch=2, verbose=0,
              callbacks=[callbacks.HistoryCSV(path)])
    with open(path) as f:
        rows = f.read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2", "3"]
    assert rows[1:3] == ["0,3.0", "1,2.0"]


def test_history_csv_drops_a_row_cut_short_by_a_kill(tmp_path):
    path = str(tmp_path / "history.csv")
    with open(path, "w") as f:  # killed while writing epoch 2's row
        f.write("epoch,loss,val_loss\n0,3.0,3.1\n1,2.0,2.1\n2,1.")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), validation_data=(np.zeros((8, 2)), np.zeros((8, 1))),
              epochs=3, initial_epoch=2, verbose=0, callbacks=[callbacks.HistoryCSV(path)])
    with open(path) as f:
        rows = f.read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2"]
    assert all(len(r.split(",")) == 3 for r in rows)


def small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    return model


def test_backup_is_written_whole_and_restored(tmp_path):
    backup = str(tmp_path / "backup")
    x, y = np.ones((16, 2)), np.ones((16, 1))
    model = small_model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callbacks.Backup(backup, save_freq=3)])
    with open(os.path.join(backup, "training_metadata.json")) as f:  # the last of steps 3 and 6
        assert json.load(f) == {"epoch": 1, "batch": 1}
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]
    assert os.listdir(tmp_path) == ["backup"]  # no temporary folder left beside it
    assert callbacks.Backup.epochs_done(backup) == 1  # a resumed fit redoes epoch 1 whole
    restored = small_model()
    history = restored.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callbacks.Backup(backup)])
    assert len(history.history["loss"]) == 2  # epoch 1 starts again, from the weights of its step 2
    assert callbacks.Backup.epochs_done(backup) == 3  # an epoch's end records the next one
    assert callbacks.Backup.epochs_done(str(tmp_path / "none")) == 0
    assert restored.optimizer.iterations.numpy() == 6 + 8


def test_a_multi_worker_checkpoint_says_how_many_epochs_it_holds(tmp_path):
    # What a rerun of a multi-worker pretraining continues from: the packed steps before it are done.
    import tensorflow as tf

    from keras_bert_mlm import distribute

    strategy = tf.distribute.get_strategy()  # the chief's folder, as on worker 0
    assert distribute.epochs_done(str(tmp_path / "checkpoints"), strategy) == 0
    epoch = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=small_model(), epoch=epoch),
                                         str(tmp_path / "checkpoints"), max_to_keep=1)
    for _ in range(2):  # as multi_worker_fit does after each epoch
        epoch.assign_add(1)
        manager.save()
    assert distribute.epochs_done(str(tmp_path / "checkpoints"), strategy) == 2


def test_a_backup_that_does_not_load_is_deleted_and_the_stage_starts_afresh(tmp_path, capsys):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)  # a write cut short
    x, y = np.ones((16, 2)), np.ones((16, 1))
    model, reference = small_model(), small_model()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callbacks.Backup(str(backup))])
    assert "does not load" in capsys.readouterr().out
    assert len(history.history["loss"]) == 2
    reference.fit(x, y, batch_size=4, epochs=2, verbose=0)  # the same training from the same start
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_stage_clock_speaks_early_then_again_from_a_larger_sample(monkeypatch, capsys):
    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])
    stage_clock = callbacks.StageClock("imdb fine-tuning", steps_per_epoch=1000, epochs=2)
    stage_clock.on_epoch_begin(0)
    for batch in range(300):
        stage_clock.on_train_batch_begin(batch)
        clock[0] += 2.0 if batch < 22 else 1.0  # the first steps are the slow ones
        stage_clock.on_train_batch_end(batch)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "2.000 s/step over 20 steps" in lines[0] and "about 66 min to go" in lines[0]
    # 20 steps of 2 s and 180 of 1 s; 1,798 of the 2,000 steps are left
    assert "1.100 s/step over 200 steps" in lines[1] and "about 33 min to go" in lines[1]
