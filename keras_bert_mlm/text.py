"""From raw strings to token ids: standardization and a `TextVectorization` vocabulary.

    vectorizer = adapt_vectorizer(texts, vocab_size=30000, max_len=256)
    vectorizer(["A great movie!"])      # int64 ids, (1, 256), 0 = padding
    save_vocabulary(vectorizer, "vocab.txt"); make_vectorizer(load_vocabulary("vocab.txt"), 256)

Ids 0, 1 and 2 are always padding, `[UNK]` and `[mask]`; real words start at `FIRST_WORD_ID`.
"""

import keras
import tensorflow as tf

from .cli import progress
from .checks import prompt_word_pairs
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


def adapt_vectorizer(texts, vocab_size, max_len, batch_size=1024, total=None):
    """Learn the `vocab_size` most frequent tokens of `texts` (any iterable of strings, read once, in
    batches: a streamed corpus is never held whole), with `[mask]` fixed at id 2. Ties in frequency go
    to the tokens in alphabetical order, so the vocabulary does not depend on the texts' order.
    `total` (the number of texts, when known) makes the progress line a percentage."""
    counter = keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=standardize, split="whitespace",
    )
    total = total if total is not None else (len(texts) if hasattr(texts, "__len__") else None)

    def batches():  # a generator, so that progress can be shown as adapt consumes it
        for start, batch in enumerate(chunks(texts, batch_size)):
            if total:
                progress("adapting the vocabulary", start * batch_size / total)
            yield batch
        progress("adapting the vocabulary", 1.0)

    counter.adapt(tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec([None], tf.string)))
    words = [str(w) for w in counter.get_vocabulary()[2:] if w != MASK]  # room for a [mask] in the texts
    return make_vectorizer([PAD, UNK, MASK] + words[: vocab_size - 3], max_len)


def chunks(texts, size):
    """Lists of `size` consecutive items of the iterable `texts` (the last one shorter).

    >>> list(chunks("abcde", 2))
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    batch = []
    for item in texts:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def vectorize(vectorizer, texts, batch_size=1024):
    """Token ids of `texts` (any iterable of strings, streamed batch by batch) as an int32 array
    `(n, max_len)`, computed once: training batches then cache ids, not strings."""
    import numpy as np

    parts = [np.asarray(vectorizer(tf.constant(batch, tf.string)), np.int32) for batch in chunks(texts, batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, vectorizer.get_config()["output_sequence_length"]), np.int32)


def prompt_ids(vectorizer, prompt, words, label_names):
    """The token ids of `prompt`'s words before and after its `{text}` (one of them `[mask]`), and of `words`,
    one word of the vocabulary per class of `label_names` (`--prompt`, `--prompt-words`): comma-separated in
    label order, or as CLASS=WORD pairs. With pairs that do not name every class, None: that classifier pools.

    >>> vectorizer = make_vectorizer(["", "[UNK]", "[mask]", "it", "was", ".", "bad", "good"], 8)
    >>> prompt_ids(vectorizer, "{text} It was [mask].", "bad,good", ["negative", "positive"])
    ([], [3, 4, 2, 5], [6, 7])
    >>> prompt_ids(vectorizer, "{text} It was [mask].", "positive=good,negative=bad", ["negative", "positive"])
    ([], [3, 4, 2, 5], [6, 7])
    >>> prompt_ids(vectorizer, "{text} It was [mask].", "positive=good,negative=bad", ["sports", "politics"])
    """
    vocabulary = {token: i for i, token in enumerate(vectorizer.get_vocabulary())}

    def tokens(words):
        return [t.decode() for t in standardize(tf.constant(words)).numpy().split()]

    by_class = prompt_word_pairs(words)
    if by_class is None:
        word_list = [w.strip() for w in words.split(",")]
    elif set(label_names) <= set(by_class):
        word_list = [by_class[name] for name in label_names]
    else:
        return None  # before the template is read: a vocabulary of other words may lack its words
    parts = [tokens(part) for part in prompt.split("{text}")]
    unknown = [t for part in parts for t in part if t not in vocabulary]
    if unknown or len(parts) != 2 or sum(part.count(MASK) for part in parts) != 1:
        why = (f"{unknown[0]!r} is not in the vocabulary (--prompt '' pools instead)" if unknown
               else "it needs one {text} and one [mask]")
        raise UserError(f"--prompt {prompt!r}: {why}")
    if len(word_list) != len(label_names):
        raise UserError(f"--prompt-words {words!r}: {len(word_list)} words for {len(label_names)} classes "
                        f"({', '.join(label_names)})")
    word_ids = []
    for word in word_list:
        token = tokens(word)
        if len(token) != 1 or vocabulary.get(token[0], UNK_ID) < FIRST_WORD_ID:
            raise UserError(f"--prompt-words: {word!r} is not one word of the vocabulary (--prompt '' pools instead)")
        word_ids.append(vocabulary[token[0]])
    before, after = ([vocabulary[t] for t in part] for part in parts)
    max_len = vectorizer.get_config()["output_sequence_length"]
    if len(before) + len(after) >= max_len:
        raise UserError(f"--prompt {prompt!r}: its {len(before) + len(after)} tokens leave no room for the text "
                        f"in --max-len {max_len}")
    return before, after, word_ids
