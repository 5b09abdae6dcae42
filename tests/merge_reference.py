"""The merge as it was before issue 16: every shard of a split loaded, ``xr.concat``, one write.

Kept as the reference the streaming ``shards.merge_shards`` must reproduce (same arrays, encodings
and attributes; tests/unit/test_shards.py) and as the baseline of benchmarks/bench_merge.py, whose
peak memory grows with the number of shards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from neurodepth.core.atomic import check_free_space
from neurodepth.core.errors import ShardError
from neurodepth.core.provenance import file_sha256
from neurodepth.data.shards import (
    MERGE_KEYS,
    _require_spikes_for_training,
    _validate,
    read_shard,
    write_shard,
)


def merge_shards_in_memory(shard_paths, out_path) -> Path:
    """Validate shards and concatenate them along ``simulation`` into one dataset (atomic write).

    Raises ``ShardError`` naming the first bad shard (unreadable/truncated, missing variables,
    NaN voltages, inconsistent shapes) or the shard whose cell/variant/split/config/duration
    differs from the first one. ``spike_simulation`` is offset to index the merged file;
    ``simulation_shard`` / ``simulation_in_shard`` record where each simulation came from.
    The whole dataset is held in memory while merging.
    """
    shard_paths = [Path(p) for p in shard_paths]
    if not shard_paths:
        raise ShardError("merge_shards: no shard files given")
    loaded, hashes = [], []
    for path in shard_paths:
        ds = read_shard(path)
        _validate(ds, path)
        if loaded:
            first, first_path = loaded[0], shard_paths[0]
            for key in MERGE_KEYS:
                # .get: shards written before calibration existed carry no input_scale
                if str(ds.attrs.get(key)) != str(first.attrs.get(key)):
                    raise ShardError(
                        f"shard {path}: {key}={ds.attrs.get(key)!r} differs from {first_path} "
                        f"({first.attrs.get(key)!r})"
                    )
            for dim in ("channel", "time", "segment"):
                if ds.sizes.get(dim) != first.sizes.get(dim):
                    raise ShardError(
                        f"shard {path}: {dim} size {ds.sizes.get(dim)} differs from "
                        f"{first_path} ({first.sizes.get(dim)})"
                    )
            optional = {"nexus_voltage", "dendritic_voltage"}
            if optional & set(ds.data_vars) != optional & set(first.data_vars):
                raise ShardError(f"shard {path}: recorded variables differ from {first_path}")
        loaded.append(ds)
        hashes.append(file_sha256(path))

    per_sim, offset, spikes = [], 0, []
    for i, ds in enumerate(loaded):
        n = ds.sizes["simulation"]
        sim_vars = [v for v in ds.data_vars if "simulation" in ds[v].dims]
        part = ds[sim_vars].drop_vars("simulation")
        part["simulation_shard"] = (
            "simulation",
            np.full(n, int(ds.attrs.get("shard", i)), np.int32),
            {"long_name": "shard index the simulation came from", "units": "1"},
        )
        part["simulation_in_shard"] = (
            "simulation",
            np.arange(n, dtype=np.int32),
            {"long_name": "simulation index within its shard", "units": "1"},
        )
        per_sim.append(part)
        spikes.append(
            (ds["spike_time"].values, ds["spike_simulation"].values.astype(np.int32) + offset)
        )
        offset += n

    merged = xr.concat(
        per_sim,
        dim="simulation",
        data_vars="all",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="drop_conflicts",
    )
    first = loaded[0]
    static = [
        v
        for v in first.data_vars
        if "simulation" not in first[v].dims and "spike" not in first[v].dims
    ]
    for v in static:
        merged[v] = first[v]
    merged = merged.assign_coords(simulation=np.arange(offset, dtype=np.int32))
    merged["simulation"].attrs = {"long_name": "simulation index"}
    merged["spike_time"] = (
        "spike",
        np.concatenate([s[0] for s in spikes]).astype(np.float64),
        first["spike_time"].attrs,
    )
    merged["spike_simulation"] = (
        "spike",
        np.concatenate([s[1] for s in spikes]).astype(np.int32),
        first["spike_simulation"].attrs,
    )
    for name in ("time", "channel", "segment"):
        if name in first.coords:
            merged[name].attrs = first[name].attrs
    attrs = {k: v for k, v in first.attrs.items() if k not in ("shard", "seed")}
    # a merged file's seed is the global seed its shard seeds derive from (when recorded)
    attrs["seed"] = first.attrs.get("global_seed", first.attrs["seed"])
    attrs.update(
        shards=json.dumps([int(ds.attrs.get("shard", i)) for i, ds in enumerate(loaded)]),
        shard_seeds=json.dumps([int(ds.attrs["seed"]) for ds in loaded]),
        shard_files=json.dumps([p.name for p in shard_paths]),
        shard_sha256=json.dumps(hashes),
        shard_config_hashes=json.dumps([str(ds.attrs["config_hash"]) for ds in loaded]),
        history=f"merged from {len(loaded)} shards by neurodepth.data.shards.merge_shards",
    )
    merged.attrs = attrs
    _validate(merged, Path(out_path))
    _require_spikes_for_training(merged, out_path)
    check_free_space(
        Path(out_path).parent,
        int(1.2 * sum(p.stat().st_size for p in shard_paths)),
        what=f"dataset {out_path}",
    )
    return write_shard(merged, out_path)
