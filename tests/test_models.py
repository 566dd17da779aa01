import pytest
import numpy as np
import keras
import tensorflow as tf

from keras_bert_mlm import losses, masking, models
from keras_bert_mlm.config import Config, UserError

CFG = Config.from_preset("tiny")


def batch(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, CFG.vocab_size, (8, CFG.max_len)).astype(np.int32)
    ids[:, 20:] = 0
    return next(iter(masking.mlm_dataset(ids, CFG, shuffle=False)))


def test_loss_counts_only_chosen_positions():
    x, y, w = batch()
    w_np = w.numpy()
    logits = tf.random.normal((*y.shape, CFG.vocab_size), seed=1)
    loss, hits = losses.masked_loss_and_hits(y, logits, w)
    ce = tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True).numpy()
    assert np.isclose(loss, (ce * w_np).sum() / w_np.sum(), rtol=1e-5)
    # Changing the logits or targets of unchosen slots changes nothing.
    unchosen = (w_np == 0)[..., None]
    noisy = tf.where(unchosen, logits * 10 + 3, logits)
    other_targets = tf.where(w > 0, y, (y + 1) % CFG.vocab_size)
    assert np.isclose(losses.masked_loss_and_hits(other_targets, noisy, w)[0], loss, rtol=1e-6)
    assert hits <= w_np.sum()


def test_mlm_trains_and_round_trips_through_keras_file(tmp_path):
    keras.utils.set_random_seed(0)
    mlm = models.MaskedLanguageModel(models.build_encoder(**CFG.encoder_settings()))
    mlm.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y, w = batch()
    before = mlm.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    mlm.fit(tf.data.Dataset.from_tensors((x, y, w)).repeat(20), verbose=0)
    after = mlm.evaluate(tf.data.Dataset.from_tensors((x, y, w)), verbose=0, return_dict=True)
    assert after["loss"] < before["loss"] and set(after) == {"loss", "masked_accuracy"}
    path = str(tmp_path / "mlm.keras")
    mlm.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), mlm(x), rtol=1e-5, atol=1e-5)


def test_tied_head_projects_onto_the_token_embeddings_and_keeps_the_tie_when_loaded(tmp_path):
    keras.utils.set_random_seed(0)
    mlm = models.MaskedLanguageModel(models.build_encoder(**CFG.encoder_settings()), tie_embeddings=True)
    table = mlm.encoder.get_layer("embeddings").token_embedding.embeddings
    assert sum(v is table for v in mlm.trainable_variables) == 1  # one table, trained once a step
    assert len(mlm.trainable_variables) == len(mlm.encoder.trainable_variables) + 1  # and the head's bias
    x, y, w = batch()
    vectors = mlm.encoder(x["token_ids"]).numpy()
    chosen = np.take_along_axis(vectors, x["mask_positions"].numpy()[..., None], axis=1)
    np.testing.assert_allclose(mlm(x), chosen @ table.numpy().T, rtol=1e-5, atol=1e-5)  # the bias starts at 0
    mlm.compile(optimizer=keras.optimizers.Adam(1e-2))
    mlm.fit(tf.data.Dataset.from_tensors((x, y, w)).repeat(5), verbose=0)
    path = str(tmp_path / "mlm.keras")
    mlm.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), mlm(x), rtol=1e-5, atol=1e-5)
    loaded_table = loaded.encoder.get_layer("embeddings").token_embedding.embeddings
    assert loaded.get_layer("mlm_head").tied_to.embeddings is loaded_table


def test_padding_does_not_change_the_encoding():
    encoder = models.build_encoder(**CFG.encoder_settings())
    ids = np.array([[5, 6, 7, 0, 0, 0]], np.int32)
    np.testing.assert_allclose(encoder(ids)[:, :3], encoder(ids[:, :3]), rtol=1e-5, atol=1e-5)


