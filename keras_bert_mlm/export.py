"""SavedModels that take raw strings, written atomically, and the helpers that read them back.

    export_classifier(classifier, vectorizer, "OUT/imdb/savedmodel")
    loaded = tf.saved_model.load("OUT/imdb/savedmodel")   # keep it alive: it owns the variables
    loaded.serve(tf.constant(["A wonderful film."]))      # (1, 1) float32, probability of positive

    export_fill_mask(mlm, vectorizer, "OUT/mlm/savedmodel", top_k=10)
    mlm = tf.saved_model.load("OUT/mlm/savedmodel")
    mlm.fill_mask(tf.constant(["a [mask] movie"]))
    # {"tokens": (1, 10) string, "probabilities": (1, 10) float32}

Neither needs this package to load: vectorization is inside the graph.
"""

import contextlib
import os
import shutil
import uuid

import keras
import tensorflow as tf

from .config import UserError
from .text import FIRST_WORD_ID, MASK_ID

STRINGS = tf.TensorSpec([None], tf.string, name="texts")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success move it into place, replacing what was there.

    A crash or kill while writing leaves the previous `path` (or none) and a `.tmp-*` sibling, never
    a half-written `path`.
    """
    base, ext = os.path.splitext(path)  # keep the extension: `model.save` insists on `.keras`
    tmp = f"{base}.tmp-{uuid.uuid4().hex[:8]}{ext}"
    try:
        yield tmp
        if os.path.isdir(path) and not os.path.islink(path):
            old = f"{base}.old-{uuid.uuid4().hex[:8]}{ext}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        elif os.path.exists(tmp):
            os.remove(tmp)


def fill_mask(mlm, vectorizer, texts, top_k, vocabulary=None):
    """Top-k tokens and probabilities for the first `[mask]` of each text.

    `vocabulary` (`vectorizer.get_vocabulary()`, which must be read eagerly) maps ids to tokens.

    A text without `[mask]` (or whose `[mask]` lies beyond `max_len` tokens) gets empty-string
    tokens with probability 0. Padding, `[UNK]` and `[mask]` itself are never proposed.
    """
    token_ids = tf.cast(vectorizer(texts), tf.int32)
    is_mask = tf.equal(token_ids, MASK_ID)
    has_mask = tf.reduce_any(is_mask, axis=1)
    position = tf.argmax(tf.cast(is_mask, tf.int32), axis=1, output_type=tf.int32)
    logits = mlm({"token_ids": token_ids, "mask_positions": position[:, None]}, training=False)[:, 0]
    special = tf.range(tf.shape(logits)[-1]) < FIRST_WORD_ID
    probabilities = tf.nn.softmax(tf.where(special, tf.float32.min, tf.cast(logits, tf.float32)))
    probabilities, ids = tf.math.top_k(probabilities, k=top_k)
    tokens = tf.gather(tf.constant(vocabulary or vectorizer.get_vocabulary()), ids)
    return {
        "tokens": tf.where(has_mask[:, None], tokens, ""),
        "probabilities": tf.where(has_mask[:, None], probabilities, 0.0),
    }


def export_classifier(classifier, vectorizer, path):
    """SavedModel at `path` whose `serve` endpoint maps raw texts `(batch,)` to P(positive) `(batch, 1)`."""
    archive = keras.export.ExportArchive()
    archive.track(vectorizer)
    archive.track(classifier)

    def serve(texts):
        return tf.cast(classifier(tf.cast(vectorizer(texts), tf.int32), training=False), tf.float32)

    archive.add_endpoint("serve", serve, input_signature=[STRINGS])
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)


def export_fill_mask(mlm, vectorizer, path, top_k):
    """SavedModel at `path` with a `fill_mask` endpoint; see `fill_mask` for what it returns."""
    top_k = min(top_k, vectorizer.vocabulary_size() - FIRST_WORD_ID)
    archive = keras.export.ExportArchive()
    archive.track(vectorizer)
    archive.track(mlm)
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    archive.add_endpoint("fill_mask", lambda texts: fill_mask(mlm, vectorizer, texts, top_k, vocabulary),
                         input_signature=[STRINGS])
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)


def load_savedmodel(path, endpoint):
    """`tf.saved_model.load(path)`, checked to have `endpoint`, or a one-line error naming what is missing.

    Keep the returned object alive while calling its endpoint: the endpoint alone does not hold
    the variables.
    """
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UserError(f"{path}: no SavedModel here (missing or half-written saved_model.pb)")
    loaded = tf.saved_model.load(path)
    if not hasattr(loaded, endpoint):
        raise UserError(f"{path}: SavedModel has no {endpoint!r} endpoint")
    return loaded
