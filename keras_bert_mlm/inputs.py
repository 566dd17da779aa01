"""What a run reads before TensorFlow loads: each dataset's splits and the pretraining corpus.

`train.py` reads them first, so that a data problem (a missing archive, a --task file without its label
column, a --corpus that names nothing) stops the run in a second or two, before TensorFlow's start-up and
before anything is written into --output-dir. Nothing here imports TensorFlow, except a download (not
`--offline`) or a TensorFlow Datasets source, which need it.

    inputs = read(args, cfg)           # inputs.splits, inputs.imdb_train, inputs.corpus
"""

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import data
from .cli import log
from .config import UserError


class Inputs(NamedTuple):
    splits: dict         # {dataset: {"train", "validation", "test": DataFrames, "label_names"[, "unlabelled"]}}
    imdb_train: object   # IMDB's labelled training reviews when Rotten Tomatoes' teacher reads them, else None
    corpus: object       # the pretraining texts (`data.pretraining_texts`); None with --pretrained


def read(args, cfg):
    """The `Inputs` of a `train.py` run with the parsed flags `args` and the settings `cfg`."""
    log(f"reading data from {args.data_dir}")
    splits, imdb_train = read_splits(cfg, args.data_dir, args.offline, args.tfds_dir)
    corpus = None if args.pretrained else data.pretraining_texts(cfg, splits, args.data_dir, args.tfds_dir,
                                                                args.offline)
    return Inputs(splits, imdb_train, corpus)


def read_splits(cfg, data_dir, offline, tfds_dir=None):
    """Each dataset's splits (DataFrames of text and label) and "label_names" (its classes), with an
    "unlabelled" DataFrame (labels to come from its teacher) where distillation is on, and IMDB's labelled
    training reviews when Rotten Tomatoes' teacher reads them (else None)."""
    splits = {}
    for name in cfg.dataset_list:
        parts, label_names = data.load_labelled(cfg, name, data_dir, tfds_dir, offline)
        splits[name] = {**parts, "label_names": label_names}
    if cfg.max_train_texts:
        for split in splits.values():
            split["train"] = split["train"].sample(n=min(cfg.max_train_texts, len(split["train"])),
                                                   random_state=cfg.seed)
    imdb_train = None
    if cfg.teacher_reads_imdb and cfg.distill_sentences and "rotten_tomatoes" in splits:
        imdb_train = (splits["imdb"] if "imdb" in splits else data.load_dataset(
            "imdb", data_dir, cfg.imdb_val_size, cfg.seed, offline))["train"]
    for name, flag, read in (("imdb", "distill_unlabelled", data.imdb_unlabelled),
                             ("rotten_tomatoes", "distill_sentences", data.imdb_sentences)):
        wanted = getattr(cfg, flag)
        if wanted and name in splits:
            unlabelled = read(data_dir, offline, imdb_val_size=cfg.imdb_val_size, seed=cfg.seed)[:wanted]
            if not unlabelled:
                raise UserError(f"--{flag.replace('_', '-')} {wanted}: no aclImdb/train/unsup reviews in "
                                f"--data-dir {data_dir} (0 fine-tunes on the labelled texts only)")
            splits[name]["unlabelled"] = pd.DataFrame({"text": unlabelled, "label": np.nan})
    return splits, imdb_train
