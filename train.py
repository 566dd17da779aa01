"""Pretrain a small BERT with masked language modeling, fine-tune it for sentiment, export SavedModels.

    python3 train.py --data-dir ../shared/data --output-dir runs/example --preset keras-example

Stages: vocabulary -> MLM pretraining -> one classifier per dataset (encoder frozen, then
trainable) -> SavedModels that take raw strings. `python3 train.py --help` lists every setting.
"""

import dataclasses
import json
import os
import shutil
import sys
import time

import numpy as np

from keras_bert_mlm.cli import ArgumentParser, add_config_flags, config_from_args, run_command
from keras_bert_mlm.config import PRESETS, UserError


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
                        help="allow an output dir that holds a run with other settings, and retrain every "
                             "stage (without it, stages finished there with the same settings are skipped)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars, only stage lines")
    parser.add_argument("--pretrained", metavar="RUN_DIR", default=None,
                        help="skip vocabulary and pretraining: reuse those of this earlier --output-dir "
                             "(its pretraining settings apply) and only fine-tune")
    parser.add_argument("--distribute", default="auto", choices=["auto", "none", "mirrored", "multi-worker", "tpu"],
                        help="tf.distribute strategy: auto = mirrored when more than one GPU (or --cpu-replicas) "
                             "is visible, else none; multi-worker reads TF_CONFIG (docs/scaling.md) (default: auto)")
    parser.add_argument("--cpu-replicas", type=int, default=1, metavar="N",
                        help="split the CPU into N logical devices, to try mirrored training on one machine "
                             "(default: 1)")
    parser.add_argument("--backup-every", type=int, default=200, metavar="STEPS",
                        help="save pretraining progress every STEPS steps (and each epoch) so that a killed run "
                             "continues from there when rerun (default: 200)")
    add_config_flags(parser)
    args = parser.parse_args(argv)
    if args.cpu_replicas < 1:
        parser.error(f"--cpu-replicas must be at least 1, not {args.cpu_replicas}")
    if args.backup_every < 1:
        parser.error(f"--backup-every must be at least 1, not {args.backup_every}")
    return args


def log(*parts):
    print(time.strftime("[%H:%M:%S]"), *parts, flush=True)


def stage_clock(stage, steps_per_epoch, epochs, measure_steps=20):
    """A Keras callback that times the first steps of a stage and logs when the stage should end."""
    import keras

    class StageClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == 0 and batch == 2:  # steps 0 and 1 include tracing
                self.start = time.time()

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 0 and batch == 1 + measure_steps and steps_per_epoch > batch:
                per_step = (time.time() - self.start) / measure_steps
                left = per_step * (steps_per_epoch * epochs - batch - 1)
                if sys.stdout.isatty():
                    print(flush=True)  # end the progress bar's line
                span = f"{left / 60:.0f} min" if left >= 120 else f"{left:.0f} s"
                log(f"{stage}: {per_step:.3f} s/step measured, about {span} to go (until about "
                    f"{time.strftime('%H:%M', time.localtime(time.time() + left))}, validation not counted)")

    return StageClock()


def prepare_output_dir(out, cfg, overwrite, write=True):
    """Create `out`, refuse one that holds a run with other settings, and write config.json.

    Returns the stages (validation.json entries) that an earlier run with the same settings finished
    there, to be skipped; none with `--overwrite`. With `write=False` (a multi-worker cluster's other
    workers) only reads.
    """
    if not write:
        return finished_stages(out) if not overwrite else {}
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"--output-dir {out}: not writable ({e.strerror})") from None
    path = os.path.join(out, "config.json")
    finished = {}
    if os.path.exists(path) and not overwrite:
        from keras_bert_mlm.config import Config

        previous = Config.from_json(path).to_dict()  # settings added since that run take their defaults
        if previous != cfg.to_dict():
            changed = sorted(k for k in cfg.to_dict() if previous.get(k) != cfg.to_dict()[k])
            raise UserError(f"--output-dir {out} holds a run with other settings ({', '.join(changed)}): "
                            "choose another dir or pass --overwrite")
        finished = finished_stages(out)
    from keras_bert_mlm.export import clean_interrupted_writes

    clean_interrupted_writes(out)
    if overwrite:  # what an interrupted run left to continue from may belong to other settings
        from keras_bert_mlm.data import SOURCES

        for state in ["vocab.txt", "mlm/plan.json", "mlm/mlm.keras", "mlm/history.csv", "mlm/backup",
                      "mlm/checkpoints"] + [f"{d}/{f}" for d in SOURCES for f in ("chosen.json", "classifier.keras")]:
            state = os.path.join(out, state)
            if os.path.isdir(state):
                shutil.rmtree(state)
            elif os.path.exists(state):
                os.remove(state)
    write_json(path, cfg.to_dict())
    return finished


