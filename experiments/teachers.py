"""Candidate teachers for distillation on IMDB, scored on validation only (#6).

    python3 experiments/teachers.py --data-dir ../shared/data

The student of `train.py --distill-unlabelled` ends about level with its teacher, so a better teacher
is the lever. Compares, on our IMDB split (22,500 train / 2,500 validation): the baseline's bag of
bigrams (tf-idf, 100,000 uni- and bigrams, 2 epochs: `baseline.soft_labels`'s teacher) and NBSVM-style
features (Wang & Manning 2012: binary uni- and bigrams scaled by their naive-Bayes log-count ratio,
one logistic unit), with --max-tokens features. Prints validation accuracy per epoch; appends a JSON
line to --results. Not used by train.py; test is never read.
"""
import argparse, json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def nbsvm(texts, labels, seed, max_tokens=400000):
    """NBSVM-style teacher, compiled, not fitted: binary uni+bigrams times their naive-Bayes log-count ratio
    (alpha 1) and one sigmoid unit. Returns (model, batches) with `batches(texts, labels=None, shuffle=False)`.
    Also used by distill_bigrams.py --teacher nbsvm."""
    import numpy as np, keras, tensorflow as tf
    keras.utils.set_random_seed(seed)
    vec = keras.layers.TextVectorization(output_mode="multi_hot", ngrams=2, max_tokens=max_tokens, sparse=True)
    vec.adapt(texts)
    def batches(texts, labels=None, shuffle=False):
        ds = tf.data.Dataset.from_tensor_slices((texts, labels) if labels is not None else texts)
        if shuffle:
            ds = ds.shuffle(len(texts), seed=seed)
        ds = ds.batch(32)
        return (ds.map(lambda x, y: (vec(x), y)) if labels is not None else ds.map(vec)).prefetch(tf.data.AUTOTUNE)
    counts = {0: np.ones(vec.vocabulary_size(), np.float64), 1: np.ones(vec.vocabulary_size(), np.float64)}
    for x, y in batches(texts, labels):
        for label in (0, 1):
            rows = tf.sparse.retain(x, tf.gather(tf.cast(tf.equal(y, label), tf.bool), x.indices[:, 0]))
            counts[label] += tf.sparse.reduce_sum(rows, axis=0).numpy()
    r = np.log((counts[1] / counts[1].sum()) / (counts[0] / counts[0].sum())).astype(np.float32)
    inputs = keras.Input((vec.vocabulary_size(),), sparse=True)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Lambda(lambda x: x * r)(inputs)))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model, batches


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--max-tokens", type=int, default=400000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "teachers.jsonl"))
    a = p.parse_args()
    import numpy as np, keras
    from keras_bert_mlm import baseline, data
    from keras_bert_mlm.config import Config
    cfg = Config()
    keras.utils.set_random_seed(cfg.seed)
    split = data.load_dataset("imdb", a.data_dir, cfg.imdb_val_size, cfg.seed, True)
    x_tr, y_tr = split["train"]["text"].to_numpy(), split["train"]["label"].to_numpy(np.float32)
    x_va, y_va = split["validation"]["text"].to_numpy(), split["validation"]["label"].to_numpy(np.float32)
    res = {"args": vars(a)}

    # 1. The baseline's bag of bigrams, as train.py's teacher.
    t = time.time()
    vec, model = baseline.build(x_tr, cfg.seed)
    h = model.fit(baseline.batches(vec, x_tr, y_tr, cfg.seed), validation_data=baseline.batches(vec, x_va, y_va),
                  epochs=a.epochs, verbose=0)
    res["tfidf_bigrams_val_accuracy"] = h.history["val_accuracy"]
    res["tfidf_bigrams_minutes"] = (time.time() - t) / 60
    print("tf-idf bag of bigrams:", [round(v, 4) for v in h.history["val_accuracy"]], flush=True)

    # 2. NBSVM-style: binary uni+bigrams times the log-count ratio r, one logistic unit.
    t = time.time()
    nb, batches = nbsvm(x_tr, y_tr, cfg.seed, a.max_tokens)
    h = nb.fit(batches(x_tr, y_tr, True), validation_data=batches(x_va, y_va), epochs=a.epochs, verbose=0)
    res["nbsvm_val_accuracy"] = h.history["val_accuracy"]
    res["nbsvm_minutes"] = (time.time() - t) / 60
    print("NBSVM-style:", [round(v, 4) for v in h.history["val_accuracy"]], f"{res['nbsvm_minutes']:.1f} min", flush=True)
    print(json.dumps(res))
    with open(a.results, "a") as f:
        f.write(json.dumps(res) + "\n")
