"""Pretrain a small BERT with masked language modeling, fine-tune it for sentiment, export SavedModels.

    python3 train.py --data-dir ../shared/data --output-dir runs/example --preset cpu-hour

Stages (keras_bert_mlm/inputs.py, then pipeline.py): data -> vocabulary -> MLM pretraining -> one classifier
per dataset -> SavedModels that take raw strings. `python3 train.py --help` lists every setting.
"""

import os
import time

from keras_bert_mlm import inputs, rundir, runinfo
from keras_bert_mlm.cli import ArgumentParser, add_config_flags, config_from_args, run_command


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data",
                        help="folder with aclImdb_v1.tar.gz or aclImdb/, and rt-polaritydata.tar.gz or "
                             "rt-polaritydata/; what is missing is downloaded (default: data)")
    parser.add_argument("--tfds-dir", default=None,
                        help="TensorFlow Datasets data dir for tfds: sources of --task and --corpus "
                             "(default: tfds's own, ~/tensorflow_datasets or $TFDS_DATA_DIR)")
    parser.add_argument("--output-dir", default="runs/latest", help="where artifacts go (default: runs/latest)")
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


def main(argv=None):
    started, commit = time.time(), runinfo.current_commit()  # the code that trains
    args = parse_args(argv)
    cfg = config_from_args(args)
    if args.pretrained:
        cfg = rundir.adopt_pretraining_settings(cfg, args.pretrained)
    # Before TensorFlow loads and anything is written, so that each stops the run at once: an --output-dir
    # that holds a run with other settings, then a data problem.
    rundir.check_settings(args.output_dir, cfg, args.overwrite)
    loaded = inputs.read(args, cfg)
    from keras_bert_mlm import pipeline  # loads TensorFlow

    pipeline.run(args, cfg, loaded, started, commit)


def interrupted():
    out = parse_args().output_dir
    saved = rundir.finished_artifacts(out) if os.path.isdir(out) else []
    return (f"interrupted: {', '.join(saved) or 'nothing'} saved in {out} (complete files only); "
            "the same command again skips the finished stages")


if __name__ == "__main__":
    run_command(main, interrupted)
