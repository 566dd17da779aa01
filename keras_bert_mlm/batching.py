"""Batches of token ids, grouped by length so that little compute goes to padding.

    ds = make_batches(ids, batch_size=32, labels=y, shuffle=True, seed=0, repeat=True)  # ((batch, length), labels)

`ids` is a 2-D array padded with 0 at the end (as `TextVectorization` returns it). With
`by_length` (the default) each batch is padded only to its own longest text: shuffled texts are
grouped into length buckets, so batches stay random in content but uniform in length; texts in a
fixed order (validation) are sorted by length and cut into consecutive batches. A batch of empty
texts keeps length 1. Without it, every batch keeps the full width of `ids`.

With `repeat`, the shuffled stream never ends and every batch is full: under `tf.distribute`
each replica then gets the same share. `replicas` makes the first batch of a fixed-order set
split evenly too (Keras reduces that batch across replicas to build the model's metrics).
"""

import numpy as np
import tensorflow as tf


def make_batches(ids, batch_size, labels=None, shuffle=False, seed=0, by_length=True, buckets=8, repeat=False,
                 replicas=1):
    ids = np.asarray(ids, np.int32)
    max_len = ids.shape[1]
    lengths = np.maximum((ids != 0).sum(axis=1), 1) if by_length else np.full(len(ids), max_len)
    extra = np.zeros(len(ids), np.int32) if labels is None else np.asarray(labels)
    if shuffle:
        ds = tf.data.Dataset.from_tensor_slices((ids, lengths, extra))
        ds = ds.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.map(lambda x, length, y: (x[:length], y))
        if by_length:
            boundaries = sorted({max(2, max_len * i // buckets + 1) for i in range(1, buckets)})
            ds = ds.bucket_by_sequence_length(
                element_length_func=lambda x, y: tf.shape(x)[0], bucket_boundaries=boundaries,
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
        else:
            ds = ds.batch(batch_size)
    else:
        order = np.argsort(lengths, kind="stable")
        ds = tf.data.Dataset.from_tensor_slices((ids[order], lengths[order], extra[order]))
        if len(ids) < batch_size and len(ids) >= replicas:
            batch_size = len(ids) - len(ids) % replicas
        ds = ds.batch(batch_size).map(lambda x, length, y: (x[:, :tf.reduce_max(length)], y))
    return ds.map(lambda x, y: x) if labels is None else ds


def pack(ids, block_len):
    """Blocks of `block_len` ids cut from the real tokens of `ids`' rows laid end to end, as a 2-D array:
    no padding anywhere, and the last, partial block is dropped. Texts are not separated (RoBERTa's
    FULL-SENTENCES packing without its separator token): a block may end one text and begin the next.

    >>> pack(np.array([[5, 6, 0], [7, 8, 9], [4, 3, 0]]), 2).tolist()   # 7 tokens: 3 blocks, the last token dropped
    [[5, 6], [7, 8], [9, 4]]
    """
    stream = np.asarray(ids, np.int32)
    stream = stream[stream != 0]  # row by row: text after text
    blocks = len(stream) // block_len
    return stream[: blocks * block_len].reshape(blocks, block_len)
