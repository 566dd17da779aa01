"""What Rotten Tomatoes' NBSVM-style teacher should read, scored on validation only (#6).

    python3 -m experiments.rt_teachers --data-dir ../shared/data

The Rotten Tomatoes student of `train.py --distill-sentences` stays about two points under its teacher, so
a better teacher is the lever. `teacher.nbsvm` trained on: Rotten Tomatoes' 8,530 training sentences (the
teacher until stop 19); IMDB's 22,500 labelled training reviews alone; both (`--teacher-reads-imdb`);
both with the sentences repeated 2 and 3 times; the sentences and IMDB's reviews cut into sentences (each
with its review's label); both at 800,000 features. Prints validation accuracy per epoch; appends one JSON
line to --results. Not run by train.py; test is never read.
"""
import argparse, json, os, time

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "rt_teachers.jsonl"))
    a = p.parse_args()
    import numpy as np, keras
    from keras_bert_mlm import data, memory, teacher
    from keras_bert_mlm.config import Config
    memory.keep_freed_memory()
    cfg = Config()
    rt = data.load_dataset("rotten_tomatoes", a.data_dir, offline=True)
    imdb = data.load_dataset("imdb", a.data_dir, cfg.imdb_val_size, cfg.seed, True)["train"]
    x_rt, y_rt = rt["train"]["text"].to_numpy(), rt["train"]["label"].to_numpy(np.float32)
    x_va, y_va = rt["validation"]["text"].to_numpy(), rt["validation"]["label"].to_numpy(np.float32)
    x_im, y_im = imdb["text"].to_numpy(), imdb["label"].to_numpy(np.float32)
    cut = [(s, y) for r, y in zip(x_im, y_im) for s in data.sentences_of(r)]
    variants = {
        "rt": ([x_rt], [y_rt]),
        "imdb": ([x_im], [y_im]),
        "rt+imdb": ([x_rt, x_im], [y_rt, y_im]),
        "rt*2+imdb": ([x_rt] * 2 + [x_im], [y_rt] * 2 + [y_im]),
        "rt*3+imdb": ([x_rt] * 3 + [x_im], [y_rt] * 3 + [y_im]),
        "rt+imdb_sentences": ([x_rt, [s for s, _ in cut]], [y_rt, [y for _, y in cut]]),
    }
    res = {"args": vars(a)}
    for name, (xs, ys) in [*variants.items(), ("rt+imdb@800k", variants["rt+imdb"])]:
        t = time.time()
        keras.utils.set_random_seed(cfg.seed)
        x, y = np.concatenate([np.asarray(v, object) for v in xs]), np.concatenate(ys).astype(np.float32)
        nb, batches = teacher.nbsvm(x, y, cfg.seed, 800000 if name.endswith("@800k") else teacher.TEACHER["max_tokens"])
        h = nb.fit(batches(x, y, True), validation_data=batches(x_va, y_va), epochs=a.epochs, verbose=0)
        res[name] = {"texts": len(x), "val_accuracy": h.history["val_accuracy"], "minutes": (time.time() - t) / 60}
        print(name, len(x), [round(v, 4) for v in h.history["val_accuracy"]], f"{res[name]['minutes']:.1f} min",
              flush=True)
    with open(a.results, "a") as f:
        f.write(json.dumps(res) + "\n")
