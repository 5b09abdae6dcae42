"""Shard / dataset netCDF schema: build, write, read, validate and merge simulation shards.

A shard is the output of one simulation job (one process, one cell build, several
simulations). A dataset is the concatenation of a split's shards along ``simulation``.
The schema is documented in ``docs/design.md`` ("Shard / dataset netCDF schema").

Storage choices (why):
- Inputs are binary and sparse (~1 % ones): bit-packed along time (8 ms per byte) and zlib'd,
  which is ~50x smaller than one byte per bin and still decodes with one ``np.unpackbits``.
- Voltages are float32 (soma, nexus) or int16 with a 1/32 mV CF ``scale_factor`` (dendrites):
  the auxiliary dendritic targets (clipped, PCA-reduced) need no more.
- Strings (segment table, channel kinds) are fixed-width char arrays, compressed.
- Output spike times are float64 in ms (the released data's float16 times were off by up
  to 2 ms after 4 s).
- Every per-simulation variable is chunked one simulation per chunk, so a reader fetching a
  window decompresses only that simulation; the soma voltage, read per training window, is also
  cut along time (``WINDOW_CHUNK``).
- Inputs are stored a second time as event lists (channel per input spike, uncompressed), which
  a training window reads directly: about as much disk again as the packed inputs, for batches
  built 11x faster (docs/benchmarks.md, 'Training').
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr
from xarray.conventions import encode_cf_variable

from neurodepth.core.atomic import atomic_path, check_free_space, write_netcdf_atomic
from neurodepth.core.errors import DatasetError, ShardError
from neurodepth.core.provenance import file_sha256, provenance_attrs

#: Global attributes every shard must carry (the caller passes them to ``build_shard_dataset``).
REQUIRED_ATTRS = (
    "cell",
    "variant",
    "split",
    "seed",
    "config_hash",
    "duration_ms",
    "integrator",
    "dt_ms",
)
#: Variables every shard / dataset must contain.
REQUIRED_VARS = (
    "input_spikes_packed",
    "soma_voltage",
    "spike_time",
    "spike_simulation",
    "spike_count",
    "channel_segment",
    "channel_kind",
)
#: Attributes that must agree between the shards of one dataset.
MERGE_KEYS = (
    "cell",
    "variant",
    "split",
    "config_hash",
    "duration_ms",
    "integrator",
    "dt_ms",
    "input_scale",
)

# int16 quantum of dendritic voltages: 1/32 mV (range ±1024 mV, error ≤ 0.016 mV), 4x finer than
# the released data's float16 at -70 mV (0.0625 mV) and ~20 % smaller than 0.01 mV after zlib
DENDRITE_SCALE_MV = 1 / 32
ZLIB_LEVEL = 4  # level 4 is within ~2 % of level 9's size at a fraction of the time


def pack_inputs(inputs: np.ndarray) -> np.ndarray:
    """Bit-pack boolean inputs (..., time) along time: (..., ceil(time/8)) uint8, little bit
    order."""
    return np.packbits(np.asarray(inputs, dtype=bool), axis=-1, bitorder="little")


def unpack_inputs(packed: np.ndarray, n_time: int) -> np.ndarray:
    """Inverse of :func:`pack_inputs`: (..., time_byte) uint8 -> (..., n_time) bool."""
    packed = np.asarray(packed, dtype=np.uint8)
    return np.unpackbits(packed, axis=-1, count=int(n_time), bitorder="little").astype(bool)


def input_events(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bool inputs (simulation, channel, time) as event lists: the channel of every input spike
    (uint16; simulations one after another, each in time-bin then channel order), the number per
    simulation (int32), and per (simulation, time bin) the number before that bin (int32).

    Why: a training window then reads only its own ~6,000 events (~12 kB, stored uncompressed)
    and sets them in a zeroed array, instead of inflating and unpacking ~100 kB of packed bits
    (docs/benchmarks.md, 'Training'). The packed bits stay the schema's reference copy.
    """
    inputs = np.asarray(inputs, dtype=bool)
    n_sim, _, n_time = inputs.shape
    sim, time, channel = np.nonzero(inputs.transpose(0, 2, 1))  # C order: sim, time, channel
    count = np.bincount(sim, minlength=n_sim).astype(np.int32)
    per_bin = np.bincount(sim * n_time + time, minlength=n_sim * n_time).reshape(n_sim, n_time)
    before = (np.cumsum(per_bin, axis=1) - per_bin).astype(np.int32)
    return channel.astype(np.uint16), count, before


