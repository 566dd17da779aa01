import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import fixtures
from conftest import assert_user_error, run_script
from keras_bert_mlm import models, text
from keras_bert_mlm.config import Config, UserError

PROMPT, WORDS = "{text} it was [mask] .", "terrible,great"


def small_encoder(**overrides):
    settings = dict(vocab_size=50, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
    return models.build_encoder(**{**settings, **overrides})


@pytest.mark.parametrize("positions", ["learned", "alibi"])
def test_the_prompt_head_starts_as_the_masked_lm_head_choosing_between_the_class_words(positions):
    encoder = small_encoder(positions=positions)
    mlm = models.MaskedLanguageModel(encoder, tie_embeddings=True)  # its bias starts at zero, as the head's
    ids = np.array([[5, 6, 9, 0], [12, 0, 0, 0]], "int32")
    prompted = np.array([[2, 7, 5, 6, 9, 0], [2, 7, 12, 0, 0, 0]], "int32")  # "[mask] movie" before each text
    logits = np.asarray(mlm({"token_ids": prompted, "mask_positions": np.zeros((2, 1), "int32")}))[:, 0]

    binary = models.build_prompt_classifier(encoder, before=[2, 7], after=[], word_ids=[10, 11])
    expected = 1 / (1 + np.exp(-(logits[:, 11] - logits[:, 10])))
    np.testing.assert_allclose(np.asarray(binary(ids))[:, 0], expected, rtol=1e-5)

    three = models.build_prompt_classifier(encoder, before=[2, 7], after=[], word_ids=[10, 11, 13])
    chosen = logits[:, [10, 11, 13]]
    expected = np.exp(chosen) / np.exp(chosen).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(three(ids)), expected, rtol=1e-5)


def test_a_prompt_after_the_text_follows_its_last_token_and_is_never_cut(tmp_path):
    encoder = small_encoder()
    classifier = models.build_prompt_classifier(encoder, before=[], after=[7, 2], word_ids=[10, 11])
    prompted, at_mask = classifier.get_layer("prompt")(np.array([[3, 4, 5, 6, 7, 8, 9, 10], [3, 4, 0, 0, 0, 0, 0, 0]]))
    assert prompted.numpy().tolist() == [[3, 4, 5, 6, 7, 8, 7, 2], [3, 4, 7, 2, 0, 0, 0, 0]]  # max_len 8
    assert at_mask.numpy().tolist() == [7, 3]
    # The classifier reads the vector at each row's [mask]: as the masked-LM reads it, with its text alone.
    mlm = models.MaskedLanguageModel(encoder, tie_embeddings=True)
    logits = np.asarray(mlm({"token_ids": np.array([[3, 4, 7, 2]], "int32"), "mask_positions": np.array([[3]])}))
    expected = 1 / (1 + np.exp(-(logits[0, 0, 11] - logits[0, 0, 10])))
    np.testing.assert_allclose(classifier(np.array([[3, 4, 0, 0, 0, 0, 0, 0]]))[0, 0], expected, rtol=1e-5)
    classifier.save(tmp_path / "c.keras")
    ids = np.array([[3, 4, 5, 6, 7, 8, 9, 10], [3, 4, 0, 0, 0, 0, 0, 0]], "int32")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "c.keras")(ids), classifier(ids), rtol=1e-6)
    with pytest.raises(ValueError, match="once"):
        models.build_prompt_classifier(encoder, before=[7], after=[8], word_ids=[10, 11])


def test_the_prompt_and_its_words_must_be_in_the_vocabulary():
    vectorizer = text.make_vectorizer(["", "[UNK]", "[mask]", "movie", ".", "great", "terrible", "it", "was", "a",
                                       ","], 10)
    assert text.prompt_ids(vectorizer, "[mask] Movie. {text}", WORDS, ["negative", "positive"]) == (
        [2, 3, 4], [], [6, 5])
    for prompt, words, culprit in (
            ("[mask] film . {text}", WORDS, "--prompt '[mask] film . {text}': 'film' is not in the vocabulary"),
            ("movie . {text}", WORDS, "needs one {text} and one [mask]"),
            ("[mask] movie .", WORDS, "needs one {text} and one [mask]"),
            ("{text} [mask] {text}", WORDS, "needs one {text} and one [mask]"),
            ("{text} it was a great movie , it was [mask] .", WORDS, "its 10 tokens leave no room for the text in "
             "--max-len 10"),
            (PROMPT, "terrible", "1 words for 2 classes (negative, positive)"),
            (PROMPT, "terrible,awful", "'awful' is not one word of the vocabulary"),
            (PROMPT, "terrible,great movie", "'great movie' is not one word")):
        with pytest.raises(UserError, match=re.escape(culprit)):
            text.prompt_ids(vectorizer, prompt, words, ["negative", "positive"])