def finished_stages(out):
    """The stages of validation.json in `out` whose files are all there."""
    path = os.path.join(out, "validation.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        recorded = json.load(f)
    return {stage: record for stage, record in recorded.items() if not missing_stage_files(out, stage)}


def missing_stage_files(out, stage):
    """The files a finished stage ("mlm" or a dataset) leaves in `out` that are not there.

    Each is written atomically, so a file that is there is whole.
    """
    files = (["vocab.txt", "mlm/mlm.keras", "mlm/encoder.keras", "mlm/savedmodel/saved_model.pb"]
             if stage == "mlm" else [f"{stage}/classifier.keras", f"{stage}/savedmodel/saved_model.pb"])
    return [f for f in files if not os.path.isfile(os.path.join(out, f))]


# Settings that belong to the vocabulary and the pretraining: `--pretrained` takes them from that run.
PRETRAINING_SETTINGS = ("vocab_size", "max_len", "embed_dim", "num_heads", "ff_dim", "num_layers", "bigram_buckets",
                        "dropout", "mask_rate", "mlm_epochs", "mlm_batch_size", "mlm_learning_rate", "mlm_val_size",
                        "max_corpus_texts", "mlm_time_share")


def adopt_pretraining_settings(cfg, run_dir):
    """`cfg` with the pretraining settings of the earlier run in `run_dir`."""
    from keras_bert_mlm.config import Config

    missing = [f for f in ["config.json"] if not os.path.isfile(os.path.join(run_dir, f))]
    missing += missing_stage_files(run_dir, "mlm")
    if missing:
        raise UserError(f"--pretrained {run_dir}: missing {missing[0]}, not a finished train.py run")
    previous = Config.from_json(os.path.join(run_dir, "config.json"))
    return Config(**{**cfg.to_dict(), **{k: getattr(previous, k) for k in PRETRAINING_SETTINGS}})


def current_commit():
    """The short commit of the code in use ('' outside a git checkout); with `-dirty` if it has changes."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + ("-dirty" if commit and git("status", "--porcelain", "--untracked-files=no") else "")
    except OSError:
        return ""


def run_record(started, commit, gflops):
    """Where and when this run happened: commit (read when it started), machine and its speed (TensorFlow's
    float32 matmul GFLOP/s, measured when the run started), wall time (for results tables)."""
    import platform

    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, " + (f"{gpus} GPU" if gpus else "no GPU")
    return {"commit": commit or None, "machine": machine, "matmul_gflops": round(gflops, 1),
            "wall_minutes": round((time.time() - started) / 60, 1), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}


def main(argv=None):
    started, commit = time.time(), current_commit()
    args = parse_args(argv)
    cfg = config_from_args(args)
    if args.pretrained:
        cfg = adopt_pretraining_settings(cfg, args.pretrained)

    # Import late: `--help` and flag errors answer without loading TensorFlow.
    import keras
    import pandas as pd
    from keras_bert_mlm import bench, data, distribute, memory

    memory.keep_freed_memory()  # a third of the training time on stop 18's machine (memory.py); no TF op
    strategy = distribute.make_strategy(args.distribute, args.cpu_replicas)  # before TensorFlow's first op
    gflops = bench.matmul_peak_gflops(seconds=1.0)  # the machine's speed, for the results tables (run.json)
    chief = distribute.is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    if replicas > 1:
        log(f"distribution: {distribute.strategy_name(strategy)} with {replicas} replicas "
            f"(global batch = {replicas} x the per-replica batch size)")
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    deadline = started + 60 * cfg.time_budget if cfg.time_budget else None
    out = args.output_dir

    # Read everything first: a data problem stops the run before anything is written.
    log(f"reading data from {args.data_dir}")
    splits = {name: data.load_dataset(name, args.data_dir, cfg.imdb_val_size, cfg.seed, args.offline)
              for name in cfg.dataset_list}
    if cfg.max_train_texts:
        for split in splits.values():
            split["train"] = split["train"].sample(n=min(cfg.max_train_texts, len(split["train"])),
                                                   random_state=cfg.seed)
    imdb_train = None  # what Rotten Tomatoes' teacher reads beside its own sentences (--teacher-reads-imdb)
    if cfg.teacher_reads_imdb and cfg.distill_sentences and "rotten_tomatoes" in splits:
        imdb_train = (splits["imdb"] if "imdb" in splits else data.load_dataset(
            "imdb", args.data_dir, cfg.imdb_val_size, cfg.seed, args.offline))["train"]
    for name, flag, read in (("imdb", "distill_unlabelled", data.imdb_unlabelled),
                             ("rotten_tomatoes", "distill_sentences", data.imdb_sentences)):
        wanted = getattr(cfg, flag)
        if wanted and name in splits:
            unlabelled = read(args.data_dir, args.offline)[:wanted]
            if not unlabelled:
                raise UserError(f"--{flag.replace('_', '-')} {wanted}: no aclImdb/train/unsup reviews in "
                                f"--data-dir {args.data_dir} (0 fine-tunes on the labelled texts only)")
            splits[name]["unlabelled"] = pd.DataFrame({"text": unlabelled, "label": np.nan})  # labelled below
    corpus = None if args.pretrained else data.pretraining_corpus(args.data_dir, args.offline)
    finished = prepare_output_dir(out, cfg, args.overwrite, write=chief)
    teach = [n for n in cfg.dataset_list if "unlabelled" in splits[n] and n not in finished]
    log("plan: " + " -> ".join(
        ([f"bag-of-bigrams labels for {', '.join(teach)}"] if teach else [])
        + (["reuse pretraining of " + args.pretrained] if args.pretrained else
         ["vocabulary", f"MLM pretraining ({'at most ' * bool(cfg.time_budget)}{cfg.mlm_epochs} epochs of "
                        f"~{len(corpus) - cfg.mlm_val_size} texts)"])
        + [f"{name} classifier ({cfg.clf_frozen_epochs}+{cfg.clf_finetune_epochs} epochs of "
           f"{len(splits[name]['train'])} texts" + (f" + {len(splits[name]['unlabelled'])} labelled by a bag of "
                                                    "bigrams" if "unlabelled" in splits[name] else "") + ")"
           for name in cfg.dataset_list] + ["export"]))
    for name in teach:  # before pretraining: the fine-tuning's timing below needs every text it will read
        label_unlabelled(name, splits[name], cfg.seed, imdb_train if name == "rotten_tomatoes" else None)

    timings = {}  # each classifier's speed and epochs, timed once (by pretraining's plan, or before fine-tuning)
    todo = [n for n in cfg.dataset_list if n not in finished]

    def finetune_reserve(vectorizer):
        """Seconds pretraining leaves for fine-tuning and export (see `fit_mlm`)."""
        timings.update(finetune_timings({n: splits[n] for n in todo}, cfg, vectorizer))
        return FINETUNE_MARGIN * sum(t["seconds"] for t in timings.values()) + EXPORT_SECONDS * len(todo)

    if args.pretrained:
        log(f"reusing the vocabulary and pretrained encoder of {args.pretrained}")
        for name in ("vocab.txt", "mlm"):
            copy_artifact(os.path.join(args.pretrained, name), os.path.join(out, name))
        results = {"mlm": {"pretrained_in": os.path.abspath(args.pretrained)}}
    elif "mlm" in finished:
        log(f"vocabulary and pretraining: finished by an earlier run into {out} with these settings, skipped")
        results = {"mlm": finished["mlm"]}
    else:
        results = {"mlm": pretrain(corpus, cfg, out, verbose, deadline, strategy, args.backup_every,
                                   finetune_reserve)}
    if not chief:
        log(f"worker {strategy.cluster_resolver.task_id}: pretraining done; the chief fine-tunes and exports")
        return
    from keras_bert_mlm import model, plots, text  # noqa: F401 (model registers the layers encoder.keras uses)

    write_json(os.path.join(out, "validation.json"), results)
    plots.plot_run(out)

    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(out, "vocab.txt")), cfg.max_len)
    encoder = keras.saving.load_model(os.path.join(out, "mlm", "encoder.keras"))
    if deadline and todo and not timings:  # pretraining was not planned in this run
        timings.update(finetune_timings({n: splits[n] for n in todo}, cfg, vectorizer, encoder))
    deadlines = finetune_deadlines({n: timings[n]["seconds"] for n in todo} if deadline else {}, todo, deadline)
    for name in cfg.dataset_list:
        if name in finished:
            log(f"{name}: finished by an earlier run into {out} with these settings, skipped")
            results[name] = finished[name]
        else:
            # Fine-tuning runs on one host: Keras's fit does not run multi-worker (see distribute.py).
            results[name] = finetune(name, splits[name], encoder, vectorizer, cfg, out, verbose, deadlines.get(name),
                                     None if distribute.is_multi_worker(strategy) else strategy, timings.get(name))
        write_json(os.path.join(out, "validation.json"), results)
        plots.plot_run(out)

    write_json(os.path.join(out, "run.json"), {**run_record(started, commit, gflops), "replicas": replicas,
                                               "distribute": distribute.strategy_name(strategy)})
    log(f"done. In {out}/: config.json, run.json, vocab.txt, validation.json (chosen epochs), plots/*.png, "
        f"logs/ (TensorBoard), mlm/savedmodel (fill_mask), "
        + ", ".join(f"{name}/savedmodel (serve)" for name in cfg.dataset_list))
    print(f"next:\n  python3 test.py --artifacts {out} --data-dir {args.data_dir}\n"
          f"  python3 -m keras_bert_mlm predict --artifacts {out} --dataset {cfg.dataset_list[0]} \"What a film!\"\n"
          f"  python3 -m keras_bert_mlm fill-mask --artifacts {out} \"a [mask] movie\"\n"
          f"  tensorboard --logdir {os.path.join(out, 'logs')}")


def copy_artifact(src, dst):
    import shutil
    from keras_bert_mlm.export import atomic_path

    with atomic_path(dst) as tmp:
        (shutil.copytree if os.path.isdir(src) else shutil.copyfile)(src, tmp)


def write_json(path, obj):
    from keras_bert_mlm.export import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)


def vectorize(vectorizer, texts):
    """Token ids of `texts` as an int32 array `(n, max_len)`, computed once (cached ids, not strings)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024).map(vectorizer)
    return np.concatenate([np.asarray(batch, np.int32) for batch in ds])