def build_shard_dataset(
    inputs: np.ndarray,
    soma_voltage: np.ndarray,
    spike_times: list,
    attrs: dict,
    segment_table: pd.DataFrame | None = None,
    nexus_voltage: np.ndarray | None = None,
    dendritic_voltage: np.ndarray | None = None,
    n_exc: int | None = None,
    channel_segment: np.ndarray | None = None,
) -> xr.Dataset:
    """Assemble one shard (or any set of simulations) as an xarray Dataset in the project schema.

    Parameters
    ----------
    inputs : bool array (simulation, channel, time) — input spikes in 1 ms bins, excitatory
        channels first (channel c < n_exc), then inhibitory.
    soma_voltage : (simulation, time) mV at each ms.
    spike_times : list (one per simulation) of 1-D arrays of output spike times in ms.
    attrs : global attributes; must contain ``REQUIRED_ATTRS`` (cell, variant, split, seed,
        config_hash, duration_ms, integrator, dt_ms); extras (e.g. ``shard``) are kept.
    segment_table : per dendritic segment table (``BuiltCell.segment_table``); its columns are
        stored with a ``segment_`` prefix on the ``segment`` dimension. ``None`` for cells
        without segments (the I&F neuron).
    nexus_voltage : optional (simulation, time) mV.
    dendritic_voltage : optional (simulation, segment, time) mV.
    n_exc : number of excitatory channels; default ``channel // 2`` (one exc + one inh per segment).
    channel_segment : segment of each channel; default: the paper's map (c and n_seg + c on
        segment c) when channel == 2 * segment, all 0 for a one-segment (point) cell, -1 without
        a segment table.
    """
    inputs = np.asarray(inputs)
    if inputs.ndim != 3:
        raise ShardError(f"inputs must be (simulation, channel, time), got shape {inputs.shape}")
    n_sim, n_ch, n_time = inputs.shape
    soma_voltage = np.asarray(soma_voltage, dtype=np.float32)
    if soma_voltage.shape != (n_sim, n_time):
        raise ShardError(
            f"soma_voltage shape {soma_voltage.shape} != (simulation, time) {(n_sim, n_time)}"
        )
    if len(spike_times) != n_sim:
        raise ShardError(f"spike_times has {len(spike_times)} entries for {n_sim} simulations")
    missing = [k for k in REQUIRED_ATTRS if k not in attrs]
    if missing:
        raise ShardError(f"shard attrs lack {missing}")
    n_exc = n_ch // 2 if n_exc is None else int(n_exc)

    spikes = [np.asarray(s, dtype=np.float64).ravel() for s in spike_times]
    spike_time = np.concatenate(spikes) if spikes else np.zeros(0)
    spike_sim = (
        np.concatenate([np.full(len(s), i, dtype=np.int32) for i, s in enumerate(spikes)])
        if spikes
        else np.zeros(0, np.int32)
    )
    spike_count = np.array([len(s) for s in spikes], dtype=np.int32)

    if n_ch > np.iinfo(np.uint16).max + 1:
        raise ShardError(f"{n_ch} input channels: input_event_channel holds at most 65536")
    event_channel, event_count, event_before = input_events(inputs)

    duration_s = n_time / 1000.0
    exc_rate = inputs[:, :n_exc].sum(axis=(1, 2)) / max(n_exc, 1) / duration_s
    inh_rate = inputs[:, n_exc:].sum(axis=(1, 2)) / max(n_ch - n_exc, 1) / duration_s

    data_vars = {
        "input_spikes_packed": (
            ("simulation", "channel", "time_byte"),
            pack_inputs(inputs),
            {
                "long_name": "input spikes, bit-packed along time (np.packbits bitorder=little)",
                "units": "1",
                "n_time": n_time,
                "flag_values": "bit i of byte b is the 1 ms bin 8*b+i",
            },
        ),
        "input_event_channel": (
            ("input_event",),
            event_channel,
            {
                "long_name": "input channel of each input spike; the simulations' spikes one "
                "after another, each sorted by time bin, then channel",
                "units": "1",
            },
        ),
        "input_event_count": (
            ("simulation",),
            event_count,
            {"long_name": "number of input spikes", "units": "1"},
        ),
        "input_event_before": (
            ("simulation", "time"),
            event_before,
            {"long_name": "input spikes of the simulation before each time bin", "units": "1"},
        ),
        "soma_voltage": (
            ("simulation", "time"),
            soma_voltage,
            {"long_name": "somatic membrane potential", "units": "mV"},
        ),
        "spike_time": (
            ("spike",),
            spike_time,
            {
                "long_name": "output spike time (soma voltage local maximum above -25 mV)",
                "units": "ms",
            },
        ),
        "spike_simulation": (
            ("spike",),
            spike_sim,
            {
                "long_name": "simulation index (0-based within this file) of each output spike",
                "units": "1",
            },
        ),
        "spike_count": (
            ("simulation",),
            spike_count,
            {"long_name": "number of output spikes", "units": "1"},
        ),
        "exc_rate_hz": (
            ("simulation",),
            exc_rate.astype(np.float32),
            {"long_name": "mean input rate per excitatory channel", "units": "Hz"},
        ),
        "inh_rate_hz": (
            ("simulation",),
            inh_rate.astype(np.float32),
            {"long_name": "mean input rate per inhibitory channel", "units": "Hz"},
        ),
        "output_rate_hz": (
            ("simulation",),
            (spike_count / duration_s).astype(np.float32),
            {"long_name": "mean output spike rate", "units": "Hz"},
        ),
        "channel_kind": (
            ("channel",),
            np.array(["exc"] * n_exc + ["inh"] * (n_ch - n_exc), dtype=object),
            {"long_name": "synapse kind of each input channel"},
        ),
    }
    if nexus_voltage is not None:
        nexus_voltage = np.asarray(nexus_voltage, dtype=np.float32)
        if nexus_voltage.shape != (n_sim, n_time):
            raise ShardError(f"nexus_voltage shape {nexus_voltage.shape} != {(n_sim, n_time)}")
        data_vars["nexus_voltage"] = (
            ("simulation", "time"),
            nexus_voltage,
            {"long_name": "membrane potential at the apical nexus", "units": "mV"},
        )

    if segment_table is not None:
        n_seg = len(segment_table)
        for col in segment_table.columns:
            values = segment_table[col].to_numpy()
            if values.dtype.kind in "OUS":
                values = values.astype(str).astype(object)
            units = "um" if col.endswith("_um") else ("um2" if col.endswith("_um2") else "1")
            data_vars[f"segment_{col}"] = (
                ("segment",),
                values,
                {"units": units} if values.dtype != object else {},
            )
        if channel_segment is not None:
            pass
        elif n_exc == n_seg and n_ch == 2 * n_seg:
            channel_segment = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
        elif n_seg == 1:
            channel_segment = np.zeros(
                n_ch
            )  # point neuron: every synapse on its one pseudo-segment
        else:
            raise ShardError(
                f"{n_ch} channels / {n_exc} exc do not match {n_seg} segments: pass channel_segment"
            )
    elif channel_segment is None:
        channel_segment = np.full(n_ch, -1)  # no segment table: no segments
    channel_segment = np.asarray(channel_segment, dtype=np.int32)
    if channel_segment.shape != (n_ch,):
        raise ShardError(f"channel_segment shape {channel_segment.shape} != ({n_ch},)")
    data_vars["channel_segment"] = (
        ("channel",),
        channel_segment,
        {"long_name": "dendritic segment of each input channel (-1: none)", "units": "1"},
    )

    if dendritic_voltage is not None:
        if segment_table is None:
            raise ShardError("dendritic_voltage given without a segment_table")
        dendritic_voltage = np.asarray(dendritic_voltage, dtype=np.float32)
        if dendritic_voltage.shape != (n_sim, len(segment_table), n_time):
            raise ShardError(
                f"dendritic_voltage shape {dendritic_voltage.shape} != "
                f"{(n_sim, len(segment_table), n_time)}"
            )
        data_vars["dendritic_voltage"] = (
            ("simulation", "segment", "time"),
            dendritic_voltage,
            {"long_name": "membrane potential of each dendritic segment", "units": "mV"},
        )

    coords = {
        "simulation": (
            "simulation",
            np.arange(n_sim, dtype=np.int32),
            {"long_name": "simulation index"},
        ),
        "time": (
            "time",
            np.arange(n_time, dtype=np.float64),
            {"units": "ms", "long_name": "time since simulation start (1 ms bins)", "axis": "T"},
        ),
        "channel": ("channel", np.arange(n_ch, dtype=np.int32), {"long_name": "input channel"}),
    }
    if segment_table is not None:
        coords["segment"] = (
            "segment",
            np.arange(len(segment_table), dtype=np.int32),
            {"long_name": "dendritic segment"},
        )

    cell, variant, split = attrs["cell"], attrs["variant"], attrs["split"]
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs = provenance_attrs(
        title=f"neurodepth simulations: {cell} / {variant} / {split}",
        history="simulated by neurodepth.simulation.simulate.run_shard",
        n_exc_channels=n_exc,
        **attrs,
    )
    return ds