def test_classifier_starts_from_the_pretrained_encoder_weights():
    encoder = models.build_encoder(**CFG.encoder_settings())
    copy = models.copy_encoder(encoder)
    classifier = models.build_classifier(copy, **CFG.classifier_settings())
    inner = classifier.get_layer("encoder")
    assert inner is copy
    for a, b in zip(encoder.weights, inner.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert all(a is not b for a, b in zip(encoder.weights, inner.weights))  # fine-tuning leaves the original alone


def test_pooling_ignores_padding():
    vectors = tf.constant([[[1.0, -2.0], [3.0, 0.0], [99.0, 99.0]]])
    ids = tf.constant([[4, 5, 0]])
    assert models.SequencePooling("max")(vectors, ids).numpy().tolist() == [[3.0, 0.0]]
    assert models.SequencePooling("mean")(vectors, ids).numpy().tolist() == [[2.0, -1.0]]
    assert models.SequencePooling("first")(vectors, ids).numpy().tolist() == [[1.0, -2.0]]
    empty = models.SequencePooling("max")(vectors, tf.zeros((1, 3), tf.int32)).numpy()
    assert np.isfinite(empty).all()


def test_fused_loss_equals_the_dense_reference_in_value_and_gradient():
    """Sparse head with the fused loss == vocabulary logits at every position, loss on the chosen ones."""
    keras.utils.set_random_seed(3)
    mlm = models.MaskedLanguageModel(models.build_encoder(**CFG.encoder_settings()))
    head = mlm.get_layer("mlm_head")
    x, y, w = batch(seed=4)
    ids, positions = x["token_ids"], x["mask_positions"]
    variables = mlm.trainable_variables

    with tf.GradientTape() as tape:
        vectors = mlm.encoder(ids)
        fused_loss, fused_hits = head.loss_and_hits(vectors, positions, y, w)
    fused_grads = tape.gradient(fused_loss, variables)

    with tf.GradientTape() as tape:  # the reference formulation: dense logits at all positions
        all_logits = head.projection(mlm.encoder(ids))
        dense_weights = tf.zeros(ids.shape).numpy()
        dense_targets = np.zeros(ids.shape, np.int32)
        for row in range(ids.shape[0]):
            for slot in np.flatnonzero(w[row].numpy()):
                dense_weights[row, positions[row, slot]] = 1.0
                dense_targets[row, positions[row, slot]] = y[row, slot]
        dense_loss, dense_hits = losses.masked_loss_and_hits(dense_targets, all_logits, dense_weights)
    dense_grads = tape.gradient(dense_loss, variables)

    sparse_loss, _ = losses.masked_loss_and_hits(y, mlm(x), w)
    np.testing.assert_allclose([fused_loss, sparse_loss], [dense_loss] * 2, rtol=1e-5)
    assert float(fused_hits) == float(dense_hits)
    for v, a, b in zip(variables, fused_grads, dense_grads):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-4, atol=1e-6,
                                   err_msg=v.path)


def test_the_head_compiled_with_xla_gives_the_fused_loss_and_gradient():
    # XLA cannot compile the fused loss's chunk loop (its length depends on the data): compiled, the head
    # computes the logits whole, with the same value and gradient.
    keras.utils.set_random_seed(5)
    mlm = models.MaskedLanguageModel(models.build_encoder(**CFG.encoder_settings()), tie_embeddings=True)
    head = mlm.get_layer("mlm_head")
    x, y, w = batch(seed=6)

    def loss_and_gradient(ids, positions, targets, weights):
        with tf.GradientTape() as tape:
            loss, hits = head.loss_and_hits(mlm.encoder(ids), positions, targets, weights)
        return loss, hits, tape.gradient(loss, mlm.trainable_variables)

    args = (x["token_ids"], x["mask_positions"], y, w)
    fused = loss_and_gradient(*args)
    compiled = tf.function(loss_and_gradient, jit_compile=True)(*args)
    np.testing.assert_allclose(compiled[0], fused[0], rtol=1e-5)
    assert float(compiled[1]) == float(fused[1])
    for v, a, b in zip(mlm.trainable_variables, compiled[2], fused[2]):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-4, atol=1e-6,
                                   err_msg=v.path)


