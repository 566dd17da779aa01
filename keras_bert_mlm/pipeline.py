"""What `train.py` does, stage by stage, once its data is read (`inputs.py`): teachers, vocabulary and
pretraining, one classifier per dataset, export, the run record. Read `run` top to bottom; each stage lives in
its own module.

    python3 train.py --data-dir ../shared/data --output-dir runs/example --preset tiny
"""

import os
import sys

import keras

from . import distribute, memory, plots, rundir, runinfo, teacher, text
from . import models  # noqa: F401 (registers the layers that encoder.keras holds)
from .cli import log
from .finetune import finetune, label_names, prompt_of, time_classifiers
from .planner import finetune_deadlines, finetune_reserve
from .pretrain import pretrain


def run(args, cfg, inputs, started, commit):
    """Run every stage with the parsed flags `args`, the settings `cfg` and the data `inputs` (`inputs.read`);
    `started` (a `time.time()`) and `commit` are recorded in run.json. Stages an earlier run into the same
    folder finished are skipped."""
    memory.keep_freed_memory()  # serve tensors from the heap (memory.py); runs no TensorFlow op
    strategy = distribute.make_strategy(args.distribute, args.cpu_replicas)  # before TensorFlow's first op
    gflops = runinfo.matmul_peak_gflops(seconds=1.0)  # the machine's speed, for the results tables
    chief, replicas = distribute.is_chief(strategy), strategy.num_replicas_in_sync
    if replicas > 1:
        log(f"distribution: {distribute.strategy_name(strategy)} with {replicas} replicas "
            f"(global batch = {replicas} x the per-replica batch size)")
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    deadline = started + 60 * cfg.time_budget if cfg.time_budget else None
    out = args.output_dir

    # === The output dir: its settings checked, its finished stages found (the data was read before) ===
    splits, imdb_train, corpus = inputs
    finished = rundir.prepare(out, cfg, args.overwrite, write=chief)
    teach = [n for n in cfg.dataset_list if "unlabelled" in splits[n] and n not in finished]
    log(describe_plan(cfg, splits, corpus, teach, args.pretrained))

    # === Teachers: before pretraining, whose plan times the fine-tuning on every text it will read ===
    for name in teach:
        teacher.label_unlabelled(name, splits[name], cfg.seed, imdb_train if name == "rotten_tomatoes" else None)

    # === Vocabulary and pretraining ===
    todo = [n for n in cfg.dataset_list if n not in finished]
    timings = {}  # each classifier's speed, timed once: by pretraining's plan, or before fine-tuning

    def reserve(vectorizer):
        timings.update(time_classifiers({n: splits[n] for n in todo}, cfg, vectorizer))
        return finetune_reserve(timings)

    def check_prompt(vectorizer):  # an unknown --prompt word fails before pretraining, not after it
        for name in todo:
            prompt_of(cfg, vectorizer, label_names(splits[name]))

    if args.pretrained:
        log(f"reusing the vocabulary and pretrained encoder of {args.pretrained}")
        for name in ("vocab.txt", "mlm"):
            rundir.copy_artifact(os.path.join(args.pretrained, name), os.path.join(out, name))
        results = {"mlm": {"pretrained_in": os.path.abspath(args.pretrained)}}
    elif "mlm" in finished:
        log(f"vocabulary and pretraining: finished by an earlier run into {out} with these settings, skipped")
        results = {"mlm": finished["mlm"]}
    else:
        results = {"mlm": pretrain(corpus, cfg, out, verbose, deadline, strategy, args.backup_every, reserve,
                                   check_prompt)}
    if not chief:
        log(f"worker {strategy.cluster_resolver.task_id}: pretraining done; the chief fine-tunes and exports")
        return
    rundir.write_json(os.path.join(out, "validation.json"), results)  # pretraining is finished: a rerun skips it
    plots.plot_run(out)

    # === Fine-tuning and export, one classifier per dataset ===
    vectorizer = text.make_vectorizer(text.load_vocabulary(os.path.join(out, "vocab.txt")), cfg.max_len)
    encoder = keras.saving.load_model(os.path.join(out, "mlm", "encoder.keras"))
    if deadline and todo and not timings:  # pretraining was not planned in this run
        timings.update(time_classifiers({n: splits[n] for n in todo}, cfg, vectorizer, encoder))
    deadlines = finetune_deadlines({n: timings[n]["seconds"] for n in todo} if deadline else {}, todo, deadline)
    for name in cfg.dataset_list:
        if name in finished:
            log(f"{name}: finished by an earlier run into {out} with these settings, skipped")
            results[name] = finished[name]
        else:
            # Fine-tuning runs on one host: Keras's fit does not run multi-worker (see distribute.py).
            results[name] = finetune(name, splits[name], encoder, vectorizer, cfg, out, verbose, deadlines.get(name),
                                     None if distribute.is_multi_worker(strategy) else strategy, timings.get(name))
        rundir.write_json(os.path.join(out, "validation.json"), results)
        plots.plot_run(out)

    # === The run's record ===
    rundir.write_json(os.path.join(out, "run.json"), {**runinfo.run_record(started, commit, gflops),
                                                      "preset": args.preset, "replicas": replicas,
                                                      "distribute": distribute.strategy_name(strategy)})
    log(f"done. In {out}/: config.json, run.json, vocab.txt, validation.json (chosen epochs), plots/*.png, "
        f"logs/ (TensorBoard), mlm/savedmodel (fill_mask), "
        + ", ".join(f"{name}/savedmodel (serve)" for name in cfg.dataset_list))
    print(f"next:\n  python3 test.py --artifacts {out} --data-dir {args.data_dir}\n"
          f"  python3 -m keras_bert_mlm predict --artifacts {out} --dataset {cfg.dataset_list[0]} \"What a film!\"\n"
          f"  python3 -m keras_bert_mlm fill-mask --artifacts {out} \"a [mask] movie\"\n"
          f"  tensorboard --logdir {os.path.join(out, 'logs')}")


def describe_plan(cfg, splits, corpus, teach, pretrained):
    """The stages this run will go through, as one log line."""
    stages = [f"bag-of-bigrams labels for {', '.join(teach)}"] if teach else []
    if pretrained:
        stages.append("reuse pretraining of " + pretrained)
    else:
        at_most = "at most " if cfg.time_budget else ""
        objective = "ELECTRA" if cfg.objective == "electra" else "MLM"
        stages += ["vocabulary", f"{objective} pretraining ({at_most}{cfg.mlm_epochs} epochs of "
                                 f"{corpus.description})"]
    for name in cfg.dataset_list:
        classes = len(splits[name]["label_names"])
        texts = f"{len(splits[name]['train'])} texts" + (f", {classes} classes" if classes > 2 else "")
        if "unlabelled" in splits[name]:
            texts += f" + {len(splits[name]['unlabelled'])} labelled by a bag of bigrams"
        stages.append(f"{name} classifier ({cfg.clf_frozen_epochs}+{cfg.clf_finetune_epochs} epochs of {texts})")
    return "plan: " + " -> ".join(stages + ["export"])
