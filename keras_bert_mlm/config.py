"""Every setting of a run in one dataclass (`cli.add_config_flags` makes the flags); presets.py names sets.

    cfg = Config.from_preset("tiny", mlm_epochs=2)
    cfg.to_json("config.json"); Config.from_json("config.json") == cfg  # True

Each field's `help` metadata becomes the help text of its `--flag` (underscores become dashes).
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field

from .checks import BUILT_IN, UserError, check  # noqa: F401 (BUILT_IN, UserError: for importers)
from .presets import PRESETS, PURPOSES  # noqa: F401 (PURPOSES: for the commands' help)


def _s(default, help):
    return field(default=default, metadata={"help": help})


def _many(help, metavar):
    """A setting given as a repeatable flag (`--task a=x.csv --task b=y.csv`), kept as a list."""
    return field(default_factory=list, metadata={"help": help, "repeatable": True, "metavar": metavar})


@dataclass
class Config:
    # Data
    datasets: str = _s("imdb,rotten_tomatoes", "comma-separated built-in datasets to fine-tune on (with --task: "
                       "none unless given)")
    task: list = _many("a classification task of your own, NAME=SOURCE (repeatable): a .csv/.tsv/.jsonl file "
                       "with text and label columns (and an optional split column), a folder of train/validation/"
                       "test files, or tfds:NAME[/CONFIG]; missing splits are drawn from train", "NAME=SOURCE")
    corpus: list = _many("pretraining texts of your own (repeatable): a folder of .txt files, a .txt file (a text "
                         "per line), a .csv/.tsv/.jsonl column (FILE[:COLUMN]), tfds:NAME[/CONFIG]:SPLIT, or "
                         "builtin (IMDB and Rotten Tomatoes' training text); default: builtin when a built-in "
                         "dataset is fine-tuned, else the tasks' training texts", "SOURCE")
    text_column: str = _s("text", "column of the texts in --task and --corpus files (and tfds features)")
    label_column: str = _s("label", "column of the labels in --task files (names or integers)")
    split_column: str = _s("split", "column of --task files that says train, validation or test (if absent, "
                           "validation and test are drawn from the rows, stratified)")
    imdb_val_size: int = _s(2500, "IMDB train reviews held out (stratified) for validation")
    mlm_val_size: int = _s(1000, "pretraining texts held out to report masked-token validation accuracy")
    max_corpus_texts: int = _s(0, "use at most this many pretraining texts (0 = all); for quick runs")
    max_train_texts: int = _s(0, "use at most this many training texts per dataset (0 = all); for quick runs")
    seed: int = _s(42, "seed for splits, shuffling, masks and initialization")
    # Text
    vocab_size: int = _s(30000, "vocabulary size, including padding, [UNK] and [mask]")
    max_len: int = _s(256, "tokens per text; longer texts keep their first max_len tokens")
    bucket_by_length: bool = _s(True, "batch texts of similar length together and pad each batch only to its "
                                "longest text (false: pad every text to max_len)")
    # Model
    embed_dim: int = _s(128, "width of the token vectors")
    num_heads: int = _s(8, "attention heads per layer")
    ff_dim: int = _s(128, "hidden width of each feed-forward block")
    num_layers: int = _s(1, "number of transformer blocks")
    bigram_buckets: int = _s(0, "hashed embeddings of (previous token, token) pairs added to the token "
                             "embeddings, in this many buckets (0 = none)")
    dropout: float = _s(0.1, "dropout rate inside the encoder while fine-tuning")
    norm_first: bool = _s(False, "pre-LayerNorm blocks and a final LayerNorm instead of post-LayerNorm blocks "
                          "(budget BERTs: stable at high learning rates)")
    positions: str = _s("learned", "word order: learned (a vector per position, BERT) or alibi (no vectors; "
                        "attention falls off with distance, ALiBi: learned on short blocks, it reads long texts)")
    # Pretraining
    objective: str = _s("mlm", "pretraining objective: mlm (predict the chosen tokens, BERT) or electra (a small "
                        "generator fills the chosen positions with sampled words and the encoder learns, at "
                        "every token, which were replaced: ELECTRA's replaced-token detection)")
    generator_size: float = _s(0.25, "with objective electra: the generator's width, feed-forward width and heads "
                               "as a fraction of the encoder's (same depth, same token embeddings; ELECTRA-Small: 0.25)")
    discriminator_weight: float = _s(50.0, "with objective electra: weight of the replaced-token loss against the "
                                     "generator's masked-LM loss (ELECTRA: 50)")
    tie_embeddings: bool = _s(False, "with objective mlm: the output projection is the token embedding table, "
                              "transposed (BERT's tied input and output embeddings), not a table of its own")
    mlm_dropout: float = _s(0.1, "dropout rate inside the encoder while pretraining (budget BERTs: 0)")
    mask_rate: float = _s(0.15, "fraction of real tokens chosen for prediction (BERT: 0.15)")
    mlm_block_len: int = _s(0, "pretrain on blocks of this many tokens cut from the texts laid end to end (no padding, "
                            "cheaper attention), max_len / mlm_block_len times mlm_batch_size a step (0: whole texts)")
    mlm_full_share: float = _s(0.1, "with mlm_block_len: the last share of the steps reads whole texts, so that "
                               "the positions past the blocks, which fine-tuning reads, are trained too")
    mlm_copy_positions: bool = _s(False, "with mlm_block_len: when the whole-text steps begin, the positions past the "
                                  "blocks start as copies of the blocks' (Longformer's copy initialization)")
    mlm_xla: bool = _s(True, "with mlm_block_len and objective mlm, on one replica: the steps on blocks, all of "
                       "one shape, run compiled with XLA (faster on a CPU; false: as the other steps run)")
    mlm_epochs: int = _s(5, "pretraining epochs over the corpus")
    mlm_batch_size: int = _s(32, "pretraining batch size")
    mlm_learning_rate: float = _s(1e-3, "Adam learning rate for pretraining (the peak, with a schedule)")
    lr_schedule: str = _s("constant", "learning rates: constant, cosine (linear warm-up over warmup_fraction "
                          "of the steps, then cosine decay to a tenth) or linear (the same warm-up, then a straight "
                          "line to zero at the last step) for pretraining and the trainable phase")
    warmup_fraction: float = _s(0.05, "with lr_schedule cosine: share of the steps spent warming up")
    weight_decay: float = _s(0.0, "AdamW weight decay (0 = plain Adam)")
    adam_beta2: float = _s(0.999, "Adam's second-moment decay (budget BERTs: 0.98)")
    clip_norm: float = _s(0.0, "clip each gradient to this global norm (0 = no clipping)")
    time_budget: float = _s(0.0, "minutes for the whole train.py run (0 = no limit): the fine-tuning epochs and "
                            "the pretraining steps are timed on this machine, pretraining gets the time the "
                            "fine-tuning leaves, and each stage stops in time")
    mlm_time_share: float = _s(0.65, "with time_budget: at most this share of the time left after the vocabulary "
                               "goes to pretraining (1 = all that the fine-tuning's timed epochs leave)")
    mlm_min_share: float = _s(0.0, "with time_budget: pretraining gets at least this share of the whole budget, "
                              "even when the timed fine-tuning would want it (its epochs are then shortened to "
                              "fit what is left: fewer texts per epoch, not fewer epochs)")
    # Classifier fine-tuning
    pooling: str = _s("max", "how the classifier pools token vectors: max, mean or first")
    pool_embeddings: bool = _s(False, "also pool the embedding layer's output (before the first block) and give "
                               "the head both pooled vectors side by side")
    prompt: str = _s("", "classify by filling in a blank (PET): each text is put in this template at {text}, and "
                     "the class is the --prompt-words word that the masked-LM head puts at its [mask], e.g. "
                     "'{text} it was [mask] .' (needs a pretraining with --tie-embeddings true; empty: pool the "
                     "tokens into a new head)")
    prompt_words: str = _s("", "with --prompt: one word per class, comma-separated in label order (terrible,great) "
                           "or as CLASS=WORD pairs (negative=terrible,positive=great: a classifier whose classes "
                           "are not all named pools instead); the head starts as the masked-LM head's scores for them")
    head_dropout: float = _s(0.0, "dropout rate on the pooled vector")
    head_hidden: int = _s(64, "width of the classifier's hidden ReLU layer (0 = none)")
    clf_batch_size: int = _s(32, "fine-tuning batch size")
    clf_frozen_epochs: int = _s(5, "phase 1: epochs with the encoder frozen")
    clf_learning_rate: float = _s(1e-3, "phase 1 Adam learning rate")
    clf_finetune_epochs: int = _s(5, "phase 2: epochs with the encoder trainable")
    clf_finetune_learning_rate: float = _s(1e-3, "phase 2 Adam learning rate")
    clf_freeze_embeddings: bool = _s(False, "phase 2: keep the embedding tables (words, word pairs, positions) as "
                                     "pretrained and train the rest: with few labels, most of the encoder's "
                                     "weights are rows of words that a few thousand texts would fit instead")
    patience: int = _s(2, "stop a phase after this many epochs without a better validation accuracy")
    distill_unlabelled: int = _s(0, "IMDB: have an NBSVM-style bag of bigrams, trained on the training split, label "
                                 "this many of the unlabelled (unsup) reviews, and fine-tune on them too with its "
                                 "probabilities as targets (0 = off)")
    distill_sentences: int = _s(0, "Rotten Tomatoes: the same with this many sentences (5 to 60 words) cut from "
                                "IMDB's unlabelled reviews, labelled by a bag of bigrams trained on Rotten "
                                "Tomatoes' training sentences (0 = off)")
    teacher_reads_imdb: bool = _s(False, "with distill_sentences: Rotten Tomatoes' bag of bigrams also trains on "
                                  "IMDB's labelled training reviews (the classifier itself does not)")
    # Export
    top_k: int = _s(10, "tokens returned by the fill_mask endpoint")

    def __post_init__(self):
        check(self)

    @property
    def builtin_datasets(self):
        """The built-in datasets of `--datasets`."""
        return [d.strip() for d in self.datasets.split(",") if d.strip()]

    @property
    def tasks(self):
        """{name: source} of the `--task` flags."""
        return dict(spec.split("=", 1) for spec in self.task)

    @property
    def dataset_list(self):
        """Every classifier this run trains: the built-in datasets, then the tasks."""
        return self.builtin_datasets + list(self.tasks)

    def encoder_settings(self):
        """The keyword arguments of `models.build_encoder` for these settings."""
        return {k: getattr(self, k) for k in ENCODER_SETTINGS}

    def generator_settings(self):
        """The keyword arguments of `models.ReplacedTokenDetector` (beside the encoder). The generator's
        heads are as wide as the encoder's: fewer heads, fewer attention matrices to compute."""
        return {"generator_width": round(self.embed_dim * self.generator_size),
                "generator_ff_dim": max(1, round(self.ff_dim * self.generator_size)),
                "generator_heads": max(1, round(self.num_heads * self.generator_size)),
                "discriminator_weight": self.discriminator_weight, "seed": self.seed}

    def classifier_settings(self):
        """The keyword arguments of `models.build_classifier` (beside the encoder) for these settings."""
        return {"pooling": self.pooling, "head_dropout": self.head_dropout, "head_hidden": self.head_hidden,
                "pool_embeddings": self.pool_embeddings}

    @property
    def max_predictions(self):
        """Most positions scored per sequence: round(mask_rate * length) of them are chosen."""
        return max(1, math.ceil(round(self.mask_rate * self.max_len, 6)))

    @classmethod
    def from_preset(cls, name, **overrides):
        if name not in PRESETS:
            raise UserError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f), path)

    @classmethod
    def from_dict(cls, data, source):
        """Settings read from `source` (named in the error for a setting this version does not know)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UserError(f"{source}: unknown settings {', '.join(unknown)}")
        return cls(**data)


ENCODER_SETTINGS = ("vocab_size", "max_len", "embed_dim", "num_heads", "ff_dim", "num_layers", "bigram_buckets",
                    "dropout", "norm_first", "positions")
# What the vocabulary and the pretrained encoder depend on: `train.py --pretrained RUN` takes these from RUN.
# Not `dropout`, the rate while fine-tuning (pretraining drops at `mlm_dropout`): each fine-tuning sets its own.
PRETRAINING_SETTINGS = tuple(k for k in ENCODER_SETTINGS if k != "dropout") + (
    "corpus", "objective", "generator_size", "discriminator_weight", "tie_embeddings", "mlm_dropout", "mask_rate",
    "mlm_block_len", "mlm_full_share", "mlm_copy_positions", "mlm_epochs", "mlm_batch_size", "mlm_learning_rate",
    "mlm_val_size", "max_corpus_texts", "mlm_time_share", "mlm_min_share")
