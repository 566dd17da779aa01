"""SavedModels that take raw strings, written atomically (`rundir.atomic_path`), and their loader.

    export_classifier(classifier, vectorizer, "OUT/imdb/savedmodel")
    loaded = tf.saved_model.load("OUT/imdb/savedmodel")   # keep it alive: it owns the variables
    loaded.serve(tf.constant(["A wonderful film."]))      # (1, 1) float32, probability of positive
    loaded.labels()                                       # [b"negative", b"positive"]: the classes

    export_fill_mask(mlm, vectorizer, "OUT/mlm/savedmodel", top_k=10)
    mlm = tf.saved_model.load("OUT/mlm/savedmodel")
    mlm.fill_mask(tf.constant(["a [mask] movie"]))
    # {"tokens": (1, 10) string, "probabilities": (1, 10) float32}
    mlm.embed(tf.constant(["a fine movie"]))               # (1, dim) float32 of length 1; classifiers have it too

Neither needs this package to load: vectorization is inside the graph.
"""

import os

import keras
import tensorflow as tf

from .config import UserError
from .data import BINARY_LABELS
from .models import SequencePooling
from .rundir import atomic_path
from .text import FIRST_WORD_ID, MASK_ID

STRINGS = tf.TensorSpec([None], tf.string, name="texts")


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


def classify_by_length(classifier, token_ids, chunk_size=16):
    """`classifier(token_ids)` (`(batch, width)` float32, whatever the model's output width), run on the
    texts sorted by length in chunks cut to their longest text.

    A batch of raw reviews padded to `max_len` spends much of its attention on padding; sorted
    chunks skip it, and keep each chunk's attention matrices small. Results come back in the
    input order.
    """
    token_ids = tf.cast(token_ids, tf.int32)
    lengths = tf.reduce_sum(tf.cast(token_ids != 0, tf.int32), axis=1)
    order = tf.argsort(lengths)
    ids, lengths = tf.gather(token_ids, order), tf.gather(lengths, order)
    n_chunks = (tf.shape(ids)[0] + chunk_size - 1) // chunk_size
    width = classifier.output.shape[-1]

    def chunk(i, results):
        rows = slice(i * chunk_size, (i + 1) * chunk_size)
        longest = tf.maximum(tf.reduce_max(lengths[rows]), 1)
        return i + 1, results.write(i, tf.cast(classifier(ids[rows][:, :longest], training=False), tf.float32))

    _, results = tf.while_loop(lambda i, _: i < n_chunks, chunk, (0, tf.TensorArray(
        tf.float32, size=n_chunks, infer_shape=False, element_shape=[None, width])))
    return tf.scatter_nd(order[:, None], results.concat(), tf.stack([tf.shape(order)[0], width]))


def add_vocabulary_endpoint(archive, vocabulary):
    """A `vocabulary` endpoint (no input) returning the tokens by id, so a SavedModel tells its vocabulary."""
    tokens = tf.constant(vocabulary)
    archive.add_endpoint("vocabulary", tf.function(lambda: tokens, input_signature=[]))


def vocabulary_of(vectorizer):
    """The vectorizer's tokens by id as plain strings (read eagerly, outside any traced function)."""
    return [str(token) for token in vectorizer.get_vocabulary()]


def add_labels_endpoint(archive, label_names):
    """A `labels` endpoint (no input) returning the class names, index i naming class i, so that the
    SavedModel's probabilities can be read without this package."""
    names = tf.constant(list(label_names))
    archive.add_endpoint("labels", tf.function(lambda: names, input_signature=[]))


def export_classifier(classifier, vectorizer, path, label_names=BINARY_LABELS):
    """SavedModel at `path` whose `serve` endpoint maps raw texts `(batch,)` to probabilities: two classes,
    `(batch, 1)` P(label_names[1]); K classes, `(batch, K)` rows that sum to 1. `labels` returns
    `label_names`."""
    archive = keras.export.ExportArchive()
    archive.track(vectorizer)
    archive.track(classifier)
    add_embed_endpoint(archive, classifier_features(classifier), vectorizer)

    def serve(texts):
        return classify_by_length(classifier, vectorizer(texts))

    archive.add_endpoint("serve", serve, input_signature=[STRINGS])
    add_labels_endpoint(archive, label_names)
    add_vocabulary_endpoint(archive, vocabulary_of(vectorizer))
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)


