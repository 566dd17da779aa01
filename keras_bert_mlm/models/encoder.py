"""The BERT encoder that pretraining trains and every classifier starts from.

>>> import numpy as np
>>> encoder = build_encoder(vocab_size=100, max_len=16, embed_dim=8, num_heads=2, ff_dim=16, num_layers=1)
>>> tuple(encoder(np.array([[5, 6, 7, 0]], "int32")).shape)     # (batch, length, embed_dim)
(1, 4, 8)
"""

import keras
from keras import layers

from .alibi import AlibiAttention
from .layers import PaddingMask, TokenAndPositionEmbedding


def build_encoder(vocab_size, max_len, embed_dim, num_heads, ff_dim, num_layers, bigram_buckets=0, dropout=0.1,
                  norm_first=False, positions="learned"):
    """A functional `keras.Model` named "encoder": token ids `(batch, length)`, 0 = padding, to one
    vector per token `(batch, length, embed_dim)`. Embeddings (see `TokenAndPositionEmbedding`), then
    `num_layers` post-LayerNorm transformer blocks: self-attention over the real tokens, then a ReLU
    feed-forward block of width `ff_dim`, each followed by dropout, a residual sum and LayerNorm.
    With `norm_first`, pre-LayerNorm blocks instead (each sublayer reads a normalized copy and adds
    to the unnormalized sum) and a final LayerNorm: what lets budget BERTs train at a high learning rate.
    `positions` "learned" adds a vector per position (BERT); "alibi" adds none and penalizes attention
    with distance instead (`AlibiAttention`), which extends to texts longer than pretraining's blocks.

    `Config.encoder_settings()` gives these arguments for a run's settings.
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    alibi = positions == "alibi"
    x = TokenAndPositionEmbedding(vocab_size, max_len, embed_dim, bigram_buckets, learned_positions=not alibi,
                                  name="embeddings")(token_ids)
    mask = PaddingMask(name="padding_mask")(token_ids)
    x = transformer_blocks(x, mask, num_heads, ff_dim, num_layers, dropout, norm_first=norm_first, alibi=alibi)
    if norm_first:
        x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return keras.Model(token_ids, x, name="encoder")


def transformer_blocks(x, mask, num_heads, ff_dim, num_layers, dropout, prefix="block", norm_first=False,
                       alibi=False):
    """`num_layers` transformer blocks on `x` `(batch, length, width)`, attending where `mask` is True;
    post-LayerNorm, or pre-LayerNorm with `norm_first`; with `alibi`, attention penalized by distance.
    Layers are named `{prefix}{i}_...`."""
    attention_layer = AlibiAttention if alibi else layers.MultiHeadAttention
    width = x.shape[-1]
    # Each layer is created where it is first called: the order of creation fixes each layer's seed,
    # so reordering it changes every figure a seed reproduces.
    for i in range(num_layers):
        attention_norm = layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}{i}_attention_norm")
        ff_norm = layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}{i}_ff_norm")
        h = attention_norm(x) if norm_first else x
        attention = attention_layer(
            num_heads, width // num_heads, name=f"{prefix}{i}_attention")(h, h, attention_mask=mask)
        attention = layers.Dropout(dropout, name=f"{prefix}{i}_attention_dropout")(attention)
        x = layers.Add()([x, attention])
        x = x if norm_first else attention_norm(x)
        ff = layers.Dense(ff_dim, activation="relu", name=f"{prefix}{i}_ff_in")(ff_norm(x) if norm_first else x)
        ff = layers.Dense(width, name=f"{prefix}{i}_ff_out")(ff)
        ff = layers.Dropout(dropout, name=f"{prefix}{i}_ff_dropout")(ff)
        x = layers.Add()([x, ff])
        x = x if norm_first else ff_norm(x)
    return x


def build_generator(embeddings, width, num_heads, ff_dim, num_layers, dropout=0.1):
    """ELECTRA's generator: a narrower encoder on the same `embeddings` layer (a shared
    `TokenAndPositionEmbedding`), projected down to `width`; token ids to `(batch, length, width)`.
    Its attention knows positions as the encoder's does (ALiBi when the embeddings learn none).

    >>> import numpy as np
    >>> encoder = build_encoder(vocab_size=100, max_len=16, embed_dim=8, num_heads=2, ff_dim=16, num_layers=1)
    >>> generator = build_generator(encoder.get_layer("embeddings"), width=4, num_heads=2, ff_dim=8, num_layers=1)
    >>> tuple(generator(np.array([[5, 6, 7, 0]], "int32")).shape)
    (1, 4, 4)
    """
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = layers.Dense(width, name="generator_in")(embeddings(token_ids))
    mask = PaddingMask(name="padding_mask")(token_ids)
    x = transformer_blocks(x, mask, num_heads, ff_dim, num_layers, dropout, prefix="generator_block",
                           alibi=not embeddings.learned_positions)
    return keras.Model(token_ids, x, name="generator")


def copy_encoder(encoder, dropout=None):
    """A new encoder with the same architecture and (copied) weights: each classifier trains its own.
    With `dropout`, its dropout layers drop at that rate (pretraining and fine-tuning may differ)."""

    def clone(layer):
        config = layer.get_config()
        if dropout is not None and isinstance(layer, layers.Dropout):
            config["rate"] = dropout
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(encoder, clone_function=clone)
    clone.set_weights(encoder.get_weights())
    return clone
