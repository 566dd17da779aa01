"""What the commands share: one-line errors, argument parsing from `Config`, log and progress lines.

    if __name__ == "__main__":
        run_command(main)   # UserError -> "error: ..." and exit 2; Ctrl-C -> exit 130
"""

import argparse
import dataclasses
import signal
import sys
import time

from .config import PRESETS, PURPOSES, Config, UserError


_deferring, _pending = False, False


def _on_sigint(signum, frame):
    global _pending
    if _deferring and not _pending:
        _pending = True  # raised at the next `check_interrupt`; a second Ctrl-C stops at once
        return
    raise KeyboardInterrupt


def defer_interrupts(on):
    """While on, Ctrl-C waits for the next `check_interrupt` (a training loop's batch end): raised
    inside TensorFlow's C++ code, a KeyboardInterrupt can come out as a SystemError and a traceback."""
    global _deferring
    _deferring = on
    if not on:
        check_interrupt()


def check_interrupt():
    """Raise the KeyboardInterrupt of a Ctrl-C that `defer_interrupts` held back.

    Raising it also ends the deferral: `fit` skips `on_train_end` when it unwinds, and a Ctrl-C
    after this one (say while `run_command` reports what was saved) must stop at once.
    """
    global _pending, _deferring
    if _pending:
        _pending = _deferring = False
        raise KeyboardInterrupt


def run_command(main, interrupted=lambda: "interrupted"):
    """Run a command's `main`: a `UserError` becomes one `error:` line and exit 2, Ctrl-C exit 130.

    Any other exception is a bug and keeps its traceback. `interrupted()` says what Ctrl-C left behind.
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started ignoring it
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        main()
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{interrupted()}\n")
        sys.exit(130)


def log(*parts):
    """A stage line on standard output, with the time: `[14:03:07] pretraining: ...`."""
    print(time.strftime("[%H:%M:%S]"), *parts, flush=True)


def progress(label, fraction):
    """A one-line progress indicator on an interactive terminal; silent in logs."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{label}: {100 * fraction:3.0f}%" + ("\n" if fraction >= 1 else ""))
        sys.stderr.flush()


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line (no usage dump)."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _parse_bool(value):
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def add_config_flags(parser, default_preset="keras-example"):
    """Add `--preset` and one `--flag` per Config field; each field's flag defaults to None, meaning
    'as the preset says'."""
    parser.add_argument("--preset", default=default_preset, choices=list(PRESETS), metavar="NAME",
                        help="named settings that the flags below override: "
                             + "; ".join(f"{name}: {PURPOSES[name]}" for name in PRESETS)
                             + f" (default: {default_preset})")
    group = parser.add_argument_group("settings (override the preset; preset keras-example's value shown)")
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.metadata.get("repeatable"):
            group.add_argument(flag, action="append", default=None, metavar=f.metadata["metavar"],
                               help=f.metadata["help"])
            continue
        group.add_argument(flag, type=_parse_bool if f.type is bool else f.type,
                           default=None, metavar=f.name.upper(), help=f"{f.metadata['help']} (default: {f.default})")


def config_from_args(args):
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
                 if getattr(args, f.name, None) is not None}
    if overrides.get("task") and "datasets" not in overrides:
        overrides["datasets"] = ""  # your own tasks replace the built-in datasets unless --datasets asks
    return Config.from_preset(args.preset, **overrides)
