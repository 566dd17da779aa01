"""A `tiny` train.py run on the fixture, then everything a user does with its artifacts."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_script

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess

README = os.path.join(ROOT, "README.md")


def run_isolated(code, tmp_path):
    """Run `code` in a fresh interpreter that cannot import keras_bert_mlm."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_train_writes_every_artifact(tiny_run):
    for path in ("config.json", "run.json", "vocab.txt", "validation.json", "mlm/history.csv", "mlm/mlm.keras",
                 "mlm/encoder.keras", "mlm/savedmodel/saved_model.pb"):
        assert os.path.isfile(os.path.join(tiny_run, path)), path
    for name in ("imdb", "rotten_tomatoes"):
        for path in ("classifier.keras", "savedmodel/saved_model.pb", "history_frozen.csv",
                     "history_finetune.csv"):
            assert os.path.isfile(os.path.join(tiny_run, name, path)), path
    assert not [f for _, dirs, files in os.walk(tiny_run) for f in dirs + files if ".tmp-" in f]
    config = json.load(open(os.path.join(tiny_run, "config.json")))
    assert config["vocab_size"] == 500 and config["max_len"] == 32
    history = pd.read_csv(os.path.join(tiny_run, "mlm", "history.csv"))
    assert list(history["epoch"]) == [0, 1] and {"loss", "masked_accuracy", "val_loss"} <= set(history)
    record = json.load(open(os.path.join(tiny_run, "run.json")))
    assert record["wall_minutes"] > 0 and "CPU cores" in record["machine"] and record["matmul_gflops"] > 0
    assert record["preset"] == "tiny"  # what `results` names the run by
    chosen = json.load(open(os.path.join(tiny_run, "validation.json")))["imdb"]
    assert chosen["phase"] in ("frozen", "finetune") and 0 <= chosen["val_accuracy"] <= 1


def test_metrics_json(tiny_metrics, tiny_run):
    metrics = json.load(open(os.path.join(tiny_run, "metrics.json")))
    assert set(metrics) == {"imdb", "rotten_tomatoes"}
    for name, n in (("imdb", 100), ("rotten_tomatoes", 20)):  # the fixture's test splits
        m = metrics[name]
        assert m["n"] == n and m["threshold"] == 0.5
        (tn, fp), (fn, tp) = m["confusion"]
        assert tn + fp + fn + tp == n and tn + fp == n // 2
        assert np.isclose(m["accuracy"], (tp + tn) / n)
        if tp:
            assert np.isclose(m["precision"], tp / (tp + fp)) and np.isclose(m["recall"], tp / (tp + fn))
    assert "imdb" in tiny_metrics.stdout and "accuracy" in tiny_metrics.stdout


def test_fill_mask_savedmodel_in_a_fresh_process(tiny_run, tmp_path):
    out = run_isolated(f"""
import json, numpy as np, tensorflow as tf
mlm = tf.saved_model.load({os.path.join(tiny_run, 'mlm', 'savedmodel')!r})  # keep it: it owns the variables
r = mlm.fill_mask(tf.constant(["the [mask] was great", "no mask here", ""]))
print(json.dumps({{"tokens": r["tokens"].numpy().astype(str).tolist(), "p": r["probabilities"].numpy().tolist()}}))
""", tmp_path)
    result = json.loads(out.strip().splitlines()[-1])
    assert len(result["tokens"][0]) == 5 and all(result["tokens"][0])
    assert not {"", "[UNK]", "[mask]"} & set(result["tokens"][0])
    p = result["p"][0]
    assert p == sorted(p, reverse=True) and 0 < sum(p) <= 1 + 1e-6
    assert result["tokens"][1] == [""] * 5 and result["p"][1] == [0.0] * 5


def test_tfsmlayer_matches_keras_model_and_survives_odd_input(tiny_run, tmp_path):
    texts = ["a great wonderful film", "boring awful plot", "", "\U0001F600 superb", "great " * 200_000]  # 1.2 MB
    out = run_isolated(f"""
import json, keras, numpy as np, tensorflow as tf

layer = keras.layers.TFSMLayer({os.path.join(tiny_run, 'imdb', 'savedmodel')!r}, call_endpoint="serve")
inp = keras.Input(shape=(), dtype="string")
model = keras.Model(inp, layer(inp))
texts = {texts[:-1]!r} + ["great " * 200_000]
p = model.predict(tf.constant(texts), verbose=0)
loaded = tf.saved_model.load({os.path.join(tiny_run, 'imdb', 'savedmodel')!r})
bad = loaded.serve(tf.constant([b"\\xff\\xfe broken utf-8"])).numpy()
empty = loaded.serve(tf.constant([], tf.string)).numpy()
print(json.dumps({{"p": p.tolist(), "bad": bad.tolist(), "empty": list(empty.shape)}}))
""", tmp_path)
    result = json.loads(out.strip().splitlines()[-1])
    p = np.array(result["p"])
    assert p.shape == (5, 1) and np.isfinite(p).all() and ((0 <= p) & (p <= 1)).all()
    assert np.isfinite(result["bad"]).all() and result["empty"] == [0, 1]
    # The same probabilities as the Keras model on the same token ids.
    import keras
    from keras_bert_mlm import models, text  # noqa: F401 (models registers the custom layers)
    classifier = keras.saving.load_model(os.path.join(tiny_run, "imdb", "classifier.keras"))
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(tiny_run, "vocab.txt")), 32)
    expected = classifier.predict(np.asarray(vectorizer(texts), np.int32), verbose=0)
    np.testing.assert_allclose(p, expected, rtol=1e-4, atol=1e-5)


