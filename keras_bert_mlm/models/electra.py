"""Replaced-token detection (ELECTRA, Clark et al. 2020): the other way to pretrain the encoder.

A small generator, a masked language model on the encoder's own token embeddings, fills the
chosen positions with words sampled from its predictions; the encoder (the discriminator, which
fine-tuning reuses) then learns, at every real token, whether it is the original or a replacement.
A loss at every token instead of at the ~15% chosen ones is what makes it learn more per step.

>>> import numpy as np
>>> from keras_bert_mlm.models import build_encoder
>>> encoder = build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
>>> rtd = ReplacedTokenDetector(encoder, generator_width=4, generator_ff_dim=4)
>>> logits = rtd({"token_ids": np.array([[5, 2, 7]], "int32"), "mask_positions": np.array([[1]], "int32")})
>>> tuple(logits.shape)                                         # the generator's (batch, predictions, vocab)
(1, 1, 50)
"""

import keras
import tensorflow as tf
from keras import layers, ops

from ..text import PAD_ID
from .encoder import build_generator
from .layers import MaskedLMHead, register
from .masked_lm import minimize


def replace_tokens(token_ids, positions, targets, samples):
    """The original text and the corrupted one, `(batch, length)` each: `token_ids` (the masked input)
    with `targets` or with `samples` written at `positions` (all `(batch, predictions)`).

    >>> import numpy as np
    >>> original, corrupted = replace_tokens(np.array([[5, 2, 7, 2]]), np.array([[1, 3]]),
    ...                                      np.array([[6, 8]]), np.array([[9, 8]]))
    >>> original.numpy().tolist(), corrupted.numpy().tolist()
    ([[5, 6, 7, 8]], [[5, 9, 7, 8]])
    """
    token_ids, positions = ops.cast(token_ids, "int32"), ops.cast(positions, "int32")
    batch_index = ops.broadcast_to(ops.arange(ops.shape(positions)[0])[:, None], ops.shape(positions))
    index = ops.stack([batch_index, positions], axis=-1)
    original = tf.tensor_scatter_nd_update(token_ids, index, ops.cast(targets, "int32"))
    return original, tf.tensor_scatter_nd_update(token_ids, index, ops.cast(samples, "int32"))


@register
class ReplacedTokenDetector(keras.Model):
    """The encoder as ELECTRA's discriminator, with a generator that shares its token embeddings.

    Batches are `masking.mlm_dataset`'s, as for `MaskedLanguageModel`: `(inputs, targets, weights)`.
    A step: the generator predicts the chosen positions of the masked input (its masked-LM loss);
    a word sampled from each prediction replaces the original token; the encoder and a one-unit
    head score every real token as replaced or not (binary cross-entropy, times
    `discriminator_weight`; a sample that happens to be the original word counts as original).
    Calling the model gives the generator's logits at `mask_positions`, like `MaskedLanguageModel`,
    so the fill-mask export works unchanged. Metrics: `loss` (the sum), `masked_accuracy` (the
    generator's) and `replaced_accuracy` (the encoder's, over all real tokens).

        rtd = ReplacedTokenDetector(build_encoder(**cfg.encoder_settings()), **cfg.generator_settings())
        rtd.compile(optimizer="adam")
        rtd.fit(masking.mlm_dataset(ids, cfg, shuffle=True), steps_per_epoch=100)
        rtd.encoder  # what fine-tuning starts from
    """

    def __init__(self, encoder, generator_width, generator_ff_dim, generator_heads=None, generator_layers=None,
                 discriminator_weight=50.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        blocks = [layer for layer in encoder.layers if isinstance(layer, layers.MultiHeadAttention)]
        self.generator_width, self.generator_ff_dim = generator_width, generator_ff_dim
        self.generator_heads = generator_heads or blocks[0].num_heads
        self.generator_layers = generator_layers or len(blocks)
        self.discriminator_weight, self.seed = discriminator_weight, seed
        # === Layers ===
        self.encoder = encoder
        embeddings = encoder.get_layer("embeddings")
        dropout = encoder.get_layer("block0_attention_dropout").rate
        self.generator = build_generator(embeddings, generator_width, self.generator_heads, generator_ff_dim,
                                         self.generator_layers, dropout)
        self.generator_head = MaskedLMHead(embeddings.vocab_size, name="mlm_head")
        self.discriminator_head = layers.Dense(1, name="discriminator_head")
        self.generator_head.build((None, None, generator_width))
        self.discriminator_head.build((None, None, embeddings.embed_dim))
        self.built = True  # every layer has its weights now: saving and export need no call first
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.masked_tracker = keras.metrics.Mean(name="masked_accuracy")
        self.replaced_tracker = keras.metrics.Mean(name="replaced_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.masked_tracker, self.replaced_tracker]

    def call(self, inputs, training=False):
        return self.generator_head(self.generator(inputs["token_ids"], training=training), inputs["mask_positions"])

    def _loss_and_counts(self, data, training):
        inputs, targets, weights = data
        token_ids, positions = inputs["token_ids"], inputs["mask_positions"]
        weights = ops.cast(weights, "float32")

        # Generator: masked-LM loss at the chosen positions, and one word drawn from each prediction
        # (the target in unchosen slots, weight 0, which write back their original token).
        vectors = self.generator(token_ids, training=training)
        seed = ops.cast(self.seed_generator.next(), "int32")
        generator_loss, hits, sampled = self.generator_head.loss_and_hits(vectors, positions, targets, weights, seed)
        original, corrupted = replace_tokens(token_ids, positions, targets, sampled)

        # Discriminator: at every real token, replaced or not.
        real = ops.cast(ops.not_equal(original, PAD_ID), "float32")
        replaced = ops.cast(ops.not_equal(corrupted, original), "float32")
        scores = ops.squeeze(self.discriminator_head(self.encoder(corrupted, training=training)), -1)
        scores = ops.cast(scores, "float32")
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=replaced, logits=scores)
        n_real = ops.maximum(ops.sum(real), 1.0)
        discriminator_loss = ops.sum(bce * real) / n_real
        right = ops.cast(ops.equal(ops.cast(scores > 0, "float32"), replaced), "float32")
        loss = generator_loss + self.discriminator_weight * discriminator_loss
        return loss, hits, ops.sum(right * real), n_real

    def _update_metrics(self, loss, hits, right, n_real, weights):
        count = ops.sum(ops.cast(weights, "float32"))
        self.loss_tracker.update_state(loss)
        self.masked_tracker.update_state(hits / ops.maximum(count, 1.0), sample_weight=count)
        self.replaced_tracker.update_state(right / n_real, sample_weight=n_real)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        return self._update_metrics(*minimize(self, self._loss_and_counts, data), data[2])

    def test_step(self, data):
        return self._update_metrics(*self._loss_and_counts(data, training=False), data[2])

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "generator_width": self.generator_width, "generator_ff_dim": self.generator_ff_dim,
                "generator_heads": self.generator_heads, "generator_layers": self.generator_layers,
                "discriminator_weight": self.discriminator_weight, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
