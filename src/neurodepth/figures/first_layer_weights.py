"""Figure 4: learned first-layer spatio-temporal filters of the best network, channels arranged by
region (basal / oblique / tuft; excitatory over inhibitory), with each region's temporal profile."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from neurodepth.core.errors import DatasetError
from neurodepth.figures import _common as C
from neurodepth.figures.registry import best_network_inputs, register

save = C.save


def make(weights, channel_region, channel_kind, n_show: int = 4, title: str = ""):
    """Top row: heat maps (channel x time before output) of the ``n_show`` filters with the
    largest norm; bottom row: each filter's mean weight per (region, kind) against time.

    weights : (filters, channels, kernel) first-conv weights; index j multiplies the input
    ``kernel-1-j`` ms before the output, so it is flipped to read left = long ago, right = now.
    """
    C.style()
    weights = np.asarray(weights, float)
    if weights.ndim != 3 or weights.shape[1] != len(channel_region):
        raise DatasetError(
            f"weights shape {weights.shape} does not match {len(channel_region)} channels"
        )
    n_show = int(min(n_show, weights.shape[0]))
    chosen = C.filter_order(weights)[:n_show]
    order, groups = C.channel_groups(channel_region, channel_kind)
    k = weights.shape[2]
    lag = np.arange(k)[::-1]  # ms before the output, per weight index
    fig, axes = plt.subplots(
        2,
        n_show,
        figsize=(C.FIG_WIDTH_IN, 7.0),
        squeeze=False,
        gridspec_kw={"height_ratios": (1.6, 1.0)},
        sharex=True,
    )
    vmax = float(np.abs(weights[chosen]).max()) or 1.0
    im = None
    for col, f in enumerate(chosen):
        ax = axes[0, col]
        w = weights[f][order]
        # extent puts each weight column at its lag; x decreases to 0 (now) on the right.
        im = ax.imshow(
            w,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            interpolation="nearest",
            extent=(-(k - 0.5), 0.5, len(order) - 0.5, -0.5),
        )
        for kind, region, a, b in groups:
            ax.axhline(b - 0.5, color="k", lw=0.6)
            if col == 0:
                ax.text(
                    -(k - 0.5) - 0.04 * k,
                    (a + b) / 2 - 0.5,
                    f"{kind}\n{region}",
                    ha="right",
                    va="center",
                    fontsize=9,
                    color=C.KIND_COLORS[kind],
                )
        ax.set_yticks([])
        ax.set_title(f"filter {f}", fontsize=11)
        ax2 = axes[1, col]
        for kind, region, a, b in groups:
            prof = w[a:b].mean(axis=0)
            ax2.plot(
                -lag,
                prof,
                color=C.REGION_COLORS.get(region, "0.3"),
                ls="-" if kind == "exc" else "--",
                lw=1.6,
                label=f"{kind} {region}",
            )
        ax2.axhline(0, color="0.6", lw=0.7)
        ax2.set_xlim(-(k - 0.5), 0.5)
    axes[0, 0].set_ylabel("input channels", labelpad=48)
    axes[1, 0].set_ylabel("mean weight per region\n(a.u.)")
    for ax in axes[1, 1:]:
        ax.sharey(axes[1, 0])
        ax.tick_params(labelleft=False)
    axes[1, 0].autoscale(axis="y")
    fig.text(
        0.51,
        0.145,
        "time relative to the output (ms; 0 = now)",
        ha="center",
        va="top",
        fontsize=plt.rcParams["axes.labelsize"],
    )
    cax = fig.add_axes([0.92, 0.47, 0.012, 0.4])
    fig.colorbar(im, cax=cax, label="weight (a.u.)")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(6, len(labels)),
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        fontsize=9.5,
    )
    fig.suptitle(title or "First-layer filters (largest norm)")
    fig.subplots_adjust(left=0.12, right=0.9, top=0.9, bottom=0.2, hspace=0.15, wspace=0.12)
    return fig


def from_files(checkpoints, dataset, best_networks, n_show: int = 4):
    """``checkpoints``: model.ckpt paths of the dataset's variant; ``dataset``: a split (for the
    channel map); ``best_networks``: results/summary/best_networks.csv, naming the network shown."""
    ds = C.open_dataset(dataset, "dataset")
    variant = str(ds.attrs.get("variant", ""))
    ckpt = C.best_file(checkpoints, best_networks, variant)
    weights, meta = C.first_layer_weights(ckpt)
    region, kind = C.channel_region_kind(ds)
    if weights.shape[1] != region.size:
        raise DatasetError(
            f"checkpoint {ckpt} has {weights.shape[1]} inputs, "
            f"dataset {dataset} {region.size} channels"
        )
    arch = meta.get("architecture", {})
    title = (
        f"First-layer filters of the best {C.variant_label(variant)} network "
        f"({arch.get('depth', '?')} layers × {arch.get('width', '?')}, "
        f"seed {meta.get('seed', '?')})"
    )
    return make(weights, region, kind, n_show=n_show, title=title)


register(
    "first_layer_weights",
    from_files,
    best_network_inputs("checkpoints", "checkpoint"),
    category="Learned filters",
)