def test_readme_snippets_run(tiny_run, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", open(README).read(), re.S)
    assert len(blocks) >= 2
    for code in blocks:
        run_isolated(code.replace("runs/example", tiny_run), tmp_path)


def test_finetune_from_an_earlier_pretraining(tiny_run, data_dir, tmp_path):
    out = str(tmp_path / "again")
    result = run_script("train.py", "--preset", "tiny", "--offline", "--quiet", "--data-dir", data_dir,
                        "--output-dir", out, "--pretrained", tiny_run, "--datasets", "rotten_tomatoes",
                        "--embed-dim", "64", "--pooling", "mean", "--dropout", "0.3")
    assert result.returncode == 0, result.stderr
    assert open(os.path.join(out, "vocab.txt")).read() == open(os.path.join(tiny_run, "vocab.txt")).read()
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["embed_dim"] == 16 and config["pooling"] == "mean"  # pretraining settings come from the run
    assert config["dropout"] == 0.3  # fine-tuning's own, not the run's
    assert os.path.isfile(os.path.join(out, "mlm", "savedmodel", "saved_model.pb"))
    assert os.path.isfile(os.path.join(out, "rotten_tomatoes", "savedmodel", "saved_model.pb"))


def test_fine_tunes_on_unlabelled_texts_labelled_by_the_bag_of_bigrams(tiny_run, data_dir, tmp_path):
    out = str(tmp_path / "distilled")
    result = run_script("train.py", "--preset", "tiny", "--offline", "--data-dir", data_dir, "--output-dir", out,
                        "--pretrained", tiny_run, "--distill-unlabelled", "150", "--distill-sentences", "100",
                        "--teacher-reads-imdb", "true")
    assert result.returncode == 0, result.stderr
    assert "192 texts + 150 labelled by a bag of bigrams" in result.stdout
    assert "labels 150 unlabelled reviews" in result.stdout
    assert "160 texts + 100 labelled by a bag of bigrams" in result.stdout
    assert "on the 160 training texts and IMDB's 192 labelled training reviews) labels 100 sentences of IMDB's " \
        "unlabelled reviews" in result.stdout
    # Each epoch reads the 192 labelled and the 150 teacher-labelled reviews: 22 batches of 16 (12 without);
    # Rotten Tomatoes' 160 training sentences and 100 cut from IMDB's reviews: 17 (10 without).
    assert re.search(r"^22/22 ", result.stdout, re.M) and re.search(r"^17/17 ", result.stdout, re.M), result.stdout
    for name in ("imdb", "rotten_tomatoes"):
        chosen = json.load(open(os.path.join(out, name, "chosen.json")))
        assert np.isfinite(chosen["loss"]) and chosen["loss"] > 0  # texts left without targets give nan
        assert os.path.isfile(os.path.join(out, name, "savedmodel", "saved_model.pb"))


def test_same_seed_same_results(tiny_run, tiny_metrics, data_dir, tmp_path):
    out = str(tmp_path / "again")
    for script, args in (("train.py", ["--preset", "tiny", "--quiet", "--output-dir", out]),
                         ("test.py", ["--artifacts", out])):
        result = run_script(script, "--offline", "--data-dir", data_dir, *args)
        assert result.returncode == 0, result.stderr

    def figures(run):
        metrics = json.load(open(os.path.join(run, "metrics.json")))
        return [json.load(open(os.path.join(run, "validation.json"))),
                {name: {k: v for k, v in m.items() if k != "seconds"} for name, m in metrics.items()}]

    assert figures(out) == figures(tiny_run)


def test_rerun_skips_finished_stages_and_redoes_the_missing_one(tiny_run, tiny_metrics, data_dir, tmp_path):
    out = str(tmp_path / "resume")
    shutil.copytree(tiny_run, out)
    shutil.rmtree(os.path.join(out, "rotten_tomatoes"))  # as if killed while fine-tuning on it
    imdb_model = os.path.join(out, "imdb", "savedmodel", "saved_model.pb")
    before = os.path.getmtime(imdb_model)
    result = run_script("train.py", "--preset", "tiny", "--offline", "--quiet", "--data-dir", data_dir,
                        "--output-dir", out)
    assert result.returncode == 0, result.stderr
    assert "pretraining: finished by an earlier run" in result.stdout
    assert "imdb: finished by an earlier run" in result.stdout
    assert os.path.getmtime(imdb_model) == before
    # Each stage seeds itself, so the redone stage matches the uninterrupted run.
    validation = json.load(open(os.path.join(out, "validation.json")))
    assert validation == json.load(open(os.path.join(tiny_run, "validation.json")))
