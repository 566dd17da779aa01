"""Score the exported SavedModels on each dataset's test split, as a user would load them.

    python3 test.py --artifacts runs/example --data-dir ../shared/data

Prints a table and writes ARTIFACTS/metrics.json. Only the SavedModels are used, not the Keras
models, so what is scored is exactly what ships (keras_bert_mlm/evaluate.py).
"""

import os

from keras_bert_mlm.cli import ArgumentParser, run_command
from keras_bert_mlm.config import UserError


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--artifacts", required=True, help="the --output-dir of a train.py run")
    parser.add_argument("--data-dir", default="data", help="folder with the datasets, as for train.py (default: data)")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated datasets to score (default: every dataset the run trained)")
    parser.add_argument("--batch-size", type=int, default=256, help="texts per call of serve (default: 256)")
    parser.add_argument("--tfds-dir", default=None,
                        help="TensorFlow Datasets data dir for tfds: tasks, as for train.py (default: tfds's own)")
    parser.add_argument("--offline", action="store_true", help="never download; fail if data is missing")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be positive, not {args.batch_size}")
    from keras_bert_mlm import evaluate  # loads TensorFlow: after the flags are checked

    results = evaluate.score_run(args.artifacts, args.data_dir, args.datasets, args.batch_size, args.offline,
                                 args.tfds_dir)
    print(evaluate.metrics_table(results))
    print(f"wrote {os.path.join(args.artifacts, 'metrics.json')}")


if __name__ == "__main__":
    run_command(main, interrupted=lambda: "interrupted: metrics.json was not changed")
