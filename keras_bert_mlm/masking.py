"""BERT's masking rule as TensorFlow ops, for use inside a `tf.data` pipeline.

    ds = mlm_dataset(token_ids, cfg, shuffle=True)   # ((token_ids, mask_positions), targets, weights)
    ds, steps_per_pass = packed_dataset(token_ids, cfg)   # the same, on blocks of cfg.mlm_block_len tokens

Per sequence, round(15%) of the real (non-padding) tokens are chosen; of those, 80% become `[mask]`,
10% a random word and 10% stay unchanged. The model predicts the original token at the chosen
positions only. Masks come from stateless random ops seeded by `tf.data.Dataset.random`, which
draws new seeds each epoch: masks differ between epochs, yet a seed fixes them all.
"""

import dataclasses

import tensorflow as tf

from .batching import make_batches, pack
from .text import FIRST_WORD_ID, MASK_ID, PAD_ID


def mask_tokens(token_ids, seed, *, vocab_size, max_predictions, mask_rate=0.15):
    """Mask a batch of token ids.

    Args:
        token_ids: int tensor `(batch, length)`, 0 = padding.
        seed: int64 tensor `(2,)` for the stateless random ops.
        max_predictions: at most this many chosen positions per sequence (fewer when the batch is
            shorter); a sequence with fewer chosen tokens fills its slots with weight 0.

    Returns:
        `(masked_ids, positions, targets, weights)`: the corrupted input `(batch, length)`, and for
        each of `min(max_predictions, length)` slots its position, original token and weight
        (1.0 = chosen).
    """
    token_ids = tf.cast(token_ids, tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    real = token_ids != PAD_ID
    length = tf.shape(token_ids)[1]
    k = tf.minimum(max_predictions, length)
    n_real = tf.reduce_sum(tf.cast(real, tf.float32), axis=1)
    n_chosen = tf.minimum(tf.cast(tf.round(n_real * mask_rate), tf.int32), k)
    n_chosen = tf.where(n_real > 0, tf.maximum(n_chosen, 1), 0)

    # A random order of the real tokens: the first n_chosen of it are the chosen positions.
    scores = tf.random.stateless_uniform(tf.shape(token_ids), seeds[0])
    scores = tf.where(real, scores, -1.0)
    _, positions = tf.math.top_k(scores, k=k)
    weights = tf.sequence_mask(n_chosen, k, dtype=tf.float32)
    targets = tf.gather(token_ids, positions, batch_dims=1)

    action = tf.random.stateless_uniform(tf.shape(positions), seeds[1])
    random_words = tf.random.stateless_uniform(
        tf.shape(positions), seeds[2], minval=FIRST_WORD_ID, maxval=vocab_size, dtype=tf.int32)
    replacement = tf.where(action < 0.8, MASK_ID, tf.where(action < 0.9, random_words, targets))
    replacement = tf.where(weights > 0, replacement, targets)  # unchosen slots write back the original

    batch_index = tf.broadcast_to(tf.range(tf.shape(positions)[0])[:, None], tf.shape(positions))
    masked = tf.tensor_scatter_nd_update(token_ids, tf.stack([batch_index, positions], -1), replacement)
    return masked, positions, targets, weights


def blocks_per_batch(cfg):
    """Packed blocks in a batch: `mlm_batch_size` whole texts' worth of token slots (`max_len` each)."""
    return cfg.mlm_batch_size * max(1, cfg.max_len // cfg.mlm_block_len)


def packed_dataset(token_ids, cfg):
    """`mlm_dataset`'s endless shuffled stream, of `cfg.mlm_block_len`-token blocks cut from the texts laid end
    to end (`batching.pack`), `mlm_batch_size * max_len // mlm_block_len` blocks a batch so that a step holds
    as many tokens as a batch of whole texts at most does; returns `(dataset, steps per pass)`."""
    blocks, per_batch = pack(token_ids, cfg.mlm_block_len), blocks_per_batch(cfg)
    # max_len: the masks' slots are counted on the block (`Config.max_predictions`).
    packed = dataclasses.replace(cfg, mlm_batch_size=per_batch, bucket_by_length=False, max_len=cfg.mlm_block_len)
    return mlm_dataset(blocks, packed, shuffle=True), max(1, -(-len(blocks) // per_batch))


def mlm_dataset(token_ids, cfg, shuffle, seed=None, replicas=1):
    """A `tf.data` pipeline of MLM batches from a 2-D int array of token ids: with `shuffle`, an endless
    stream of full batches masked afresh every time; without, one pass with fixed masks."""
    seed = cfg.seed if seed is None else seed
    ds = make_batches(token_ids, cfg.mlm_batch_size, shuffle=shuffle, seed=seed, by_length=cfg.bucket_by_length,
                      repeat=shuffle, replicas=replicas)
    # A validation set keeps the same masks every epoch so its figures are comparable.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=shuffle).batch(2)
    masking = dict(vocab_size=cfg.vocab_size, max_predictions=cfg.max_predictions, mask_rate=cfg.mask_rate)

    def to_example(ids, seed_pair):
        masked, positions, targets, weights = mask_tokens(ids, seed_pair, **masking)
        return {"token_ids": masked, "mask_positions": positions}, targets, weights

    return tf.data.Dataset.zip(ds, seeds).map(to_example, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