#: Chunk length along time of the variables read per training window besides the input events
#: (``reader.DatasetReader``): a 400 ms window of soma voltage then inflates one or two 4 kB
#: chunks, not a whole 6 s trace (docs/benchmarks.md, 'Training').
WINDOW_CHUNK = {"soma_voltage": 1024}


#: The input event lists (``input_events``), read per training window.
EVENT_VARS = ("input_event_channel", "input_event_before")


def event_encoding(size: int) -> dict:
    """Event lists are stored uncompressed and contiguous: a window's slice is then one plain
    read (~10 us), where a compressed chunk costs ~100 us to find and inflate. netCDF refuses a
    contiguous variable of size 0 (a shard without input spikes), which is left chunked."""
    return {"zlib": False, "shuffle": False, "contiguous": size > 0}


def shard_encoding(ds: xr.Dataset) -> dict:
    """netCDF4 encoding: zlib everywhere, one simulation per chunk (windowed variables: per
    ``WINDOW_CHUNK`` along time), int16 dendritic voltages."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dtype == object or var.dtype.kind == "U":
            # fixed-width char arrays: HDF5 variable-length strings cost ~100 bytes each and
            # cannot be compressed (the segment table alone was 150 kB per file)
            enc[name] = {"dtype": "S1", "zlib": True, "complevel": ZLIB_LEVEL}
            continue
        if name in EVENT_VARS:
            enc[name] = event_encoding(var.size)
            continue
        e = {"zlib": True, "complevel": ZLIB_LEVEL, "shuffle": True}
        if name == "input_spikes_packed":
            e.update(complevel=9, shuffle=False)  # sparse bits: level 9 is 20 % smaller, still fast
        if (
            "simulation" in var.dims
            and var.dims[0] == "simulation"
            and var.ndim > 1
            and var.size > 0
        ):
            e["chunksizes"] = (1,) + tuple(var.shape[1:])
            if name in WINDOW_CHUNK:
                # a training window decompresses only the chunks it overlaps, not 6 s of trace
                e["chunksizes"] = e["chunksizes"][:-1] + (min(WINDOW_CHUNK[name], var.shape[-1]),)
        if name == "dendritic_voltage":
            e.update(
                dtype="int16",
                scale_factor=np.float32(DENDRITE_SCALE_MV),
                add_offset=np.float32(0.0),
                _FillValue=np.int16(-32768),
            )
        elif var.dtype.kind == "f":
            e["_FillValue"] = None  # no fill value: a NaN must stay a NaN, not a masked sentinel
        enc[name] = e
    for name in ds.coords:
        enc[name] = {"_FillValue": None, "zlib": True, "complevel": ZLIB_LEVEL}
    return enc


def write_shard(ds: xr.Dataset, path) -> Path:
    """Write a shard or dataset atomically (temp file + rename) with the schema's encoding."""
    path = Path(path)
    write_netcdf_atomic(ds, path, encoding=shard_encoding(ds))
    return path


