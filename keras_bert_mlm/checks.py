"""The checks a run's settings pass before anything runs: each mistake is one line that names its flag.

    check(Config.from_preset("cpu-hour"))        # Config calls it itself; raises UserError on a bad setting
"""

import re


class UserError(Exception):
    """A mistake of the user's (a path, a flag, a file): shown as one line, without a traceback."""


BUILT_IN = ("imdb", "rotten_tomatoes")  # datasets known by name (data.py reads them)
_RESERVED = ("mlm", "plots", "logs")  # folder names a run writes beside its classifiers: a task may not take them


def prompt_word_pairs(words):
    """{class: word} of `--prompt-words` given as CLASS=WORD pairs, spaces around each side trimmed; None when
    they are given in label order. `check` has refused any other form.

    >>> prompt_word_pairs("negative = terrible, positive=great")
    {'negative': 'terrible', 'positive': 'great'}
    """
    if "=" not in words:
        return None
    return dict((part.strip() for part in item.split("=", 1)) for item in words.split(","))


def check(cfg):
    """Raise `UserError` for the first setting of `cfg` (a `Config`) out of its range or at odds with another."""
    for name, choices in (("pooling", ("max", "mean", "first")), ("objective", ("mlm", "electra")),
                          ("lr_schedule", ("constant", "cosine", "linear")), ("positions", ("learned", "alibi"))):
        if getattr(cfg, name) not in choices:
            raise UserError(f"--{name.replace('_', '-')} must be {', '.join(choices[:-1])} or {choices[-1]}, "
                            f"not {getattr(cfg, name)!r}")
    if cfg.clf_frozen_epochs + cfg.clf_finetune_epochs < 1:
        raise UserError("--clf-frozen-epochs plus --clf-finetune-epochs must be at least 1")
    for name in cfg.builtin_datasets:
        if name not in BUILT_IN:
            raise UserError(f"--datasets: unknown dataset {name!r} (known: {', '.join(BUILT_IN)}; "
                            "your own data: --task NAME=SOURCE)")
    names = list(cfg.builtin_datasets)
    for spec in cfg.task:
        name, _, source = spec.partition("=")
        if not source or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise UserError(f"--task {spec!r}: expected NAME=SOURCE, NAME made of letters, digits, _ . -")
        if name in names or name in _RESERVED:
            raise UserError(f"--task {spec!r}: the name {name!r} is "
                            + ("used twice" if name in names else "taken by the run's own folders"))
        names.append(name)
    if not names:
        raise UserError("nothing to fine-tune: give --datasets or --task")
    width, heads = (cfg.generator_settings()[k] for k in ("generator_width", "generator_heads"))
    if cfg.objective == "electra" and (not 0 < cfg.generator_size <= 1 or not width or width % heads):
        raise UserError(f"--generator-size {cfg.generator_size} gives a generator width of {width} with "
                        f"{heads} heads: it must be above 0, at most 1, and the width a multiple of the heads")
    for name, ok, wanted in (  # the numeric settings' ranges
            ("vocab_size", cfg.vocab_size >= 8, "at least 8"),
            ("mask_rate", 0 < cfg.mask_rate < 1, "between 0 and 1"),
            ("adam_beta2", 0 < cfg.adam_beta2 < 1, "between 0 and 1"),
            ("time_budget", cfg.time_budget >= 0, "0 (no limit) or a number of minutes"),
            ("mlm_min_share", 0 <= cfg.mlm_min_share < 1, "at least 0 and below 1"),
            ("mlm_time_share", 0 < cfg.mlm_time_share <= 1, "above 0 and at most 1"),
            ("mlm_full_share", 0 <= cfg.mlm_full_share <= 1, "between 0 and 1"),
            ("mlm_block_len", cfg.mlm_block_len == 0 or 2 <= cfg.mlm_block_len <= cfg.max_len,
             f"0 (whole texts) or 2 to --max-len ({cfg.max_len})"),
            ("imdb_val_size", cfg.imdb_val_size >= 1, "at least 1 (early stopping needs validation)"),
            ("bigram_buckets", cfg.bigram_buckets >= 0 and (cfg.vocab_size <= 70000 or not cfg.bigram_buckets),
             "0 or positive (with a vocabulary below 70,000)"),
            ("distill_unlabelled", cfg.distill_unlabelled >= 0, "0 (off) or a number of reviews"),
            ("distill_sentences", cfg.distill_sentences >= 0, "0 (off) or a number of sentences"),
            ("embed_dim", cfg.embed_dim % cfg.num_heads == 0, f"a multiple of --num-heads ({cfg.num_heads})"),
            ("mlm_copy_positions", not cfg.mlm_copy_positions or cfg.positions == "learned", "false with alibi"),
            ("prompt", not cfg.prompt or (cfg.prompt.count("[mask]") == cfg.prompt.count("{text}") == 1 and
                                          cfg.prompt_words and cfg.tie_embeddings and cfg.objective == "mlm"),
             "empty, or words with one {text} and one [mask], given with --prompt-words, --tie-embeddings true "
             "and --objective mlm (--prompt '' classifies by mean pooling)"),
            ("prompt_words", "=" not in cfg.prompt_words or all(
                len(item.split("=")) == 2 and all(p.strip() for p in item.split("=")) for item in
                cfg.prompt_words.split(",")), "words in label order (terrible,great) or CLASS=WORD pairs "
             "(negative=terrible,positive=great), not both")):
        if not ok:
            raise UserError(f"--{name.replace('_', '-')} must be {wanted}, not {getattr(cfg, name)}")
