"""What the `embed` vectors are worth: k-nearest-neighbour sentiment accuracy of a run's pretrained encoder
against the same architecture randomly initialized (#24).

    python3 -m experiments.knn_embeddings --run RUN_DIR --data-dir ../shared/data

For each dataset, every text of its test split is labelled by the majority of its k most cosine-similar
texts of its training split (load_dataset's "train": IMDB's 22,500 after the validation carve-out, Rotten
Tomatoes' 8,530); no training, no choice made on test. The vectors are those of the masked-LM SavedModel's
`embed` endpoint: `export.pooled_encoder` (RUN/config.json's pooling over the encoder's token vectors),
L2-normalized by `export.embed`, from (a) RUN/mlm/encoder.keras with RUN/vocab.txt and (b) `build_encoder`
of RUN's settings, seeded with --seed. Odd k only: a binary vote has no tie. --max-index / --max-queries
subsample with a seeded draw (recorded) when the full splits take too long. Prints the figures and appends
one JSON line to --results. Not used by train.py.
"""

import argparse
import json
import os
import time

DEFAULT_RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "knn_embeddings.jsonl")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", required=True, help="a train.py output dir: config.json, vocab.txt, mlm/encoder.keras")
    p.add_argument("--data-dir", default="../shared/data", help="where the datasets' archives are")
    p.add_argument("--datasets", default="imdb,rotten_tomatoes", help="comma-separated (default: both)")
    p.add_argument("--k", default="1,11,51", help="comma-separated odd neighbour counts (default: 1,11,51)")
    p.add_argument("--seed", type=int, default=42, help="random encoder's and subsamples' seed (default: 42)")
    p.add_argument("--max-index", type=int, default=0, help="subsample the index to this many texts (0: all)")
    p.add_argument("--max-queries", type=int, default=0, help="subsample the queries to this many texts (0: all)")
    p.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines file to append the figures to")
    return p.parse_args(argv)


def embed_ids(features, ids, batch_size=512):
    """Unit vectors `(n, dim)` of token ids `(n, max_len)` through `export.embed`, texts sorted by length first so
    that each batch's chunks are cut short."""
    import numpy as np
    import tensorflow as tf

    from keras_bert_mlm import export

    run = tf.function(lambda x: export.embed(features, x), input_signature=[tf.TensorSpec([None, None], tf.int32)])
    order = np.argsort((ids != 0).sum(axis=1), kind="stable")
    out = np.zeros((len(ids), features.output.shape[-1]), np.float32)
    for start in range(0, len(ids), batch_size):
        rows = order[start:start + batch_size]
        out[rows] = run(tf.constant(ids[rows])).numpy()
    return out


def knn_accuracy(index, index_labels, queries, query_labels, ks, block=1024):
    """Accuracy of the majority vote of the k most similar index vectors (dot product), for each k in `ks`.

    >>> import numpy as np
    >>> index = np.array([[1, 0], [0.9, 0.1], [0, 1]], "float32")
    >>> knn_accuracy(index, np.array([1, 1, 0]), np.array([[1, 0], [0, 1]], "float32"), np.array([1, 0]), [1, 3])
    {1: 1.0, 3: 0.5}
    """
    import numpy as np

    hits = {k: 0 for k in ks}
    kmax = max(ks)
    for start in range(0, len(queries), block):
        sims = queries[start:start + block] @ index.T
        top = np.argpartition(-sims, kmax - 1, axis=1)[:, :kmax]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1), axis=1)
        votes = index_labels[top]  # (block, kmax), most similar first
        for k in ks:
            predicted = (votes[:, :k].mean(axis=1) > 0.5).astype(int)
            hits[k] += int((predicted == query_labels[start:start + block]).sum())
    return {k: hits[k] / len(queries) for k in ks}


def subsample(frame, n, seed):
    """`n` rows of `frame` drawn without replacement with `seed` (all of it when `n` is 0 or too large)."""
    return frame if not n or n >= len(frame) else frame.sample(n=n, random_state=seed)


def main(argv=None):
    a = parse_args(argv)
    ks = [int(k) for k in a.k.split(",")]
    assert all(k % 2 for k in ks), "odd k only: a binary vote then has no tie"
    import keras

    from keras_bert_mlm import data, export, memory, models, text
    from keras_bert_mlm.config import Config
    from keras_bert_mlm.runinfo import current_commit, matmul_peak_gflops

    memory.keep_freed_memory()
    cfg = Config.from_json(os.path.join(a.run, "config.json"))
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(a.run, "vocab.txt")), cfg.max_len)
    keras.utils.set_random_seed(a.seed)
    encoders = {"pretrained": keras.saving.load_model(os.path.join(a.run, "mlm", "encoder.keras")),
                "random": models.build_encoder(**cfg.encoder_settings())}
    record = {"args": vars(a), "commit": current_commit(), "machine": f"{os.cpu_count()} CPU cores",
              "matmul_gflops": round(matmul_peak_gflops(), 1), "pooling": cfg.pooling,
              "encoder": {k: getattr(cfg, k) for k in ("num_layers", "embed_dim", "ff_dim", "max_len", "vocab_size")}}
    for name in a.datasets.split(","):
        split = data.load_dataset(name, a.data_dir, cfg.imdb_val_size, cfg.seed, offline=True)
        index, queries = subsample(split["train"], a.max_index, a.seed), subsample(split["test"], a.max_queries, a.seed)
        index_ids, query_ids = (text.vectorize(vectorizer, part["text"]) for part in (index, queries))
        figures = {"index": len(index), "queries": len(queries)}
        for arm, encoder in encoders.items():
            start = time.time()
            features = export.pooled_encoder(encoder, cfg.pooling)
            accuracy = knn_accuracy(embed_ids(features, index_ids), index["label"].to_numpy(),
                                    embed_ids(features, query_ids), queries["label"].to_numpy(), ks)
            figures[arm] = {"accuracy": {str(k): round(v, 4) for k, v in accuracy.items()},
                            "minutes": round((time.time() - start) / 60, 2)}
            print(name, arm, {k: f"{100 * v:.2f}%" for k, v in accuracy.items()},
                  f"{figures[arm]['minutes']:.1f} min", flush=True)
        record[name] = figures
    with open(a.results, "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