def test_words_given_by_class_name_apply_to_the_classifiers_whose_classes_they_all_name():
    from keras_bert_mlm import finetune

    vectorizer = text.make_vectorizer(["", "[UNK]", "[mask]", "it", "was", ".", "great", "terrible", "okay"], 16)
    words = "positive=great,negative=terrible,neutral=okay"
    assert text.prompt_ids(vectorizer, PROMPT, words, ["negative", "positive"]) == ([], [3, 4, 2, 5], [7, 6])
    assert text.prompt_ids(vectorizer, PROMPT, words, ["negative", "neutral", "positive"])[2] == [7, 8, 6]
    assert text.prompt_ids(vectorizer, PROMPT, words, ["sports", "politics"]) is None
    spaced = "negative = terrible, positive = great"  # the check accepts spaces around "=": so does the reading
    assert text.prompt_ids(vectorizer, PROMPT, spaced, ["negative", "positive"]) == ([], [3, 4, 2, 5], [7, 6])
    other = text.make_vectorizer(["", "[UNK]", "[mask]", "goal", "vote"], 16)  # no word of the template
    assert text.prompt_ids(other, PROMPT, words, ["sports", "politics"]) is None
    cfg = Config.from_preset("tiny", vocab_size=50, tie_embeddings=True, prompt=PROMPT, prompt_words=words)
    encoder = models.build_encoder(**cfg.encoder_settings())
    prompted = finetune.build_classifier(encoder, cfg, vectorizer, ["negative", "positive"])
    pooled = finetune.build_classifier(encoder, cfg, vectorizer, ["sports", "politics"])
    assert "prompt" in [layer.name for layer in prompted.layers]
    assert "pooling" in [layer.name for layer in pooled.layers]


def test_prompt_settings_are_checked():
    Config.from_preset("cpu-hour", prompt=PROMPT, prompt_words=WORDS)
    for overrides in (dict(prompt=PROMPT, prompt_words=""), dict(prompt="{text} movie .", prompt_words=WORDS),
                      dict(prompt="[mask] movie .", prompt_words=WORDS),
                      dict(prompt=PROMPT, prompt_words=WORDS, tie_embeddings=False),
                      dict(prompt=PROMPT, prompt_words=WORDS, objective="electra", tie_embeddings=False)):
        with pytest.raises(UserError, match="--prompt must be empty, or words with one {text} and one"):
            Config.from_preset("cpu-hour", **overrides)
    for words in ("negative=terrible,great", "negative=,positive=great", "negative=bad=awful,positive=great"):
        with pytest.raises(UserError, match="--prompt-words must be words in label order"):
            Config.from_preset("cpu-hour", prompt=PROMPT, prompt_words=words)


@pytest.mark.slow
def test_a_prompt_classifier_trains_exports_and_serves_raw_strings(data_dir, tmp_path):
    # Words by class name: Rotten Tomatoes' classes (negative, positive) get the prompt, a task of others pools.
    out = str(tmp_path / "run")
    grades = fixtures.write_table(tmp_path / "grades.csv", fixtures.three_class_rows(60, labels=("low", "mid", "high")))
    result = run_script("train.py", "--data-dir", data_dir, "--output-dir", out, "--preset", "tiny",
                        "--datasets", "rotten_tomatoes", "--task", f"grades={grades}", "--tie-embeddings", "true",
                        "--prompt", PROMPT, "--prompt-words", "negative=terrible,positive=great",
                        "--clf-frozen-epochs", "0", "--clf-finetune-epochs", "4", "--clf-finetune-learning-rate",
                        "1e-2", "--offline", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "grades: --prompt-words names not all of its classes" in result.stdout
    assert "rotten_tomatoes: --prompt-words" not in result.stdout
    grades_model = keras.saving.load_model(os.path.join(out, "grades", "classifier.keras"))
    assert "pooling" in [layer.name for layer in grades_model.layers]
    with open(os.path.join(out, "rotten_tomatoes", "chosen.json")) as f:
        assert json.load(f)["val_accuracy"] > 0.7  # the fixture's sentences are easy: their words say it
    classifier = keras.saving.load_model(os.path.join(out, "rotten_tomatoes", "classifier.keras"))
    assert classifier.get_layer("prompt").after[-2] == text.MASK_ID  # "it was [mask] ."
    texts = ["A superb and moving film !", "Dull , silly and boring ."]
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(out, "vocab.txt")), 32)
    served = tf.saved_model.load(os.path.join(out, "rotten_tomatoes", "savedmodel"))
    np.testing.assert_allclose(served.serve(tf.constant(texts)).numpy(),
                               classifier(np.asarray(vectorizer(texts), "int32")), rtol=1e-4, atol=1e-6)
    assert served.embed(tf.constant(texts)).shape == (2, 16)  # the vector at [mask], as wide as the encoder
    # A word the vocabulary lacks is refused once the vocabulary is built, before any pretraining step.
    bad = str(tmp_path / "bad")
    assert_user_error(run_script("train.py", "--data-dir", data_dir, "--output-dir", bad, "--preset", "tiny",
                                 "--datasets", "rotten_tomatoes", "--tie-embeddings", "true", "--prompt", PROMPT,
                                 "--prompt-words", "terrible,marvellous", "--offline", "--quiet"),
                      "--prompt-words", "'marvellous'")
    assert os.path.isfile(os.path.join(bad, "vocab.txt")) and not os.path.exists(os.path.join(bad, "mlm", "encoder.keras"))
