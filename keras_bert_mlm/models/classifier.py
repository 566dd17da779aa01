"""The classifier: a copy of the pretrained encoder, pooled over real tokens, and a head: one sigmoid unit
(P(positive)) for two classes, a softmax over K classes otherwise.

>>> import numpy as np
>>> from keras_bert_mlm.models import build_encoder
>>> encoder = build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
>>> classifier = build_classifier(encoder, pooling="mean")
>>> tuple(classifier(np.array([[5, 6, 0]], "int32")).shape)    # P(positive) per text
(1, 1)
>>> tuple(build_classifier(encoder, num_classes=3)(np.array([[5, 6, 0]], "int32")).shape)    # P(class)
(1, 3)
"""

import keras
from keras import layers, ops

from .layers import SequencePooling, register


@register
def accuracy(y_true, y_pred):
    """Binary accuracy with the targets rounded at 0.5: on soft targets (a teacher's probabilities, see
    `--distill-unlabelled`) it is agreement with the teacher's decisions; on 0/1 labels, plain accuracy."""
    return keras.metrics.binary_accuracy(ops.cast(ops.greater(y_true, 0.5), y_pred.dtype), y_pred)


def build_classifier(encoder, pooling="max", head_dropout=0.0, head_hidden=64, pool_embeddings=False,
                     num_classes=2):
    """encoder -> `pooling` over real tokens -> dropout -> [ReLU layer of `head_hidden`] -> sigmoid unit
    (`num_classes` 2: P(class 1), as binary tasks have always shipped) or softmax over `num_classes`.

    The classifier shares `encoder`'s layers (and weights): pass a `copy_encoder` to keep the original.
    With `pool_embeddings` the embedding layer's output (token, position and word-pair vectors, before
    the first block) is pooled too and put beside the encoder's: the head then also sees the plain bag
    of words and word pairs, which a two-layer encoder trained for minutes blurs.
    `Config.classifier_settings()` gives the keyword arguments for a run's settings.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    pool = SequencePooling(pooling, name="pooling")
    if pool_embeddings:
        # The same layers and weights as `encoder`, with a second output: the embeddings.
        taps = keras.Model(encoder.input, [encoder.output, encoder.get_layer("embeddings").output],
                           name="encoder_and_embeddings")
        vectors, embedded = taps(token_ids)
        x = layers.Concatenate(name="pooled")([pool(vectors, token_ids), pool(embedded, token_ids)])
    else:
        x = pool(encoder(token_ids), token_ids)
    x = layers.Dropout(head_dropout, name="head_dropout")(x)
    if head_hidden:
        x = layers.Dense(head_hidden, activation="relu", name="head_hidden")(x)
    return keras.Model(token_ids, output_head(num_classes)(x), name="classifier")


def output_head(num_classes):
    """The layer that makes a classifier's probabilities, named `head`: one sigmoid unit, P(class 1), for two
    classes (as binary tasks have always shipped), a softmax over `num_classes` otherwise; float32 either way."""
    if num_classes == 2:
        return layers.Dense(1, activation="sigmoid", dtype="float32", name="head")
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="head")


def training_setup(num_classes):
    """The loss and accuracy metric that `compile` takes for a classifier of `num_classes`: binary
    cross-entropy (on 0/1 labels or a teacher's probabilities) for two, sparse categorical otherwise. The
    metric is named accuracy either way: early stopping and the history files read `val_accuracy`. It is a
    metric object, not a function, so that `fit` need not create its variables while tracing the first step
    (which makes tf.function trace that step twice)."""
    if num_classes == 2:
        return {"loss": "binary_crossentropy",
                "metrics": [keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")]}
    return {"loss": "sparse_categorical_crossentropy",
            "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}