def label_unlabelled(name, split, seed, imdb_train=None):
    """Fill `split["unlabelled"]`'s labels with an NBSVM-style teacher's probabilities, trained on `split["train"]`
    and, when given, IMDB's labelled training reviews `imdb_train` (a DataFrame of text and label)."""
    import pandas as pd

    from keras_bert_mlm import baseline

    unlabelled = split["unlabelled"]
    what = "unlabelled reviews" if name == "imdb" else "sentences of IMDB's unlabelled reviews"
    reads = f"the {len(split['train'])} training texts"
    teacher_train = split["train"]
    if imdb_train is not None:
        reads += f" and IMDB's {len(imdb_train)} labelled training reviews"
        teacher_train = pd.concat([split["train"], imdb_train], ignore_index=True)
    log(f"{name}: an NBSVM-style bag of bigrams ({baseline.TEACHER['epochs']} epochs on {reads}) labels "
        f"{len(unlabelled)} {what}")
    unlabelled["label"] = baseline.soft_labels(teacher_train, unlabelled["text"], seed)
    log(f"{name}: {(unlabelled['label'] > 0.5).mean():.1%} of them positive, the probabilities become targets")


def pretrain(corpus, cfg, out, verbose, deadline=None, strategy=None, backup_steps=200, reserve=None):
    """Vocabulary, then masked-language-model pretraining; writes vocab.txt and mlm/. Returns the last epoch's figures.

    With a `deadline` (a `time.time()`), pretraining takes the time left but what `reserve(vectorizer)`
    keeps back (in seconds; for fine-tuning), and at most `cfg.mlm_time_share` of it.
    Interrupted runs continue: vocab.txt and mlm/plan.json are reused, `fit` restores mlm/backup/
    (saved every `backup_steps` steps and each epoch), and a trained mlm/mlm.keras is only exported.
    """
    import keras
    import tensorflow as tf
    from keras_bert_mlm import distribute, export, text

    strategy = strategy or tf.distribute.get_strategy()
    chief = distribute.is_chief(strategy)
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    corpus = [corpus[i] for i in rng.permutation(len(corpus))]
    if cfg.max_corpus_texts:
        corpus = corpus[: cfg.max_corpus_texts]
    vocab_path = os.path.join(out, "vocab.txt")
    if os.path.isfile(vocab_path):
        log(f"vocabulary: {vocab_path} from an interrupted run with these settings, reused")
        vectorizer = text.make_vectorizer(text.load_vocabulary(vocab_path), cfg.max_len)
    else:
        log(f"vocabulary: adapting {cfg.vocab_size} tokens on {len(corpus)} pretraining texts (no test text)")
        vectorizer = text.adapt_vectorizer(corpus, cfg.vocab_size, cfg.max_len)
        if chief:
            with export.atomic_path(vocab_path) as tmp:
                text.save_vocabulary(vectorizer, tmp)

    stage_dir = os.path.join(out, "mlm")
    os.makedirs(stage_dir, exist_ok=True)
    history_path = os.path.join(stage_dir, "history.csv")
    if os.path.isfile(os.path.join(stage_dir, "mlm.keras")):
        log("pretraining: finished by an interrupted run with these settings; exporting it")
        mlm = keras.saving.load_model(os.path.join(stage_dir, "mlm.keras"))
    else:
        mlm = fit_mlm(vectorize(vectorizer, corpus), cfg, out, verbose, deadline, strategy, backup_steps,
                      reserve and (lambda: reserve(vectorizer)))
        if chief:
            with export.atomic_path(os.path.join(stage_dir, "mlm.keras")) as tmp:
                mlm.save(tmp)
    if not chief:  # a multi-worker cluster's other workers: the chief writes, and fine-tunes alone
        return {}
    for backup in ("backup", "checkpoints"):  # mlm.keras holds the result now
        shutil.rmtree(os.path.join(stage_dir, backup), ignore_errors=True)
    with export.atomic_path(os.path.join(stage_dir, "encoder.keras")) as tmp:
        mlm.encoder.save(tmp)
    export.export_fill_mask(mlm, vectorizer, os.path.join(stage_dir, "savedmodel"), cfg.top_k)
    last = list(csv_rows(history_path))[-1]
    return {k: float(v) for k, v in last.items() if k != "epoch"}


