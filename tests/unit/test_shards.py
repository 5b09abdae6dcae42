"""Shard schema, exact round trips, merging with integrity checks (neurodepth.data.shards)."""

import json

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from merge_reference import merge_shards_in_memory

from neurodepth.core.errors import DatasetError, ShardError
from neurodepth.core.provenance import file_sha256
from neurodepth.data.shards import (
    REQUIRED_ATTRS,
    build_shard_dataset,
    check_dataset,
    merge_shards,
    pack_inputs,
    read_shard,
    unpack_inputs,
    write_shard,
)

N_SEG, T = 6, 1003
EVENT_FIELDS = [
    "input_event_channel",
    "input_event_count",
    "input_event_before",
]  # T not a multiple of 8: the last packed byte is partial


def segment_table(n=N_SEG):
    return pd.DataFrame(
        {
            "segment": np.arange(n),
            "section": [f"dend[{i}]" for i in range(n)],
            "x": np.linspace(0.1, 0.9, n),
            "region": ["basal"] * (n // 2) + ["tuft"] * (n - n // 2),
            "tree": ["basal"] * (n // 2) + ["apical"] * (n - n // 2),
            "path_distance_um": np.linspace(10, 500, n),
            "length_um": np.full(n, 20.0),
        }
    )


def make_shard(shard=0, n_sim=3, seed=0, variant="full", dendrites=True):
    rng = np.random.default_rng(seed)
    inputs = rng.random((n_sim, 2 * N_SEG, T)) < 0.03
    soma = rng.normal(-67, 3, (n_sim, T)).astype(np.float32)
    spikes = [np.sort(rng.uniform(0, T, k)) for k in rng.integers(0, 5, n_sim)]
    spikes[0] = np.array([1234.567890123456 / 2, 4.000000001])  # needs float64
    dend = rng.normal(-60, 8, (n_sim, N_SEG, T)) if dendrites else None
    attrs = dict(
        cell="toy",
        variant=variant,
        split="train",
        shard=shard,
        seed=100 + shard,
        global_seed=7,
        config_hash="cafe",
        duration_ms=T,
        integrator="fixed",
        dt_ms=0.05,
    )
    ds = build_shard_dataset(
        inputs,
        soma,
        spikes,
        attrs,
        segment_table=segment_table(),
        nexus_voltage=soma + 1,
        dendritic_voltage=dend,
    )
    return ds, inputs, soma, spikes, dend


def test_pack_unpack_roundtrip():
    x = np.random.default_rng(0).random((2, 5, 13)) < 0.4
    p = pack_inputs(x)
    assert p.shape == (2, 5, 2) and p.dtype == np.uint8
    assert np.array_equal(unpack_inputs(p, 13), x)
    # bit i of byte b is bin 8b + i
    y = np.zeros(16, bool)
    y[9] = True
    assert pack_inputs(y)[1] == 2


def test_schema_dims_units_attrs(tmp_path):
    ds, *_ = make_shard()
    path = write_shard(ds, tmp_path / "shard_0.nc")
    r = read_shard(path)
    assert dict(r.sizes) == {
        "simulation": 3,
        "channel": 12,
        "time_byte": 126,
        "time": T,
        "segment": N_SEG,
        "spike": int(r.spike_count.sum()),
        "input_event": int(r.input_event_count.sum()),
    }
    assert r.input_spikes_packed.dims == ("simulation", "channel", "time_byte")
    assert r.soma_voltage.attrs["units"] == "mV" and r.time.attrs["units"] == "ms"
    assert r.spike_time.attrs["units"] == "ms" and r.spike_time.dtype == np.float64
    assert r.dendritic_voltage.attrs["units"] == "mV"
    assert r.soma_voltage.dtype == np.float32
    assert list(r.channel_kind.values) == ["exc"] * N_SEG + ["inh"] * N_SEG
    assert list(r.channel_segment.values) == list(range(N_SEG)) * 2
    assert list(r.segment_region.values[:3]) == ["basal"] * 3
    for key in (
        "cell",
        "variant",
        "split",
        "shard",
        "seed",
        "config_hash",
        "duration_ms",
        "integrator",
        "dt_ms",
        "Conventions",
        "title",
        "history",
        "package_versions",
    ):
        assert key in r.attrs, key
    assert r.attrs["Conventions"].startswith("CF-")
    assert "neuron" in json.loads(r.attrs["package_versions"])
    # one simulation per chunk (soma voltage also cut into 1024 ms pieces, here longer than the
    # trace), compressed, dendrites stored as int16
    with xr.open_dataset(path) as lazy:
        enc = lazy.input_spikes_packed.encoding
        assert enc["chunksizes"] == (1, 12, 126) and enc["zlib"]
        assert lazy.dendritic_voltage.encoding["chunksizes"] == (1, N_SEG, T)
        assert lazy.dendritic_voltage.encoding["dtype"] == np.dtype("int16")
        assert lazy.soma_voltage.encoding["chunksizes"] == (1, T)


def test_roundtrip_exact(tmp_path):
    ds, inputs, soma, spikes, dend = make_shard()
    r = read_shard(write_shard(ds, tmp_path / "s.nc"))
    assert np.array_equal(unpack_inputs(r.input_spikes_packed.values, r.sizes["time"]), inputs)
    assert np.array_equal(r.soma_voltage.values, soma)
    for i, s in enumerate(spikes):
        got = r.spike_time.values[r.spike_simulation.values == i]
        assert np.array_equal(got, s)  # exact float64, never float16
    assert (
        np.abs(r.dendritic_voltage.values - dend).max() <= 1 / 64 + 1e-5
    )  # 1/32 mV quantum (+ float32 rounding)
    assert np.allclose(r.exc_rate_hz, inputs[:, :N_SEG].mean(axis=(1, 2)) * 1000)


def test_same_content_written_twice_is_identical(tmp_path):
    a = read_shard(write_shard(make_shard(seed=3)[0], tmp_path / "a.nc"))
    b = read_shard(write_shard(make_shard(seed=3)[0], tmp_path / "b.nc"))
    xr.testing.assert_identical(a, b)


def test_point_neuron_channel_map(tmp_path):
    inputs = np.zeros((1, 100, 50), bool)
    table = segment_table(1)
    ds = build_shard_dataset(
        inputs,
        np.full((1, 50), -75.0),
        [np.array([])],
        dict(
            cell="lif",
            variant="lif",
            split="test",
            seed=1,
            config_hash="x",
            duration_ms=50,
            integrator="lif_exact",
            dt_ms=0.0,
        ),
        segment_table=table,
        n_exc=80,
    )
    assert (ds.channel_segment.values == 0).all()
    assert (ds.channel_kind.values[:80] == "exc").all() and (
        ds.channel_kind.values[80:] == "inh"
    ).all()
    r = read_shard(write_shard(ds, tmp_path / "lif.nc"))
    assert r.sizes["spike"] == 0


def test_build_rejects_bad_shapes():
    ds, inputs, soma, spikes, _ = make_shard()
    with pytest.raises(ShardError, match="soma_voltage"):
        build_shard_dataset(inputs, soma[:, :10], spikes, ds.attrs)
    with pytest.raises(ShardError, match="attrs lack"):
        build_shard_dataset(inputs, soma, spikes, {"cell": "x"})


def test_merge_offsets_and_provenance(tmp_path):
    paths = []
    for k in range(3):
        ds, *_ = make_shard(shard=k, n_sim=2 + k, seed=k)
        paths.append(write_shard(ds, tmp_path / f"shard_{k}.nc"))
    out = merge_shards(paths, tmp_path / "train.nc")
    m = read_shard(out)
    assert m.sizes["simulation"] == 2 + 3 + 4
    assert list(m.simulation_shard.values) == [0] * 2 + [1] * 3 + [2] * 4
    assert json.loads(m.attrs["shard_sha256"]) == [file_sha256(p) for p in paths]
    assert json.loads(m.attrs["shards"]) == [0, 1, 2]
    assert json.loads(m.attrs["shard_config_hashes"]) == ["cafe"] * 3
    assert m.attrs["seed"] == 7
    offset = 0
    for p in paths:
        s = read_shard(p)
        n = s.sizes["simulation"]
        sl = slice(offset, offset + n)
        assert np.array_equal(m.input_spikes_packed.values[sl], s.input_spikes_packed.values)
        assert np.array_equal(m.soma_voltage.values[sl], s.soma_voltage.values)
        assert np.array_equal(m.dendritic_voltage.values[sl], s.dendritic_voltage.values)
        for i in range(n):
            assert np.array_equal(
                m.spike_time.values[m.spike_simulation.values == offset + i],
                s.spike_time.values[s.spike_simulation.values == i],
            )
        offset += n
    assert m.spike_count.sum() == m.sizes["spike"]
    check_dataset(out)


def test_merge_truncated_shard_names_it(tmp_path):
    paths = [
        write_shard(make_shard(shard=k, seed=k)[0], tmp_path / f"shard_{k}.nc") for k in range(2)
    ]
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="shard_1.nc"):
        merge_shards(paths, tmp_path / "out.nc")
    assert not (tmp_path / "out.nc").exists()
    assert not list(tmp_path.glob(".tmp-*"))  # no half-written temp file either


def test_merge_mismatch_and_nan_and_missing(tmp_path):
    a = write_shard(make_shard(shard=0)[0], tmp_path / "shard_0.nc")
    b = write_shard(make_shard(shard=1, variant="no_nmda")[0], tmp_path / "shard_1.nc")
    with pytest.raises(ShardError, match=r"shard_1\.nc.*variant"):
        merge_shards([a, b], tmp_path / "out.nc")
    ds, *_ = make_shard(shard=2)
    ds["soma_voltage"][1, 5] = np.nan
    c = write_shard(ds, tmp_path / "shard_2.nc")
    with pytest.raises(ShardError, match=r"shard_2\.nc.*soma_voltage.*\[1\]"):
        merge_shards([a, c], tmp_path / "out.nc")
    with pytest.raises(DatasetError, match="shard_2.nc"):
        check_dataset(c)
    with pytest.raises(ShardError, match="shard_9.nc"):
        merge_shards([a, tmp_path / "shard_9.nc"], tmp_path / "out.nc")
    d = write_shard(make_shard(shard=3, dendrites=False)[0], tmp_path / "shard_3.nc")
    with pytest.raises(ShardError, match="shard_3.nc"):
        merge_shards([a, d], tmp_path / "out.nc")


def _file_layout(path) -> dict:
    """Everything netCDF stores about a file: dims, and each variable's dtype, dims, attributes
    (with their types), compression, chunking and raw (still encoded) values."""
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        variables = {}
        for name, var in nc.variables.items():
            variables[name] = {
                "dtype": var.dtype,
                "dims": var.dimensions,
                "attrs": {
                    k: (repr(var.getncattr(k)), type(var.getncattr(k))) for k in var.ncattrs()
                },
                "filters": var.filters(),
                "chunking": var.chunking(),
                "raw": var[...],
            }
        dims = {name: len(dim) for name, dim in nc.dimensions.items()}
        attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
    return {"dims": dims, "variables": variables, "attrs": attrs}


@pytest.mark.parametrize("recorded", ["all", "soma_only"])
def test_streaming_merge_matches_in_memory_merge(tmp_path, recorded):
    """The streaming merge writes what the in-memory merge (before issue 16) wrote: same dims,
    variables, dtypes, attributes, compression, chunking and encoded bytes."""
    paths = []
    for k, n_sim in enumerate((2, 1, 3)):
        ds, *_ = make_shard(shard=k, n_sim=n_sim, seed=k, dendrites=recorded == "all")
        # the reference predates the input event lists (merged separately, test below)
        ds = ds.drop_vars(EVENT_FIELDS)
        if recorded == "soma_only":
            ds = ds.drop_vars("nexus_voltage")
        paths.append(write_shard(ds, tmp_path / f"shard_{k}.nc"))
    new = merge_shards(paths, tmp_path / "new.nc")
    old = merge_shards_in_memory(paths, tmp_path / "old.nc")
    a, b = _file_layout(new), _file_layout(old)
    assert a["dims"] == b["dims"] and a["attrs"] == b["attrs"]
    assert a["variables"].keys() == b["variables"].keys()
    for name, var in b["variables"].items():
        got = a["variables"][name]
        for key in ("dtype", "dims", "attrs", "filters", "chunking"):
            assert got[key] == var[key], (name, key)
        assert np.array_equal(got["raw"], var["raw"]), name
    expected_bulk = {"input_spikes_packed", "soma_voltage"} | (
        {"nexus_voltage", "dendritic_voltage"} if recorded == "all" else set()
    )
    assert expected_bulk <= set(a["variables"])
    xr.testing.assert_identical(read_shard(new), read_shard(old))
    assert check_dataset(new)["simulations"] == 6


def test_streaming_merge_without_spikes(tmp_path):
    """A validation split may hold no output spike (a warning, not an error): the empty ``spike``
    dimension is written as the in-memory merge wrote it."""
    paths = []
    for k in range(2):
        ds, *_ = make_shard(shard=k, n_sim=2, seed=k)
        ds = ds.isel(spike=slice(0, 0)).assign(spike_count=ds.spike_count * 0)
        ds = ds.drop_vars(EVENT_FIELDS)  # the reference predates them
        ds.attrs["split"] = "valid"
        paths.append(write_shard(ds, tmp_path / f"shard_{k}.nc"))
    new = read_shard(merge_shards(paths, tmp_path / "new.nc"))
    old = read_shard(merge_shards_in_memory(paths, tmp_path / "old.nc"))
    xr.testing.assert_identical(new, old)
    assert new.sizes["spike"] == 0 and new.sizes["simulation"] == 4


def events_to_inputs(ds: xr.Dataset) -> np.ndarray:
    """Bool inputs (simulation, channel, time) rebuilt from the event lists alone."""
    n_sim, n_ch, n_time = ds.sizes["simulation"], ds.sizes["channel"], ds.sizes["time"]
    out = np.zeros((n_sim, n_ch, n_time), bool)
    channel = ds["input_event_channel"].values
    first = np.concatenate([[0], np.cumsum(ds["input_event_count"].values)])
    for sim in range(n_sim):
        before = np.append(ds["input_event_before"].values[sim], ds["input_event_count"][sim])
        time = np.repeat(np.arange(n_time), np.diff(before))
        out[sim, channel[first[sim] : first[sim + 1]], time] = True
    return out


def test_input_events_hold_the_inputs(tmp_path):
    ds, inputs, *_ = make_shard(n_sim=3)
    r = read_shard(write_shard(ds, tmp_path / "s.nc"))
    assert np.array_equal(events_to_inputs(r), inputs)
    assert r.input_event_channel.dtype == np.uint16
    assert list(r.input_event_count.values) == list(inputs.sum(axis=(1, 2)))
    with netCDF4.Dataset(tmp_path / "s.nc") as nc:  # plain reads: no compression, one block
        assert nc.variables["input_event_channel"].chunking() == "contiguous"
        assert nc.variables["input_event_before"].filters()["zlib"] is False
    # a shard without input spikes: an empty event list (netCDF refuses it contiguous)
    attrs = {k: make_shard()[0].attrs[k] for k in REQUIRED_ATTRS} | {"duration_ms": 16}
    empty = build_shard_dataset(np.zeros((2, 4, 16), bool), np.zeros((2, 16)), [[], []], attrs)
    e = read_shard(write_shard(empty, tmp_path / "e.nc"))
    assert e.sizes["input_event"] == 0 and e.input_event_before.values.max() == 0


def test_merge_streams_input_events(tmp_path):
    """Merged event lists decode to the merged packed inputs; everything else is what the
    reference merge makes of the same shards without events."""
    paths, bare = [], []
    for k, n_sim in enumerate((2, 3)):
        ds, *_ = make_shard(shard=k, n_sim=n_sim, seed=k)
        paths.append(write_shard(ds, tmp_path / f"shard_{k}.nc"))
        bare.append(write_shard(ds.drop_vars(EVENT_FIELDS), tmp_path / f"bare_{k}.nc"))
    m = read_shard(merge_shards(paths, tmp_path / "new.nc"))
    packed = unpack_inputs(m.input_spikes_packed.values, m.sizes["time"])
    assert np.array_equal(events_to_inputs(m), packed)
    assert m.sizes["input_event"] == int(packed.sum())
    ref = read_shard(merge_shards_in_memory(bare, tmp_path / "ref.nc"))
    m_bare = m.drop_vars(EVENT_FIELDS)
    for key in ("shard_files", "shard_sha256"):  # the shard files differ, their content not
        assert m_bare.attrs.pop(key) != ref.attrs.pop(key)
    xr.testing.assert_identical(m_bare, ref)
    check_dataset(tmp_path / "new.nc")
    # shards with and without event lists do not mix
    with pytest.raises(ShardError, match="bare_1.nc"):
        merge_shards([paths[0], bare[1]], tmp_path / "mixed.nc")
