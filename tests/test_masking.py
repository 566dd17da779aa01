import numpy as np
import tensorflow as tf

from keras_bert_mlm import masking
from keras_bert_mlm.batching import make_batches, pack
from keras_bert_mlm.config import Config
from keras_bert_mlm.text import FIRST_WORD_ID, MASK_ID

VOCAB = 1000


def random_ids(n=400, max_len=128, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, max_len), np.int32)
    for row, length in zip(ids, rng.integers(10, max_len + 1, n)):
        row[:length] = rng.integers(FIRST_WORD_ID, VOCAB, length)
    return ids


def collect(ds, batches=-1):
    """The batches of `ds` as numpy tuples; `batches` of them from an endless (shuffled) stream."""
    return [tuple(t.numpy() for t in (x["token_ids"], x["mask_positions"], y, w)) for x, y, w in ds.take(batches)]


def test_bert_masking_statistics():
    ids = random_ids()
    cfg = Config(vocab_size=VOCAB, max_len=128, mlm_batch_size=50, bucket_by_length=False)
    batches = collect(masking.mlm_dataset(ids, cfg, shuffle=False))
    masked, positions, targets, weights = (np.concatenate(p) for p in zip(*batches))
    chosen = weights > 0
    assert positions.shape[1] == cfg.max_predictions
    # 15% of real tokens are chosen, and only real tokens.
    n_real = (ids != 0).sum()
    assert abs(chosen.sum() / n_real - 0.15) < 0.01
    rows = np.repeat(np.arange(len(ids))[:, None], positions.shape[1], 1)
    assert (ids[rows[chosen], positions[chosen]] != 0).all()
    assert (targets[chosen] == ids[rows[chosen], positions[chosen]]).all()
    # Of the chosen: 80% [mask], 10% a random word, 10% unchanged.
    now = masked[rows[chosen], positions[chosen]]
    to_mask, same = (now == MASK_ID).mean(), (now == targets[chosen]).mean()
    assert abs(to_mask - 0.8) < 0.03 and abs(same - 0.1 - 0.1 / VOCAB) < 0.02
    assert abs(1 - to_mask - same - 0.1) < 0.02 and (now >= FIRST_WORD_ID).sum() == (now != MASK_ID).sum()
    # Nothing else changes; padding stays padding.
    untouched = np.ones_like(ids, bool)
    untouched[rows[chosen], positions[chosen]] = False
    assert (masked[untouched] == ids[untouched]).all()


def test_masks_differ_between_epochs_but_are_seeded():
    ids = random_ids(64)
    cfg = Config(vocab_size=VOCAB, max_len=128, mlm_batch_size=64, bucket_by_length=False)
    ds = masking.mlm_dataset(ids, cfg, shuffle=True)
    first, second = collect(ds, 1)[0], collect(ds, 1)[0]
    assert not np.array_equal(first[0], second[0])
    again = collect(masking.mlm_dataset(ids, cfg, shuffle=True), 1)[0]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    val = masking.mlm_dataset(ids, cfg, shuffle=False)
    assert all(np.array_equal(a, b) for a, b in zip(collect(val)[0], collect(val)[0]))


def test_short_and_empty_sequences():
    ids = np.zeros((3, 20), np.int32)
    ids[0, :2] = [5, 6]
    masked, positions, targets, weights = (t.numpy() for t in masking.mask_tokens(
        ids, tf.constant([1, 2], tf.int64), vocab_size=VOCAB, max_predictions=4))
    assert weights.sum(1).tolist() == [1, 0, 0]  # at least one token of a non-empty text, none of an empty one
    assert (masked[1:] == 0).all()


def test_batches_by_length_keep_every_text_once_with_its_label():
    ids = random_ids(300, max_len=64)
    ids[7] = 0  # an empty text
    labels = np.arange(300)
    batches = list(make_batches(ids, 16, labels=labels, shuffle=True, seed=1))
    seen = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(seen) == list(range(300))
    for x, y in batches:
        x = x.numpy()
        assert x.shape[1] == max(1, (x != 0).sum(1).max())  # padded to its own longest text only
        for row, label in zip(x, y.numpy()):
            np.testing.assert_array_equal(row, ids[label][: len(row)])
    spans = [(x.numpy() != 0).sum(1) for x, _ in batches]
    assert np.mean([s.max() - s.min() for s in spans]) < 16  # lengths within a batch are close


def test_fixed_order_batches_are_sorted_by_length_and_split_evenly_across_replicas():
    ids = random_ids(45, max_len=64)
    batches = list(make_batches(ids, 16, labels=np.arange(45), shuffle=False))
    assert [len(y) for _, y in batches] == [16, 16, 13]
    assert sorted(np.concatenate([y.numpy() for _, y in batches])) == list(range(45))
    longest = [x.shape[1] for x, _ in batches]
    assert longest == sorted(longest) and longest[-1] == (ids != 0).sum(1).max()
    small = list(make_batches(ids[:7], 16, shuffle=False, replicas=2))
    assert [len(x) for x in small] == [6, 1]  # the first batch splits 3 + 3


def test_repeated_shuffled_batches_are_all_full():
    ds = make_batches(random_ids(45, max_len=64), 16, labels=np.arange(45), shuffle=True, repeat=True)
    assert all(len(y) == 16 for _, y in ds.take(20))


def test_bucketed_mlm_batches_mask_the_same_way():
    cfg = Config(vocab_size=VOCAB, max_len=128, mlm_batch_size=32)
    batches = collect(masking.mlm_dataset(random_ids(), cfg, shuffle=True), 13)  # one pass of 400 texts
    chosen = sum(w.sum() for *_, w in batches)
    real = sum((masked != 0).sum() for masked, *_ in batches)  # replacements are never padding
    assert abs(chosen / real - 0.15) < 0.01
    assert all(p.shape[1] <= min(cfg.max_predictions, ids.shape[1]) for ids, p, _, _ in batches)


def test_packed_blocks_hold_every_real_token_in_order_and_no_padding():
    ids = random_ids(60, max_len=64)
    blocks = pack(ids, 16)
    stream = ids[ids != 0]
    assert blocks.shape == (len(stream) // 16, 16) and (blocks != 0).all()
    assert (blocks.ravel() == stream[: blocks.size]).all()
    cfg = Config(vocab_size=VOCAB, max_len=64, mlm_batch_size=4, mlm_block_len=16)
    ds, steps_per_pass = masking.packed_dataset(ids, cfg)
    assert steps_per_pass == -(-len(blocks) // 16)  # 4 texts' worth of tokens: 16 blocks a step
    batches = collect(ds, 5)
    assert all(masked.shape == (16, 16) for masked, *_ in batches)
    # Masks are counted on the block: 15% of its 16 tokens, rounded, in 3 slots.
    assert all(p.shape[1] == 3 and (w.sum(axis=1) == 2).all() for _, p, _, w in batches)
