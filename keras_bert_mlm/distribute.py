"""`tf.distribute` strategies for train.py, and the short loop that trains across several workers.

    strategy = make_strategy("auto", cpu_replicas=1)   # mirrored on >1 GPU, else the default strategy
    with strategy.scope():
        model = ...; model.compile(...)                 # variables mirrored on every replica
    model.fit(ds)                                       # one host: Keras's own fit

Global batch = per-replica batch (`--mlm-batch-size`, `--clf-batch-size`) x replicas; learning
rates are multiplied by sqrt(replicas) (the square-root rule for Adam; docs/scaling.md).

`fit` does not run under `MultiWorkerMirroredStrategy` in Keras 3.15 (keras-team/keras#20585):
`multi_worker_fit` calls the model's own `train_step`/`test_step` through `strategy.run` instead.
Remove it when upstream `fit` works there.
"""

import json
import math
import os
import time

from . import cli
from .config import UserError

KINDS = ("auto", "none", "mirrored", "multi-worker", "tpu")


def make_strategy(kind, cpu_replicas=1):
    """The `tf.distribute` strategy for `--distribute KIND`; `cpu_replicas` > 1 splits the CPU into
    that many logical devices (to try mirrored training on one machine)."""
    import tensorflow as tf

    if cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    if kind == "auto":
        gpus = tf.config.list_physical_devices("GPU")  # physical: the runtime must not start before the strategy
        kind = "mirrored" if len(gpus) > 1 or cpu_replicas > 1 else "none"
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        # NCCL all-reduce needs GPUs; on CPU devices, reduce through one device instead.
        ops = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=ops)
    if kind == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--distribute multi-worker needs TF_CONFIG (the cluster and this worker's index) "
                            "in the environment: see docs/scaling.md")
        try:
            cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]["worker"]
        except (ValueError, KeyError, TypeError):
            raise UserError("TF_CONFIG is not JSON with cluster.worker and task (see docs/scaling.md)") from None
        if not cluster:
            raise UserError("TF_CONFIG: cluster.worker is empty")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise UserError(f"--distribute tpu: no TPU found ({str(e).splitlines()[0]})") from None
        return tf.distribute.TPUStrategy(resolver)
    raise UserError(f"--distribute must be one of {', '.join(KINDS)}, not {kind!r}")


def strategy_name(strategy):
    """'MirroredStrategy', 'MultiWorkerMirroredStrategy' (TensorFlow's class is CollectiveAllReduceStrategy), ..."""
    name = type(strategy).__name__.lstrip("_")
    return {"CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy",
            "DefaultDistributionStrategy": "none"}.get(name, name)


def is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy):
    """True on the worker that writes files: the only one, or worker 0 of a multi-worker cluster."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    return resolver.task_type in (None, "chief") or (resolver.task_type == "worker" and resolver.task_id == 0)


def scaled_learning_rate(rate, strategy):
    return rate * math.sqrt(strategy.num_replicas_in_sync)


def worker_directory(checkpoint_dir, strategy):
    """Where this worker's checkpoints go: `checkpoint_dir` for the chief, a scratch folder in it for the others."""
    if is_chief(strategy):
        return checkpoint_dir
    return os.path.join(checkpoint_dir, f"worker-{strategy.cluster_resolver.task_id}-scratch")


def epochs_done(checkpoint_dir, strategy):
    """Whole epochs that this worker's latest `multi_worker_fit` checkpoint holds (0 without one): the
    epoch a rerun continues from, as `callbacks.Backup.epochs_done` says for a single machine's `fit`."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(worker_directory(checkpoint_dir, strategy))
    return int(tf.train.load_variable(latest, "epoch/.ATTRIBUTES/VARIABLE_VALUE")) if latest else 0


def multi_worker_fit(model, strategy, train_ds, steps_per_epoch, epochs, val_ds, checkpoint_dir, csv_path,
                     log=print):
    """What `fit` does, for `MultiWorkerMirroredStrategy`: epochs of `model.train_step` on every
    replica, validation with `model.test_step`, one CSV row per epoch (the chief's), and a checkpoint
    of weights, optimizer and epoch after every epoch, from which a rerun continues.

    Every worker calls this with the same arguments; only the chief keeps files (the others write
    their part of each checkpoint to a scratch folder, as `tf.train.CheckpointManager` requires).
    Every worker runs the same number of steps (collectives would wait forever otherwise), so there is
    no deadline here: the planned epochs run in full. Returns the history `{metric: [value per epoch]}`.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    workers = strategy.extended._num_workers if hasattr(strategy.extended, "_num_workers") else 1

    chief = is_chief(strategy)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch)
    directory = worker_directory(checkpoint_dir, strategy)
    manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=1)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint)
        log(f"resuming from {manager.latest_checkpoint} at epoch {int(epoch.numpy()) + 1}")

    def reduced(logs):
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

    @tf.function(reduce_retracing=True)
    def train_step(iterator):
        return reduced(strategy.run(model.train_step, args=(next(iterator),)))

    @tf.function(reduce_retracing=True)
    def test_step(batch):
        return reduced(strategy.run(model.test_step, args=(batch,)))

    history_csv = None
    if chief:  # the same one-row-per-epoch file as `fit` writes, through the same callback
        from .callbacks import HistoryCSV

        history_csv = HistoryCSV(csv_path)
        history_csv.set_model(model)
        history_csv.on_train_begin()
    iterator = iter(strategy.experimental_distribute_dataset(train_ds.with_options(options)))
    if val_ds is not None:  # the same number of validation steps on every worker
        val_steps = max(1, int(val_ds.cardinality()) // workers)
        val_iterator = iter(strategy.experimental_distribute_dataset(val_ds.repeat().with_options(options)))
    history = {}
    cli.defer_interrupts(True)  # Ctrl-C stops between steps, as in `fit` (callbacks.Interruptible)
    while int(epoch.numpy()) < epochs:
        if history_csv:
            history_csv.on_epoch_begin(int(epoch.numpy()))
        for metric in model.metrics:
            metric.reset_state()
        start = time.time()
        for _ in range(steps_per_epoch):
            logs = train_step(iterator)
            cli.check_interrupt()
        row = {k: float(v) for k, v in logs.items()}
        if val_ds is not None:
            for metric in model.metrics:
                metric.reset_state()
            for _ in range(val_steps):
                val_logs = test_step(next(val_iterator))
            row.update({f"val_{k}": float(v) for k, v in val_logs.items()})
        epoch.assign_add(1)
        manager.save()
        if history_csv:
            history_csv.on_epoch_end(int(epoch.numpy()) - 1, row)
        log(f"epoch {int(epoch.numpy())}/{epochs} on {strategy.num_replicas_in_sync} replicas, "
            f"{time.time() - start:.0f} s: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
        for k, v in row.items():
            history.setdefault(k, []).append(v)
    cli.defer_interrupts(False)
    if history_csv:
        history_csv.on_train_end()
    else:
        tf.io.gfile.rmtree(directory)
    return history
