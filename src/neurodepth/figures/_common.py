"""Shared style, colours, saving and small loaders for the figure modules.

Figures are sized ~10 in wide and saved at 110 dpi, so the PNG is ~1100 px wide and the 11-13 pt
text stays legible when the report shows it at page width.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (also safe on headless nodes)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from neurodepth.core.atomic import save_figure_atomic  # noqa: E402
from neurodepth.core.errors import DatasetError  # noqa: E402

PNG_DPI = 110
FIG_WIDTH_IN = 10.0

VARIANT_ORDER = ["full", "no_nmda", "no_branching", "lif"]
VARIANT_LABELS = {
    "full": "full (NMDA + branching)",
    "no_nmda": "NMDA removed",
    "no_branching": "branching removed",
    "lif": "integrate-and-fire",
}
VARIANT_SHORT = {"full": "full", "no_nmda": "no NMDA", "no_branching": "no branching", "lif": "I&F"}
_PALETTE = sns.color_palette("colorblind", 10)
VARIANT_COLORS = {
    "full": _PALETTE[0],
    "no_nmda": _PALETTE[1],
    "no_branching": _PALETTE[2],
    "lif": _PALETTE[7],
}
REGION_ORDER = ["basal", "oblique", "tuft"]
REGION_COLORS = {"basal": _PALETTE[3], "oblique": _PALETTE[4], "tuft": _PALETTE[9], "soma": "0.2"}
KIND_COLORS = {"exc": "#c0392b", "inh": "#2e64b0"}


def style() -> None:
    """Seaborn 'ticks' style with report-legible fonts; called by every ``make``."""
    sns.set_theme(context="paper", style="ticks", font_scale=1.0)
    plt.rcParams.update(
        {
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.fontsize": 10,
            "legend.title_fontsize": 10,
            "figure.titlesize": 13,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,  # editable text in the vector copy
        }
    )


def variant_order(variants) -> list[str]:
    known = [v for v in VARIANT_ORDER if v in set(variants)]
    return known + sorted(set(variants) - set(known))


def variant_label(v: str) -> str:
    return VARIANT_LABELS.get(v, v)


def variant_color(v: str, i: int = 0):
    return VARIANT_COLORS.get(v, _PALETTE[(i + 5) % len(_PALETTE)])


def save(fig, out_png) -> tuple[Path, Path]:
    """Write ``out_png`` and a PDF copy beside it, both atomically; returns both paths."""
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise ValueError(
            f"figure output {out_png} must end in .png (the PDF copy is written beside it)"
        )
    out_pdf = out_png.with_suffix(".pdf")
    save_figure_atomic(fig, out_png, dpi=PNG_DPI)
    save_figure_atomic(fig, out_pdf)
    return out_png, out_pdf


HEAVY_VARS = ("input_spikes_packed", "dendritic_voltage", "nexus_voltage")


def open_dataset(path, what: str, skip=HEAVY_VARS) -> xr.Dataset:
    """Open a netCDF file into memory, without the large ``skip`` variables (a training set's
    packed inputs can be ~1 GB), with a clear error naming the file and its role."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{what} file {path} does not exist")
    try:
        with xr.open_dataset(path) as ds:
            return ds.drop_vars([v for v in skip if v in ds.variables]).load()
    except (OSError, ValueError, RuntimeError) as err:
        raise DatasetError(f"cannot read {what} file {path}: {err}") from err


def load_inputs(path, simulation: int) -> np.ndarray:
    """Bool input spikes (channel, time) of one simulation, decompressing only that chunk."""
    with xr.open_dataset(path) as ds:
        if "input_spikes_packed" not in ds:
            raise DatasetError(f"{path} lacks variables ['input_spikes_packed']")
        packed = ds["input_spikes_packed"].isel(simulation=int(simulation)).values
        return unpack_bits(packed, ds.sizes["time"])


def read_csv(path, what: str = "summary"):
    """``pandas.read_csv`` with a DatasetError naming a missing file."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{what} file {path} does not exist")
    return pd.read_csv(path)


def as_paths(paths) -> list[Path]:
    """One path or an iterable of paths (a Snakemake input list included) as a list of Paths."""
    if isinstance(paths, (str, bytes, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def require_vars(ds: xr.Dataset, names, path) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise DatasetError(f"{path} lacks variables {missing}")


def unpack_bits(packed: np.ndarray, n_time: int) -> np.ndarray:
    """Unpack ``input_spikes_packed`` (..., time_byte) into bool (..., time) (the schema's own
    ``neurodepth.data.shards.unpack_inputs``)."""
    from neurodepth.data.shards import unpack_inputs

    return unpack_inputs(packed, n_time)


def segment_table(ds: xr.Dataset):
    """The dataset's ``segment_*`` variables as a DataFrame with the design.md column names."""
    import pandas as pd

    cols = {
        name[len("segment_") :]: ds[name].values
        for name in ds.data_vars
        if name.startswith("segment_") and ds[name].dims == ("segment",)
    }
    if not cols:
        raise DatasetError("dataset has no segment_* variables (segment table)")
    table = pd.DataFrame(cols)
    if "segment" not in table:
        table.insert(
            0, "segment", ds["segment"].values if "segment" in ds.coords else np.arange(len(table))
        )
    for c in ("region", "tree", "section"):
        if c in table:
            table[c] = table[c].astype(str)
    return table