def export_fill_mask(mlm, vectorizer, path, top_k, pooling="max"):
    """SavedModel at `path` with a `fill_mask` endpoint (see `fill_mask` for what it returns) and an `embed`
    endpoint: the pretrained encoder pooled with `pooling` (`Config.pooling`), see `embed`."""
    top_k = min(top_k, vectorizer.vocabulary_size() - FIRST_WORD_ID)
    archive = keras.export.ExportArchive()
    archive.track(vectorizer)
    archive.track(mlm)
    vocabulary = vocabulary_of(vectorizer)
    archive.add_endpoint("fill_mask", lambda texts: fill_mask(mlm, vectorizer, texts, top_k, vocabulary),
                         input_signature=[STRINGS])
    add_embed_endpoint(archive, pooled_encoder(mlm.encoder, pooling), vectorizer)
    add_vocabulary_endpoint(archive, vocabulary)
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)


def classifier_features(classifier):
    """Token ids to the vector that `classifier`'s head reads (the input of its `head_dropout` layer): the
    pooled encoder, and with `pool_embeddings` the pooled embeddings beside it. Shares the classifier's weights.

    >>> import numpy as np
    >>> from keras_bert_mlm.models import build_classifier, build_encoder
    >>> encoder = build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
    >>> features = classifier_features(build_classifier(encoder, pool_embeddings=True))
    >>> tuple(features(np.array([[5, 6, 0]], "int32")).shape)    # encoder's 8 + embeddings' 8
    (1, 16)
    """
    return keras.Model(classifier.input, classifier.get_layer("head_dropout").input, name="features")


def pooled_encoder(encoder, pooling):
    """Token ids to one vector per text: `encoder`'s token vectors pooled with `pooling` (max, mean or first)
    over the real tokens, as a classifier built on it pools them. Shares the encoder's weights."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    return keras.Model(token_ids, SequencePooling(pooling, name="pooling")(encoder(token_ids), token_ids),
                       name="pooled_encoder")


def embed(features, token_ids):
    """`features(token_ids)` L2-normalized, `(batch, dim)` float32, run by length as `classify_by_length` runs
    a classifier: the cosine similarity of two texts is the dot product of their vectors.

    A text without tokens (an empty string) gets the zero vector, whatever the pooling: it has nothing to
    pool, and its similarity to every text is then 0.
    """
    vectors = classify_by_length(features, token_ids)
    has_tokens = tf.reduce_any(tf.not_equal(token_ids, 0), axis=1, keepdims=True)
    return tf.math.l2_normalize(tf.where(has_tokens, vectors, 0.0), axis=1)  # zeros stay zeros


def add_embed_endpoint(archive, features, vectorizer):
    """An `embed` endpoint: raw texts `(batch,)` to `embed(features, ...)`'s unit vectors `(batch, dim)`."""
    archive.add_endpoint("embed", lambda texts: embed(features, vectorizer(texts)), input_signature=[STRINGS])


def load_savedmodel(path, endpoint, vocabulary=None):
    """`tf.saved_model.load(path)`, checked to have `endpoint` (and `vocabulary`, if given), else a one-line error.

    Keep the returned object alive while calling its endpoint: the endpoint alone does not hold
    the variables.
    """
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UserError(f"{path}: no SavedModel here (missing or half-written saved_model.pb)")
    loaded = tf.saved_model.load(path)
    if not hasattr(loaded, endpoint):
        raise UserError(f"{path}: SavedModel has no {endpoint!r} endpoint")
    # SavedModels exported before the `vocabulary` endpoint existed cannot be checked.
    if vocabulary is not None and hasattr(loaded, "vocabulary") and \
            [t.decode() for t in loaded.vocabulary().numpy()] != list(vocabulary):
        raise UserError(f"{path}: made with another vocabulary than this run's vocab.txt "
                        "(artifacts of two runs mixed?)")
    return loaded
