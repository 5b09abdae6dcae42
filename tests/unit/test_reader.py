"""DatasetReader windows against the stored arrays; NeuronDataModule windows and workers."""

import numpy as np
import pytest
import torch
import xarray as xr
from toy_data import toy_dataset

from neurodepth.core.config import section_defaults
from neurodepth.core.errors import DatasetError
from neurodepth.data.reader import DatasetReader
from neurodepth.data.shards import write_shard
from neurodepth.learning.datamodule import NeuronDataModule


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    # 1203 ms: not a multiple of 8, so the last byte is partly padding.
    ds = toy_dataset(n_simulations=5, duration_ms=1203, n_channels=12, seed=11)
    path = tmp_path_factory.mktemp("reader") / "toy.nc"
    write_shard(ds, path)
    packed = ds["input_spikes_packed"].values
    inputs = np.unpackbits(packed, axis=-1, bitorder="little")[..., :1203].astype(bool)
    return path, ds, inputs


def test_windows_match_stored_arrays(toy):
    path, ds, inputs = toy
    r = DatasetReader(path)
    assert (r.n_simulations, r.n_channels, r.duration_ms) == (5, 12, 1203)
    soma = ds["soma_voltage"].values
    spike_sim = ds["spike_simulation"].values
    spike_bins = np.floor(ds["spike_time"].values).astype(int)
    for sim, t_end, length in [
        (0, 400, 400),
        (1, 1203, 400),
        (2, 777, 123),
        (4, 9, 1),
        (3, 1203, 1203),
    ]:
        x, spk, som = r.window(sim, t_end, length)
        start = t_end - length
        assert x.dtype == np.float32 and x.shape == (12, length)
        np.testing.assert_array_equal(x, inputs[sim, :, start:t_end])
        expect = np.zeros(length, np.float32)
        b = spike_bins[spike_sim == sim]
        b = b[(b >= start) & (b < t_end)]
        expect[b - start] = 1
        np.testing.assert_array_equal(spk, expect)
        np.testing.assert_allclose(
            som, np.minimum(soma[sim, start:t_end], -55.0) + 67.7, rtol=0, atol=1e-5
        )
    np.testing.assert_array_equal(r.spike_count, ds["spike_count"].values)


@pytest.mark.parametrize("layout", ["events", "packed_only"])
def test_windows_across_time_chunks_are_exact(tmp_path, layout):
    """Soma voltage is stored in pieces along time (``shards.WINDOW_CHUNK``), inputs also as event
    lists: windows starting, ending and crossing anywhere, the file's last partial piece
    included, read back exactly what was stored, from the event lists or, in a file without
    them (written before issue 16), from the packed bits."""
    ds = toy_dataset(n_simulations=3, duration_ms=2500, n_channels=10, seed=3)
    if layout == "packed_only":
        ds = ds.drop_vars(["input_event_channel", "input_event_count", "input_event_before"])
    path = tmp_path / "long.nc"
    write_shard(ds, path)
    with xr.open_dataset(path) as lazy:
        assert lazy.input_spikes_packed.encoding["chunksizes"] == (1, 10, 313)
        assert lazy.soma_voltage.encoding["chunksizes"] == (1, 1024)
    inputs = np.unpackbits(ds["input_spikes_packed"].values, axis=-1, bitorder="little")
    soma = ds["soma_voltage"].values
    r = DatasetReader(path)
    rng = np.random.default_rng(0)
    starts = np.concatenate([[0, 255, 256, 1023, 1024, 2047, 2048], rng.integers(0, 2499, 40)])
    for start in starts:
        stop = int(min(2500, start + rng.integers(1, 700)))
        sim = int(rng.integers(3))
        np.testing.assert_array_equal(
            r.inputs(sim, int(start), stop, dtype=np.uint8), inputs[sim, :, start:stop]
        )
        np.testing.assert_array_equal(r.soma_voltage(sim, int(start), stop), soma[sim, start:stop])
    x, _, _ = r.full(2)
    np.testing.assert_array_equal(x, inputs[2, :, :2500])
    assert (r._event_first is None) == (layout == "packed_only")


