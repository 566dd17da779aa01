import tensorflow as tf

from keras_bert_mlm import text


def tokens(s):
    return text.standardize(tf.constant([s])).numpy()[0].decode().split()


def test_standardize_lowercases_drops_br_and_splits_punctuation():
    assert tokens("Great movie!<br /><br />I didn't LIKE 'it', (9/10)") == [
        "great", "movie", "!", "i", "didn't", "like", "'", "it", "'", ",", "(", "9", "/", "10", ")"]


def test_standardize_keeps_mask_and_survives_bad_bytes():
    assert tokens("a [MASK] film.") == ["a", "[mask]", "film", "."]
    assert tokens("café") == ["café"]
    out = text.standardize(tf.constant([b"bad \xff byte", b""])).numpy()
    assert out[0].decode().split() == ["bad", "\ufffd", "byte"] and out[1] == b""


def test_vocabulary_special_ids_and_file_roundtrip(tmp_path):
    corpus = ["the film was great", "the film was bad", "[mask] [mask] [mask] the"]
    v = text.adapt_vectorizer(corpus, vocab_size=8, max_len=6)
    vocab = v.get_vocabulary()
    assert vocab[:3] == ["", "[UNK]", "[mask]"] and len(vocab) == 8 and vocab.count("[mask]") == 1
    assert vocab[3] == "the"  # most frequent word first
    ids = v(["the [mask] unknownword"]).numpy()[0].tolist()
    assert ids == [3, text.MASK_ID, text.UNK_ID, 0, 0, 0]
    path = str(tmp_path / "vocab.txt")
    text.save_vocabulary(v, path)
    again = text.make_vectorizer(text.load_vocabulary(path), 6)
    assert again.get_vocabulary() == vocab
