"""Self-attention with ALiBi's distance penalty in place of position vectors.

ALiBi (Press et al. 2022, "Train Short, Test Long") gives a transformer no position vectors: each
head subtracts `slope * distance` from the score of a query on a key, with one fixed slope per head
(a geometric series, from heads that look near to heads that look far). Nothing about a position is
learned, so an encoder pretrained on 128-token blocks reads 512-token reviews with the same attention
it learned: no untrained position vectors past 128. An encoder attends both ways, so the distance is
`|i - j|`, as MosaicBERT uses it.

>>> import numpy as np
>>> attention = AlibiAttention(num_heads=4, key_dim=2)
>>> attention.slopes.tolist()
[0.25, 0.0625, 0.015625, 0.00390625]
>>> x = np.ones((1, 3, 8), "float32")
>>> tuple(attention(x, x).shape)
(1, 3, 8)
"""

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_bert_mlm")
class AlibiAttention(layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention`, its scores less `slope_h * |i - j|` in head h. Takes the same
    arguments; attention dropout and returned scores are not supported (the encoder uses neither)."""

    def __init__(self, num_heads, key_dim, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        if self._dropout:
            raise ValueError("AlibiAttention does not support attention dropout")
        # Press et al.'s slopes for a power of two heads, 2^(-8h/n) for h = 1..n, used for any n.
        self.slopes = 2.0 ** (-8.0 * np.arange(1, num_heads + 1, dtype="float32") / num_heads)

    def distance_bias(self, queries, keys):
        """`(1, heads, queries, keys)`: what each head adds to its scores."""
        distance = ops.abs(ops.expand_dims(ops.arange(queries), 1) - ops.expand_dims(ops.arange(keys), 0))
        return -ops.reshape(self.slopes, (1, -1, 1, 1)) * ops.cast(distance, "float32")[None, None]

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        # `query` is `(batch, queries, heads, key_dim)`; `attention_mask` `(batch, queries, keys)`, True where
        # a key may be read, the same for every head.
        if return_attention_scores or use_causal_mask:
            raise ValueError("AlibiAttention returns no attention scores and has no causal mask")
        bias = ops.cast(self.distance_bias(ops.shape(query)[1], ops.shape(key)[1]), query.dtype)
        if attention_mask is not None:
            attention_mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
        output = ops.dot_product_attention(query, key, value, bias=bias, mask=attention_mask,
                                           scale=self._inverse_sqrt_key_dim)
        return output, None