def csv_rows(path):
    import csv

    with open(path, newline="") as f:
        yield from csv.DictReader(f)


def fit_mlm(ids, cfg, out, verbose, deadline, strategy, backup_steps, reserve=None):
    """Train a new masked language model on the token ids `ids` (the first `mlm_val_size` held out)."""
    import keras
    from keras_bert_mlm import budget, distribute, masking, model

    replicas = strategy.num_replicas_in_sync
    val_ids, train_ids = ids[: cfg.mlm_val_size], ids[cfg.mlm_val_size:]
    global_cfg = dataclasses.replace(cfg, mlm_batch_size=cfg.mlm_batch_size * replicas)
    # An endless stream of full batches (see batching.py), cut into epochs of a fixed number of steps.
    train_ds = masking.mlm_dataset(train_ids, global_cfg, shuffle=True)
    val_ds = masking.mlm_dataset(val_ids, global_cfg, shuffle=False, replicas=replicas) if len(val_ids) else None
    steps_per_pass = -(-len(train_ids) // global_cfg.mlm_batch_size)
    learning_rate = distribute.scaled_learning_rate(cfg.mlm_learning_rate, strategy)

    def build(total_steps):
        keras.utils.set_random_seed(cfg.seed)
        with strategy.scope():
            mlm = model.MaskedLanguageModel(model.build_encoder(cfg), name="mlm")
            mlm.compile(optimizer=budget.make_optimizer(cfg, learning_rate, total_steps))
        return mlm

    stage_dir = os.path.join(out, "mlm")
    plan_path = os.path.join(stage_dir, "plan.json")
    chief = distribute.is_chief(strategy)
    if chief and os.path.isfile(plan_path):  # an interrupted run's plan: its backup was made for this schedule
        with open(plan_path) as f:
            plan = json.load(f)
        log(f"pretraining: continuing the plan of an interrupted run ({plan_path})")
    else:
        plan = {"epochs": cfg.mlm_epochs, "steps_per_epoch": steps_per_pass}
        if deadline and not distribute.is_multi_worker(strategy):
            kept = reserve() if reserve else 0.0
            per_step = budget.seconds_per_step(lambda: build(1), train_ds)
            left = deadline - time.time()
            seconds = max(0.0, min(cfg.mlm_time_share * left, left - kept))
            epochs, steps = budget.plan_epochs(int(0.95 * seconds / per_step), steps_per_pass, cfg.mlm_epochs)
            plan = {"epochs": epochs, "steps_per_epoch": steps, "seconds": seconds, "seconds_per_step": per_step,
                    "seconds_kept_back": kept}
            log(f"pretraining: {per_step:.3f} s/step measured; {seconds / 60:.1f} of the {cfg.time_budget:g} "
                f"minutes for it, {kept / 60:.1f} kept back for fine-tuning and export"
                + (" (more than were left: one step of pretraining)" if kept >= left else ""))
        if chief:
            write_json(plan_path, plan)
    epochs, steps = plan["epochs"], plan["steps_per_epoch"]
    log(f"pretraining: {epochs} epochs x {steps} steps of {global_cfg.mlm_batch_size} texts on {replicas} "
        f"replica{'s' * (replicas > 1)} ({epochs * steps / steps_per_pass:.2f} passes over {len(train_ids)} texts), "
        f"{len(val_ids)} texts held out, learning rate {learning_rate:g}")
    mlm = build(epochs * steps)
    history_path = os.path.join(stage_dir, "history.csv")
    if distribute.is_multi_worker(strategy):
        distribute.multi_worker_fit(mlm, strategy, train_ds, steps, epochs, val_ds,
                                    os.path.join(stage_dir, "checkpoints"), history_path, log=log)
        return mlm
    callbacks = [budget.HistoryCSV(history_path),  # before the backup: see HistoryCSV
                 budget.Backup(os.path.join(stage_dir, "backup"), save_freq=backup_steps, double_checkpoint=True,
                               delete_checkpoint=False),
                 keras.callbacks.TensorBoard(os.path.join(out, "logs", "mlm")),
                 stage_clock("pretraining", steps, epochs), budget.Interruptible()]
    if plan.get("seconds"):
        callbacks.append(budget.Deadline(time.time() + plan["seconds"]))
    backup = os.path.join(stage_dir, "backup", "training_metadata.json")
    if os.path.isfile(backup):
        with open(backup) as f:
            state = json.load(f)
        log(f"pretraining: continuing an interrupted run from its backup: epoch {state['epoch'] + 1} starts "
            f"again with the weights and optimizer state saved at its step {state['batch']}")
    mlm.fit(train_ds, steps_per_epoch=steps, validation_data=val_ds, epochs=epochs, verbose=verbose,
            shuffle=False, callbacks=callbacks)  # the dataset shuffles itself
    return mlm


EXPORT_SECONDS = 15  # kept back for each classifier's export (5 to 10 measured on 2 cores)
FINETUNE_MARGIN = 1.1  # the fine-tuning's timed epochs, and a tenth more, are kept back from pretraining


def finetune_timings(splits, cfg, vectorizer, encoder=None):
    """{name: timing} of each classifier, from the speed of a throwaway classifier (on a copy of `encoder`, or
    a new encoder of `cfg`'s architecture) trained a few steps on a sample of its training texts, and the
    time it took to build and trace. A timing holds `per_step` and `overhead` (seconds), the `steps` and
    `val_steps` of a pass, the `epochs` and `phases`, and `seconds`: what its epochs will take (see
    `finetune_cost`). Frozen epochs are counted at the trainable speed (fewer gradients: an overestimate)."""
    import keras
    from keras_bert_mlm import budget, model

    timings = {}
    for name, split in splits.items():
        train = training_texts(split)
        sample = train.sample(n=min(len(train), 64 * cfg.clf_batch_size), random_state=cfg.seed)

        def build():
            keras.utils.set_random_seed(cfg.seed)
            classifier = model.build_classifier(model.copy_encoder(encoder) if encoder else model.build_encoder(cfg),
                                                cfg)
            classifier.compile(optimizer=budget.make_optimizer(cfg, cfg.clf_finetune_learning_rate, 100),
                               loss="binary_crossentropy")
            return classifier

        # Batches differ in length (and a step in cost, 0.1 to 0.9 s for IMDB): 60 of them average that out.
        batches, started, timed = classifier_batches(sample, vectorizer, cfg, True), time.time(), 60
        per_step = budget.seconds_per_step(build, batches, steps=timed)
        steps, val_steps = (-(-len(part) // cfg.clf_batch_size) for part in (train, split["validation"]))
        t = {"per_step": per_step, "overhead": time.time() - started - timed * per_step,  # build, trace
             "steps": steps, "val_steps": val_steps, "epochs": cfg.clf_frozen_epochs + cfg.clf_finetune_epochs,
             "phases": bool(cfg.clf_frozen_epochs) + bool(cfg.clf_finetune_epochs)}
        timings[name] = {**t, "seconds": finetune_cost(t, steps)}
        log(f"{name}: {per_step:.3f} s/step measured for fine-tuning; {t['epochs']} epochs of {steps} steps "
            f"~{timings[name]['seconds'] / 60:.1f} minutes")
    return timings


def finetune_cost(timing, steps):
    """Seconds of a classifier's epochs of `steps` training steps each: a validation step has no gradients
    (~1/3 of a training step), and each phase builds and traces anew."""
    return (timing["epochs"] * timing["per_step"] * (steps + timing["val_steps"] / 3)
            + timing["phases"] * timing["overhead"])


def steps_that_fit(timing, seconds, margin=0.95):
    """Training steps per epoch with which the `timing`'s epochs fit in `seconds` (with a 5% margin): a whole
    pass when they fit, else fewer (at least 1), so that every epoch, its validation and the learning-rate
    schedule still run to their end on a machine slower than the plan needed."""
    per_epoch = (margin * seconds - timing["phases"] * timing["overhead"]) / (timing["epochs"] * timing["per_step"])
    return int(max(1, min(timing["steps"], per_epoch - timing["val_steps"] / 3)))


def finetune_deadlines(costs, names, deadline):
    """When each classifier's training must end: the time left but the exports', shared in proportion to
    the timed `costs` (seconds) of their epochs; a classifier that ends early leaves its time to the next."""
    if not deadline or not names:
        return {}
    left = deadline - time.time() - EXPORT_SECONDS * len(names)
    deadlines, start = {}, time.time()
    for n in names:
        start += max(left, 0) * costs[n] / sum(costs[m] for m in names)
        deadlines[n] = start
    return deadlines


def training_texts(split):
    """The texts a classifier trains on: the training split, and the teacher-labelled ones when distilling."""
    import pandas as pd

    if "unlabelled" not in split:
        return split["train"]
    return pd.concat([split["train"], split["unlabelled"]], ignore_index=True)


def classifier_batches(part, vectorizer, cfg, shuffle, replicas=1):
    """Batches of (token ids, label) of the DataFrame `part`; shuffled ones repeat without end."""
    import tensorflow as tf
    from keras_bert_mlm import batching

    ds = batching.make_batches(vectorize(vectorizer, part["text"]), cfg.clf_batch_size * replicas,
                               part["label"].to_numpy(np.float32), shuffle=shuffle, seed=cfg.seed,
                               by_length=cfg.bucket_by_length, repeat=shuffle, replicas=replicas)
    return ds.prefetch(tf.data.AUTOTUNE)


def finetune(name, split, pretrained_encoder, vectorizer, cfg, out, verbose, deadline=None, strategy=None,
             timing=None):
    """Phase 1 trains the head on a frozen encoder, phase 2 everything; keeps the best validation epoch.

    `split` holds "train" and "validation" DataFrames (text, label) and, when distilling, an "unlabelled"
    one whose labels are the teacher's probabilities (set in `main`): trained on beside "train".

    With a `deadline` (a `time.time()`), phase 1 ends by a third of the time left, phase 2 by the deadline;
    the earlier datasets' overruns are taken from the later ones. With its `timing` too (`finetune_timings`),
    epochs that would not fit in the time left are shortened (`steps_that_fit`) instead of cut off. A
    classifier that an interrupted run finished (NAME/chosen.json and NAME/classifier.keras) is only
    exported; an interrupted fine-tuning starts again (minutes, against hours of pretraining)."""
    import keras
    import tensorflow as tf
    from keras_bert_mlm import budget, distribute, export, model

    stage_dir = os.path.join(out, name)
    chosen_path, classifier_path = os.path.join(stage_dir, "chosen.json"), os.path.join(stage_dir, "classifier.keras")
    if os.path.isfile(classifier_path):  # chosen.json is written first
        log(f"{name}: trained by an interrupted run with these settings; exporting it")
        with open(chosen_path) as f:
            best = json.load(f)
        export.export_classifier(keras.saving.load_model(classifier_path), vectorizer,
                                 os.path.join(stage_dir, "savedmodel"))
        return best

    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    keras.utils.set_random_seed(cfg.seed)  # each stage seeds itself: skipping earlier ones changes nothing
    split = {**split, "train": training_texts(split)}  # with the teacher's probabilities as labels (main)
    train_ds, val_ds = (classifier_batches(split[part], vectorizer, cfg, part == "train", replicas)
                        for part in ("train", "validation"))
    steps = -(-len(split["train"]) // (cfg.clf_batch_size * replicas))
    if deadline and timing:
        left = deadline - time.time()
        fitted = min(steps, steps_that_fit(timing, left))
        if fitted < steps:
            log(f"{name}: {timing['epochs']} epochs of {steps} steps would take "
                f"~{finetune_cost(timing, steps) / 60:.1f} minutes and {left / 60:.1f} are left: epochs of {fitted} "
                f"steps ({fitted / steps:.0%} of a pass) "
                "drawn from the reshuffled texts")
            steps = fitted
    os.makedirs(stage_dir, exist_ok=True)
    with strategy.scope():
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
        with strategy.scope():
            optimizer = budget.make_optimizer(cfg, distribute.scaled_learning_rate(lr, strategy), epochs * steps,
                                              schedule=trainable)
            classifier.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=[model.accuracy])
        stop = keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=cfg.patience, restore_best_weights=True)
        callbacks = [stop, keras.callbacks.CSVLogger(os.path.join(stage_dir, f"history_{phase}.csv")),
                     keras.callbacks.TensorBoard(os.path.join(out, "logs", f"{name}_{phase}")),
                     stage_clock(f"{name} {phase}", steps, epochs), budget.Interruptible()]
        if deadline:
            phase_end = deadline if trainable else time.time() + (deadline - time.time()) / 3
            callbacks.append(budget.Deadline(phase_end))
            log(f"{name}: phase {phase} must end by {time.strftime('%H:%M:%S', time.localtime(phase_end))}")
        history = classifier.fit(
            train_ds, steps_per_epoch=steps, validation_data=val_ds, epochs=epochs, verbose=verbose, shuffle=False,
            callbacks=callbacks).history
        epoch = int(np.argmax(history["val_accuracy"]))
        if history["val_accuracy"][epoch] > best["val_accuracy"]:
            best = {"phase": phase, "epoch": epoch + 1, "steps_per_epoch": steps,
                    **{k: float(v[epoch]) for k, v in history.items()}}
            best_weights = classifier.get_weights()
    classifier.set_weights(best_weights)
    log(f"{name}: chose phase {best['phase']} epoch {best['epoch']}, "
        f"validation accuracy {best['val_accuracy']:.4f}")
    write_json(chosen_path, best)
    with export.atomic_path(classifier_path) as tmp:
        classifier.save(tmp)
    export.export_classifier(classifier, vectorizer, os.path.join(stage_dir, "savedmodel"))
    return best


def finished_artifacts(out):
    """The complete artifacts in `out` (atomic writes: what exists is whole)."""
    from keras_bert_mlm.data import SOURCES

    names = ["vocab.txt", "mlm/savedmodel"] + [f"{d}/savedmodel" for d in SOURCES]
    return [n for n in names if os.path.exists(os.path.join(out, n))]


def interrupted():
    out = parse_args().output_dir
    saved = finished_artifacts(out) if os.path.isdir(out) else []
    return (f"interrupted: {', '.join(saved) or 'nothing'} saved in {out} (complete files only); "
            "the same command again skips the finished stages")


if __name__ == "__main__":
    run_command(main, interrupted)
