"""The masked language model that pretrains the encoder.

>>> import numpy as np
>>> from keras_bert_mlm.models import build_encoder
>>> mlm = MaskedLanguageModel(build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8,
...                                         num_layers=1))
>>> logits = mlm({"token_ids": np.array([[5, 2, 7]], "int32"), "mask_positions": np.array([[1]], "int32")})
>>> tuple(logits.shape)                                         # (batch, predictions, vocab)
(1, 1, 50)
"""

import keras
import tensorflow as tf
from keras import ops

from .layers import MaskedLMHead, register


def minimize(model, loss_and_counts, data):
    """One optimizer step of `model` on the loss that `loss_and_counts(data, training=True)` returns
    first; returns all it returns (the loss and the counts its metrics need)."""
    with tf.GradientTape() as tape:
        outputs = loss_and_counts(data, training=True)
        # Under tf.distribute the optimizer sums the replicas' gradients: average them instead.
        replica_loss = outputs[0] / tf.distribute.get_strategy().num_replicas_in_sync
    model.optimizer.apply(tape.gradient(replica_loss, model.trainable_variables), model.trainable_variables)
    return outputs


@register
class MaskedLanguageModel(keras.Model):
    """Encoder + `MaskedLMHead`, trained with a loss over the chosen positions only.

    Inputs `{"token_ids": (batch, length), "mask_positions": (batch, predictions)}`; output logits
    `(batch, predictions, vocab)`. With `tie_embeddings`, the head projects onto the encoder's token
    embedding table (BERT's tied embeddings: one table fewer to learn, and every step's softmax trains
    the input vectors of all words). Batches are `(inputs, targets, weights)` as `masking.mlm_dataset`
    makes them. Metrics: `loss` (per chosen token) and `masked_accuracy`.

        mlm = MaskedLanguageModel(build_encoder(**cfg.encoder_settings()))
        mlm.compile(optimizer="adam")
        mlm.fit(masking.mlm_dataset(ids, cfg, shuffle=True), steps_per_epoch=100)
    """

    def __init__(self, encoder, tie_embeddings=False, **kwargs):
        # === Layers ===
        embeddings = encoder.get_layer("embeddings")
        tied_to = embeddings.token_embedding if tie_embeddings else None
        head = MaskedLMHead(embeddings.vocab_size, tied_to=tied_to, name="mlm_head")

        # === Functional Model ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        positions = keras.Input((None,), dtype="int32", name="mask_positions")
        logits = head(encoder(token_ids), positions)
        super().__init__(inputs={"token_ids": token_ids, "mask_positions": positions}, outputs=logits, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.tie_embeddings = tie_embeddings
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
        # The fused head loss never materializes the (predictions, vocab) logits (losses.py).
        inputs, targets, weights = data
        vectors = self.encoder(inputs["token_ids"], training=training)
        head = self.get_layer("mlm_head")
        return head.loss_and_hits(vectors, inputs["mask_positions"], targets, weights)

    def train_step(self, data):
        return self._update_metrics(*minimize(self, self._loss_and_hits, data), data[2])

    def test_step(self, data):
        return self._update_metrics(*self._loss_and_hits(data, training=False), data[2])

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "tie_embeddings": self.tie_embeddings,
                "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