def test_fused_loss_over_several_chunks_and_no_chosen_rows():
    rng = np.random.default_rng(0)
    vectors = tf.constant(rng.normal(size=(7, 3, 4)), tf.float32)
    kernel, bias = tf.constant(rng.normal(size=(4, 11)), tf.float32), tf.constant(rng.normal(size=11), tf.float32)
    targets = tf.constant(rng.integers(0, 11, (7, 3)), tf.int32)
    weights = tf.constant(rng.integers(0, 2, (7, 3)), tf.float32)
    expected = losses.masked_loss_and_hits(targets, tf.matmul(vectors, kernel) + bias, weights)
    got = losses.fused_projection_loss(vectors, kernel, bias, targets, weights, chunk_size=2)
    np.testing.assert_allclose([float(v) for v in got], [float(v) for v in expected], rtol=1e-5)
    none = losses.fused_projection_loss(vectors, kernel, bias, targets, tf.zeros_like(weights))
    assert [float(v) for v in none] == [0.0, 0.0]


def test_fused_loss_draws_samples_from_the_softmax_it_computes():
    # Two rows of slots per text; vocabulary of 3 with logits log(0.2), log(0.3), log(0.5) in every row.
    n = 4000
    vectors = tf.ones((n // 2, 2, 1))
    kernel, bias = tf.zeros((1, 3)), tf.math.log(tf.constant([0.2, 0.3, 0.5]))
    targets = tf.fill((n // 2, 2), 1)
    weights = tf.constant([[1.0, 0.0]] * (n // 4) + [[1.0, 1.0]] * (n // 4))
    seed = tf.constant([7, 8])
    loss, hits, samples = losses.fused_projection_loss(vectors, kernel, bias, targets, weights, chunk_size=256,
                                                       seed=seed)
    assert np.isclose(loss, -np.log(0.3), rtol=1e-5)  # the loss is unchanged by sampling
    samples = samples.numpy()
    assert (samples[weights.numpy() == 0] == 1).all()  # unchosen slots keep their target
    drawn = samples[weights.numpy() > 0]
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / len(drawn), [0.2, 0.3, 0.5], atol=0.03)
    again = losses.fused_projection_loss(vectors, kernel, bias, targets, weights, chunk_size=256, seed=seed)[2]
    np.testing.assert_array_equal(again, samples)  # a seed fixes the draw


def test_bigram_embedding_sees_the_previous_token_and_survives_saving(tmp_path):
    cfg = Config.from_preset("tiny", bigram_buckets=97)
    encoder = models.build_encoder(**cfg.encoder_settings())
    layer = encoder.get_layer("embeddings")
    table = layer.bigram_embedding.embeddings
    assert not np.any(table.numpy())  # starts at zero: changes nothing until trained
    table.assign(np.random.default_rng(0).normal(size=table.shape).astype(np.float32))
    a, b = (layer(np.array([ids], np.int32)).numpy()[0] for ids in ([5, 6, 7], [9, 6, 7]))
    assert not np.allclose(a[1], b[1])  # same token 6, other previous token
    np.testing.assert_allclose(a[2], b[2])  # (6, 7) in both
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    ids = np.array([[5, 6, 7, 0]], np.int32)
    np.testing.assert_allclose(keras.saving.load_model(path)(ids), encoder(ids), rtol=1e-6)


def test_classifier_with_pooled_embeddings_shares_the_encoder_weights_and_round_trips(tmp_path):
    cfg = Config.from_preset("tiny", pool_embeddings=True, bigram_buckets=97, head_hidden=0)
    encoder = models.copy_encoder(models.build_encoder(**cfg.encoder_settings()))
    classifier = models.build_classifier(encoder, **cfg.classifier_settings())
    assert classifier.get_layer("pooled").output.shape[-1] == 2 * cfg.embed_dim
    # One set of weights: the encoder's own, not copies.
    assert {id(v) for v in classifier.get_layer("encoder_and_embeddings").weights} == {id(v) for v in encoder.weights}
    encoder.trainable = False
    assert len(classifier.trainable_weights) == 2  # the head only
    encoder.trainable = True
    ids = np.array([[5, 6, 7, 0], [8, 0, 0, 0]], np.int32)
    before = classifier(ids).numpy()
    table = encoder.get_layer("embeddings").token_embedding.embeddings
    table_before = table.numpy()
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    classifier.fit(ids, np.array([1.0, 0.0]), epochs=3, verbose=0)
    assert not np.allclose(classifier(ids), before)
    assert not np.allclose(table.numpy(), table_before)  # fine-tuning reaches the shared embeddings
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(ids), classifier(ids), rtol=1e-5)


def test_replace_tokens_writes_targets_and_samples_at_the_chosen_positions():
    x, y, w = batch()
    samples = tf.where(w > 0, (y + 1) % CFG.vocab_size, y)  # another word at each chosen slot
    original, corrupted = models.electra.replace_tokens(x["token_ids"], x["mask_positions"], y, samples)
    original, corrupted, masked = original.numpy(), corrupted.numpy(), x["token_ids"].numpy()
    positions, y, chosen = x["mask_positions"].numpy(), y.numpy(), w.numpy() > 0
    rows = np.arange(len(y))[:, None]
    np.testing.assert_array_equal(original[rows, positions], y)  # the targets written back
    slots = np.zeros(masked.shape, bool)
    slots[rows, positions] = True
    np.testing.assert_array_equal(original[~slots], masked[~slots])  # elsewhere the input, untouched
    replaced = np.zeros(masked.shape, bool)
    replaced[rows, positions] = chosen
    np.testing.assert_array_equal(original != corrupted, replaced)  # the chosen positions, nothing else


def electra(seed=0):
    keras.utils.set_random_seed(seed)
    cfg = Config.from_preset("tiny", objective="electra")
    rtd = models.ReplacedTokenDetector(models.build_encoder(**cfg.encoder_settings()), **cfg.generator_settings())
    rtd.compile(optimizer=keras.optimizers.Adam(1e-2))
    return rtd


def test_replaced_token_detector_trains_shares_embeddings_and_round_trips(tmp_path):
    rtd = electra()
    assert rtd.generator.get_layer("embeddings") is rtd.encoder.get_layer("embeddings")
    names = [v.path for v in rtd.trainable_variables]
    assert len(names) == len(set(names))  # the shared embeddings are trained once, not twice
    x, y, w = batch()
    data = tf.data.Dataset.from_tensors((x, y, w))
    before = rtd.evaluate(data, verbose=0, return_dict=True)
    rtd.fit(data.repeat(30), verbose=0)
    after = rtd.evaluate(data, verbose=0, return_dict=True)
    assert set(after) == {"loss", "masked_accuracy", "replaced_accuracy"}
    assert after["loss"] < before["loss"] and after["replaced_accuracy"] > 0.5
    assert tuple(rtd(x).shape) == (*y.shape, CFG.vocab_size)  # the generator's logits: fill-mask works as for MLM
    path = str(tmp_path / "rtd.keras")
    rtd.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), rtd(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.encoder(x["token_ids"]), rtd.encoder(x["token_ids"]), rtol=1e-5, atol=1e-5)
    assert loaded.generator.get_layer("embeddings") is loaded.encoder.get_layer("embeddings")


def test_electra_settings_are_checked():
    with pytest.raises(UserError, match="--objective must be mlm or electra"):
        Config.from_preset("tiny", objective="bert")
    with pytest.raises(UserError, match="--generator-size 1.5 gives a generator width of 24 with 3 heads"):
        Config.from_preset("tiny", objective="electra", generator_size=1.5)
    with pytest.raises(UserError, match="--generator-size 0.3 gives a generator width of 17 with 2 heads"):
        Config.from_preset("tiny", objective="electra", generator_size=0.3, num_heads=8, embed_dim=56)
    settings = Config.from_preset("cpu-hour", objective="electra", prompt="").generator_settings()
    assert (settings["generator_width"], settings["generator_ff_dim"], settings["generator_heads"]) == (32, 64, 1)


def test_pre_layernorm_encoder_ends_normalized_and_round_trips(tmp_path):
    cfg = Config.from_preset("tiny", norm_first=True, num_layers=2)
    keras.utils.set_random_seed(0)
    encoder = models.build_encoder(**cfg.encoder_settings())
    assert encoder.layers[-1].name == "final_norm" and encoder.layers[2].name == "block0_attention_norm"
    ids = batch()[0]["token_ids"]
    vectors = encoder(ids).numpy()
    np.testing.assert_allclose(vectors.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(vectors.std(-1), 1, atol=1e-2)
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(ids), vectors, rtol=1e-5, atol=1e-5)
    classifier = models.build_classifier(models.copy_encoder(encoder), **cfg.classifier_settings())
    assert classifier(ids).shape == (ids.shape[0], 1)
