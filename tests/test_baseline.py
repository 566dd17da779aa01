import json
import os

import pytest

from conftest import run_script


@pytest.mark.slow
def test_baseline_trains_and_scores_by_the_same_splits(data_dir, tmp_path):
    out = str(tmp_path / "baseline")
    result = run_script("-m", "keras_bert_mlm.baseline", "--data-dir", data_dir, "--output-dir", out,
                        "--datasets", "rotten_tomatoes", "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)["rotten_tomatoes"]
    assert metrics["n"] == 20 and sum(map(sum, metrics["confusion"])) == 20
    table = run_script("-m", "keras_bert_mlm.results", out)
    assert table.returncode == 0 and "bag of bigrams" in table.stdout
