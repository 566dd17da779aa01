import json

import pytest

from conftest import run_script

pytestmark = pytest.mark.slow  # every test here runs train.py, test.py or a command in a subprocess


def test_bench_smoke_prints_every_measure():
    result = run_script("-m", "keras_bert_mlm.bench", "--preset", "tiny", "--seconds", "1", "--texts", "300",
                        "--mlm-block-len", "16")
    assert result.returncode == 0, result.stderr
    records = {r["measure"]: r for r in map(json.loads, filter(None, result.stdout.splitlines()))}
    assert records["data"]["source"] == "synthetic"
    assert records["mlm_train_packed"]["block_len"] == 16 and records["mlm_train_packed"]["blocks_per_s"] > 0
    assert records["mlm_train"]["texts_per_s"] > 0 and records["mlm_train_reference"]["texts_per_s"] > 0
    for name in ("mlm_train", "mlm_train_packed", "mlm_train_reference"):
        assert records[name]["tokens_per_s"] > 0 and 0 < records[name]["mfu"] < 1
    assert records["mlm_speedup"]["ratio"] > 0 and records["serve"]["texts_per_s"] > 0
    assert records["serve_speedup"]["ratio"] > 0 and records["peak_rss_mb"]["mb"] > 0
    assert records["embed"]["texts_per_s"] > 0 and records["embed"]["batch_size"] == records["serve"]["batch_size"]
    assert records["embed_speedup"]["ratio"] > 0
