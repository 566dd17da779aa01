"""The run directory (`train.py --output-dir`): what each stage writes, when a stage is finished, how an
interrupted run continues, and the atomic writes that keep every file whole.

    with atomic_path("OUT/config.json") as tmp:    # written beside, renamed into place
        write(tmp)
    stage_paths("mlm")["done"]                      # all there: pretraining has finished

docs/artifacts.md shows the layout.
"""

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid

from .config import BUILT_IN, PRETRAINING_SETTINGS, Config, UserError


def stage_paths(stage):
    """What a stage ("mlm", or a dataset's classifier) writes, as paths relative to the run directory.

    `done`: all there means the stage has finished (each is written atomically: one that is there is
    whole). `ships`: what users load. `resume`: what an interrupted run of the stage continues from,
    which `--overwrite` deletes.

    >>> stage_paths("imdb")["ships"]
    ['imdb/savedmodel']
    """
    if stage == "mlm":
        return {"done": ["vocab.txt", "mlm/mlm.keras", "mlm/encoder.keras", "mlm/savedmodel/saved_model.pb"],
                "ships": ["vocab.txt", "mlm/savedmodel"],
                "resume": ["vocab.txt", "mlm/plan.json", "mlm/mlm.keras", "mlm/history.csv", "mlm/backup",
                           "mlm/checkpoints"]}
    return {"done": [f"{stage}/classifier.keras", f"{stage}/savedmodel/saved_model.pb"],
            "ships": [f"{stage}/savedmodel"],
            "resume": [f"{stage}/chosen.json", f"{stage}/classifier.keras"]}


def stages(out):
    """The stages of the run in `out`: "mlm", then its classifiers (from its config.json; the built-in
    datasets when it has none yet)."""
    path = os.path.join(out, "config.json")
    return ["mlm", *(Config.from_json(path).dataset_list if os.path.isfile(path) else BUILT_IN)]


# === Atomic writes ===

@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success move it into place, replacing what was there.

    A crash or kill while writing leaves the previous `path` (or none) and a `.tmp-*` sibling, never
    a half-written `path`.
    """
    base, ext = os.path.splitext(path)  # keep the extension: `model.save` insists on `.keras`
    tmp = f"{base}.tmp-{uuid.uuid4().hex[:8]}{ext}"
    try:
        yield tmp
        if os.path.isdir(path) and not os.path.islink(path):
            old = f"{base}.old-{uuid.uuid4().hex[:8]}{ext}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        elif os.path.exists(tmp):
            os.remove(tmp)


_LEFTOVER = re.compile(r"^(.*)\.(tmp|old)-[0-9a-f]{8}(\.[^.]*)?$")


def clean_interrupted_writes(folder):
    """Tidy what `atomic_path` writes killed under `folder` left: delete `.tmp-` siblings, and put back
    a `.old-` one whose replacement never arrived (a kill between the two renames)."""
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            match = _LEFTOVER.match(name)
            if not match:
                continue
            path, target = os.path.join(root, name), os.path.join(root, match.group(1) + (match.group(3) or ""))
            if match.group(2) == "old" and not os.path.exists(target):
                os.replace(path, target)
            elif os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        dirs[:] = [d for d in dirs if not _LEFTOVER.match(d)]


def write_json(path, obj):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)


def read_json(path, default=None):
    """The JSON object in `path`, or `default` when there is no such file."""
    if not os.path.isfile(path):
        return default
    with open(path) as f:
        return json.load(f)


def copy_artifact(src, dst):
    with atomic_path(dst) as tmp:
        (shutil.copytree if os.path.isdir(src) else shutil.copyfile)(src, tmp)


# === Finished stages and resume ===

def missing_stage_files(out, stage):
    """The files of `stage_paths(stage)["done"]` that are not in `out`."""
    return [f for f in stage_paths(stage)["done"] if not os.path.isfile(os.path.join(out, f))]


def finished_stages(out):
    """The stages of validation.json in `out` whose files are all there: {stage: its validation.json entry}."""
    recorded = read_json(os.path.join(out, "validation.json"), {})
    return {stage: record for stage, record in recorded.items() if not missing_stage_files(out, stage)}


def finished_artifacts(out):
    """The artifacts users load that are complete in `out` (atomic writes: what exists is whole)."""
    return [p for stage in stages(out) for p in stage_paths(stage)["ships"] if os.path.exists(os.path.join(out, p))]


_HELD = {}  # run directory -> the open lock file, held until the process ends


def lock(out):
    """Take `out`'s lock (OUT/.lock, holding the owner's process id) for the rest of this process, or
    raise a UserError naming the process that holds it.

    The operating system releases an flock when its owner ends in any way, `kill -9` included: a lock
    file left by a killed run does not block the rerun.
    """
    path = os.path.abspath(os.path.join(out, ".lock"))
    if path in _HELD:
        return
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip() or "unknown"
        f.close()
        raise UserError(f"--output-dir {out} is in use by another train.py run (process {owner}): wait for "
                        "it to end, stop it, or choose another dir") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _HELD[path] = f


def prepare(out, cfg, overwrite, write=True):
    """Create and lock `out` (`lock`), refuse one that holds a run with other settings, tidy interrupted
    writes, and write config.json.

    Returns the stages that an earlier run with the same settings finished there, to be skipped;
    none with `overwrite`, which also deletes what unfinished stages kept to continue from. With
    `write=False` (a multi-worker cluster's other workers) only reads.
    """
    if not write:
        return finished_stages(out) if not overwrite else {}
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        raise UserError(f"--output-dir {out}: not writable ({e.strerror})") from None
    lock(out)  # before anything is read or tidied: another run may be writing there
    check_settings(out, cfg, overwrite)
    path = os.path.join(out, "config.json")
    finished = finished_stages(out) if os.path.exists(path) and not overwrite else {}
    clean_interrupted_writes(out)
    if overwrite:  # what an interrupted run left to continue from may belong to other settings
        for stage in ["mlm", *cfg.dataset_list]:
            for state in stage_paths(stage)["resume"]:
                state = os.path.join(out, state)
                if os.path.isdir(state):
                    shutil.rmtree(state)
                elif os.path.exists(state):
                    os.remove(state)
    write_json(path, cfg.to_dict())
    return finished


def check_settings(out, cfg, overwrite):
    """Refuse an --output-dir that is a file, or that holds a run with other settings than `cfg` (unless
    `overwrite`), writing nothing: `train.py` checks it before reading the data, and `prepare` again once
    it holds the lock."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--output-dir {out}: not writable (a file, not a folder)")
    path = os.path.join(out, "config.json")
    if os.path.exists(path) and not overwrite:
        previous = Config.from_json(path).to_dict()  # settings added since that run take their defaults
        if previous != cfg.to_dict():
            changed = sorted(k for k in cfg.to_dict() if previous.get(k) != cfg.to_dict()[k])
            raise UserError(f"--output-dir {out} holds a run with other settings ({', '.join(changed)}): "
                            "choose another dir or pass --overwrite")


def adopt_pretraining_settings(cfg, run_dir):
    """`cfg` with the pretraining settings of the earlier run in `run_dir` (`train.py --pretrained`)."""
    missing = [f for f in ["config.json"] if not os.path.isfile(os.path.join(run_dir, f))]
    missing += missing_stage_files(run_dir, "mlm")
    if missing:
        raise UserError(f"--pretrained {run_dir}: missing {missing[0]}, not a finished train.py run")
    previous = Config.from_json(os.path.join(run_dir, "config.json"))
    return Config(**{**cfg.to_dict(), **{k: getattr(previous, k) for k in PRETRAINING_SETTINGS}})
