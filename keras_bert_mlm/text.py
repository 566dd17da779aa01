"""From raw strings to token ids: standardization and a `TextVectorization` vocabulary.

    vectorizer = adapt_vectorizer(texts, vocab_size=30000, max_len=256)
    vectorizer(["A great movie!"])      # int64 ids, (1, 256), 0 = padding
    save_vocabulary(vectorizer, "vocab.txt"); make_vectorizer(load_vocabulary("vocab.txt"), 256)

Ids 0, 1 and 2 are always padding, `[UNK]` and `[mask]`; real words start at `FIRST_WORD_ID`.
"""

import keras
import tensorflow as tf

from .cli import progress
from .config import UserError

PAD, UNK, MASK = "", "[UNK]", "[mask]"
PAD_ID, UNK_ID, MASK_ID = 0, 1, 2
FIRST_WORD_ID = 3


@keras.saving.register_keras_serializable(package="keras_bert_mlm")
def standardize(texts):
    """Lowercase, drop `<br />` tags, split punctuation from words, keep `[mask]` whole.

    Apostrophes inside a word stay ("don't"); every other punctuation mark becomes its own token,
    since "!" and "?" carry sentiment. Invalid UTF-8 is replaced, never fatal.
    """
    x = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
    x = tf.strings.lower(x, encoding="utf-8")
    x = tf.strings.regex_replace(x, r"<br\s*/?>", " ")
    x = tf.strings.regex_replace(x, r"[\x00-\x1f]", " ")
    x = tf.strings.regex_replace(x, r"\[mask\]", " \x01 ")  # \x01 stands in for [mask] meanwhile
    x = tf.strings.regex_replace(x, r"([^\pL\pN\s'\x01])", r" \1 ")
    x = tf.strings.regex_replace(x, r"(^|\s)'|'(\s|$)", r"\1 ' \2")
    return tf.strings.regex_replace(x, "\x01", MASK)


def make_vectorizer(vocabulary, max_len):
    """A `TextVectorization` with our standardization, padding/truncating to `max_len` ids.

    `vocabulary` starts with the padding and `[UNK]` entries, as `get_vocabulary()` returns it.
    """
    layer = keras.layers.TextVectorization(
        standardize=standardize, split="whitespace", output_mode="int",
        output_sequence_length=max_len, name="vectorizer",
    )
    layer.set_vocabulary(vocabulary[2:])  # the layer adds padding and [UNK] itself
    layer.build(None)  # ExportArchive.track refuses an unbuilt layer
    return layer


def adapt_vectorizer(texts, vocab_size, max_len, batch_size=1024):
    """Learn the `vocab_size` most frequent tokens of `texts`, with `[mask]` fixed at id 2."""
    counter = keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=standardize, split="whitespace",
    )
    def batches():  # a generator, so that progress can be shown as adapt consumes it
        for start in range(0, len(texts), batch_size):
            progress("adapting the vocabulary", start / max(len(texts), 1))
            yield texts[start:start + batch_size]
        progress("adapting the vocabulary", 1.0)

    counter.adapt(tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec([None], tf.string)))
    words = [str(w) for w in counter.get_vocabulary()[2:] if w != MASK]  # room for a [mask] in the texts
    return make_vectorizer([PAD, UNK, MASK] + words[: vocab_size - 3], max_len)


def save_vocabulary(vectorizer, path):
    """One token per line, line n holding id n (line 0, padding, is empty)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vectorizer.get_vocabulary()) + "\n")


def load_vocabulary(path):
    try:
        with open(path, encoding="utf-8") as f:
            vocab = f.read().split("\n")[:-1]
    except OSError as e:
        raise UserError(f"{path}: cannot read the vocabulary ({e.strerror})") from None
    if vocab[:3] != [PAD, UNK, MASK]:
        raise UserError(f"{path}: not a keras_bert_mlm vocabulary (lines 0-2 must be '', [UNK], [mask])")
    return vocab


def vectorize(vectorizer, texts):
    """Token ids of `texts` as an int32 array `(n, max_len)`, computed once: training batches then cache
    ids, not strings."""
    import numpy as np

    ds = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024).map(vectorizer)
    return np.concatenate([np.asarray(batch, np.int32) for batch in ds])