#: Variables a reader that needs only traces and tables can leave on disk (a training set's
#: packed inputs can be ~1 GB).
HEAVY_VARS = (
    "input_spikes_packed",
    "input_event_channel",
    "input_event_before",
    "dendritic_voltage",
    "nexus_voltage",
)


def open_dataset(
    path, *, load: bool = True, drop=(), what: str = "dataset", err=DatasetError
) -> xr.Dataset:
    """The one way to open a shard or dataset file as an ``xr.Dataset``.

    ``load=True`` reads it into memory (without the variables named in ``drop``) and closes the
    file; ``load=False`` returns a lazy Dataset (close it yourself) so windows read only their
    chunks. A missing or unreadable file raises ``err`` naming the file and its role ``what``.
    """
    path = Path(path)
    if not path.exists():
        raise err(f"{what} file {path} does not exist")
    try:
        ds = xr.open_dataset(path, engine="netcdf4")
        if load:
            with ds:
                ds = ds.drop_vars([v for v in drop if v in ds.variables]).load()
    except Exception as exc:  # truncated HDF5 raises OSError/RuntimeError/KeyError variously
        raise err(f"cannot read {what} file {path} (truncated or corrupt?): {exc}") from exc
    return ds


def read_shard(path, load: bool = True) -> xr.Dataset:
    """Open a shard / dataset (``open_dataset`` raising ``ShardError``)."""
    return open_dataset(path, load=load, what="shard", err=ShardError)


