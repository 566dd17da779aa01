"""`--positions alibi`: attention penalized by distance instead of position vectors (`models.AlibiAttention`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bert_mlm import export, models, text
from keras_bert_mlm.config import Config, UserError
from test_pretrain import packed_pretraining

CFG = Config.from_preset("tiny", positions="alibi", dropout=0.0)


def reference_attention(layer, x, mask):
    """ALiBi by hand: the layer's projections, scores less slope * |i - j|, softmax over the readable keys."""
    q, k, v = (dense(x).numpy() for dense in (layer._query_dense, layer._key_dense, layer._value_dense))
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    distance = np.abs(np.arange(x.shape[1])[:, None] - np.arange(x.shape[1])[None])
    scores = scores - layer.slopes[None, :, None, None] * distance
    scores = np.where(mask[:, None], scores, -1e9)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return layer._output_dense(np.einsum("bnts,bsnh->btnh", weights, v)).numpy()


def test_alibi_attention_is_attention_less_a_penalty_per_head_and_distance():
    x = np.random.default_rng(0).normal(size=(2, 7, 8)).astype("float32")
    mask = np.ones((2, 7, 7), bool)
    mask[1, :, 5:] = False  # the second text's last two tokens are padding
    layer = models.AlibiAttention(num_heads=4, key_dim=2)
    output = layer(x, x, attention_mask=mask).numpy()
    np.testing.assert_allclose(output, reference_attention(layer, x, mask), rtol=1e-4, atol=1e-5)
    plain = keras.layers.MultiHeadAttention(num_heads=4, key_dim=2)
    plain(x, x, attention_mask=mask)
    plain.set_weights(layer.get_weights())
    assert not np.allclose(plain(x, x, attention_mask=mask), output, atol=1e-3)  # the penalty changes the output


def test_alibi_encoder_knows_distances_not_places_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    encoder = models.build_encoder(**CFG.encoder_settings())
    assert not hasattr(encoder.get_layer("embeddings"), "position_embedding")
    ids = np.random.default_rng(1).integers(3, CFG.vocab_size, (2, CFG.max_len)).astype("int32")
    vectors = encoder(ids).numpy()
    # With no absolute positions and symmetric distances, a reversed text is encoded as the reversed encoding;
    # learned positions break that.
    np.testing.assert_allclose(encoder(ids[:, ::-1]).numpy(), vectors[:, ::-1], rtol=1e-4, atol=1e-4)
    learned = models.build_encoder(**Config.from_preset("tiny", dropout=0.0).encoder_settings())
    assert not np.allclose(learned(ids[:, ::-1]).numpy(), learned(ids).numpy()[:, ::-1], atol=1e-3)
    # Nothing caps the length it reads (learned positions stop at max_len).
    assert encoder(np.tile(ids, (1, 3))).shape == (2, 3 * CFG.max_len, CFG.embed_dim)
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(ids), vectors, rtol=1e-5, atol=1e-5)
    copy = models.copy_encoder(encoder, dropout=0.2)
    assert isinstance(copy.get_layer("block0_attention"), models.AlibiAttention)
    np.testing.assert_allclose(copy(ids), vectors, rtol=1e-5, atol=1e-5)


def test_electra_generator_attends_as_its_alibi_encoder_does():
    encoder = models.build_encoder(**CFG.encoder_settings())
    rtd = models.ReplacedTokenDetector(encoder, generator_width=8, generator_ff_dim=8, generator_heads=1)
    blocks = [layer for layer in rtd.generator.layers if isinstance(layer, keras.layers.MultiHeadAttention)]
    assert len(blocks) == CFG.num_layers and all(isinstance(block, models.AlibiAttention) for block in blocks)


def test_packed_alibi_pretraining_exports_a_classifier_that_serves_raw_strings(tmp_path):
    texts, cfg, encoder = packed_pretraining(tmp_path, positions="alibi")
    classifier = models.build_classifier(models.copy_encoder(encoder), **cfg.classifier_settings())
    vectorizer = text.make_vectorizer(text.load_vocabulary(str(tmp_path / "vocab.txt")), cfg.max_len)
    export.export_classifier(classifier, vectorizer, str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    served = loaded.serve(tf.constant(texts[:2])).numpy()
    ids = np.asarray(vectorizer(texts[:2]), np.int32)
    np.testing.assert_allclose(served, classifier(ids).numpy(), atol=1e-5)


def test_positions_settings_are_checked():
    with pytest.raises(UserError, match="--positions must be learned or alibi, not 'rope'"):
        Config.from_preset("tiny", positions="rope")
    with pytest.raises(UserError, match="--mlm-copy-positions must be false with alibi"):
        Config.from_preset("tiny", positions="alibi", mlm_copy_positions=True)