def channel_region_kind(ds: xr.Dataset):
    """Per input channel: its segment's region and its kind (exc/inh), as string arrays."""
    n_ch = ds.sizes["channel"]
    seg = ds["channel_segment"].values.astype(int) if "channel_segment" in ds else np.full(n_ch, -1)
    kind = (
        ds["channel_kind"].values.astype(str)
        if "channel_kind" in ds
        else np.where(np.arange(n_ch) < n_ch // 2, "exc", "inh")
    )
    region = np.full(n_ch, "soma", dtype=object)  # point neuron (I&F): channel_segment == -1
    if "segment_region" in ds:
        on_seg = seg >= 0
        region[on_seg] = ds["segment_region"].values.astype(str)[seg[on_seg]]
    return region.astype(str), kind


def panel_label(ax, letter: str) -> None:
    ax.text(
        -0.02,
        1.04,
        letter,
        transform=ax.transAxes,
        fontsize=13,
        fontweight="bold",
        ha="right",
        va="bottom",
    )


# --- predictions.nc ------------------------------------------------------------------------
# evaluate.py owns the names (docs/design.md, "Training / evaluation files"); the first name
# found wins, so a rename there needs only a new entry here.
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


def load_predictions(path) -> dict:
    """Read one ``predictions.nc`` into plain arrays under the ``PREDICTION_NAMES`` keys.

    Also returns ``time`` (ms), ``attrs`` and ``variant``/``depth``/``seed`` (from attrs, else
    from the ``.../{variant}/d{depth}_s{seed}/predictions.nc`` path).
    """
    import re

    path = Path(path)
    ds = open_dataset(path, "predictions")
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
    # evaluate.py keeps whole traces; the scored bins are those after drop_first_ms of the
    # included simulations (0..24 output spikes).
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
    m = re.search(r"([^/]+)/d(\d+)_s(\d+)/[^/]+$", path.as_posix())
    out["variant"] = str(ds.attrs.get("variant", m.group(1) if m else "unknown"))
    out["depth"] = int(ds.attrs.get("depth", ds.attrs.get("model_depth", m.group(2) if m else 0)))
    out["seed"] = int(ds.attrs.get("seed", m.group(3) if m else 0))
    return out


def roc_of(pred: dict):
    """(fpr, tpr, auc) from the stored ROC points, else computed from probability and target;
    ``None`` when the scored bins hold no output spike (or no non-spike), so no ROC exists."""
    if pred["roc_fpr"] is not None and pred["roc_tpr"] is not None:
        fpr, tpr = pred["roc_fpr"].astype(float), pred["roc_tpr"].astype(float)
    else:
        if pred["spike_target"] is None:
            raise DatasetError(f"{pred['path']} has neither ROC points nor a spike target")
        from neurodepth.analysis.metrics import roc_curve

        keep = pred["time"] >= pred["drop_first_ms"]
        inc = pred["included"]
        target = pred["spike_target"][inc][:, keep].ravel()
        if target.min(initial=0) == target.max(initial=0):
            return None
        fpr, tpr, _ = roc_curve(target, pred["spike_probability"][inc][:, keep].ravel())
    order = np.argsort(fpr, kind="mergesort")
    fpr, tpr = fpr[order], tpr[order]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def best_by_variant(preds: list[dict]) -> dict:
    """Per variant, the prediction with the highest spike AUC (ties: the shallower one).

    A variant without any ROC (no output spikes in its test set) falls back to its deepest network.
    """
    best = {}
    for p in preds:
        roc = roc_of(p)
        # Key: (AUC, -depth) for real ROCs; (-inf, depth) puts the deepest first otherwise.
        key = (roc[2], -p["depth"]) if roc is not None else (-np.inf, p["depth"])
        cur = best.get(p["variant"])
        if cur is None or key > cur[0]:
            best[p["variant"]] = (key, p)
    return {v: p for v, (_, p) in best.items()}


# --- checkpoints ---------------------------------------------------------------------------
def first_layer_weights(checkpoint) -> tuple[np.ndarray, dict]:
    """First convolution's weights ``(filters, input channels, kernel)`` and the model meta.

    Weight index j of a causal conv of kernel k multiplies the input k-1-j ms before the output.
    """
    from torch import nn

    from neurodepth.learning.train import load_model

    path = Path(checkpoint)
    if not path.exists():
        raise DatasetError(f"checkpoint {path} does not exist")
    model, meta = load_model(path)
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv1d)), None)
    if conv is None:
        raise DatasetError(f"checkpoint {path} holds no Conv1d layer")
    meta = dict(meta or {})
    meta.setdefault("path", str(path))
    return conv.weight.detach().cpu().numpy().astype(float), meta


def filter_order(weights: np.ndarray) -> np.ndarray:
    """Filters sorted by L2 norm, largest first (the ones the network leans on most)."""
    return np.argsort(-np.sqrt((weights**2).sum(axis=(1, 2))), kind="mergesort")


def channel_groups(region: np.ndarray, kind: np.ndarray):
    """Channel order for display: exc before inh, regions basal/oblique/tuft within each.

    Returns ``(order, groups)``; groups are ``(kind, region, start, stop)`` in display rows.
    """
    region = np.asarray(region).astype(str)
    kind = np.asarray(kind).astype(str)
    regions = [r for r in REGION_ORDER if r in set(region)] + sorted(
        set(region) - set(REGION_ORDER)
    )
    order, groups = [], []
    for k in ("exc", "inh"):
        for r in regions:
            idx = np.flatnonzero((kind == k) & (region == r))
            if idx.size:
                groups.append((k, r, len(order), len(order) + idx.size))
                order.extend(idx.tolist())
    return np.asarray(order, dtype=int), groups