def test_soma_target_clips_spikes_and_bias_is_configurable(toy):
    path, ds, _ = toy
    r = DatasetReader(path, soma_bias_mv=-70.0)
    _, spk, som = r.full(1)
    assert spk.sum() > 0
    assert som.max() <= -55.0 + 70.0 + 1e-5  # spike peaks (+20 mV) are clipped at -55 mV
    np.testing.assert_allclose(som[spk == 1], 15.0, atol=1e-5)


def test_reader_errors_name_the_file(toy, tmp_path):
    path, ds, _ = toy
    r = DatasetReader(path)
    with pytest.raises(DatasetError, match="simulation 5"):
        r.window(5, 500, 100)
    with pytest.raises(DatasetError, match="time range"):
        r.window(0, 1300, 100)
    with pytest.raises(DatasetError, match="not found"):
        DatasetReader(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    ds.drop_vars("spike_time").to_netcdf(bad)
    with pytest.raises(DatasetError, match=r"bad.nc.*spike_time"):
        DatasetReader(bad)


def _cfg(**kw):
    cfg = section_defaults("training") | {
        "window_ms": 200,
        "min_window_end_ms": 500,
        "batch_size": 4,
        "validation_min_spikes": 10,
        "num_workers": 0,
    }
    cfg.update(kw)
    return cfg


def _datamodule(path, cfg, seed=0):
    dm = NeuronDataModule(path, path, cfg, seed=seed)
    dm.setup("fit")  # opens the files (as the training job does before building the network)
    return dm


def test_datamodule_validation_is_whole_simulations_sized_by_spikes(toy):
    path, ds, inputs = toy
    dm = _datamodule(path, _cfg(), seed=3)
    assert dm.n_inputs == 12
    valid = dm.valid_set
    # the same simulations for the same seed, every pass and every network
    np.testing.assert_array_equal(valid.sims, _datamodule(path, _cfg(), seed=3).valid_set.sims)
    # the count is of the scored bins (from min_window_end_ms) of the chosen simulations
    counts = {
        int(s): int(((ds["spike_simulation"].values == s) & (ds["spike_time"].values >= 500)).sum())
        for s in valid.sims
    }
    assert valid.n_spikes == sum(counts.values())
    assert valid.exhausted == (valid.n_spikes < 10)
    if not valid.exhausted:
        assert valid.n_spikes >= 10
    item = valid[0]
    np.testing.assert_array_equal(item["inputs"].numpy(), inputs[int(valid.sims[0])])
    assert item["spike"].shape == (1203,)
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"].shape == (4, 12, 200) and batch["spike"].shape == (4, 200)
    # asking for more spikes than the split holds uses all of it and says so
    greedy = _datamodule(path, _cfg(validation_min_spikes=10**6), seed=3).valid_set
    assert greedy.exhausted and len(greedy) == ds.sizes["simulation"]


def test_datamodule_workers_read_their_own_handles(toy):
    path, _, _ = toy
    dm = _datamodule(path, _cfg(num_workers=2))
    loader = dm.train_dataloader()
    it = iter(loader)
    batches = [next(it) for _ in range(4)]
    for b in batches:
        assert b["inputs"].shape == (4, 12, 200)
        assert set(torch.unique(b["inputs"]).tolist()) <= {0.0, 1.0}
    # Two workers draw different windows (their generators are seeded by worker id).
    assert not torch.equal(batches[0]["inputs"], batches[1]["inputs"])
    del it


def test_datamodule_rejects_too_short_simulations(toy):
    path, _, _ = toy
    with pytest.raises(DatasetError, match="too short"):
        _datamodule(path, _cfg(min_window_end_ms=1500))