def read_simulation_inputs(path, simulation: int) -> np.ndarray:
    """Bool input spikes (channel, time) of one simulation, decompressing only that chunk."""
    with open_dataset(path, load=False) as ds:
        if "input_spikes_packed" not in ds:
            raise DatasetError(f"{path} lacks variables ['input_spikes_packed']")
        packed = ds["input_spikes_packed"].isel(simulation=int(simulation)).values
        return unpack_inputs(packed, ds.sizes["time"])


def _validate(ds: xr.Dataset, path: Path, err=ShardError) -> None:
    missing = [v for v in REQUIRED_VARS if v not in ds.variables]
    if missing:
        raise err(f"{path}: missing variables {missing}")
    missing = [k for k in REQUIRED_ATTRS if k not in ds.attrs]
    if missing:
        raise err(f"{path}: missing attributes {missing}")
    n_sim, n_time = ds.sizes["simulation"], ds.sizes["time"]
    if int(ds.attrs["duration_ms"]) != n_time:
        raise err(f"{path}: duration_ms={ds.attrs['duration_ms']} but time has {n_time} bins")
    if ds.sizes["time_byte"] != (n_time + 7) // 8:
        raise err(f"{path}: time_byte={ds.sizes['time_byte']} inconsistent with time={n_time}")
    counts = ds["spike_count"].values
    if counts.sum() != ds.sizes["spike"]:
        raise err(
            f"{path}: spike_count sums to {counts.sum()} but {ds.sizes['spike']} spikes are stored"
        )
    if "input_event_channel" in ds.variables:
        n_events = int(ds["input_event_count"].values.sum())
        if n_events != ds.sizes["input_event"]:
            raise err(
                f"{path}: input_event_count sums to {n_events} but {ds.sizes['input_event']} "
                "input events are stored"
            )
    sims = ds["spike_simulation"].values
    if sims.size and (sims.min() < 0 or sims.max() >= n_sim):
        raise err(f"{path}: spike_simulation outside 0..{n_sim - 1}")
    for name in ("soma_voltage", "nexus_voltage", "dendritic_voltage"):
        if name in ds and not np.isfinite(ds[name].values).all():
            bad = np.unique(np.nonzero(~np.isfinite(ds[name].values))[0])
            raise err(f"{path}: {name} has NaN/inf in simulation(s) {bad.tolist()[:10]}")
    if not np.isfinite(ds["spike_time"].values).all():
        raise err(f"{path}: spike_time has NaN/inf")


