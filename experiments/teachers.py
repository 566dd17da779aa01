"""Candidate teachers for distillation on IMDB, scored on validation only (#6).

    python3 -m experiments.teachers --data-dir ../shared/data

The student of `train.py --distill-unlabelled` ends about level with its teacher, so a better teacher
is the lever. Compares, on our IMDB split (22,500 train / 2,500 validation): the baseline's bag of
bigrams (tf-idf, 100,000 uni- and bigrams: `teacher.soft_labels`'s teacher until stop 15) and
NBSVM-style features (`teacher.nbsvm`, Wang & Manning 2012: binary uni- and bigrams scaled by their
naive-Bayes log-count ratio, one logistic unit; the teacher since), with --max-tokens features, up to
--ngrams-grams, and with --reads-rt Rotten Tomatoes' training sentences beside the reviews. Prints
validation accuracy per epoch; appends a JSON line to --results. Not run by train.py; test is never read.
"""
import argparse, json, os, time

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--max-tokens", type=int, default=400000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--ngrams", type=int, default=2, help="NBSVM: 1- to N-grams")
    p.add_argument("--reads-rt", action="store_true", help="NBSVM: also train on Rotten Tomatoes' training sentences")
    p.add_argument("--nbsvm-only", action="store_true", help="skip the tf-idf bag of bigrams")
    p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "teachers.jsonl"))
    a = p.parse_args()
    import numpy as np, keras
    from keras_bert_mlm import baseline, data, teacher
    from keras_bert_mlm.config import Config
    cfg = Config()
    keras.utils.set_random_seed(cfg.seed)
    split = data.load_dataset("imdb", a.data_dir, cfg.imdb_val_size, cfg.seed, True)
    x_tr, y_tr = split["train"]["text"].to_numpy(), split["train"]["label"].to_numpy(np.float32)
    x_va, y_va = split["validation"]["text"].to_numpy(), split["validation"]["label"].to_numpy(np.float32)
    res = {"args": vars(a)}

    # 1. The baseline's bag of bigrams, as train.py's teacher until stop 15.
    if not a.nbsvm_only:
        t = time.time()
        vec, model = baseline.build(x_tr, cfg.seed)
        h = model.fit(teacher.text_batches(vec, x_tr, y_tr, cfg.seed), validation_data=teacher.text_batches(vec, x_va, y_va),
                      epochs=a.epochs, verbose=0)
        res["tfidf_bigrams_val_accuracy"] = h.history["val_accuracy"]
        res["tfidf_bigrams_minutes"] = (time.time() - t) / 60
        print("tf-idf bag of bigrams:", [round(v, 4) for v in h.history["val_accuracy"]], flush=True)

    # 2. NBSVM-style: binary 1- to --ngrams-grams times the log-count ratio r, one logistic unit.
    t = time.time()
    if a.reads_rt:
        rt = data.load_dataset("rotten_tomatoes", a.data_dir, offline=True)["train"]
        x_tr = np.concatenate([x_tr, rt["text"].to_numpy()])
        y_tr = np.concatenate([y_tr, rt["label"].to_numpy(np.float32)])
    nb, batches = teacher.nbsvm(x_tr, y_tr, cfg.seed, a.max_tokens, a.ngrams)
    h = nb.fit(batches(x_tr, y_tr, True), validation_data=batches(x_va, y_va), epochs=a.epochs, verbose=0)
    res["nbsvm_val_accuracy"] = h.history["val_accuracy"]
    res["nbsvm_minutes"] = (time.time() - t) / 60
    print("NBSVM-style:", [round(v, 4) for v in h.history["val_accuracy"]], f"{res['nbsvm_minutes']:.1f} min", flush=True)
    print(json.dumps(res))
    with open(a.results, "a") as f:
        f.write(json.dumps(res) + "\n")
