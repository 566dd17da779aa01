"""Try a trained run's SavedModels from the shell.

    python3 -m keras_bert_mlm predict --artifacts OUT --dataset imdb "A moving film." "Dull."
    echo "a [mask] movie" | python3 -m keras_bert_mlm fill-mask --artifacts OUT --top-k 5
    python3 -m keras_bert_mlm predict --artifacts OUT --file reviews.txt --json
    python3 -m keras_bert_mlm embed --artifacts OUT --json "A moving film."      # the pretrained encoder's vector

Texts come from the arguments, else one per line from --file (or stdin). Only the exported
SavedModels are used, exactly as they ship.
"""

import json
import os
import sys

from .cli import ArgumentParser, run_command
from .config import UserError


def parse_args(argv):
    parser = ArgumentParser(prog="python3 -m keras_bert_mlm", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="{predict,fill-mask}")
    predict = commands.add_parser("predict", help="the likeliest class of each text and its probability")
    fill = commands.add_parser("fill-mask", help="likeliest tokens for the first [mask] of each text")
    embed = commands.add_parser("embed", help="one unit-length vector per text (cosine similarity = dot product)")
    for sub in (predict, fill, embed):
        sub.error = parser.error
        sub.add_argument("texts", nargs="*", help="texts (default: one per line from --file or stdin)")
        sub.add_argument("--artifacts", required=True, help="the --output-dir of a train.py run")
        sub.add_argument("--file", default=None, help="read texts from this file, one per line ('-': stdin)")
        sub.add_argument("--json", action="store_true", help="print one JSON object per text")
    predict.add_argument("--dataset", default=None,
                         help="whose classifier to use: a dataset or task of the run (default: its first)")
    fill.add_argument("--top-k", type=int, default=5, help="tokens to show per text (default: 5)")
    embed.add_argument("--dataset", default=None, help="the vectors of this dataset's classifier (default: "
                       "the pretrained encoder's, from the masked-LM SavedModel)")
    return parser.parse_args(argv)


def read_texts(args):
    if args.texts:
        return args.texts
    if args.file and args.file != "-":
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                return [line.rstrip("\n") for line in f if line.strip()]
        except OSError as e:
            raise UserError(f"--file {args.file}: {e.strerror}") from None
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def first_classifier(out):
    """The first dataset or task the run in `out` fine-tuned (imdb for a folder without config.json)."""
    from .config import Config

    path = os.path.join(out, "config.json")
    return Config.from_json(path).dataset_list[0] if os.path.isfile(path) else "imdb"


def main(argv=None):
    args = parse_args(argv)
    if args.command == "embed":
        return embed_command(args)
    if args.command == "predict":
        path = savedmodel_path(args.artifacts, args.dataset or first_classifier(args.artifacts))
    else:
        path = os.path.join(args.artifacts, "mlm", "savedmodel")
        if args.top_k < 1:
            raise UserError(f"--top-k must be positive, not {args.top_k}")
    texts = read_texts(args)
    if not texts:
        raise UserError("no texts given (as arguments, with --file, or on stdin)")

    import numpy as np
    import tensorflow as tf

    from . import memory
    from .data import BINARY_LABELS
    from .evaluate import saved_labels
    from .export import load_savedmodel

    memory.keep_freed_memory()

    if args.command == "predict":
        loaded = load_savedmodel(path, "serve")
        names = saved_labels(loaded) or BINARY_LABELS  # exported before `labels`: sentiment
        probabilities = loaded.serve(tf.constant(texts)).numpy()
        if probabilities.shape[1] == 1:  # binary: P(names[1])
            probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
        width = max(map(len, names))
        for text, row in zip(texts, probabilities):
            label = names[int(np.argmax(row))]
            if args.json:  # binary: "probability" is P(names[1]), as it always was
                print(json.dumps({"text": text, "label": label, "probability": round(float(row[-1]), 6)}
                                 if len(names) == 2 else
                                 {"text": text, "label": label,
                                  "probabilities": {n: round(float(p), 6) for n, p in zip(names, row)}}))
            else:
                print(f"{row.max() if len(names) > 2 else row[1]:.4f}  {label:<{width}}  {text}")
        return
    loaded = load_savedmodel(path, "fill_mask")
    result = loaded.fill_mask(tf.constant(texts))
    tokens, probabilities = result["tokens"].numpy(), result["probabilities"].numpy()
    if args.top_k > tokens.shape[1]:
        raise UserError(f"--top-k {args.top_k}: this model was exported with at most {tokens.shape[1]}")
    for text, row, ps in zip(texts, tokens[:, :args.top_k], probabilities[:, :args.top_k]):
        pairs = [(t.decode("utf-8", "replace"), float(p)) for t, p in zip(row, ps) if t]
        if args.json:
            print(json.dumps({"text": text, "predictions": [{"token": t, "probability": round(p, 6)}
                                                            for t, p in pairs]}))
            continue
        print(text)
        if not pairs:
            print("  (no [mask] in this text)")
        for t, p in pairs:
            print(f"  {p:.4f}  {t}")


def savedmodel_path(artifacts, dataset):
    """The SavedModel of `--dataset`'s classifier, or without a dataset the masked-LM's (the pretrained
    encoder: `embed`'s default); a one-line error naming what the run has when it is not there."""
    if dataset is None:
        path = os.path.join(artifacts, "mlm", "savedmodel")
        if not os.path.isdir(path):
            raise UserError(f"{artifacts}: no pretrained model (mlm/savedmodel); is it a train.py --output-dir?")
        return path
    path = os.path.join(artifacts, dataset, "savedmodel")
    if not os.path.isdir(path):
        trained = sorted(d for d in os.listdir(artifacts) if d != "mlm" and
                         os.path.isdir(os.path.join(artifacts, d, "savedmodel"))) if os.path.isdir(artifacts) else []
        raise UserError(f"--dataset {dataset}: no model in {artifacts} (trained: {', '.join(trained) or 'none'})")
    return path


def embed_command(args):
    """`embed`: each text's vector from the `embed` endpoint, abridged to its first numbers unless --json."""
    path = savedmodel_path(args.artifacts, args.dataset)
    texts = read_texts(args)
    if not texts:
        raise UserError("no texts given (as arguments, with --file, or on stdin)")

    import tensorflow as tf

    from . import memory
    from .export import load_savedmodel

    memory.keep_freed_memory()
    loaded = load_savedmodel(path, "embed")
    vectors = loaded.embed(tf.constant(texts)).numpy()
    for text, vector in zip(texts, vectors):
        if args.json:
            print(json.dumps({"text": text, "embedding": [round(float(v), 6) for v in vector]}))
        else:
            print(" ".join(f"{v:+.3f}" for v in vector[:6]) + f" ... ({len(vector)} numbers)  {text}")


if __name__ == "__main__":
    run_command(main)
