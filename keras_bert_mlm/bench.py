"""Speed of pretraining (MLM and ELECTRA) and serving, ours against the keras.io example's formulation.

    python3 -m keras_bert_mlm.bench --preset keras-example --data-dir ../shared/data --seconds 60

Prints one JSON object per line: the fp32 matmul peak, `mlm_train` (ours: gathered positions, fused loss,
length-bucketed batches), `mlm_train_packed` (the same on packed blocks with the preset's pretraining dropout
and tied head, compiled with XLA, as `--mlm-block-len` pretrains) and `mlm_train_packed_plain` (not compiled:
`--mlm-xla false`), `mlm_train_reference` (the example: vocabulary logits at all positions of batches padded
to max_len, loss on the chosen ones), `mlm_speedup`, `electra_train` (ours, `--objective electra`: generator,
sampling and discriminator; its FLOPs count all three), `serve` and `serve_reference` (raw strings through a
SavedModel, batch 256), `serve_speedup`, `embed` (the same SavedModel's `embed` endpoint) and `embed_speedup`
(against `serve_reference`), `peak_rss_mb`.
Both sides train the same model size on the same texts; tokens are real (non-padding) tokens.
A benchmark, not a test: run it on an otherwise idle machine and compare ratios from one run.
"""

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from . import losses
from .config import Config, UserError
from .optimizer import build_slots
from .runinfo import matmul_peak_gflops


def emit(**record):
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}), flush=True)


def load_texts(data_dir, n, seed):
    """Up to `n` IMDB train/unsup reviews from `data_dir`, else synthetic reviews of IMDB-like length."""
    from . import data

    if data_dir:
        try:
            corpus = data.pretraining_corpus(data_dir, offline=True)
            rng = np.random.default_rng(seed)
            return [corpus[i] for i in rng.permutation(len(corpus))[:n]], "real"
        except UserError:
            pass
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20000)]
    zipf = 1 / np.arange(1, len(words) + 1)
    lengths = np.clip(rng.lognormal(np.log(175), 0.75, n), 10, 2500).astype(int)  # IMDB: mean ~230 words
    return [" ".join(rng.choice(words, size=k, p=zipf / zipf.sum())) for k in lengths], "synthetic"


def encoder_flops(lengths, width, ff_dim, num_layers):
    """Forward FLOPs of transformer blocks of `width` on texts of `lengths` real tokens."""
    per_token = num_layers * 2 * (4 * width * width + 2 * width * ff_dim)
    return per_token * lengths.sum() + num_layers * 4 * width * (lengths**2).sum()


def flops_per_step(cfg, ids, chosen):
    """Useful FLOPs (forward + backward = 3x forward) of one pretraining step on real tokens only: for
    MLM the encoder and the vocabulary projection at the `chosen` positions; for ELECTRA also the
    generator (the same at its width), its sampling projection (forward only) and the one-unit head."""
    lengths = (ids != 0).sum(axis=1).astype(np.float64)
    flops = 3 * encoder_flops(lengths, cfg.embed_dim, cfg.ff_dim, cfg.num_layers)
    if cfg.objective == "mlm":
        return flops + 3 * 2 * cfg.embed_dim * cfg.vocab_size * chosen
    g = cfg.generator_settings()
    head = 2 * g["generator_width"] * cfg.vocab_size * chosen
    generator = 3 * encoder_flops(lengths, g["generator_width"], g["generator_ff_dim"], cfg.num_layers)
    return flops + generator + 3 * lengths.sum() * 2 * cfg.embed_dim + 3 * head + head


def electra_config(cfg):
    """`cfg` with ELECTRA's objective, for timing it on the same encoder: a prompt and a tied masked-LM head
    belong to `--objective mlm`, so they go (the generator has its own output layer)."""
    return Config(**{**cfg.to_dict(), "objective": "electra", "tie_embeddings": False, "prompt": "",
                     "prompt_words": ""})