def check_dataset(path) -> dict:
    """Validate a dataset/shard file (opens, schema, no NaN); raise ``DatasetError`` naming it.

    Returns a small summary: simulations, duration_ms, spikes, mean output rate (Hz).
    """
    path = Path(path)
    ds = open_dataset(path)
    _validate(ds, path, err=DatasetError)
    return dataset_spike_summary(ds)


def read_channel_table(path) -> dict[str, np.ndarray]:
    """Where each input channel's synapse sits: ``channel_segment`` (-1: none), ``channel_kind``
    (exc/inh) and the segment table's ``segment_section`` (empty without a segment table)."""
    with open_dataset(path, load=False) as ds:
        return {
            "channel_segment": ds["channel_segment"].values.astype(int),
            "channel_kind": ds["channel_kind"].values.astype(str),
            "segment_section": (
                ds["segment_section"].values.astype(str)
                if "segment_section" in ds
                else np.array([], dtype=str)
            ),
        }


def dataset_spike_summary(ds: xr.Dataset) -> dict:
    """Counts for logs and reports: simulations, duration, output spikes and rate, input rates."""
    n_sim, n_time = ds.sizes["simulation"], ds.sizes["time"]
    return {
        "simulations": int(n_sim),
        "duration_ms": int(n_time),
        "spikes": int(ds.sizes["spike"]),
        "output_rate_hz": float(ds.sizes["spike"] / max(n_sim * n_time / 1000.0, 1e-12)),
        "exc_rate_hz": float(ds["exc_rate_hz"].mean()) if "exc_rate_hz" in ds else float("nan"),
        "inh_rate_hz": float(ds["inh_rate_hz"].mean()) if "inh_rate_hz" in ds else float("nan"),
    }


def _per_simulation_arrays(ds: xr.Dataset) -> list[str]:
    """Variables with a dimension besides ``simulation`` (inputs, voltage traces): the bulk of a
    shard, streamed into the merged file one simulation at a time."""
    return [v for v in ds.data_vars if ds[v].dims[:1] == ("simulation",) and ds[v].ndim > 1]


#: Variables a shard may or may not record; all shards of a dataset must agree.
OPTIONAL_VARS = ("nexus_voltage", "dendritic_voltage", "input_event_channel")


def _recorded(ds: xr.Dataset) -> list[str]:
    return [v for v in OPTIONAL_VARS if v in ds.data_vars]


def _check_mergeable(
    ds: xr.Dataset, path: Path, first: xr.Dataset, first_path: Path, recorded: list[str]
) -> None:
    """Raise ``ShardError`` if shard ``ds`` cannot be concatenated with the ``first`` shard
    (attributes, sizes, and the optional variables it ``recorded``)."""
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
    if _recorded(ds) != recorded:
        raise ShardError(f"shard {path}: recorded variables differ from {first_path}")


