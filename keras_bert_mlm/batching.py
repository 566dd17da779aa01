"""Batches of token ids, grouped by length so that little compute goes to padding.

    ds = make_batches(ids, batch_size=32, labels=y, shuffle=True, seed=0)   # ((batch, length), labels)

`ids` is a 2-D array padded with 0 at the end (as `TextVectorization` returns it). With
`by_length` (the default) each batch is padded only to its own longest text: texts are grouped
into length buckets after shuffling, so batches stay random in content but uniform in length.
A batch of empty texts keeps length 1. Without it, every batch keeps the full width of `ids`.
"""

import numpy as np
import tensorflow as tf


def make_batches(ids, batch_size, labels=None, shuffle=False, seed=0, by_length=True, buckets=8):
    ids = np.asarray(ids, np.int32)
    max_len = ids.shape[1]
    lengths = np.maximum((ids != 0).sum(axis=1), 1) if by_length else np.full(len(ids), max_len)
    extra = np.zeros(len(ids), np.int32) if labels is None else np.asarray(labels)
    ds = tf.data.Dataset.from_tensor_slices((ids, lengths, extra))
    if shuffle:
        ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda x, length, y: (x[:length], y))
    if by_length:
        boundaries = sorted({max(2, max_len * i // buckets + 1) for i in range(1, buckets)})
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda x, y: tf.shape(x)[0], bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
    else:
        ds = ds.batch(batch_size)
    if not shuffle:  # a fixed order gives a fixed number of batches: tell Keras, for its progress bar
        ds = ds.apply(tf.data.experimental.assert_cardinality(int(ds.reduce(0, lambda n, _: n + 1))))
    return ds.map(lambda x, y: x) if labels is None else ds
