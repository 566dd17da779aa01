"""Pretrain a small BERT with masked language modeling, fine-tune it for sentiment, export SavedModels.

    python3 train.py --data-dir ../shared/data --output-dir runs/example --preset keras-example

Stages: vocabulary -> MLM pretraining -> one classifier per dataset (encoder frozen, then
trainable) -> SavedModels that take raw strings. `python3 train.py --help` lists every setting.
"""

import json
import os
import sys
import time

import numpy as np

from keras_bert_mlm.config import ArgumentParser, UserError, add_config_flags, config_from_args, PRESETS


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data",
                        help="folder with aclImdb_v1.tar.gz or aclImdb/, and rt-polaritydata.tar.gz or "
                             "rt-polaritydata/; what is missing is downloaded (default: data)")
    parser.add_argument("--output-dir", default="runs/latest", help="where artifacts go (default: runs/latest)")
    parser.add_argument("--preset", default="keras-example", choices=list(PRESETS),
                        help="named settings that flags override (default: keras-example)")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow an output dir that holds a run with other settings")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only stage lines")
    add_config_flags(parser)
    return parser.parse_args(argv)


def log(*parts):
    print(time.strftime("[%H:%M:%S]"), *parts, flush=True)


def prepare_output_dir(out, cfg, overwrite):
    """Create `out`, refuse one that holds a run with other settings, and write config.json."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"--output-dir {out}: not writable ({e.strerror})") from None
    path = os.path.join(out, "config.json")
    if os.path.exists(path) and not overwrite:
        with open(path) as f:
            previous = json.load(f)
        if previous != cfg.to_dict():
            changed = sorted(k for k in cfg.to_dict() if previous.get(k) != cfg.to_dict()[k])
            raise UserError(f"--output-dir {out} holds a run with other settings ({', '.join(changed)}): "
                            "choose another dir or pass --overwrite")
    cfg.to_json(path)


def main(argv=None):
    args = parse_args(argv)
    cfg = config_from_args(args)

    # Import late: `--help` and flag errors answer without loading TensorFlow.
    import keras
    import tensorflow as tf
    from keras_bert_mlm import data, export, masking, model, text

    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    keras.utils.set_random_seed(cfg.seed)
    out = args.output_dir

    # Read everything first: a data problem stops the run before anything is written.
    log(f"reading data from {args.data_dir}")
    corpus = data.pretraining_corpus(args.data_dir, args.offline)
    splits = {name: data.load_dataset(name, args.data_dir, cfg.imdb_val_size, cfg.seed, args.offline)
              for name in cfg.dataset_list}
    rng = np.random.default_rng(cfg.seed)
    corpus = [corpus[i] for i in rng.permutation(len(corpus))]
    if cfg.max_corpus_texts:
        corpus = corpus[: cfg.max_corpus_texts]
    prepare_output_dir(out, cfg, args.overwrite)

    log(f"vocabulary: adapting {cfg.vocab_size} tokens on {len(corpus)} pretraining texts (no test text)")
    vectorizer = text.adapt_vectorizer(corpus, cfg.vocab_size, cfg.max_len)
    with export.atomic_path(os.path.join(out, "vocab.txt")) as tmp:
        text.save_vocabulary(vectorizer, tmp)

    def vectorize(texts):
        ds = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024).map(vectorizer)
        return np.concatenate([np.asarray(b, dtype=np.int32) for b in ds]) if len(texts) else \
            np.zeros((0, cfg.max_len), np.int32)

    # Stage 1: masked-language-model pretraining.
    ids = vectorize(corpus)
    val_ids, train_ids = ids[: cfg.mlm_val_size], ids[cfg.mlm_val_size:]
    steps = -(-len(train_ids) // cfg.mlm_batch_size)
    log(f"pretraining: {cfg.mlm_epochs} epochs x {steps} steps of {cfg.mlm_batch_size} texts, "
        f"{len(val_ids)} texts held out")
    stage_dir = os.path.join(out, "mlm")
    os.makedirs(stage_dir, exist_ok=True)
    encoder = model.build_encoder(cfg)
    mlm = model.MaskedLanguageModel(encoder, name="mlm")
    mlm.compile(optimizer=keras.optimizers.Adam(cfg.mlm_learning_rate))
    history = mlm.fit(
        masking.mlm_dataset(train_ids, cfg, shuffle=True),
        validation_data=masking.mlm_dataset(val_ids, cfg, shuffle=False) if len(val_ids) else None,
        epochs=cfg.mlm_epochs, verbose=verbose, shuffle=False,  # the dataset shuffles itself
        callbacks=[keras.callbacks.CSVLogger(os.path.join(stage_dir, "history.csv"))],
    )
    for name, obj in (("mlm.keras", mlm), ("encoder.keras", encoder)):
        with export.atomic_path(os.path.join(stage_dir, name)) as tmp:
            obj.save(tmp)
    export.export_fill_mask(mlm, vectorizer, os.path.join(stage_dir, "savedmodel"), cfg.top_k)
    results = {"mlm": {k: float(v[-1]) for k, v in history.history.items()}}

    # Stage 2: one classifier per dataset, each starting from the pretrained encoder.
    for name in cfg.dataset_list:
        results[name] = finetune(name, splits[name], encoder, vectorizer, vectorize, cfg, out, verbose)

    with export.atomic_path(os.path.join(out, "validation.json")) as tmp:
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
    log(f"done: artifacts in {out}/ ; next: python3 test.py --artifacts {out} --data-dir {args.data_dir}")


def finetune(name, split, pretrained_encoder, vectorizer, vectorize, cfg, out, verbose):
    """Phase 1 trains the head on a frozen encoder, phase 2 everything; keeps the best validation epoch."""
    import keras
    import tensorflow as tf
    from keras_bert_mlm import batching, export, model

    if cfg.max_train_texts:
        split = {**split, "train": split["train"].sample(
            n=min(cfg.max_train_texts, len(split["train"])), random_state=cfg.seed)}

    def dataset(part, shuffle):
        ds = batching.make_batches(vectorize(part["text"]), cfg.clf_batch_size, part["label"].to_numpy(np.float32),
                                   shuffle=shuffle, seed=cfg.seed, by_length=cfg.bucket_by_length)
        return ds.prefetch(tf.data.AUTOTUNE)

    train_ds, val_ds = dataset(split["train"], True), dataset(split["validation"], False)
    stage_dir = os.path.join(out, name)
    os.makedirs(stage_dir, exist_ok=True)
    encoder = model.copy_encoder(pretrained_encoder)
    classifier = model.build_classifier(encoder, cfg)
    best = {"val_accuracy": -1.0}
    for phase, trainable, epochs, lr in (
        ("frozen", False, cfg.clf_frozen_epochs, cfg.clf_learning_rate),
        ("finetune", True, cfg.clf_finetune_epochs, cfg.clf_finetune_learning_rate),
    ):
        if not epochs:
            continue
        log(f"{name}: phase {phase}, {epochs} epochs on {len(split['train'])} texts, "
            f"encoder {'trainable' if trainable else 'frozen'}, learning rate {lr}")
        encoder.trainable = trainable
        classifier.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=cfg.patience, restore_best_weights=True)
        history = classifier.fit(
            train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, shuffle=False,
            callbacks=[stop, keras.callbacks.CSVLogger(os.path.join(stage_dir, f"history_{phase}.csv"))],
        ).history
        epoch = int(np.argmax(history["val_accuracy"]))
        if history["val_accuracy"][epoch] > best["val_accuracy"]:
            best = {"phase": phase, "epoch": epoch + 1, **{k: float(v[epoch]) for k, v in history.items()}}
            best_weights = classifier.get_weights()
    classifier.set_weights(best_weights)
    log(f"{name}: chose phase {best['phase']} epoch {best['epoch']}, "
        f"validation accuracy {best['val_accuracy']:.4f}")
    with export.atomic_path(os.path.join(stage_dir, "classifier.keras")) as tmp:
        classifier.save(tmp)
    export.export_classifier(classifier, vectorizer, os.path.join(stage_dir, "savedmodel"))
    return best


def run():
    try:
        main()
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted: finished stages are saved in the output dir; partial ones were dropped\n")
        sys.exit(130)


if __name__ == "__main__":
    run()