def merge_shards(shard_paths, out_path) -> Path:
    """Validate shards and concatenate them along ``simulation`` into one dataset (atomic write).

    Raises ``ShardError`` naming the first bad shard (unreadable/truncated, missing variables,
    NaN voltages, inconsistent shapes) or the shard whose cell/variant/split/config/duration
    differs from the first one. ``spike_simulation`` is offset to index the merged file;
    ``simulation_shard`` / ``simulation_in_shard`` record where each simulation came from.

    Memory does not grow with the number of shards (a paper training split is ~90 GB): a first
    pass validates one shard at a time and keeps only its small variables (per-simulation
    scalars, spike times, tables); those are written with xarray, then a second pass copies the
    inputs and voltage traces into the file one simulation at a time (the input event lists one
    shard at a time). Peak memory is about one shard (for validation) plus one simulation; see
    docs/benchmarks.md, 'Merging shards'.
    """
    shard_paths = [Path(p) for p in shard_paths]
    if not shard_paths:
        raise ShardError("merge_shards: no shard files given")
    first = first_path = None
    # per-simulation scalars and spikes as plain arrays (an xr.Dataset per shard cost ~18 kB)
    columns: dict[str, list[np.ndarray]] = {}
    spike_time, spike_sim, hashes, shard_ids, seeds, config_hashes = [], [], [], [], [], []
    n_events = []
    offset = 0
    for i, path in enumerate(shard_paths):
        ds = read_shard(path)
        _validate(ds, path)
        if first is None:
            # the first shard's tables, and one simulation of each trace as the template of the
            # merged file's variable (a copy: the shard's traces are freed below)
            bulk = _per_simulation_arrays(ds)
            first, first_path, recorded = ds.drop_vars(bulk), path, _recorded(ds)
            templates = ds[bulk].isel(simulation=[0])
            scalars = [v for v in ds.data_vars if ds[v].dims == ("simulation",)]
        else:
            _check_mergeable(ds, path, first, first_path, recorded)
        n = ds.sizes["simulation"]
        for v in scalars:
            columns.setdefault(v, []).append(ds[v].values)
        shard_ids.append(int(ds.attrs.get("shard", i)))
        columns.setdefault("simulation_shard", []).append(np.full(n, shard_ids[-1], np.int32))
        columns.setdefault("simulation_in_shard", []).append(np.arange(n, dtype=np.int32))
        n_events.append(ds.sizes.get("input_event", 0))
        spike_time.append(ds["spike_time"].values.astype(np.float64))
        spike_sim.append(ds["spike_simulation"].values.astype(np.int32) + offset)
        seeds.append(int(ds.attrs["seed"]))
        config_hashes.append(str(ds.attrs["config_hash"]))
        hashes.append(file_sha256(path))
        offset += n
        del ds  # drop the shard's traces before reading the next one

    where = {
        "simulation_shard": "shard index the simulation came from",
        "simulation_in_shard": "simulation index within its shard",
    }
    merged = xr.Dataset(
        {
            v: (
                "simulation",
                np.concatenate(arrays),
                first[v].attrs if v in first else {"long_name": where[v], "units": "1"},
            )
            for v, arrays in columns.items()
        }
    )
    # spikes are concatenated above, input events streamed by _append_bulk
    ragged = {"simulation", "spike", "input_event"}
    static = [v for v in first.data_vars if not ragged & set(first[v].dims)]
    for v in static:
        merged[v] = first[v]
    merged = merged.assign_coords(
        {name: first[name] for name in ("time", "channel", "segment") if name in first.coords}
    )
    merged = merged.assign_coords(simulation=np.arange(offset, dtype=np.int32))
    merged["simulation"].attrs = {"long_name": "simulation index"}
    merged["spike_time"] = ("spike", np.concatenate(spike_time), first["spike_time"].attrs)
    merged["spike_simulation"] = (
        "spike",
        np.concatenate(spike_sim),
        first["spike_simulation"].attrs,
    )
    attrs = {k: v for k, v in first.attrs.items() if k not in ("shard", "seed")}
    # a merged file's seed is the global seed its shard seeds derive from (when recorded)
    attrs["seed"] = first.attrs.get("global_seed", first.attrs["seed"])
    attrs.update(
        shards=json.dumps(shard_ids),
        shard_seeds=json.dumps(seeds),
        shard_files=json.dumps([p.name for p in shard_paths]),
        shard_sha256=json.dumps(hashes),
        shard_config_hashes=json.dumps(config_hashes),
        history=f"merged from {len(shard_paths)} shards by neurodepth.data.shards.merge_shards",
    )
    merged.attrs = attrs
    _require_spikes_for_training(merged, out_path)
    check_free_space(
        Path(out_path).parent,
        int(1.2 * sum(p.stat().st_size for p in shard_paths)),
        what=f"dataset {out_path}",
    )
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        merged.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=shard_encoding(merged))
        events = first["input_event_channel"] if "input_event_channel" in first else None
        _append_bulk(tmp, shard_paths, templates, events, n_events)
    return out_path


