"""The BERT encoder that pretraining trains and every classifier starts from.

>>> import numpy as np
>>> encoder = build_encoder(vocab_size=100, max_len=16, embed_dim=8, num_heads=2, ff_dim=16, num_layers=1)
>>> tuple(encoder(np.array([[5, 6, 7, 0]], "int32")).shape)     # (batch, length, embed_dim)
(1, 4, 8)
"""

import keras
from keras import layers

from .layers import PaddingMask, TokenAndPositionEmbedding


def build_encoder(vocab_size, max_len, embed_dim, num_heads, ff_dim, num_layers, bigram_buckets=0, dropout=0.1):
    """A functional `keras.Model` named "encoder": token ids `(batch, length)`, 0 = padding, to one
    vector per token `(batch, length, embed_dim)`. Embeddings (see `TokenAndPositionEmbedding`), then
    `num_layers` post-LayerNorm transformer blocks: self-attention over the real tokens, then a ReLU
    feed-forward block of width `ff_dim`, each followed by dropout, a residual sum and LayerNorm.

    `Config.encoder_settings()` gives these arguments for a run's settings.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(vocab_size, max_len, embed_dim, bigram_buckets, name="embeddings")(token_ids)
    mask = PaddingMask(name="padding_mask")(token_ids)
    # Each layer is created where it is first called: the order of creation fixes each layer's seed,
    # so reordering it changes every figure a seed reproduces.
    for i in range(num_layers):
        attention = layers.MultiHeadAttention(
            num_heads, embed_dim // num_heads, name=f"block{i}_attention")(x, x, attention_mask=mask)
        attention = layers.Dropout(dropout, name=f"block{i}_attention_dropout")(attention)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(layers.Add()([x, attention]))
        ff = layers.Dense(ff_dim, activation="relu", name=f"block{i}_ff_in")(x)
        ff = layers.Dense(embed_dim, name=f"block{i}_ff_out")(ff)
        ff = layers.Dropout(dropout, name=f"block{i}_ff_dropout")(ff)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ff_norm")(layers.Add()([x, ff]))
    return keras.Model(token_ids, x, name="encoder")


def copy_encoder(encoder):
    """A new encoder with the same architecture and (copied) weights: each classifier trains its own."""
    clone = keras.models.clone_model(encoder)
    clone.set_weights(encoder.get_weights())
    return clone
