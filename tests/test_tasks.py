"""Your own tasks in a run: the --task and --corpus settings, K-class classifiers, their metrics and export."""

import numpy as np
import pytest
import tensorflow as tf

from keras_bert_mlm import evaluate, export, models, text
from keras_bert_mlm.config import Config, UserError
from train import parse_args
from keras_bert_mlm.cli import config_from_args


@pytest.mark.parametrize("settings, message", [
    (dict(task=["topics=a.csv", "topics=b.csv"]), "'topics' is used twice"),
    (dict(datasets="imdb", task=["imdb=a.csv"]), "'imdb' is used twice"),
    (dict(task=["mlm=a.csv"]), "taken by the run's own folders"),
    (dict(task=["no-source"]), "expected NAME=SOURCE"),
    (dict(task=["a b=x.csv"]), "expected NAME=SOURCE"),
    (dict(datasets=""), "nothing to fine-tune"),
    (dict(datasets="imdb,sst2"), "unknown dataset 'sst2'"),
])
def test_bad_tasks_are_refused_naming_the_flag(settings, message):
    with pytest.raises(UserError, match=message):
        Config.from_preset("tiny", **settings)


def test_tasks_replace_the_built_in_datasets_unless_datasets_is_given():
    cfg = config_from_args(parse_args(["--preset", "tiny", "--task", "topics=t.csv", "--task", "mood=m.jsonl"]))
    assert cfg.dataset_list == ["topics", "mood"] and cfg.tasks == {"topics": "t.csv", "mood": "m.jsonl"}
    cfg = config_from_args(parse_args(["--preset", "tiny", "--datasets", "imdb", "--task", "topics=t.csv",
                                       "--corpus", "texts/", "--corpus", "builtin"]))
    assert cfg.dataset_list == ["imdb", "topics"] and cfg.corpus == ["texts/", "builtin"]
    assert config_from_args(parse_args(["--preset", "tiny"])).dataset_list == ["imdb", "rotten_tomatoes"]


def test_task_settings_survive_config_json(tmp_path):
    cfg = Config.from_preset("tiny", task=["topics=data/t.csv"], corpus=["notes/"], datasets="", label_column="y")
    cfg.to_json(tmp_path / "config.json")
    assert Config.from_json(tmp_path / "config.json") == cfg


def test_class_metrics_match_a_hand_count():
    labels = [0, 0, 1, 1, 2, 2, 2]
    probabilities = np.eye(3)[[0, 1, 1, 1, 2, 2, 0]]
    m = evaluate.class_metrics(labels, probabilities, ["a", "b", "c"])
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["per_class"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                   "support": 2}
    f1 = [2 * .5 * .5 / 1, 0.8, 2 * 1 * (2 / 3) / (1 + 2 / 3)]
    assert m["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-4)
    table = evaluate.metrics_table({"topics": m})
    assert "macro" in table and "\n  c " in table


def test_vocabulary_does_not_depend_on_text_order_or_streaming():
    texts = [f"word{i % 7} tie{i % 3} shared" for i in range(50)] + ["zeta alpha", "alpha zeta"]
    listed = text.adapt_vectorizer(texts, vocab_size=12, max_len=4, batch_size=8).get_vocabulary()
    streamed = text.adapt_vectorizer(iter(texts[::-1]), vocab_size=12, max_len=4, batch_size=5).get_vocabulary()
    assert listed == streamed
    vectorizer = text.make_vectorizer(listed, 4)
    np.testing.assert_array_equal(text.vectorize(vectorizer, iter(texts), batch_size=7),
                                  text.vectorize(vectorizer, texts))


def test_a_three_class_classifier_exports_probabilities_and_its_labels(tmp_path):
    vectorizer = text.make_vectorizer(["", "[UNK]", "[mask]", "good", "bad", "meh"], max_len=8)
    encoder = models.build_encoder(vocab_size=6, max_len=8, embed_dim=8, num_heads=2, ff_dim=8, num_layers=1)
    classifier = models.build_classifier(encoder, pooling="mean", num_classes=3)
    classifier.compile(optimizer="adam", **models.training_setup(3))
    ids = text.vectorize(vectorizer, ["good good", "bad", "meh meh meh"] * 4)
    history = classifier.fit(ids, np.array([0, 1, 2] * 4, np.float32), epochs=2, verbose=0).history
    assert set(history) == {"loss", "accuracy"}
    path = str(tmp_path / "savedmodel")
    export.export_classifier(classifier, vectorizer, path, ["pos", "neg", "neutral"])
    loaded = export.load_savedmodel(path, "serve")
    texts = ["good", "", "meh bad good " * 5, "bad"] * 5  # more than a chunk, unsorted lengths
    probabilities = loaded.serve(tf.constant(texts)).numpy()
    assert probabilities.shape == (20, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, classifier.predict(text.vectorize(vectorizer, texts), verbose=0),
                               atol=1e-5)
    assert evaluate.saved_labels(loaded) == ["pos", "neg", "neutral"]
