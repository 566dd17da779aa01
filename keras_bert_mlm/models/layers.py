"""The encoder's and the tasks' own layers: embeddings, padding mask, pooling, masked-LM head.

Id 0 is padding (`text.PAD_ID`): attention never looks at it and pooling ignores it.

>>> import numpy as np
>>> ids = np.array([[5, 6, 0]], "int32")
>>> PaddingMask()(ids).numpy().tolist()
[[[True, True, False]]]
"""

import keras
from keras import layers, ops

from ..losses import fused_projection_loss, in_xla, masked_loss_and_hits
from ..text import PAD_ID

register = keras.saving.register_keras_serializable(package="keras_bert_mlm")


def vectors_at(vectors, positions):
    """The vectors `(batch, k, width)` at `positions` `(batch, k)` of `vectors` `(batch, length, width)`:
    what the masked-LM head scores, and (k = 1) the prompt classifier's vector at its blank."""
    return ops.take_along_axis(vectors, ops.expand_dims(positions, -1), axis=1)


@register
class TokenAndPositionEmbedding(layers.Layer):
    """Sum of a token embedding and a learned position embedding (none with `learned_positions=False`:
    the attention then knows the distances, see `AlibiAttention`), and with `bigram_buckets` > 0 a
    hashed embedding of each (previous token, token) pair, as fastText adds n-grams: the encoder
    sees word pairs ("not good") from its first layer. It is computed from the ids it is given, so
    a masked token's pairs hold `[mask]`, never the hidden word. The pair table starts at zero.

    >>> import numpy as np
    >>> embed = TokenAndPositionEmbedding(vocab_size=100, max_len=8, embed_dim=4, bigram_buckets=16)
    >>> tuple(embed(np.array([[5, 6, 7]], "int32")).shape)
    (1, 3, 4)
    """

    def __init__(self, vocab_size, max_len, embed_dim, bigram_buckets=0, learned_positions=True, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        self.vocab_size, self.max_len, self.embed_dim = vocab_size, max_len, embed_dim
        self.bigram_buckets, self.learned_positions = bigram_buckets, learned_positions
        # === Layers ===
        self.token_embedding = layers.Embedding(vocab_size, embed_dim, name="token_embedding")
        if learned_positions:
            self.position_embedding = layers.Embedding(max_len, embed_dim, name="position_embedding")
        if bigram_buckets:
            self.bigram_embedding = layers.Embedding(bigram_buckets, embed_dim, embeddings_initializer="zeros",
                                                     name="bigram_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.learned_positions:
            self.position_embedding.build(input_shape)
        if self.bigram_buckets:
            self.bigram_embedding.build(input_shape)

    def bigram_ids(self, token_ids):
        """The bucket of each (previous token, token) pair; the first token's previous one is padding."""
        previous = ops.pad(token_ids[:, :-1], [[0, 0], [1, 0]])
        return (previous * 30011 + token_ids) % self.bigram_buckets  # < 2**31 for vocabularies below 70,000

    def call(self, token_ids):
        x = self.token_embedding(token_ids)
        if self.learned_positions:
            x = x + self.position_embedding(ops.arange(ops.shape(token_ids)[1]))[None]
        if self.bigram_buckets:
            x = x + self.bigram_embedding(self.bigram_ids(token_ids))
        return x

    def copy_positions(self, period):
        """Overwrite the position vectors from `period` on with the first `period` ones, repeated (Longformer's
        copy initialization, Beltagy et al. 2020): an encoder pretrained on `period`-token blocks has learned
        those, and attention that looks at nearby tokens finds the same offsets between them further on.

        >>> import numpy as np
        >>> embed = TokenAndPositionEmbedding(vocab_size=10, max_len=5, embed_dim=2)
        >>> embed.build((1, 5)); embed.copy_positions(2)
        >>> table = embed.position_embedding.embeddings.numpy()
        >>> bool((table[2:4] == table[:2]).all() and (table[4] == table[0]).all())
        True
        """
        table = self.position_embedding.embeddings
        repeats = -(-self.max_len // period)
        table.assign(ops.tile(table[:period], (repeats, 1))[: self.max_len])

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "embed_dim": self.embed_dim, "bigram_buckets": self.bigram_buckets,
                "learned_positions": self.learned_positions}


@register
class PaddingMask(layers.Layer):
    """Attention mask `(batch, 1, length)`: True where the key is a real token."""

    def call(self, token_ids):
        return ops.expand_dims(ops.not_equal(token_ids, PAD_ID), 1)


@register
class SequencePooling(layers.Layer):
    """One vector per text from the token vectors of its real tokens: `max`, `mean` or `first`.

    >>> import numpy as np
    >>> vectors = np.array([[[1.0], [3.0], [100.0]]], "float32")   # the third token is padding
    >>> SequencePooling("mean")(vectors, np.array([[4, 5, 0]], "int32")).numpy().tolist()
    [[2.0]]
    """

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

    >>> import numpy as np
    >>> head = MaskedLMHead(vocab_size=50)
    >>> vectors = np.zeros((2, 10, 8), "float32")                  # (batch, length, width)
    >>> tuple(head(vectors, np.array([[1, 4], [0, 9]], "int32")).shape)
    (2, 2, 50)
    """

    def __init__(self, vocab_size, tied_to=None, **kwargs):
        super().__init__(**kwargs)
        # === Config ===
        self.vocab_size = vocab_size
        # With `tied_to` (the encoder's token `Embedding`), the projection is its table, transposed, and a
        # bias: BERT's tied input and output embeddings. The model that builds the head passes it, so it is
        # not part of the head's config.
        self.tied_to = tied_to
        # === Layers ===
        if tied_to is None:
            self.projection = layers.Dense(vocab_size, name="projection")

    def build(self, vectors_shape, positions_shape=None):
        if self.tied_to is None:
            self.projection.build(vectors_shape)
        else:
            self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")

    def kernel_and_bias(self):
        """The projection, `(width, vocab)` and `(vocab,)`, in float32."""
        if self.tied_to is None:
            kernel, bias = self.projection.kernel, self.projection.bias
        else:
            kernel, bias = ops.transpose(self.tied_to.embeddings), self.bias
        return ops.cast(kernel, "float32"), ops.cast(bias, "float32")

    def call(self, vectors, positions):
        kernel, bias = self.kernel_and_bias()
        return ops.matmul(vectors_at(vectors, positions), kernel) + bias

    def loss_and_hits(self, vectors, positions, targets, weights, seed=None):
        """The same as `losses.masked_loss_and_hits` on `call`'s logits, without holding them all; with
        a `seed`, also a token drawn from each chosen slot's softmax (`losses.fused_projection_loss`).
        Compiled with XLA, the logits are computed whole and XLA fuses them with the loss (no sampling)."""
        if in_xla() and seed is None:
            return masked_loss_and_hits(targets, self(vectors, positions), weights)
        kernel, bias = self.kernel_and_bias()
        return fused_projection_loss(vectors_at(vectors, positions), kernel, bias, targets, weights, seed=seed)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}
