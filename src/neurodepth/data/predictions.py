"""The predictions artefact: one ``predictions.nc`` per trained network, written by evaluation.

``neurodepth.learning.evaluate`` builds the Dataset (names in docs/design.md, "Training /
evaluation files") and writes it with :func:`write_predictions`; every reader (the summary's model
sizes, the figures) goes through :func:`read_predictions` or :func:`read_prediction_attrs`.
Files live at ``.../{variant}/d{depth}_s{seed}/predictions.nc``; :func:`network_of` reads that
identity back from any file of the same layout (checkpoints included).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from neurodepth.core.atomic import write_netcdf_atomic
from neurodepth.core.errors import DatasetError
from neurodepth.data.shards import open_dataset

#: The per-bin traces, compressed; the rest (ROC points, histograms) is small.
COMPRESSED_VARS = ("spike_probability", "soma_prediction", "spike_target", "soma_truth")

# Reader keys and the file's variable names; the first name found wins, so a rename in
# evaluate.py needs only a new entry here.
PREDICTION_NAMES = {
    "spike_probability": ("spike_probability",),
    "soma_prediction": ("soma_prediction",),
    "spike_target": ("spike_target",),
    "soma_target": ("soma_truth",),
    "included": ("included",),
    "roc_fpr": ("roc_fpr",),
    "roc_tpr": ("roc_tpr",),
    "timing_count": ("spike_timing_count",),
    "timing_lag": ("lag_ms",),
}

_NETWORK_PATH = re.compile(r"([^/]+)/d(\d+)_s(\d+)/[^/]+$")


def write_predictions(ds: xr.Dataset, path) -> Path:
    """Write a predictions Dataset atomically, its per-bin traces compressed."""
    path = Path(path)
    encoding = {v: {"zlib": True, "complevel": 4} for v in COMPRESSED_VARS if v in ds.variables}
    write_netcdf_atomic(ds, path, encoding=encoding)
    return path


def network_of(path) -> tuple[str, int, int] | None:
    """``(variant, depth, seed)`` of a ``.../{variant}/d{depth}_s{seed}/<file>`` path, else None."""
    m = _NETWORK_PATH.search(Path(path).as_posix())
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def read_prediction_attrs(path) -> dict:
    """Global attributes of one predictions file ({} when the file is absent)."""
    path = Path(path)
    if not path.exists():
        return {}
    with open_dataset(path, load=False, what="predictions") as ds:
        return dict(ds.attrs)


def read_predictions(path) -> dict:
    """Read one ``predictions.nc`` into plain arrays under the ``PREDICTION_NAMES`` keys.

    Also returns ``path``, ``time`` (ms), ``attrs``, ``drop_first_ms``, ``n_true_scored`` (output
    spikes in the scored bins) and ``variant``/``depth``/``seed`` (from attrs, else the path).
    """
    path = Path(path)
    ds = open_dataset(path, what="predictions")
    out = {"path": path, "attrs": dict(ds.attrs)}
    for key, names in PREDICTION_NAMES.items():
        name = next((n for n in names if n in ds.variables), None)
        out[key] = None if name is None else np.asarray(ds[name].values)
    for key in ("spike_probability", "soma_prediction"):
        if out[key] is None:
            raise DatasetError(f"predictions file {path} lacks {key!r}")
    out["time"] = (
        np.asarray(ds["time"].values, dtype=float)
        if "time" in ds.coords
        else np.arange(out["spike_probability"].shape[-1], dtype=float)
    )
    # Whole traces are kept; the scored bins are those after drop_first_ms of the included
    # simulations.
    out["drop_first_ms"] = float(ds.attrs.get("drop_first_ms", 0))
    n_sim = out["spike_probability"].shape[0]
    out["included"] = (
        np.ones(n_sim, bool) if out["included"] is None else out["included"].astype(bool)
    )
    if out["spike_target"] is not None:
        scored = out["spike_target"][out["included"]][:, out["time"] >= out["drop_first_ms"]]
        out["n_true_scored"] = float(np.sum(scored))
    else:
        out["n_true_scored"] = float("nan")
    variant, depth, seed = network_of(path) or ("unknown", 0, 0)
    out["variant"] = str(ds.attrs.get("variant", variant))
    out["depth"] = int(ds.attrs.get("depth", ds.attrs.get("model_depth", depth)))
    out["seed"] = int(ds.attrs.get("seed", seed))
    return out
