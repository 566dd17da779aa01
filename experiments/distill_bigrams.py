"""Teach the transformer with the bag of bigrams on IMDB's unlabelled reviews, scored on validation only (#6).

    python3 -m experiments.distill_bigrams --run runs/cpu-hour-v2 --epochs 2

Semi-supervised distillation: the baseline's bag of bigrams (`keras_bert_mlm.baseline.SETTINGS`,
trained for --teacher-epochs on the IMDB training split) gives a probability to each of the 50,000
`unsup` reviews (text the pretraining already reads); the run's pretrained encoder is then
fine-tuned, as `finetune_variants.py` does (mean pooling, dropout 0.1, AdamW with warm-up and cosine
decay), on the labelled training reviews (hard labels) together with the unlabelled ones (the
teacher's probabilities as soft targets). The question: does the student end above its teacher on
validation? Prints the teacher's and the student's validation accuracy per epoch and appends one
JSON line to --results. Not used by train.py; test is never read.

`--dataset rotten_tomatoes` (which has no unlabelled text of its own): the unlabelled texts are
sentences cut from IMDB's `unsup` reviews (5 to 60 words, the first --unlabelled of them in file
order), labelled by a bag of bigrams trained on Rotten Tomatoes' training sentences.
"""
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--dataset", default="imdb", choices=["imdb", "rotten_tomatoes"])
p.add_argument("--run", required=True, help="a train.py output dir: its vocab.txt, config.json, mlm/encoder.keras")
p.add_argument("--data-dir", default="../shared/data")
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--teacher", default="tfidf", choices=["tfidf", "nbsvm"],
               help="tfidf: the baseline's bag of bigrams (train.py's teacher until stop 15); "
                    "nbsvm: teacher.nbsvm (train.py's teacher since)")
p.add_argument("--teacher-epochs", type=int, default=2)  # the bag of bigrams' best validation epoch (blend_bigrams.jsonl)
p.add_argument("--teacher-reads-imdb", action="store_true",
               help="rotten_tomatoes: the teacher trains on IMDB's labelled training reviews too (the student does not)")
p.add_argument("--unlabelled", type=int, default=50000, help="how many unsup reviews the teacher labels")
p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "distill_bigrams.jsonl"))
a = p.parse_args()
import numpy as np, keras, tensorflow as tf
from keras_bert_mlm import baseline, batching, data, models, text
from keras_bert_mlm.config import Config
from keras_bert_mlm.optimizer import make_optimizer
from keras_bert_mlm.teacher import nbsvm, text_batches
cfg = Config.from_json(os.path.join(a.run, "config.json"))
# The student's head, whatever the run used: mean pooling, dropout 0.1, a sigmoid Dense.
cfg = Config(**{**cfg.to_dict(), "pooling": "mean", "pool_embeddings": False, "head_hidden": 0, "head_dropout": 0.1})
keras.utils.set_random_seed(cfg.seed)
split = data.load_dataset(a.dataset, a.data_dir, cfg.imdb_val_size, cfg.seed, True)
# train.py's texts for --distill-unlabelled and --distill-sentences
unsup = (data.imdb_sentences if a.dataset == "rotten_tomatoes" else data.imdb_unlabelled)(a.data_dir, True)
unsup = np.array(unsup[:a.unlabelled], dtype=object)
y_val = split["validation"]["label"].to_numpy()
t = time.time()

# The teacher: the baseline's bag of bigrams, or teacher.nbsvm.
x_tr, y_tr = split["train"]["text"].to_numpy(), split["train"]["label"].to_numpy(np.float32)
if a.teacher_reads_imdb:
    imdb = data.load_dataset("imdb", a.data_dir, cfg.imdb_val_size, cfg.seed, True)["train"]
    x_tr = np.concatenate([x_tr, imdb["text"].to_numpy()])
    y_tr = np.concatenate([y_tr, imdb["label"].to_numpy(np.float32)])
if a.teacher == "tfidf":
    vec, teacher = baseline.build(x_tr, cfg.seed)
    batches = lambda texts, labels=None, shuffle=False: text_batches(vec, texts, labels, cfg.seed if shuffle else None)
else:
    teacher, batches = nbsvm(x_tr, y_tr, cfg.seed)
teacher.fit(batches(x_tr, y_tr, True), epochs=a.teacher_epochs, verbose=0)
p_val = teacher.predict(batches(split["validation"]["text"].to_numpy()), verbose=0).reshape(-1)
soft = teacher.predict(batches(unsup), verbose=0).reshape(-1)
teacher_val = float(((p_val > 0.5) == y_val).mean())
print(f"teacher ({a.teacher}, {a.teacher_epochs} epochs): validation {teacher_val:.4f}; "
      f"{len(unsup)} unlabelled texts, {np.mean(soft > 0.5):.3f} of them positive, "
      f"{(time.time() - t) / 60:.1f} min", flush=True)

# The student: the run's pretrained encoder with the head above (`models.build_classifier`).
vocab = text.load_vocabulary(os.path.join(a.run, "vocab.txt"))
tokens = text.make_vectorizer(vocab, cfg.max_len)
x_train = np.concatenate([text.vectorize(tokens, split["train"]["text"]), text.vectorize(tokens, unsup)])
y_train = np.concatenate([split["train"]["label"].to_numpy(np.float32), soft.astype(np.float32)])
student = models.build_classifier(
    models.copy_encoder(keras.saving.load_model(os.path.join(a.run, "mlm", "encoder.keras"))),
    **cfg.classifier_settings())
steps = -(-len(x_train) // 32)
student.compile(optimizer=make_optimizer(cfg, a.lr, a.epochs * steps), loss="binary_crossentropy",
                metrics=["accuracy"])  # training accuracy against soft targets means little: read validation
train_ds = batching.make_batches(x_train, 32, y_train, shuffle=True, seed=cfg.seed, repeat=True)
val_ds = batching.make_batches(text.vectorize(tokens, split["validation"]["text"]), 32, y_val.astype(np.float32))
t = time.time()
h = student.fit(train_ds.prefetch(tf.data.AUTOTUNE), steps_per_epoch=steps, epochs=a.epochs, validation_data=val_ds,
                verbose=2)
res = {"args": vars(a), "teacher_val_accuracy": teacher_val, "val_accuracy": h.history["val_accuracy"],
       "val_loss": h.history["val_loss"], "minutes": (time.time() - t) / 60}
print(json.dumps(res), flush=True)
with open(a.results, "a") as f:
    f.write(json.dumps(res) + "\n")
