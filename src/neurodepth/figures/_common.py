"""Shared style, colours, saving and small loaders for the figure modules.

Figures are sized ~10 in wide and saved at 110 dpi, so the PNG is ~1100 px wide and the 11-13 pt
text stays legible when the report shows it at page width.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (also safe on headless nodes)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from neurodepth.analysis.summary import best_network, read_summary_table  # noqa: E402
from neurodepth.cells.variants import VARIANTS  # noqa: E402
from neurodepth.core.atomic import save_figure_atomic  # noqa: E402
from neurodepth.core.errors import DatasetError  # noqa: E402
from neurodepth.data import shards  # noqa: E402
from neurodepth.data.predictions import network_of  # noqa: E402

PNG_DPI = 110
FIG_WIDTH_IN = 10.0


class _VariantField(Mapping):
    """One field of every registered variant, read when asked (a plugin may register later)."""

    def __init__(self, field: str):
        self._field = field

    def __getitem__(self, name):
        if name not in VARIANTS:
            raise KeyError(name)
        return getattr(VARIANTS[name], self._field)

    def __iter__(self):
        return iter(VARIANTS)

    def __len__(self):
        return len(VARIANTS.names())


VARIANT_LABELS = _VariantField("label")
VARIANT_SHORT = _VariantField("short_label")
VARIANT_COLORS = _VariantField("color")
_PALETTE = sns.color_palette("colorblind", 10)
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
    known = [v for v in VARIANTS if v in set(variants)]
    return known + sorted(set(variants) - set(known))


def variant_label(v: str) -> str:
    return VARIANT_LABELS.get(v, v)


def variant_color(v: str, i: int = 0):
    return VARIANT_COLORS.get(v, _PALETTE[(i + 5) % len(_PALETTE)])


def variant_tick_label(v: str) -> str:
    """Compact tick text, for panels where every variant shares a narrow axis."""
    return VARIANTS[v].compact_label if v in VARIANTS else v


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


def open_dataset(path, what: str = "dataset") -> xr.Dataset:
    """A dataset in memory without its large per-bin variables (figures need traces and tables)."""
    return shards.open_dataset(path, drop=shards.HEAVY_VARS, what=what)


def as_paths(paths) -> list[Path]:
    """One path or an iterable of paths (a Snakemake input list included) as a list of Paths."""
    if isinstance(paths, (str, bytes, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def require_vars(ds: xr.Dataset, names, path) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise DatasetError(f"{path} lacks variables {missing}")


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


# --- predictions.nc and the best network -------------------------------------------------
def best_file(paths, best_networks, variant: str) -> Path:
    """The file among ``paths`` (one per network, ``.../{variant}/d{depth}_s{seed}/<file>``) of
    ``variant``'s best network in the summary's ``best_networks.csv``."""
    table = read_summary_table(best_networks, "best_networks")
    depth, seed = best_network(table, variant)
    return network_file(paths, variant, depth, seed)


def network_file(paths, variant: str, depth: int, seed: int) -> Path:
    """The file among ``paths`` of network ``(variant, depth, seed)``."""
    paths = as_paths(paths)
    found = [p for p in paths if network_of(p) == (variant, depth, seed)]
    if not found:
        raise DatasetError(
            f"no file of the {variant} network of depth {depth}, seed {seed} among "
            + ", ".join(str(p) for p in paths)
        )
    return found[0]


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


# --- checkpoints ---------------------------------------------------------------------------
def first_layer_weights(checkpoint) -> tuple[np.ndarray, dict]:
    """First convolution's weights ``(filters, input channels, kernel)`` and the model meta.

    Weight index j of a causal conv of kernel k multiplies the input k-1-j ms before the output.
    """
    from torch import nn

    from neurodepth.learning.checkpoints import load_model

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
