"""A classifier that fills in a blank: each text goes into a template such as "{text} it was [mask] .", and the
pretrained masked-LM head, allowed one word per class, says which belongs at the `[mask]` (PET, Schick & Schütze
2021; LM-BFF, Gao et al. 2021).

With few labels a new head on pooled vectors starts from nothing; this one starts from what pretraining
taught: a review followed by "it was [mask] ." and scored for "great" against "terrible" is already sorted
before any fine-tuning, and fine-tuning then moves the whole encoder and the head from there.

>>> import numpy as np
>>> from keras_bert_mlm.models import build_encoder
>>> encoder = build_encoder(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
>>> classifier = build_prompt_classifier(encoder, before=[2, 7], after=[], word_ids=[10, 11])   # "[mask] movie"
>>> tuple(classifier(np.array([[5, 6, 0]], "int32")).shape)    # P(class 1: "11" over "10")
(1, 1)
"""

import keras
import numpy as np
from keras import layers, ops

from ..text import MASK_ID
from .classifier import output_head
from .layers import register, vectors_at


@register
class Prompted(layers.Layer):
    """Token ids `(batch, length)` -> the ids with `before` put before each text and `after` right after its
    last token, cut to `max_len` (a long text loses its end, never the prompt); and where each row's `[mask]`
    now is, `(batch,)`. Texts are left-aligned (padding, id 0, at the end), as the vectorizer makes them.

    >>> import numpy as np
    >>> ids, at = Prompted(before=[], after=[7, 2], max_len=5)(np.array([[5, 6, 9, 0], [4, 0, 0, 0]], "int32"))
    >>> ids.numpy().tolist(), at.numpy().tolist()        # a text of 4 keeps 3 tokens: room for "7 [mask]"
    ([[5, 6, 9, 7, 2], [4, 7, 2, 0, 0]], [4, 2])
    """

    def __init__(self, before, after, max_len, **kwargs):
        super().__init__(**kwargs)
        self.before, self.after, self.max_len = [int(i) for i in before], [int(i) for i in after], max_len
        if (self.before + self.after).count(MASK_ID) != 1:
            raise ValueError(f"the prompt's ids {self.before} and {self.after} must hold the [mask] id once")

    def call(self, token_ids):
        ids = token_ids[:, : self.max_len - len(self.before) - len(self.after)]
        lengths = ops.sum(ops.cast(ops.not_equal(ids, 0), "int32"), axis=1)
        if self.after:
            ids = ops.pad(ids, [[0, 0], [0, len(self.after)]])
            place = ops.expand_dims(ops.arange(ops.shape(ids)[1], dtype="int32"), 0) - ops.expand_dims(lengths, 1)
            for k, token in enumerate(self.after):
                ids = ops.where(ops.equal(place, k), ops.cast(token, ids.dtype), ids)
        if self.before:
            before = ops.convert_to_tensor(np.array([self.before]), dtype=ids.dtype)
            ids = ops.concatenate([ops.repeat(before, ops.shape(ids)[0], axis=0), ids], axis=1)
        if MASK_ID in self.before:
            return ids, ops.zeros_like(lengths) + self.before.index(MASK_ID)
        return ids, lengths + len(self.before) + self.after.index(MASK_ID)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None), (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "before": self.before, "after": self.after, "max_len": self.max_len}


@register
class VectorAt(layers.Layer):
    """The vectors `(batch, width)` at one position per row, `(batch,)`, of vectors `(batch, length, width)`."""

    def call(self, vectors, positions):
        return vectors_at(vectors, positions[:, None])[:, 0]

    def compute_output_shape(self, vectors_shape, positions_shape):
        return (vectors_shape[0], vectors_shape[2])


def build_prompt_classifier(encoder, before, after, word_ids, head_dropout=0.0):
    """token ids -> the ids `before` and `after` put around each text (one of them `[mask]`, see `Prompted`)
    -> encoder -> the vector at `[mask]` -> dropout -> sigmoid unit (two `word_ids`: P(class 1)) or softmax
    over the K `word_ids`, one per class.

    The head starts as the tied masked-LM head's scores for the class words: its kernel is their rows of the
    encoder's token table (for two classes, the difference of the two rows), its bias zero (the masked-LM
    head's bias, a per-word prior, is not part of the encoder: fine-tuning learns the classes' prior). The
    kernel is a copy, so the classifier saves and loads as any functional model. The layers keep
    `build_classifier`'s names (`head_dropout`, `head`): the `embed` endpoint reads the vector at `[mask]`.
    """
    num_classes = len(word_ids)
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    prompted, at_mask = Prompted(before, after, encoder.get_layer("embeddings").max_len, name="prompt")(token_ids)
    x = VectorAt(name="at_mask")(encoder(prompted), at_mask)
    x = layers.Dropout(head_dropout, name="head_dropout")(x)
    head = output_head(num_classes)
    probability = head(x)

    table = ops.convert_to_numpy(encoder.get_layer("embeddings").token_embedding.embeddings)
    rows = table[np.asarray(word_ids)].astype("float32")  # (classes, width)
    kernel = (rows[1] - rows[0])[:, None] if num_classes == 2 else rows.T
    head.set_weights([kernel, np.zeros(head.units, "float32")])
    return keras.Model(token_ids, probability, name="classifier")
