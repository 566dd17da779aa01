"""The encoder, the masked language model that pretrains it, and the sentiment classifier on top.

    encoder = build_encoder(cfg)                     # token ids (batch, length) -> vectors (batch, length, width)
    mlm = MaskedLanguageModel(encoder)               # + logits over the vocabulary at the chosen positions
    mlm.compile(optimizer="adam"); mlm.fit(masking.mlm_dataset(ids, cfg, shuffle=True))
    clf = build_classifier(encoder, cfg)             # the same encoder layers, pooled, + a sigmoid head

Id 0 is padding: attention never looks at it and pooling ignores it.
"""

import keras
import tensorflow as tf
from keras import layers, ops

from .losses import fused_projection_loss
from .text import PAD_ID

register = keras.saving.register_keras_serializable(package="keras_bert_mlm")


@register
class TokenAndPositionEmbedding(layers.Layer):
    """Sum of a token embedding and a learned position embedding, and with `bigram_buckets` > 0 a
    hashed embedding of each (previous token, token) pair, as fastText adds n-grams: the encoder
    sees word pairs ("not good") from its first layer. It is computed from the ids it is given, so
    a masked token's pairs hold `[mask]`, never the hidden word. Starts at zero."""

    def __init__(self, vocab_size, max_len, embed_dim, bigram_buckets=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.embed_dim = vocab_size, max_len, embed_dim
        self.bigram_buckets = bigram_buckets
        self.token_embedding = layers.Embedding(vocab_size, embed_dim, name="token_embedding")
        self.position_embedding = layers.Embedding(max_len, embed_dim, name="position_embedding")
        if bigram_buckets:
            self.bigram_embedding = layers.Embedding(bigram_buckets, embed_dim, embeddings_initializer="zeros",
                                                     name="bigram_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build(input_shape)
        if self.bigram_buckets:
            self.bigram_embedding.build(input_shape)

    def bigram_ids(self, token_ids):
        previous = ops.pad(token_ids[:, :-1], [[0, 0], [1, 0]])
        return (previous * 30011 + token_ids) % self.bigram_buckets  # < 2**31 for vocabularies below 70,000

    def call(self, token_ids):
        positions = ops.arange(ops.shape(token_ids)[1])
        x = self.token_embedding(token_ids) + self.position_embedding(positions)[None]
        if self.bigram_buckets:
            x = x + self.bigram_embedding(self.bigram_ids(token_ids))
        return x

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "embed_dim": self.embed_dim, "bigram_buckets": self.bigram_buckets}


@register
class PaddingMask(layers.Layer):
    """Attention mask `(batch, 1, length)`: True where the key is a real token."""

    def call(self, token_ids):
        return ops.expand_dims(ops.not_equal(token_ids, PAD_ID), 1)


@register
class SequencePooling(layers.Layer):
    """One vector per text from the token vectors of its real tokens: `max`, `mean` or `first`."""

    def __init__(self, mode="max", **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, vectors, token_ids):
        if self.mode == "first":
            return vectors[:, 0]
        real = ops.expand_dims(ops.cast(ops.not_equal(token_ids, PAD_ID), vectors.dtype), -1)
        if self.mode == "mean":
            return ops.sum(vectors * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
        pooled = ops.max(ops.where(real > 0, vectors, ops.cast(-1e4, vectors.dtype)), axis=1)
        return ops.where(ops.sum(real, axis=1) > 0, pooled, 0.0)  # an empty text pools to zeros

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@register
class MaskedLMHead(layers.Layer):
    """Vocabulary logits at the given positions only: gather first, then project.

    Scoring only the ~15% chosen positions skips ~85% of the vocabulary projection, which is
    almost all of the compute of a small BERT with a large vocabulary.
    """

    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.projection = layers.Dense(vocab_size, name="projection")

    def build(self, vectors_shape, positions_shape=None):
        self.projection.build(vectors_shape)

    def call(self, vectors, positions):
        return self.projection(self.gather(vectors, positions))

    def gather(self, vectors, positions):
        return ops.take_along_axis(vectors, ops.expand_dims(positions, -1), axis=1)

    def loss_and_hits(self, vectors, positions, targets, weights):
        """The same as `losses.masked_loss_and_hits` on `call`'s logits, without holding them all."""
        kernel, bias = (ops.cast(v, "float32") for v in (self.projection.kernel, self.projection.bias))
        return fused_projection_loss(self.gather(vectors, positions), kernel, bias, targets, weights)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


def build_encoder(cfg):
    """The functional BERT encoder: embeddings, then `num_layers` post-LayerNorm transformer blocks."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(cfg.vocab_size, cfg.max_len, cfg.embed_dim, cfg.bigram_buckets,
                                  name="embeddings")(token_ids)
    mask = PaddingMask(name="padding_mask")(token_ids)
    for i in range(cfg.num_layers):
        attention = layers.MultiHeadAttention(
            cfg.num_heads, cfg.embed_dim // cfg.num_heads, name=f"block{i}_attention")(x, x, attention_mask=mask)
        attention = layers.Dropout(cfg.dropout, name=f"block{i}_attention_dropout")(attention)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(layers.Add()([x, attention]))
        ff = layers.Dense(cfg.ff_dim, activation="relu", name=f"block{i}_ff_in")(x)
        ff = layers.Dense(cfg.embed_dim, name=f"block{i}_ff_out")(ff)
        ff = layers.Dropout(cfg.dropout, name=f"block{i}_ff_dropout")(ff)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ff_norm")(layers.Add()([x, ff]))
    return keras.Model(token_ids, x, name="encoder")


@register
class MaskedLanguageModel(keras.Model):
    """Encoder + `MaskedLMHead`, trained with a loss over the chosen positions only.

    Inputs `{"token_ids": (batch, length), "mask_positions": (batch, predictions)}`; output logits
    `(batch, predictions, vocab)`. Batches are `(inputs, targets, weights)` as `masking.mlm_dataset`
    makes them. Metrics: `loss` (per chosen token) and `masked_accuracy`.
    """

    def __init__(self, encoder, **kwargs):
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        positions = keras.Input((None,), dtype="int32", name="mask_positions")
        vocab_size = encoder.get_layer("embeddings").vocab_size
        logits = MaskedLMHead(vocab_size, name="mlm_head")(encoder(token_ids), positions)
        super().__init__(inputs={"token_ids": token_ids, "mask_positions": positions}, outputs=logits, **kwargs)
        self.encoder = encoder
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="masked_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def _update_metrics(self, loss, hits, weights):
        count = ops.sum(ops.cast(weights, "float32"))
        self.loss_tracker.update_state(loss, sample_weight=count)
        self.accuracy_tracker.update_state(hits / ops.maximum(count, 1.0), sample_weight=count)
        return {m.name: m.result() for m in self.metrics}

    def _loss_and_hits(self, data, training):
        inputs, targets, weights = data
        vectors = self.encoder(inputs["token_ids"], training=training)
        head = self.get_layer("mlm_head")
        return head.loss_and_hits(vectors, inputs["mask_positions"], targets, weights)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, hits = self._loss_and_hits(data, training=True)
            # Under tf.distribute the optimizer sums the replicas' gradients: average them instead.
            replica_loss = loss / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(replica_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(loss, hits, data[2])

    def test_step(self, data):
        return self._update_metrics(*self._loss_and_hits(data, training=False), data[2])

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def copy_encoder(encoder):
    """A new encoder with the same architecture and (copied) weights."""
    clone = keras.models.clone_model(encoder)
    clone.set_weights(encoder.get_weights())
    return clone


@register
def accuracy(y_true, y_pred):
    """Binary accuracy with the targets rounded at 0.5: on soft targets (a teacher's probabilities, see
    `--distill-unlabelled`) it is agreement with the teacher's decisions; on 0/1 labels, plain accuracy."""
    return keras.metrics.binary_accuracy(ops.cast(ops.greater(y_true, 0.5), y_pred.dtype), y_pred)


def build_classifier(encoder, cfg):
    """encoder -> pooling over real tokens -> dropout -> [ReLU layer] -> sigmoid probability of positive.

    With `cfg.pool_embeddings` the embedding layer's output (token, position and word-pair vectors,
    before the first block) is pooled too and put beside the encoder's: the head then also sees the
    plain bag of words and word pairs, which a two-layer encoder trained for minutes blurs."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    pooling = SequencePooling(cfg.pooling, name="pooling")
    if cfg.pool_embeddings:
        # The same layers and weights as `encoder`, with a second output: the embeddings.
        taps = keras.Model(encoder.input, [encoder.output, encoder.get_layer("embeddings").output],
                           name="encoder_and_embeddings")
        vectors, embedded = taps(token_ids)
        x = layers.Concatenate(name="pooled")([pooling(vectors, token_ids), pooling(embedded, token_ids)])
    else:
        x = pooling(encoder(token_ids), token_ids)
    x = layers.Dropout(cfg.head_dropout, name="head_dropout")(x)
    if cfg.head_hidden:
        x = layers.Dense(cfg.head_hidden, activation="relu", name="head_hidden")(x)
    probability = layers.Dense(1, activation="sigmoid", dtype="float32", name="head")(x)
    return keras.Model(token_ids, probability, name="classifier")
