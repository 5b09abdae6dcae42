"""Bad input is rejected with a message naming the culprit, and nothing computed before is lost."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from neurodepth.core import atomic
from neurodepth.core.errors import DatasetError, DiskSpaceError
from neurodepth.data.shards import merge_shards, read_shard
from neurodepth.simulation.simulate import ShardJob, run_shard

SIM_CFG = {
    "duration_ms": 1000,
    "integrator": "fixed",
    "dt_ms": 0.05,
    "secondorder": 2,
    "cvode_atol": 1e-3,
    "record_nexus": False,
    "record_dendrites": False,
    "simulations_per_shard": 2,
    "shards": {"train": 1, "valid": 1, "test": 1},
}
LIF_FIRING = {"exc_per_100ms": [0, 160], "inh_minus_exc": [-60, 20]}
LIF_SILENT = {"exc_per_100ms": [0, 1], "inh_minus_exc": [0, 1]}


def lif_shard(path, rates, split="train", shard=0):
    job = ShardJob("stylized_l5pc", "lif", split, shard, 11, SIM_CFG, rates, config_hash="h")
    return run_shard(job, path, progress=False)


def test_training_set_without_spikes_is_refused_naming_dataset_and_key(tmp_path):
    shard = lif_shard(tmp_path / "shard_0000.nc", LIF_SILENT)
    assert read_shard(shard).sizes["spike"] == 0
    out = tmp_path / "train.nc"
    with pytest.raises(DatasetError) as info:
        merge_shards([shard], out)
    message = str(info.value)
    assert (
        "train.nc" in message
        and "no output spikes" in message
        and "inputs.lif.exc_per_100ms" in message
    )
    assert not out.exists()


def test_silent_test_set_is_kept_with_a_warning(tmp_path, caplog):
    shard = lif_shard(tmp_path / "shard_0000.nc", LIF_SILENT, split="test")
    out = merge_shards([shard], tmp_path / "test.nc")
    assert read_shard(out).sizes["simulation"] == 2
    assert "no output spikes" in caplog.text


def _no_disk(monkeypatch, free_bytes=1000):
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(
        atomic.shutil, "disk_usage", lambda path: usage(10**12, 10**12 - free_bytes, free_bytes)
    )


def test_too_little_disk_stops_a_shard_before_simulating_and_keeps_the_old_file(
    tmp_path, monkeypatch
):
    existing = lif_shard(tmp_path / "shard_0000.nc", LIF_FIRING)
    before = existing.read_bytes()
    _no_disk(monkeypatch)
    with pytest.raises(DiskSpaceError, match=str(tmp_path)):
        lif_shard(existing, LIF_FIRING)
    assert existing.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard_0000.nc"]


def test_too_little_disk_stops_a_merge_and_keeps_the_shards(tmp_path, monkeypatch):
    shards = [lif_shard(tmp_path / f"shard_{i:04d}.nc", LIF_FIRING, shard=i) for i in range(2)]
    sizes = [p.stat().st_size for p in shards]
    _no_disk(monkeypatch)
    with pytest.raises(DiskSpaceError, match="train.nc"):
        merge_shards(shards, tmp_path / "train.nc")
    assert [p.stat().st_size for p in shards] == sizes
    assert not (tmp_path / "train.nc").exists()


def test_same_config_in_two_directories_gives_identical_shards(tmp_path):
    a = read_shard(lif_shard(tmp_path / "a" / "shard.nc", LIF_FIRING))
    b = read_shard(lif_shard(tmp_path / "b" / "shard.nc", LIF_FIRING))
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
