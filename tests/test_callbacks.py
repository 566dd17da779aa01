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