def _append_bulk(
    path: Path,
    shard_paths: list[Path],
    templates: xr.Dataset,
    events: xr.DataArray | None,
    n_events: list[int],
) -> None:
    """Add the per-simulation arrays to the merged file ``path``, one simulation at a time, and
    the input event lists (``events``: the first shard's, ``n_events`` per shard), one shard at a
    time.

    Each variable is created as ``to_netcdf`` would create it from the encoding of
    :func:`shard_encoding` (``templates`` holds one simulation of each), and each simulation is
    CF-encoded by xarray's own encoder (e.g. dendrites to int16), so the bytes match a file
    written in one ``to_netcdf`` call.
    """
    encoding = shard_encoding(templates)
    # Only whole chunks are written and read here, so a chunk cache saves nothing, yet netCDF
    # gives every variable one (64 MB by default) that fills with written chunks: the merge's
    # memory grew by up to 64 MB per variable. A variable takes the default in force when the
    # file is opened or the variable created (set_var_chunk_cache afterwards did not help).
    saved = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(0, 0, saved[2])
    try:
        with netCDF4.Dataset(path, "a") as nc:
            for dim, size in templates.sizes.items():
                if dim not in nc.dimensions:
                    nc.createDimension(dim, size)
            for name, var in templates.data_vars.items():
                enc = encoding[name]
                encoded = encode_cf_variable(xr.Variable(var.dims, var.values, var.attrs, enc))
                attrs = dict(encoded.attrs)
                out = nc.createVariable(
                    name,
                    encoded.dtype,
                    var.dims,
                    zlib=enc.get("zlib", False),
                    complevel=enc.get("complevel", 4),
                    shuffle=enc.get("shuffle", True),
                    chunksizes=enc.get("chunksizes"),
                    contiguous=enc.get("contiguous", False),
                    fill_value=attrs.pop("_FillValue", None),
                )
                out.setncatts(attrs)
                out.set_auto_maskandscale(False)  # data arrive encoded, as xarray writes them
            if events is not None:
                nc.createDimension("input_event", sum(n_events))
                out = nc.createVariable(
                    events.name,
                    events.dtype,
                    events.dims,
                    **event_encoding(sum(n_events)),
                )
                out.setncatts(events.attrs)
            first_event = 0
            row = 0
            for shard in shard_paths:
                with read_shard(shard, load=False) as ds:
                    for j in range(ds.sizes["simulation"]):
                        for name, template in templates.data_vars.items():
                            one = ds[name].isel(simulation=[j]).values
                            encoded = encode_cf_variable(
                                xr.Variable(template.dims, one, template.attrs, encoding[name])
                            )
                            nc.variables[name][row : row + 1] = encoded.values
                        row += 1
                    if events is not None and ds.sizes["input_event"]:
                        stop = first_event + ds.sizes["input_event"]
                        nc.variables[events.name][first_event:stop] = ds[events.name].values
                        first_event = stop
    finally:
        netCDF4.set_chunk_cache(*saved)


def _require_spikes_for_training(ds: xr.Dataset, out_path) -> None:
    """A training set without a single output spike cannot teach spike prediction: stop here,
    naming the dataset and the config key to change, rather than train a network on it."""
    n_spikes = int(ds.sizes.get("spike", 0))
    split, variant = str(ds.attrs.get("split", "")), str(ds.attrs.get("variant", ""))
    if n_spikes == 0:
        message = (
            f"dataset {out_path}: no output spikes in any of its {ds.sizes['simulation']} "
            f"simulations; the {variant} cell never fired. Raise its input rates (config key "
            f"'inputs.{variant}.exc_per_100ms') or simulate more (simulation.shards.{split})"
        )
        if split == "train":
            raise DatasetError(message)
        import logging

        logging.getLogger(__name__).warning(message)
