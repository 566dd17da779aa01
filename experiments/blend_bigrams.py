"""Does the transformer add anything to a bag of bigrams? Blend the two on validation only (#6).

    python3 -m experiments.blend_bigrams --run runs/cpu-hour-v2 --dataset imdb

Trains the baseline's bag of bigrams (`keras_bert_mlm.baseline.SETTINGS`: tf-idf of up to 100,000
words and word pairs, one sigmoid `Dense`, Adam, 5 epochs) on the same training split, scores the
run's exported `serve` SavedModel on the validation split, and prints the validation accuracy of
sigmoid(w * logit_transformer + (1 - w) * logit_bigrams) for w = 0, 0.1, ..., 1, and the two models'
agreement. One JSON line per run goes to --results. Not used by train.py; test is never read.
"""
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--run", required=True, help="a train.py output dir with DATASET/savedmodel")
p.add_argument("--data-dir", default="../shared/data")
p.add_argument("--dataset", default="imdb")
p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "blend_bigrams.jsonl"))
a = p.parse_args()
import numpy as np, tensorflow as tf
from keras_bert_mlm import baseline, data, teacher
from keras_bert_mlm.config import Config
cfg = Config.from_json(os.path.join(a.run, "config.json"))
split = data.load_dataset(a.dataset, a.data_dir, cfg.imdb_val_size, cfg.seed, True)
y = split["validation"]["label"].to_numpy()
t = time.time()
vec, bow = baseline.build(split["train"]["text"].to_numpy(), cfg.seed)
def batches(part, shuffle=False):
    return teacher.text_batches(vec, part["text"].to_numpy(), part["label"].to_numpy(np.float32),
                            cfg.seed if shuffle else None)
bow_val = []
for epoch in range(baseline.SETTINGS["epochs"]):  # the baseline's 5 epochs, one at a time to see validation after each
    bow.fit(batches(split["train"], True), epochs=1, verbose=0)
    p_bow = bow.predict(batches(split["validation"]), verbose=0).reshape(-1)
    bow_val.append(float(((p_bow > 0.5) == y).mean()))
    print(f"bag of bigrams, epoch {epoch + 1}: validation {bow_val[-1]:.4f}", flush=True)
bow_minutes = (time.time() - t) / 60
saved = tf.saved_model.load(os.path.join(a.run, a.dataset, "savedmodel"))  # keep it: .serve alone loses its variables
serve = saved.serve
texts = split["validation"]["text"].to_numpy()
p_tfm = np.concatenate([serve(tf.constant(texts[i:i + 256])).numpy().reshape(-1) for i in range(0, len(texts), 256)])
logit = lambda q: np.log(np.clip(q, 1e-7, 1 - 1e-7) / (1 - np.clip(q, 1e-7, 1 - 1e-7)))
blend = {}
for w in np.round(np.arange(0, 1.01, 0.1), 1):
    blend[str(w)] = float(((w * logit(p_tfm) + (1 - w) * logit(p_bow) > 0) == y).mean())
    print(f"w = {w:.1f} (transformer share): validation {blend[str(w)]:.4f}")
agree = float(((p_tfm > 0.5) == (p_bow > 0.5)).mean())
print(f"the two agree on {agree:.4f} of the validation texts; logit correlation "
      f"{np.corrcoef(logit(p_tfm), logit(p_bow))[0, 1]:.3f}")
res = {"args": vars(a), "bigrams_val_accuracy_per_epoch": bow_val, "bigrams_minutes": bow_minutes,
       "blend_val_accuracy": blend, "agreement": agree}
with open(a.results, "a") as f:
    f.write(json.dumps(res) + "\n")
