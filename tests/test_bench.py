import json

import pytest

from conftest import run_script
from keras_bert_mlm import bench
from keras_bert_mlm.config import Config
from keras_bert_mlm.presets import PRESETS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_bench_times_electra_on_every_preset_s_encoder(preset):
    # cpu-hour's prompt and tied head belong to --objective mlm: bench must drop them, not stop on them
    cfg = Config.from_preset(preset)
    electra = bench.electra_config(cfg)
    assert electra.objective == "electra" and electra.encoder_settings() == cfg.encoder_settings()


@pytest.mark.slow  # runs the command in a subprocess
def test_bench_smoke_prints_every_measure():
    result = run_script("-m", "keras_bert_mlm.bench", "--preset", "tiny", "--seconds", "1", "--texts", "300",
                        "--mlm-block-len", "16")
    assert result.returncode == 0, result.stderr
    records = {r["measure"]: r for r in map(json.loads, filter(None, result.stdout.splitlines()))}
    assert records["data"]["source"] == "synthetic"
    assert records["mlm_train_packed"]["block_len"] == 16 and records["mlm_train_packed"]["blocks_per_s"] > 0
    assert records["mlm_train"]["texts_per_s"] > 0 and records["mlm_train_reference"]["texts_per_s"] > 0
    assert records["mlm_train_packed_plain"]["block_len"] == 16  # the packed step without XLA, for the ratio
    for name in ("mlm_train", "mlm_train_packed", "mlm_train_packed_plain", "mlm_train_reference"):
        assert records[name]["tokens_per_s"] > 0 and 0 < records[name]["mfu"] < 1
    assert records["mlm_speedup"]["ratio"] > 0 and records["serve"]["texts_per_s"] > 0
    assert records["serve_speedup"]["ratio"] > 0 and records["peak_rss_mb"]["mb"] > 0
    assert records["embed"]["texts_per_s"] > 0 and records["embed"]["batch_size"] == records["serve"]["batch_size"]
    assert records["embed_speedup"]["ratio"] > 0
