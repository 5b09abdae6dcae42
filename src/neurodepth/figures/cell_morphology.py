"""Figure 5: the cell's morphology (segment centres from the dataset's segment table) coloured by
region, and by one learned first-layer filter's excitatory weight on each segment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D

from neurodepth.core.errors import DatasetError
from neurodepth.figures import _common as C
from neurodepth.figures.registry import best_network_inputs, register

save = C.save

REQUIRED = ("section", "x", "region", "x_um", "y_um", "path_distance_um")


def skeleton(table: pd.DataFrame) -> list[tuple[int, int]]:
    """Edges between segment rows (indices) that draw the tree.

    The segment table has no parent links, so: consecutive segments of a section are joined, and a
    section's first segment joins the nearest segment (3-D distance) of another section that lies
    closer to the soma by path distance, or the soma (index -1) if none does.
    """
    xyz = (
        table[["x_um", "y_um", "z_um"]].to_numpy(float)
        if "z_um" in table
        else np.c_[table[["x_um", "y_um"]].to_numpy(float), np.zeros(len(table))]
    )
    dist = table["path_distance_um"].to_numpy(float)
    sections = table["section"].astype(str).to_numpy()
    edges = []
    for sec in pd.unique(sections):
        idx = np.flatnonzero(sections == sec)
        idx = idx[np.argsort(table["x"].to_numpy(float)[idx], kind="mergesort")]
        edges += list(zip(idx[:-1], idx[1:]))
        first = idx[0]
        cand = np.flatnonzero((sections != sec) & (dist < dist[first]))
        if cand.size == 0:
            edges.append((-1, first))
            continue
        d = np.linalg.norm(xyz[cand] - xyz[first], axis=1)
        near = cand[np.argmin(d)]
        # A first segment nearer to the soma centre than to any proximal segment is a stem.
        edges.append((-1, first) if np.linalg.norm(xyz[first]) < d.min() else (near, first))
    return edges


def _draw(ax, table, edges, colors, widths):
    xy = table[["x_um", "y_um"]].to_numpy(float)
    pts = np.vstack([np.zeros((1, 2)), xy])  # row 0 = soma centre
    segs = [(pts[a + 1], pts[b + 1]) for a, b in edges]
    lc = LineCollection(
        segs,
        colors=[colors[b] for _, b in edges],
        linewidths=[widths[b] for _, b in edges],
        capstyle="round",
    )
    ax.add_collection(lc)
    ax.scatter(xy[:, 0], xy[:, 1], c=list(colors), s=np.asarray(widths) * 4, lw=0, zorder=3)
    ax.plot([0], [0], "o", color="k", ms=9, zorder=4)
    ax.set_aspect("equal", adjustable="datalim")  # fill the panel, widening x rather than shrinking
    ax.autoscale_view()
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")


def make(
    table: pd.DataFrame,
    segment_weight=None,
    weight_label: str = "filter weight (a.u.)",
    title: str = "",
):
    """Left: morphology coloured by region; right (when ``segment_weight`` is given, one value per
    segment row): the same drawing coloured by that weight on a diverging scale."""
    C.style()
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise DatasetError(f"segment table lacks columns {missing} (needs a dataset with segments)")
    table = table.reset_index(drop=True)
    edges = skeleton(table)
    widths = (
        np.clip(table["diam_um"].to_numpy(float), 0.4, 4.0) * 1.2
        if "diam_um" in table
        else np.full(len(table), 1.5)
    )
    n_panels = 1 if segment_weight is None else 2
    fig, axes = plt.subplots(1, n_panels, figsize=(C.FIG_WIDTH_IN, 7.0), squeeze=False)
    axes = axes[0]
    regions = table["region"].astype(str).to_numpy()
    _draw(axes[0], table, edges, [C.REGION_COLORS.get(r, "0.5") for r in regions], widths)
    handles = [
        Line2D(
            [],
            [],
            color=C.REGION_COLORS.get(r, "0.5"),
            lw=3,
            label=f"{r} ({np.sum(regions == r)} segments)",
        )
        for r in C.REGION_ORDER
        if r in set(regions)
    ]
    handles.append(Line2D([], [], marker="o", color="k", ls="none", ms=8, label="soma"))
    # Below the drawing: a morphology fills its panel corners unpredictably.
    axes[0].legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False
    )
    axes[0].set_title("dendritic regions")
    C.panel_label(axes[0], "A")
    if segment_weight is not None:
        w = np.asarray(segment_weight, float)
        if w.shape != (len(table),):
            raise DatasetError(f"segment_weight has shape {w.shape}, expected ({len(table)},)")
        vmax = float(np.nanmax(np.abs(w))) or 1.0
        norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
        cmap = plt.get_cmap("RdBu_r")
        # Thicker strokes: a colour scale needs more ink than categories to be read.
        _draw(axes[1], table, edges, cmap(norm(w)), widths * 1.8)
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=axes[1], shrink=0.7, label=weight_label)
        axes[1].set_title("one learned filter's weight per segment")
        axes[1].sharey(axes[0])
        C.panel_label(axes[1], "B")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def segment_weights_from_filter(
    weights: np.ndarray, channel_segment, n_seg: int, filter_index: int | None = None
):
    """Per-segment excitatory weight (summed over time, and over the segment's synapse sites)
    of one filter; default the largest one. ``channel_segment``: each input channel's segment,
    excitatory channels first (the first half)."""
    f = int(C.filter_order(weights)[0]) if filter_index is None else int(filter_index)
    if not 0 <= f < weights.shape[0]:
        raise DatasetError(
            f"filter {f} out of range (the first layer has {weights.shape[0]} filters)"
        )
    n_exc = weights.shape[1] // 2
    per_channel = weights[f, :n_exc].sum(axis=1)
    return np.bincount(np.asarray(channel_segment[:n_exc]), per_channel, minlength=n_seg), f


def from_files(dataset, checkpoints=None, best_networks=None, filter_index: int | None = None):
    """``dataset``: any split of a variant with segments; ``checkpoints``: optional model.ckpt
    path(s) of that variant, the best network's (``best_networks``: best_networks.csv) chosen when
    several are given, whose first-layer filter (largest norm unless ``filter_index``) colours
    panel B."""
    ds = C.open_dataset(dataset, "dataset")
    table = C.segment_table(ds)
    weight, label = None, ""
    checkpoint = None
    if checkpoints is not None:
        paths = C.as_paths(checkpoints)
        if best_networks is not None:
            checkpoint = C.best_file(paths, best_networks, str(ds.attrs.get("variant", "")))
        elif len(paths) == 1:
            checkpoint = paths[0]
        else:
            raise DatasetError("cell_morphology: several checkpoints and no best_networks table")
    if checkpoint is not None:
        w, meta = C.first_layer_weights(checkpoint)
        channel_segment = ds["channel_segment"].values.astype(int)
        if w.shape[1] != channel_segment.size:
            raise DatasetError(
                f"checkpoint {checkpoint} has {w.shape[1]} inputs, "
                f"dataset {dataset} has {channel_segment.size} input channels"
            )
        weight, f = segment_weights_from_filter(w, channel_segment, len(table), filter_index)
        depth = meta.get("architecture", {}).get("depth", "?")
        label = (
            f"excitatory weight summed over time (a.u.)\nfilter {f} of the {depth}-layer network"
        )
    title = f"{ds.attrs.get('cell', '')}: {len(table)} dendritic segments"
    return make(table, weight, weight_label=label or "filter weight (a.u.)", title=title)


register(
    "cell_morphology",
    from_files,
    best_network_inputs("checkpoints", "checkpoint"),
    category="Cell and data",
    needs_segment_geometry=True,
)
