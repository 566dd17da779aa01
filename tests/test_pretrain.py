import functools
import json
import re
import time

import keras
import numpy as np

from keras_bert_mlm import models, pacing, planner, pretrain  # noqa: F401 (models: registers the layers encoder.keras holds)
from keras_bert_mlm.config import Config


def packed_pretraining(tmp_path, deadline=None, reserve=None, **overrides):
    """A tiny pretraining on 8-token blocks into `tmp_path` (by `deadline`, when given): its texts, settings
    and exported encoder."""
    texts = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(40)) for i in range(48)]
    settings = dict(max_len=32, mlm_block_len=8, mlm_epochs=1, mlm_val_size=8, vocab_size=64)
    cfg = Config.from_preset("tiny", **{**settings, **overrides})
    pretrain.pretrain(texts, cfg, str(tmp_path), verbose=0, deadline=deadline, reserve=reserve)
    return texts, cfg, keras.saving.load_model(tmp_path / "mlm" / "encoder.keras")


def test_packed_pretraining_can_start_the_later_positions_from_the_blocks(tmp_path):
    # All steps on 8-token blocks (no whole-text phase): the copy happens when the fit ends, so the
    # exported encoder's positions 8-31 are the first 8 repeated.
    _, _, encoder = packed_pretraining(tmp_path, mlm_full_share=0.0, mlm_copy_positions=True)
    table = encoder.get_layer("embeddings").position_embedding.embeddings.numpy()
    assert all(np.allclose(table[start:start + 8], table[:8]) for start in (8, 16, 24))
    assert not np.allclose(table[1], table[0])


def test_a_pretraining_slower_than_timed_still_ends_on_whole_texts_and_says_so(tmp_path, monkeypatch, capsys):
    # Steps timed a thousand times faster than they run: the plan holds far more than the deadline allows. The
    # clock switches to whole texts for their share of the time (30% here), the plan records where (a resumed run keeps
    # it), and the deadline says that it stopped the run.
    monkeypatch.setattr(planner, "seconds_per_step", lambda build, dataset: 1e-4)
    packed_pretraining(tmp_path, deadline=time.time() + 10, mlm_epochs=1000, time_budget=1.0, mlm_full_share=0.3,
                       mlm_xla=False)  # no compiling: steps from the start
    out = capsys.readouterr().out.splitlines()
    switched = [line for line in out if "whole texts from step" in line]
    stopped = [line for line in out if "the deadline stopped it" in line]
    assert len(switched) == 1 and len(stopped) == 1 and "timed at 0.000 s/step" in stopped[0]
    assert "none of them on whole texts" not in stopped[0]
    planned = int(re.search(r"(\d+) steps on blocks", "\n".join(out)).group(1))
    step = int(re.search(r"whole texts from step (\d+)", switched[0]).group(1))
    done = int(re.search(r"stopped it after (\d+)", stopped[0]).group(1))
    assert step < done and step < planned  # whole-text steps ran, from before the planned step
    assert json.loads((tmp_path / "mlm" / "plan.json").read_text())["packed_steps"] == step


def test_a_pretraining_slower_than_timed_ends_early_to_leave_fine_tuning_its_time(tmp_path, monkeypatch, capsys):
    # The same thousandfold slowdown with 5 s kept back for fine-tuning, measured over steps 6 to 10: fine-tuning
    # will need far more than was kept, so pretraining ends at its floor (none: at once), after one step on whole
    # texts, instead of at the deadline 120 s away (far enough for a starved machine to build and trace first).
    monkeypatch.setattr(planner, "seconds_per_step", lambda build, dataset: 1e-4)
    monkeypatch.setattr(pretrain.pacing, "Pace", functools.partial(pacing.Pace, after=5, every=5))
    packed_pretraining(tmp_path, deadline=time.time() + 120, reserve=lambda vectorizer: 5.0, mlm_epochs=1000,
                       time_budget=1.0, mlm_xla=False)
    out = capsys.readouterr().out
    assert re.search(r"over 5 steps, \d+\.\d\dx the 0.000 timed: it ends at", out), out
    plan = json.loads((tmp_path / "mlm" / "plan.json").read_text())
    assert plan["seconds_kept_back"] == 5.0 and plan["seconds_floor"] == 0.0 and plan["packed_steps"] == 10
    assert int(re.search(r"stopped it after (\d+)", out).group(1)) == 11
