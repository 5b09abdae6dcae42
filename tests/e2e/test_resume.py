"""Robustness: SIGKILL a simulation shard and a training job mid-way, rerun, and get exactly the
results of an uninterrupted run; a killed job leaves nothing a later stage could mistake for
output."""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest
import torch
import xarray as xr
from workflow_helpers import copy_workflow

pytestmark = pytest.mark.slow

SHARD = "results/shards/stylized_l5pc/full/train/shard_0000.nc"
DATASET = "results/datasets/stylized_l5pc/full/train.nc"
MODEL_DIR = "results/models/stylized_l5pc/lif/d1_s0"
CANDIDATE_DIR = f"{MODEL_DIR}/c0"  # the one architecture candidate the training rule writes
# long enough that the job can be killed between two checkpoints; no early stop before the cap
LONG_TRAINING = {
    "variants": ["lif"],
    "training": {
        "phases": [
            {"steps": 120, "lr": 0.003, "spike_weight": 1.0, "soma_weight": 0.02},
            {"steps": 120, "lr": 0.001, "spike_weight": 2.0, "soma_weight": 0.01},
        ],
        "val_every_steps": 20,
        "patience_validations": 1000,
    },
}


def kill_when(process, condition, timeout=600, poll=0.2):
    """SIGKILL the process group of ``process`` once ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("the job finished before it could be killed")
        if condition():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(poll)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("kill condition never held")


def assert_datasets_identical(a, b):
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        assert set(x.data_vars) == set(y.data_vars)
        for name in x.data_vars:
            np.testing.assert_array_equal(x[name].values, y[name].values, err_msg=name)
        assert x.attrs["config_hash"] == y.attrs["config_hash"]


def test_killed_simulation_shard_reruns_to_identical_data(tmp_path, mechanisms):
    reference = copy_workflow(tmp_path / "reference", mechanisms_from=mechanisms)
    reference.run(DATASET, "--cores", "2")

    killed = copy_workflow(tmp_path / "killed", mechanisms_from=mechanisms)
    log = killed.path("logs/simulate_shard/stylized_l5pc/full/train/shard_0000.log")
    process = killed.start(DATASET, "--cores", "1")
    # the shard's log appears when its process starts simulating; kill it a moment later
    kill_when(process, lambda: log.exists() and log.stat().st_size > 0)
    shard = killed.path(SHARD)
    assert not shard.exists(), "a killed shard must not leave a file under its final name"
    # only an atomic temporary (.tmp-shard_0000.nc.*) may remain, never a partial file that
    # looks like the shard; the other shard may have finished before the kill, so it may exist
    partial = sorted(p.name for p in shard.parent.glob("shard_0000*"))
    assert partial == [], f"the killed job left {partial}"

    killed.run("--unlock")  # a SIGKILLed Snakemake leaves its lock behind
    killed.run(DATASET, "--cores", "2", "--rerun-incomplete")
    assert_datasets_identical(reference.path(DATASET), killed.path(DATASET))


def _weights(path):
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v.numpy() for k, v in state.items()}


def test_killed_training_resumes_from_checkpoint_to_identical_model(tmp_path):
    target = f"{CANDIDATE_DIR}/model.ckpt"
    reference = copy_workflow(tmp_path / "reference", overrides=LONG_TRAINING)
    reference.run(target, "--cores", "1")

    killed = copy_workflow(tmp_path / "killed", overrides=LONG_TRAINING)
    killed.run(
        "results/datasets/stylized_l5pc/lif/valid.nc",
        "results/datasets/stylized_l5pc/lif/train.nc",
        "--cores",
        "2",
    )
    last = killed.path(f"{CANDIDATE_DIR}/last.ckpt")
    process = killed.start(target, "--cores", "1")
    kill_when(process, last.exists)
    assert not killed.path(target).exists()
    step_at_kill = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert step_at_kill > 0

    killed.run("--unlock")
    result = killed.run(target, "--cores", "1", "--rerun-incomplete")
    log = killed.path("logs/train_model/stylized_l5pc/lif/d1_s0_c0.log").read_text()
    # identical weights alone would also follow from a deterministic restart at step 0
    assert re.search(rf"resuming .*last\.ckpt at step {step_at_kill}\b", log), (
        log[-2000:] + result.stderr[-2000:]
    )
    a, b = _weights(reference.path(target)), _weights(killed.path(target))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
