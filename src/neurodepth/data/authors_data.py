"""Import the authors' released simulation files (pickled dicts) into our dataset netCDF schema.

Structure read (one pickle = one file of the release, typically 128 simulations x 6 s, 639
segments -> 1278 input channels)::

    {
      "Params": {                         # optional keys, used when present
        "totalSimDurationInSec": 6,
        "allSegmentsType": [...],         # per segment, e.g. "basal" / "apical"
        "allSegmentsLength": [...],       # um
        "allSegments_DistFromSoma": [...],# um
        ...                               # anything else is ignored
      },
      "Results": {
        "listOfSingleSimulationDicts": [
          {
            "exInputSpikeTimes":  {segment_index: array of input spike times (ms), ...},
            "inhInputSpikeTimes": {segment_index: array of input spike times (ms), ...},
            "outputSpikeTimes":   array of output spike times (ms; float16 in the release),
            "somaVoltageLowRes":  array (duration_ms,)   mV at 1 ms,
            "somaVoltageHighRes": array (8 * duration_ms,) mV at 1/8 ms   (optional),
            "nexusVoltageLowRes": array (duration_ms,)   mV              (optional),
            "dendriticVoltagesLowRes": array (n_segments, duration_ms) mV (optional),
          },
          ...
        ]
      }
    }

Channel map as in our schema: excitatory channel = segment index, inhibitory = segment index +
n_segments. Input spike times are binned at 1 ms (floor). Output spike times: the release stored
them as float16 (errors up to ~2 ms after 4 s), so when ``somaVoltageHighRes`` is present the
spikes are re-detected from it with the spike definition our simulations use
(:func:`neurodepth.data.spikes.detect_spikes`: one spike per excursion above -25 mV, at its
maximum) and stored as float64; otherwise the float16 values are kept and the file attribute
``spike_time_source`` says so.
Pickles can run code when loaded: import only files you trust.

The release comes as folders of such pickles, one per split (e.g. ``L5PC_NMDA_train/``,
``L5PC_NMDA_valid/``, ``L5PC_NMDA_test/``; the AMPA-only cell likewise); :func:`authors_files`
lists one folder's files in the order the workflow numbers them (config key ``dataset.authors``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.core.errors import DatasetError
from neurodepth.data.shards import build_shard_dataset, write_shard
from neurodepth.data.spikes import SPIKE_THRESHOLD_MV, detect_spikes


def authors_files(folder, pattern: str = "*.p") -> list[Path]:
    """The files of one split folder of the release that match ``pattern``, sorted by name (the
    workflow's file index ``i`` is the ``i``-th of them)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"authors' data folder not found: {folder}")
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not files:
        raise DatasetError(f"authors' data folder {folder} holds no file matching {pattern!r}")
    return files


def load_authors_pickle(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"authors' file not found: {path}")
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")  # latin1 also reads Python-2 numpy pickles
    except Exception as err:
        raise DatasetError(f"cannot unpickle authors' file {path}: {err}") from err
    if not isinstance(data, dict) or "Results" not in data:
        raise DatasetError(f"authors' file {path}: expected a dict with 'Params' and 'Results'")
    sims = (
        data["Results"].get("listOfSingleSimulationDicts")
        if isinstance(data["Results"], dict)
        else None
    )
    if not sims:
        raise DatasetError(
            f"authors' file {path}: Results['listOfSingleSimulationDicts'] missing or empty"
        )
    return data


def _spike_dict_to_bins(spike_dict: dict, row_offset: int, out: np.ndarray, where: str) -> None:
    n_seg, T = out.shape[0] // 2, out.shape[1]
    for seg, times in spike_dict.items():
        seg = int(seg)
        if not 0 <= seg < n_seg:
            raise DatasetError(f"{where}: segment index {seg} outside 0..{n_seg - 1}")
        bins = np.floor(np.asarray(times, dtype=np.float64)).astype(np.int64)
        bins = bins[(bins >= 0) & (bins < T)]
        out[row_offset + seg, bins] = True


def authors_to_dataset(
    data: dict,
    source: str = "authors",
    cell: str = "hay2011_l5pc",
    variant: str = "full",
    split: str = "test",
    n_segments: int | None = None,
    include_dendritic: bool = False,
    shard: int | None = None,
):
    """Convert one loaded authors' dict to an xarray Dataset in our schema. ``shard``: the
    file's index in its split (the workflow's), recorded so a merged dataset says which file each
    simulation came from."""
    params = data.get("Params", {}) or {}
    sims = data["Results"]["listOfSingleSimulationDicts"]
    seg_types = params.get("allSegmentsType")
    if n_segments is None:
        if seg_types is not None:
            n_segments = len(seg_types)
        else:
            keys = [
                int(k)
                for s in sims
                for d in ("exInputSpikeTimes", "inhInputSpikeTimes")
                for k in s[d]
            ]
            n_segments = max(keys) + 1 if keys else 0
            # Without Params the count is a lower bound; the release has 639 segments.
    if not n_segments:
        raise DatasetError(
            f"{source}: cannot tell the number of segments (no Params['allSegmentsType'])"
        )
    first = sims[0]
    if "somaVoltageLowRes" not in first:
        raise DatasetError(f"{source}: simulation 0 lacks 'somaVoltageLowRes'")
    T = len(first["somaVoltageLowRes"])
    if (
        "totalSimDurationInSec" in params
        and int(round(1000 * float(params["totalSimDurationInSec"]))) != T
    ):
        raise DatasetError(
            f"{source}: somaVoltageLowRes has {T} samples but totalSimDurationInSec="
            f"{params['totalSimDurationInSec']}"
        )
    n = len(sims)
    inputs = np.zeros((n, 2 * n_segments, T), dtype=bool)
    soma = np.empty((n, T), np.float32)
    has_nexus = all("nexusVoltageLowRes" in s for s in sims)
    nexus = np.empty((n, T), np.float32) if has_nexus else None
    dend = np.empty((n, n_segments, T), np.float32) if include_dendritic else None
    spikes, sources = [], set()
    for i, s in enumerate(sims):
        where = f"{source} simulation {i}"
        for key in ("exInputSpikeTimes", "inhInputSpikeTimes", "somaVoltageLowRes"):
            if key not in s:
                raise DatasetError(f"{where}: missing {key!r}")
        if len(s["somaVoltageLowRes"]) != T:
            raise DatasetError(
                f"{where}: somaVoltageLowRes has {len(s['somaVoltageLowRes'])} samples, "
                f"expected {T}"
            )
        _spike_dict_to_bins(s["exInputSpikeTimes"], 0, inputs[i], where)
        _spike_dict_to_bins(s["inhInputSpikeTimes"], n_segments, inputs[i], where)
        soma[i] = np.asarray(s["somaVoltageLowRes"], dtype=np.float32)
        if has_nexus:
            nexus[i] = np.asarray(s["nexusVoltageLowRes"], dtype=np.float32)
        if include_dendritic:
            if "dendriticVoltagesLowRes" not in s:
                raise DatasetError(
                    f"{where}: no 'dendriticVoltagesLowRes', but the dendritic voltages were "
                    "asked for (config key simulation.record_dendrites)"
                )
            dend[i] = np.asarray(s["dendriticVoltagesLowRes"], dtype=np.float32)
        high = s.get("somaVoltageHighRes")
        if high is not None and len(high) >= T:
            t_high = np.arange(len(high)) * (T / len(high))
            spikes.append(detect_spikes(t_high, high))
            sources.add(
                f"somaVoltageHighRes, one spike per excursion above {SPIKE_THRESHOLD_MV:g} mV"
            )
        else:
            spikes.append(np.asarray(s.get("outputSpikeTimes", []), dtype=np.float64).ravel())
            sources.add("outputSpikeTimes as released (float16: up to ~2 ms error)")
    table = {"segment": np.arange(n_segments)}
    if seg_types is not None:
        table["tree"] = [str(t) for t in seg_types]
    for key, col in (
        ("allSegmentsLength", "length_um"),
        ("allSegments_DistFromSoma", "path_distance_um"),
    ):
        if key in params and len(params[key]) == n_segments:
            table[col] = np.asarray(params[key], dtype=float)
    attrs = {
        "cell": cell,
        "variant": variant,
        "split": split,
        "seed": -1,
        "config_hash": "authors_release",
        "duration_ms": T,
        "integrator": "authors_release",
        "dt_ms": float("nan"),
        "source_file": source,
        "spike_time_source": "; ".join(sorted(sources)),
    }
    if shard is not None:
        attrs["shard"] = int(shard)
    ds = build_shard_dataset(
        inputs,
        soma,
        spikes,
        attrs,
        segment_table=pd.DataFrame(table),
        nexus_voltage=nexus,
        dendritic_voltage=dend,
        n_exc=n_segments,
    )
    ds.attrs["history"] = (
        f"imported from the authors' release file {source} by neurodepth.data.authors_data"
    )
    return ds


def import_authors_file(
    pickle_path,
    out_path,
    cell: str = "hay2011_l5pc",
    variant: str = "full",
    split: str = "test",
    n_segments: int | None = None,
    include_dendritic: bool = False,
    shard: int | None = None,
    duration_ms: int | None = None,
) -> Path:
    """Read one authors' pickle and write it as a dataset netCDF (atomic). Returns ``out_path``.
    ``duration_ms``: when given, the file's simulations must last this long (the workflow
    passes ``simulation.duration_ms``, which sizes the training windows and the jobs)."""
    data = load_authors_pickle(pickle_path)
    ds = authors_to_dataset(
        data,
        source=Path(pickle_path).name,
        cell=cell,
        variant=variant,
        split=split,
        n_segments=n_segments,
        include_dendritic=include_dendritic,
        shard=shard,
    )
    if duration_ms is not None and ds.attrs["duration_ms"] != int(duration_ms):
        raise DatasetError(
            f"{pickle_path}: simulations of {ds.attrs['duration_ms']} ms, but config key "
            f"'simulation.duration_ms' is {duration_ms}; set it to the files' duration"
        )
    return write_shard(ds, out_path)
