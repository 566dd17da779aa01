"""Fine-tuning variants on one run's pretrained encoder, scored on validation only (#6).

    python3 -m experiments.finetune_variants --run runs/cpu-hour-v2 --dataset rotten_tomatoes --lr 3e-4 --epochs 4

The scratch script behind the fine-tuning comparisons of docs/experiments.md, kept as it was run (only the paths
became flags): each run prints its per-epoch figures and appends them to --results as one JSON line.
It builds its own classifier (the package's layers, a mean-pooled encoder, optionally with the
pooled embeddings beside it) so that variants the package does not offer can be tried: starting
from another dataset's classifier, frozen embedding tables, word dropout. Not used by train.py.
"""
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--run", required=True, help="a train.py output dir: its vocab.txt, config.json, mlm/encoder.keras")
p.add_argument("--data-dir", default="../shared/data")
p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "finetune_variants.jsonl"))
p.add_argument("--dataset", default="imdb")
p.add_argument("--init", default="mlm")  # mlm, random (same architecture, no pretraining) or a classifier.keras path
p.add_argument("--keep-head", action="store_true")
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--freeze", default="")  # comma: bigram,token,position
p.add_argument("--pool", default="mean")  # mean or concat
p.add_argument("--head-dropout", type=float, default=0.1)
p.add_argument("--wd", type=float, default=0.01)
p.add_argument("--word-dropout", type=float, default=0.0)
p.add_argument("--head-tokens", type=int, default=0)  # >0: keep the first N and the last max_len-N tokens
a = p.parse_args()
import numpy as np, keras, tensorflow as tf
from keras import layers
from keras_bert_mlm import batching, data, models, text
from keras_bert_mlm.config import Config
from keras_bert_mlm.optimizer import make_optimizer
cfg = Config.from_json(os.path.join(a.run, "config.json"))
cfg = Config(**{**cfg.to_dict(), "weight_decay": a.wd, "head_dropout": a.head_dropout})
keras.utils.set_random_seed(cfg.seed)
split = data.load_dataset(a.dataset, a.data_dir, cfg.imdb_val_size, cfg.seed, True)
vocab = text.load_vocabulary(os.path.join(a.run, "vocab.txt"))
vec = text.make_vectorizer(vocab, cfg.max_len)
def ds(part, shuffle):
    if a.head_tokens:  # head + tail truncation of a review longer than max_len
        long = text.vectorize(text.make_vectorizer(vocab, 4096), part["text"])
        n = (long != 0).sum(1)
        tail = cfg.max_len - a.head_tokens
        ids = long[:, :cfg.max_len].copy()
        for i in np.flatnonzero(n > cfg.max_len):
            ids[i, a.head_tokens:] = long[i, n[i] - tail:n[i]]
        print(f"head+tail: {int((n > cfg.max_len).sum())} of {len(n)} texts longer than {cfg.max_len}", flush=True)
    else:
        ids = text.vectorize(vec, part["text"])
    ds = batching.make_batches(ids, 32, part["label"].to_numpy(np.float32), shuffle=shuffle, seed=cfg.seed,
                                 repeat=shuffle)
    if shuffle and a.word_dropout:
        def drop(x, y):
            hit = tf.logical_and(tf.random.uniform(tf.shape(x)) < a.word_dropout, x > 2)
            return tf.where(hit, tf.constant(2, x.dtype), x), y
        ds = ds.map(drop)
    return ds.prefetch(tf.data.AUTOTUNE)
if a.init == "mlm":
    enc = models.copy_encoder(keras.saving.load_model(os.path.join(a.run, "mlm", "encoder.keras")))
    head_src = None
elif a.init == "random":  # what pretraining buys: the same encoder, freshly initialized
    enc = models.build_encoder(**cfg.encoder_settings())
    head_src = None
else:
    src = keras.saving.load_model(a.init)
    enc = models.copy_encoder(src.get_layer("encoder"))
    head_src = src.get_layer("head")
tok = keras.Input((None,), dtype="int32")
if a.pool == "concat":
    inner = keras.Model(enc.inputs, [enc.get_layer("embeddings").output, enc.output])
    e, o = inner(tok)
    x = layers.Concatenate()([models.SequencePooling("mean")(o, tok), models.SequencePooling("mean")(e, tok)])
else:
    x = models.SequencePooling("mean")(enc(tok), tok)
x = layers.Dropout(cfg.head_dropout)(x)
head = layers.Dense(1, activation="sigmoid", name="head")
prob = head(x)
clf = keras.Model(tok, prob)
if a.keep_head and head_src is not None:
    head.set_weights(head_src.get_weights())
emb = enc.get_layer("embeddings")
for f in filter(None, a.freeze.split(",")):
    getattr(emb, f + "_embedding").trainable = False
steps = -(-len(split["train"]) // 32)
clf.compile(optimizer=make_optimizer(cfg, a.lr, a.epochs * steps), loss="binary_crossentropy", metrics=["accuracy"])
print("trainable params", sum(int(np.prod(v.shape)) for v in clf.trainable_variables), flush=True)
val = ds(split["validation"], False)
if head_src is not None:
    print("before fine-tuning", clf.evaluate(val, verbose=0), flush=True)
t = time.time()
h = clf.fit(ds(split["train"], True), steps_per_epoch=steps, epochs=a.epochs, validation_data=val, verbose=2)
res = {"args": vars(a), "val_accuracy": h.history["val_accuracy"], "accuracy": h.history["accuracy"],
       "val_loss": h.history["val_loss"], "minutes": (time.time() - t) / 60}
print(json.dumps(res), flush=True)
with open(a.results, "a") as f:
    f.write(json.dumps(res) + "\n")
