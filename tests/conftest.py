import os
import subprocess
import sys

import pytest

import fixtures  # tests/ and the repository root are on the path: pytest.ini's pythonpath

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(ROOT, "..", "shared", "data")


# The tests that take longest (about a minute or more on 2 cores), longest first: they start first.
LONGEST = ("test_a_run_killed_at_each_stage_continues_each_time_and_finishes",
           "test_readme_own_data_example_runs_end_to_end", "test_bench_smoke_prints_every_measure",
           "test_time_budget_run_plans_and_finishes_in_time",
           "test_lift_trains_every_arm_records_it_and_a_rerun_skips_it",
           "test_a_prompt_classifier_trains_exports_and_serves_raw_strings",
           "test_mirrored_over_two_cpu_devices", "test_two_localhost_workers_pretrain_together")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the xdist_group markers
def pytest_collection_modifyitems(config, items):
    """Schedule for pytest-xdist (pytest.ini's `--dist loadgroup`): the tests that read `tiny_run` go to one
    worker, which trains it once (a session fixture is built once per worker that asks for it), and the
    slow tests start first, so that no long one is left running alone at the end."""
    for item in items:
        if "tiny_run" in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group("tiny_run"))

    def order(item):  # stable: file order among equals
        rank = LONGEST.index(item.name) if item.name in LONGEST else len(LONGEST)
        return item.get_closest_marker("slow") is None, rank

    items.sort(key=order)


def run_script(*args, timeout=600, **kwargs):
    """Run `python3 <args>` from the repo root; return the CompletedProcess (text mode)."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def assert_user_error(result, *culprits):
    """Non-zero exit, exactly one `error:` line on stderr that names every culprit, no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:") or ": error:" in line]
    assert len(errors) == 1, result.stderr
    for culprit in culprits:
        assert culprit in errors[0], errors[0]


@pytest.fixture
def a_gpu_visible(monkeypatch):
    """tf.config lists a GPU beside the CPU, as on a GPU machine: Keras's jit_compile="auto" then means XLA."""
    import tensorflow as tf

    visible = tf.config.list_physical_devices() + [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda device_type=None: visible)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Both datasets as official-style archives: 200 IMDB train, 100 test, 200 unsup; 100 RT per class."""
    return fixtures.make_data_dir(str(tmp_path_factory.mktemp("fixture")), n_train=200, n_test=100,
                                  n_unsup=200, n_per_class=100)


@pytest.fixture(scope="session")
def tiny_run(data_dir, tmp_path_factory):
    """Artifacts of `train.py --preset tiny` on the fixture."""
    out = str(tmp_path_factory.mktemp("tiny") / "out")
    result = run_script("train.py", "--data-dir", data_dir, "--output-dir", out, "--preset", "tiny",
                        "--offline", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def tiny_metrics(tiny_run, data_dir):
    result = run_script("test.py", "--artifacts", tiny_run, "--data-dir", data_dir, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    return result