def compile_for_timing(model, cfg, **compile_args):
    """Compile `model` with Adam at `cfg`'s pretraining rate and build its moments (`build_slots`)."""
    model.compile(optimizer=keras.optimizers.Adam(cfg.mlm_learning_rate), **compile_args)
    build_slots(model)


def time_training(model, batches, seconds, cfg):
    """Train on `batches` (an iterator of (x, y, w)) for `seconds` after a warm-up; return rates."""
    for _ in range(3):  # warm-up: tracing and the first shapes
        model.train_on_batch(*next(batches))
    texts = tokens = flops = 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        x, y, w = next(batches)
        model.train_on_batch(x, y, sample_weight=w)
        real = np.asarray(x["token_ids"])
        texts += real.shape[0]
        tokens += (real != 0).sum()
        flops += flops_per_step(cfg, real, float(np.asarray(w).sum()))
    elapsed = time.perf_counter() - start
    return texts / elapsed, tokens / elapsed, flops / elapsed / 1e9


def time_serving(path, texts, seconds, batch_size=256, endpoint="serve"):
    """Texts per second through the SavedModel at `path`'s `endpoint`, in batches of raw strings."""
    loaded = tf.saved_model.load(path)
    call = getattr(loaded, endpoint)
    batches = [tf.constant(texts[i:i + batch_size]) for i in range(0, len(texts) - batch_size + 1, batch_size)]
    call(batches[0])
    count, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        call(batches[i % len(batches)]).numpy()
        count, i = count + batch_size, i + 1
    return count / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="keras-example", help="model size to measure (default: keras-example)")
    parser.add_argument("--data-dir", default=None, help="real reviews from here; synthetic when absent")
    parser.add_argument("--seconds", type=float, default=30.0, help="measuring time per measure (default: 30)")
    parser.add_argument("--texts", type=int, default=4000, help="texts to sample (default: 4000)")
    parser.add_argument("--mlm-block-len", type=int, default=None, metavar="N",
                        help="time pretraining on packed N-token blocks too (default: the preset's; 0: not)")
    args = parser.parse_args(argv)

    from . import export, masking, memory, models, text
    from .pretrain import pretraining_model

    memory.keep_freed_memory()  # as every command that runs a model does: both sides gain

    cfg = Config.from_preset(args.preset)
    keras.utils.set_random_seed(cfg.seed)
    peak = matmul_peak_gflops()
    emit(measure="matmul_peak", gflops=peak, dtype="float32")
    texts, source = load_texts(args.data_dir, args.texts, cfg.seed)
    emit(measure="data", source=source, texts=len(texts))
    vectorizer = text.adapt_vectorizer(texts, cfg.vocab_size, cfg.max_len)
    ids = np.asarray(vectorizer(tf.constant(texts)), np.int32)

    # Ours.
    mlm = models.MaskedLanguageModel(models.build_encoder(**cfg.encoder_settings()))
    compile_for_timing(mlm, cfg)
    ours = iter(masking.mlm_dataset(ids, cfg, shuffle=True))
    texts_s, tokens_s, gflops = time_training(mlm, ours, args.seconds, cfg)
    emit(measure="mlm_train", texts_per_s=texts_s, tokens_per_s=tokens_s, gflops=gflops, mfu=gflops / peak)
    emit(measure="peak_rss_mb", mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, during="mlm_train")

    # The steps a preset with --mlm-block-len runs most: packed blocks, its pretraining dropout and head.
    block_len = cfg.mlm_block_len if args.mlm_block_len is None else args.mlm_block_len
    if block_len:
        blocks = masking.packed_dataset(ids, dataclasses.replace(cfg, mlm_block_len=block_len))[0]
        for xla in (True, False):  # compiled as pretraining compiles them (`--mlm-xla`), and not; same batches
            packed = pretraining_model(cfg)
            compile_for_timing(packed, cfg, jit_compile=xla)
            blocks_s, p_tokens_s, p_gflops = time_training(packed, iter(blocks), args.seconds, cfg)
            emit(measure="mlm_train_packed" if xla else "mlm_train_packed_plain", block_len=block_len,
                 blocks_per_s=blocks_s, tokens_per_s=p_tokens_s, gflops=p_gflops, mfu=p_gflops / peak)

    # Ours, ELECTRA's objective: the same texts and encoder, with a generator.
    electra_cfg = electra_config(cfg)
    rtd = models.ReplacedTokenDetector(models.build_encoder(**cfg.encoder_settings()),
                                       **electra_cfg.generator_settings())
    compile_for_timing(rtd, cfg)
    e_texts_s, e_tokens_s, e_gflops = time_training(rtd, iter(masking.mlm_dataset(ids, cfg, shuffle=True)),
                                                    args.seconds, electra_cfg)
    emit(measure="electra_train", texts_per_s=e_texts_s, tokens_per_s=e_tokens_s, gflops=e_gflops,
         mfu=e_gflops / peak)

    # The example's formulation: dense logits at every position of 256-wide batches.
    reference_cfg = Config(**{**cfg.to_dict(), "bucket_by_length": False})
    reference = ReferenceMLM(models.build_encoder(**cfg.encoder_settings()))
    compile_for_timing(reference, cfg)
    dense = iter(masking.mlm_dataset(ids, reference_cfg, shuffle=True))
    ref_texts_s, ref_tokens_s, ref_gflops = time_training(reference, dense, args.seconds, cfg)
    emit(measure="mlm_train_reference", texts_per_s=ref_texts_s, tokens_per_s=ref_tokens_s,
         gflops=ref_gflops, mfu=ref_gflops / peak)
    emit(measure="mlm_speedup", ratio=tokens_s / ref_tokens_s)

    # Serving raw strings: ours sorts by length and trims padding; the example pads every text to max_len.
    classifier = models.build_classifier(mlm.encoder, **cfg.classifier_settings())
    with tempfile.TemporaryDirectory() as tmp:
        ours_path, ref_path = os.path.join(tmp, "ours"), os.path.join(tmp, "reference")
        export.export_classifier(classifier, vectorizer, ours_path)
        archive = keras.export.ExportArchive()
        archive.track(vectorizer)
        archive.track(classifier)
        archive.add_endpoint("serve", lambda t: classifier(tf.cast(vectorizer(t), tf.int32)),
                             input_signature=[export.STRINGS])
        archive.write_out(ref_path, verbose=False)
        serve = time_serving(ours_path, texts, args.seconds)
        emit(measure="serve", texts_per_s=serve, batch_size=256)
        serve_ref = time_serving(ref_path, texts, args.seconds)
        emit(measure="serve_reference", texts_per_s=serve_ref, batch_size=256)
        emit(measure="serve_speedup", ratio=serve / serve_ref)
        embed = time_serving(ours_path, texts, args.seconds, endpoint="embed")
        emit(measure="embed", texts_per_s=embed, batch_size=256)
        emit(measure="embed_speedup", ratio=embed / serve_ref)
    emit(measure="peak_rss_mb", mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, during="whole bench")


class ReferenceMLM(keras.Model):
    """The keras.io example's MLM step: vocabulary logits at every position, loss on the chosen ones."""

    def __init__(self, encoder):
        token_ids = keras.Input((None,), dtype="int32")
        logits = keras.layers.Dense(encoder.get_layer("embeddings").vocab_size)(encoder(token_ids))
        super().__init__(token_ids, logits)

    def train_step(self, data):
        inputs, targets, weights = data
        ids, positions = inputs["token_ids"], inputs["mask_positions"]
        rows = tf.broadcast_to(tf.range(tf.shape(ids)[0])[:, None], tf.shape(positions))
        index = tf.stack([rows, positions], -1)
        dense_targets = tf.scatter_nd(index, targets, tf.shape(ids))
        dense_weights = tf.scatter_nd(index, weights, tf.shape(ids))
        with tf.GradientTape() as tape:
            loss, _ = losses.masked_loss_and_hits(dense_targets, self(ids, training=True), dense_weights)
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        return {"loss": loss}


if __name__ == "__main__":
    main()
