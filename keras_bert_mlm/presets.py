"""Named presets: short overrides of `Config`'s defaults (which are the keras.io example's), one reason each.

    Config.from_preset("cpu-hour", time_budget=30)   # a preset, with one setting changed

How each preset scored, and on which machine, is in docs/results.md, never here.
"""

PRESETS = {
    # The keras.io example "End-to-end Masked Language Modeling with BERT", setting for setting.
    "keras-example": {},
    # Trains in seconds on a few hundred texts: for the tests and for trying the pipeline.
    "tiny": dict(
        vocab_size=500, max_len=32, embed_dim=16, num_heads=2, ff_dim=32, mlm_val_size=16,
        mlm_epochs=2, mlm_batch_size=16, imdb_val_size=8, clf_batch_size=16, clf_learning_rate=1e-2,
        clf_frozen_epochs=2, clf_finetune_epochs=1, head_hidden=8, top_k=5,
    ),
    # Our recipe for one hour on a 2-core CPU.
    "cpu-hour": dict(
        max_len=512,                  # whole reviews: all but about a tenth of IMDB's fit in 512 tokens
        num_layers=2, num_heads=4,    # depth over width, 32-wide heads: fewer, larger matmuls on a CPU
        vocab_size=16000,             # projecting onto the vocabulary is most of a pretraining step: with 16,000
                                      # words a step is a quarter cheaper, and 3% of tokens read as [UNK]
        ff_dim=256,                   # the usual 2x width feed-forward block
        bigram_buckets=65536,         # word pairs ("not good") from the first layer, as fastText adds n-grams
        mlm_epochs=20,                # a cap only: the time budget decides the steps
        mlm_time_share=1.0,           # pretraining gets all the time the timed fine-tuning leaves
        mlm_min_share=0.35,           # and at least a third of the hour (after the plan's 5% margin) however slow
                                      # the machine: fine-tuning then reads fewer texts per epoch instead
        mlm_batch_size=8,             # a short pretraining lacks optimizer updates more than tokens: 4x the steps
        mlm_block_len=128,            # of 32 packed 128-token blocks (no padding), the last tenth on whole texts
        tie_embeddings=True,          # the masked-LM head reads the token table: more learned per minute
        positions="alibi",            # no position vectors: what the 128-token blocks teach holds at every place
        lr_schedule="cosine", weight_decay=0.01, clip_norm=1.0,  # AdamW, warm-up, cosine decay, clipping
        prompt="{text} it was [mask] .",  # classify by filling in a blank: the masked-LM head's rows for the two
        prompt_words="negative=terrible,positive=great",  # words start the head, so few labels go further
        pooling="mean",               # a --task of other classes pools instead: every real token counts
        head_dropout=0.1, head_hidden=0,  # a linear head, lightly regularized
        clf_frozen_epochs=0,          # every fine-tuning minute goes to epochs that also train the encoder
        clf_finetune_epochs=2, clf_finetune_learning_rate=3e-4, patience=1,  # two epochs of IMDB fill the hour
        distill_unlabelled=50000,     # IMDB's unlabelled reviews, labelled by the bag-of-bigrams teacher
        distill_sentences=50000,      # Rotten Tomatoes has no unlabelled text: sentences cut from IMDB's
        teacher_reads_imdb=True,      # Rotten Tomatoes' teacher learns more words from IMDB's reviews
        time_budget=60.0,             # the hour this preset is named for
    ),
}
# The cpu-hour recipe, twice as deep and with feed-forward blocks twice as wide, in the 150 minutes the `best`
# target allows: two and a half times the hour pays for the larger encoder and still leaves pretraining more
# minutes than cpu-hour's.
PRESETS["best"] = {**PRESETS["cpu-hour"], "num_layers": 4, "ff_dim": 512, "time_budget": 150.0}

# One line per preset, for `--help` and the README's presets table.
PURPOSES = {
    "keras-example": "the keras.io example, setting for setting: the point of comparison",
    "tiny": "trains in seconds: tests and trying the pipeline",
    "cpu-hour": "our recipe for one hour on a 2-core CPU (the README's command)",
    "best": "the cpu-hour recipe with 4 layers, in 150 minutes",
}
