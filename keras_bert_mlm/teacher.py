"""The teacher of distillation: an NBSVM-style bag of uni- and bigrams (Wang & Manning 2012) that labels
unlabelled texts with probabilities, which a classifier then fine-tunes on beside the labelled ones.

    split["unlabelled"] = pandas.DataFrame({"text": texts, "label": numpy.nan})
    label_unlabelled("imdb", split, seed=42)      # fills split["unlabelled"]["label"] with P(positive)
"""

import numpy as np

from .cli import log

# Binary uni- and bigrams, the 400,000 most frequent, 4 epochs (docs/experiments.md compares teachers).
TEACHER = dict(ngrams=2, max_tokens=400000, epochs=4)
BATCH_SIZE = 32


def text_batches(vectorizer, texts, labels=None, shuffle_seed=None, batch_size=BATCH_SIZE):
    """Batches of `texts` (with `labels`) vectorized batch by batch, never the whole matrix at once:
    25,000 reviews x 100,000 features would be 10 GB of floats."""
    import tensorflow as tf

    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(texts).batch(batch_size).map(vectorizer)
    else:
        ds = tf.data.Dataset.from_tensor_slices((texts, labels))
        if shuffle_seed is not None:
            ds = ds.shuffle(len(texts), seed=shuffle_seed)
        ds = ds.batch(batch_size).map(lambda x, y: (vectorizer(x), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def nbsvm(texts, labels, seed, max_tokens=TEACHER["max_tokens"], ngrams=TEACHER["ngrams"]):
    """The NBSVM-style model, compiled, not fitted: binary 1- to `ngrams`-grams of `texts` (the
    `max_tokens` most frequent) scaled by their naive-Bayes log-count ratio under `labels` (add-one
    smoothing), and one sigmoid unit. Returns (model, batches), `batches(texts, labels=None,
    shuffle=False)` giving its sparse inputs."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    vectorizer = keras.layers.TextVectorization(output_mode="multi_hot", ngrams=ngrams,
                                                max_tokens=max_tokens, sparse=True)
    vectorizer.adapt(texts)

    def batches(texts, labels=None, shuffle=False):
        return text_batches(vectorizer, texts, labels, seed if shuffle else None)

    positive = np.ones(vectorizer.vocabulary_size())  # per feature: the positive texts holding it, plus one
    negative = np.ones(vectorizer.vocabulary_size())
    for x, y in batches(texts, np.asarray(labels, np.float64)):
        x = tf.cast(x, tf.float64)  # 0/1 counts, sparse
        in_positive = tf.sparse.sparse_dense_matmul(x, y[:, None], adjoint_a=True).numpy()[:, 0]
        positive += in_positive
        negative += tf.sparse.reduce_sum(x, axis=0).numpy() - in_positive
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum())).astype(np.float32)
    inputs = keras.Input((vectorizer.vocabulary_size(),), sparse=True)
    scaled = keras.layers.Lambda(lambda x: x * ratio)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(scaled))
    # No XLA on any device (Keras turns it on by itself on a GPU), like every model train.py fits.
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], jit_compile=False)
    return model, batches


def soft_labels(train, texts, seed):
    """Probabilities of the positive class for `texts`, from the teacher trained for `TEACHER["epochs"]`
    on the DataFrame `train` (text, label)."""
    from .callbacks import Interruptible

    train_texts, train_labels = train["text"].to_numpy(), train["label"].to_numpy(np.float32)
    model, batches = nbsvm(train_texts, train_labels, seed)
    model.fit(batches(train_texts, train_labels, shuffle=True), epochs=TEACHER["epochs"], verbose=0,
              callbacks=[Interruptible()])
    return model.predict(batches(np.asarray(texts, object)), verbose=0).reshape(-1)


def label_unlabelled(name, split, seed, imdb_train=None):
    """Fill `split["unlabelled"]`'s labels with the teacher's probabilities, the teacher trained on
    `split["train"]` and, when given, IMDB's labelled training reviews `imdb_train` (a DataFrame of
    text and label: `--teacher-reads-imdb`)."""
    import pandas as pd

    unlabelled = split["unlabelled"]
    what = "unlabelled reviews" if name == "imdb" else "sentences of IMDB's unlabelled reviews"
    reads = f"the {len(split['train'])} training texts"
    teacher_train = split["train"]
    if imdb_train is not None:
        reads += f" and IMDB's {len(imdb_train)} labelled training reviews"
        teacher_train = pd.concat([split["train"], imdb_train], ignore_index=True)
    log(f"{name}: an NBSVM-style bag of bigrams ({TEACHER['epochs']} epochs on {reads}) labels "
        f"{len(unlabelled)} {what}")
    unlabelled["label"] = soft_labels(teacher_train, unlabelled["text"], seed)
    log(f"{name}: {(unlabelled['label'] > 0.5).mean():.1%} of them positive, the probabilities become targets")
