"""The `embed` endpoint of every SavedModel and `python3 -m keras_bert_mlm embed`."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_user_error, run_script
from keras_bert_mlm import export, models, text
from test_end_to_end import run_isolated

TEXTS = ["a good film", "", "bad bad bad film , good acting though", "zzz unknown words", "good " * 40]


@pytest.fixture(scope="module")
def vectorizer():
    return text.adapt_vectorizer(["a good film", "a bad film", "good acting", "bad plot though"], 50, 16)


def small_encoder(vectorizer):
    return models.build_encoder(vocab_size=vectorizer.vocabulary_size(), max_len=16, embed_dim=8, num_heads=2,
                                ff_dim=8, num_layers=1, bigram_buckets=16)


def assert_unit_rows_and_zero_for_empty(vectors):
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(np.delete(norms, 1), 1.0, rtol=1e-5)
    assert norms[1] == 0  # the empty text


@pytest.mark.parametrize("pooling, pool_embeddings", [("max", True), ("first", False)])
def test_classifier_embed_is_the_vector_its_head_reads(vectorizer, tmp_path, pooling, pool_embeddings):
    classifier = models.build_classifier(small_encoder(vectorizer), pooling=pooling, pool_embeddings=pool_embeddings)
    export.export_classifier(classifier, vectorizer, str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    vectors = loaded.embed(tf.constant(TEXTS)).numpy()
    assert vectors.shape == (len(TEXTS), 16 if pool_embeddings else 8) and vectors.dtype == np.float32
    assert_unit_rows_and_zero_for_empty(vectors)
    ids = np.asarray(vectorizer(TEXTS), np.int32)  # padded to max_len: the endpoint cuts padding, same vectors
    head_input = export.classifier_features(classifier)(ids).numpy()
    expected = head_input / np.maximum(np.linalg.norm(head_input, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(np.delete(vectors, 1, axis=0), np.delete(expected, 1, axis=0), atol=1e-5)
    # serve is unchanged by the new endpoint, and an empty batch gives (0, dim)
    np.testing.assert_allclose(loaded.serve(tf.constant(TEXTS[:1])).numpy(), classifier(ids[:1]).numpy(), atol=1e-6)
    assert loaded.embed(tf.constant([], tf.string)).numpy().shape == (0, vectors.shape[1])


def test_masked_lm_embed_pools_the_encoder_with_the_runs_pooling(vectorizer, tmp_path):
    encoder = small_encoder(vectorizer)
    mlm = models.MaskedLanguageModel(encoder)
    export.export_fill_mask(mlm, vectorizer, str(tmp_path / "sm"), top_k=3, pooling="mean")
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    vectors = loaded.embed(tf.constant(TEXTS)).numpy()
    assert vectors.shape == (len(TEXTS), 8)
    assert_unit_rows_and_zero_for_empty(vectors)
    ids = np.asarray(vectorizer(TEXTS), np.int32)
    mean = models.SequencePooling("mean")(encoder(ids), ids).numpy()
    expected = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert loaded.fill_mask(tf.constant(["a [mask] film"]))["tokens"].shape == (1, 3)


# Below: the artifacts of a `tiny` train.py run, used as they ship.

def cli(*args, **kwargs):
    return run_script("-m", "keras_bert_mlm", "embed", *args, **kwargs)


@pytest.mark.slow
def test_tfsmlayer_loads_embed_without_the_package(tiny_run, tmp_path):
    paths = {name: os.path.join(tiny_run, name, "savedmodel") for name in ("mlm", "imdb")}
    out = run_isolated(f"""
import json, keras, numpy as np, tensorflow as tf
result = {{}}
for name, path in {paths!r}.items():
    layer = keras.layers.TFSMLayer(path, call_endpoint="embed")
    texts = keras.Input(shape=(), dtype="string")
    model = keras.Model(texts, layer(texts))
    result[name] = model.predict(tf.constant(["a great film", "boring plot", "", "a great film"]), verbose=0).tolist()
print(json.dumps(result))
""", tmp_path)
    result = {k: np.array(v) for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    import keras
    classifier = keras.saving.load_model(os.path.join(tiny_run, "imdb", "classifier.keras"))
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(tiny_run, "vocab.txt")), 32)
    ids = np.asarray(vectorizer(["a great film", "boring plot"]), np.int32)
    expected = export.classifier_features(classifier)(ids).numpy()
    np.testing.assert_allclose(result["imdb"][:2], expected / np.linalg.norm(expected, axis=1, keepdims=True),
                               atol=1e-5)
    for vectors in result.values():
        np.testing.assert_allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0, rtol=1e-5)
        assert not vectors[2].any()  # the empty text
        np.testing.assert_allclose(vectors[0], vectors[3], atol=1e-6)
    assert result["mlm"].shape == (4, 16) and result["imdb"].shape == (4, 16)  # tiny: 16 wide, max pooling


@pytest.mark.slow
def test_embed_command_plain_json_and_stdin(tiny_run):
    result = cli("--artifacts", tiny_run, "a great film", "boring awful plot")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith("(16 numbers)  a great film")
    result = cli("--artifacts", tiny_run, "--dataset", "rotten_tomatoes", "--json", input="first line\nsecond\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["text"] for r in records] == ["first line", "second"]
    for r in records:
        assert len(r["embedding"]) == 16 and abs(np.linalg.norm(r["embedding"]) - 1) < 1e-4


@pytest.mark.slow
def test_embed_command_mistakes(tiny_run, tmp_path):
    assert_user_error(cli("--artifacts", tiny_run, "--dataset", "sst2", "x"), "sst2", "imdb")
    assert_user_error(cli("--artifacts", str(tmp_path), "x"), str(tmp_path), "mlm/savedmodel")
    assert_user_error(cli("--artifacts", tiny_run, input=""), "no texts")
    assert_user_error(cli("--artifacts", tiny_run, "--file", str(tmp_path / "none.txt")), "none.txt")
