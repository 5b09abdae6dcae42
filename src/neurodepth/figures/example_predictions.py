"""Figure 2: one test simulation — input raster, true soma voltage and spikes, and the predictions
of the shallowest and the best network, with a zoomed window."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from neurodepth.analysis.summary import best_network, read_summary_table
from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import network_of, read_predictions
from neurodepth.data.shards import read_simulation_inputs
from neurodepth.figures import _common as C
from neurodepth.figures.registry import best_network_inputs, register

save = C.save

NET_COLORS = ("#e08214", "#542788")  # shallow, best: distinct from the exc/inh raster colours


def make(
    time_ms,
    inputs,
    channel_region,
    channel_kind,
    soma_true_mv,
    spike_times_ms,
    predictions: dict,
    zoom_ms=None,
    title: str = "",
    max_raster_rows: int = 160,
):
    """Raster, voltage and spike-probability rows; full window on the left, zoom on the right.

    time_ms : (T,) times of the shown window (ms); inputs : bool (channel, T);
    channel_region, channel_kind : per channel; soma_true_mv : (T,) mV; spike_times_ms : true output
    spikes; predictions : ordered ``{label: (spike_probability (T,), soma_prediction_mv (T,))}``
    (shallow first, best last); zoom_ms : (start, stop), default 300 ms around the densest spikes;
    max_raster_rows : channels drawn in the full-window raster (the zoom shows all).
    """
    C.style()
    time_ms = np.asarray(time_ms, float)
    inputs = np.asarray(inputs, bool)
    if inputs.shape[1] != time_ms.size or np.shape(soma_true_mv) != time_ms.shape:
        raise DatasetError(
            f"inputs {inputs.shape} / soma {np.shape(soma_true_mv)} "
            f"do not match {time_ms.size} time bins"
        )
    spikes = np.asarray(spike_times_ms, float)
    spikes = spikes[(spikes >= time_ms[0]) & (spikes <= time_ms[-1])]
    if zoom_ms is None:
        zoom_ms = _default_zoom(time_ms, spikes)
    order, groups = C.channel_groups(channel_region, channel_kind)

    fig = plt.figure(figsize=(C.FIG_WIDTH_IN, 8.2))
    gs = fig.add_gridspec(
        3, 2, width_ratios=(3, 1.15), height_ratios=(1.5, 1.2, 1.0), hspace=0.12, wspace=0.08
    )
    axes = np.array([[fig.add_subplot(gs[r, c]) for c in range(2)] for r in range(3)])
    for col, (lo, hi) in enumerate([(time_ms[0], time_ms[-1] + 1), zoom_ms]):
        sel = (time_ms >= lo) & (time_ms < hi)
        t = time_ms[sel]
        # Row 0: raster, channels grouped exc/inh x region.  The full window shows every
        # ``stride``-th channel so ~1000 channels x seconds do not merge into a solid block.
        ax = axes[0, col]
        stride = 1 if col == 1 else max(1, int(np.ceil(len(order) / max_raster_rows)))
        shown = np.arange(0, len(order), stride)
        rows, cols = np.nonzero(inputs[order[shown]][:, sel])
        rows = shown[rows]
        kinds = np.asarray(channel_kind).astype(str)[order][rows]
        for k in ("exc", "inh"):
            m = kinds == k
            ax.scatter(
                t[cols[m]],
                rows[m],
                s=1.5 if col == 0 else 2.5,
                marker="|",
                color=C.KIND_COLORS[k],
                linewidths=0.6,
                rasterized=True,
            )
        for kind, region, a, b in groups:
            ax.axhline(b - 0.5, color="0.6", lw=0.5)
            if col == 0:
                ax.text(
                    -0.01,
                    1 - (a + b) / 2 / len(order),
                    f"{kind} {region}",
                    transform=ax.transAxes,
                    ha="right",
                    va="center",
                    fontsize=9,
                    color=C.KIND_COLORS[kind],
                )
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_yticks([])
        if col == 0:
            ax.set_ylabel(
                f"input channels\n(every {_ordinal(stride)} of {len(order)})"
                if stride > 1
                else f"input channels ({len(order)})",
                labelpad=60,
            )
        # Row 1: soma voltage.
        ax = axes[1, col]
        ax.plot(t, np.asarray(soma_true_mv)[sel], color="k", lw=1.0, label="simulated (truth)")
        for (label, (_, soma_pred)), c in zip(
            predictions.items(),
            NET_COLORS[-len(predictions) :] if len(predictions) < 2 else NET_COLORS,
        ):
            ax.plot(t, np.asarray(soma_pred)[sel], color=c, lw=1.0, alpha=0.9, label=label)
        # Row 2: spike probability with true spikes as ticks on top.
        ax = axes[2, col]
        for (label, (prob, _)), c in zip(
            predictions.items(),
            NET_COLORS[-len(predictions) :] if len(predictions) < 2 else NET_COLORS,
        ):
            ax.plot(t, np.asarray(prob)[sel], color=c, lw=1.0, label=label)
        s_in = spikes[(spikes >= lo) & (spikes < hi)]
        ax.plot(
            s_in,
            np.full(s_in.size, 1.07),
            "v",
            color="k",
            ms=5,
            clip_on=False,
            label="true output spikes",
        )
        ax.set_ylim(-0.02, 1.12)
        for r in range(3):
            axes[r, col].set_xlim(lo, hi)
            if r < 2:
                axes[r, col].tick_params(labelbottom=False)
        axes[2, col].set_xlabel("time (ms)")
    axes[1, 0].set_ylabel("soma voltage (mV)")
    axes[2, 0].set_ylabel("spike probability\n(per 1 ms bin)")
    for r in (1, 2):
        axes[r, 1].sharey(axes[r, 0])
        axes[r, 1].tick_params(labelleft=False)
    axes[1, 1].set_ylim(*axes[1, 0].get_ylim())
    # Shade the zoomed window on the full-window panels.
    for r in range(3):
        y0, y1 = axes[r, 0].get_ylim()
        axes[r, 0].add_patch(
            Rectangle(
                (zoom_ms[0], min(y0, y1)),
                zoom_ms[1] - zoom_ms[0],
                abs(y1 - y0),
                color="0.85",
                zorder=0,
                lw=0,
            )
        )
    axes[0, 1].set_title(f"zoom {zoom_ms[0]:.0f}–{zoom_ms[1]:.0f} ms", fontsize=11)
    h1, l1 = axes[1, 0].get_legend_handles_labels()
    h2, l2 = axes[2, 0].get_legend_handles_labels()
    fig.legend(
        h1 + h2[-1:],
        l1 + l2[-1:],
        loc="lower center",
        ncol=4,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )
    if title:
        fig.suptitle(title, y=0.995)
    fig.subplots_adjust(left=0.13, right=0.99, top=0.95, bottom=0.1)
    return fig


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _default_zoom(time_ms, spikes, width: float = 300.0):
    """A window of ``width`` ms holding the most true spikes (the start of the trace if none)."""
    lo = time_ms[0]
    if spikes.size:
        counts = [
            np.sum((spikes >= s - width / 3) & (spikes < s - width / 3 + width)) for s in spikes
        ]
        lo = max(time_ms[0], spikes[int(np.argmax(counts))] - width / 3)
    lo = min(lo, max(time_ms[0], time_ms[-1] + 1 - width))
    return float(lo), float(lo + width)


def from_files(dataset, predictions, best_networks, simulation: int | None = None, zoom_ms=None):
    """``dataset``: the test split netCDF; ``predictions``: predictions.nc paths of its variant
    (every depth/seed); ``best_networks``: results/summary/best_networks.csv. Shows the best
    network and the shallowest one of the same seed (only depth differs) on ``simulation``
    (default: the scored one with most output spikes)."""
    ds = C.open_dataset(dataset, "dataset")
    C.require_vars(ds, ["soma_voltage", "spike_time", "spike_simulation"], dataset)
    variant = str(ds.attrs.get("variant", ""))
    ids = [network_of(p) for p in C.as_paths(predictions)]
    same = [n for n in ids if n is not None and n[0] == variant]
    if not same:
        raise DatasetError(f"example_predictions needs a predictions file of variant {variant!r}")
    depth, seed = best_network(read_summary_table(best_networks, "best_networks"), variant)
    shallow_depth = min(d for _, d, _ in same)
    seeds = sorted(s for _, d, s in same if d == shallow_depth)
    shallow_seed = seed if seed in seeds else seeds[0]
    best_path = C.network_file(predictions, variant, depth, seed)
    shallow_path = C.network_file(predictions, variant, shallow_depth, shallow_seed)
    return from_predictions(ds, dataset, shallow_path, best_path, simulation, zoom_ms)


def from_predictions(
    ds,
    dataset,
    shallow_path,
    best_path,
    simulation: int | None = None,
    zoom_ms=None,
    labels: tuple[str, str] | None = None,
):
    """The figure for two given predictions files of the open test split ``ds`` (read from
    ``dataset``): ``shallow_path`` first, ``best_path`` last, on ``simulation`` (default: the
    scored one with most output spikes). ``labels``: the two legend names (default: each file's
    depth and seed)."""
    best = read_predictions(best_path)
    shallow = best if shallow_path == best_path else read_predictions(shallow_path)
    counts = (
        ds["spike_count"].values
        if "spike_count" in ds
        else np.bincount(ds["spike_simulation"].values, minlength=ds.sizes["simulation"])
    )
    if simulation is None:
        # The scored simulation (0..24 spikes) with most output spikes: the most to look at.
        simulation = int(np.argmax(np.where(best["included"], counts, -1)))
    # Only the scored part of the trace (after drop_first_ms) is shown.
    t_pred = best["time"]
    t_all = ds["time"].values.astype(float)
    sel = np.isin(t_all, t_pred[t_pred >= best["drop_first_ms"]])
    psel = np.isin(t_pred, t_all[sel])
    inputs = read_simulation_inputs(dataset, simulation)[:, sel]
    region, kind = C.channel_region_kind(ds)
    spk = ds["spike_time"].values[ds["spike_simulation"].values == simulation]
    if labels is None:
        labels = (f"shallowest ({p_label(shallow)})", f"best ({p_label(best)})")
    nets = {}
    for label, p in zip(labels, (shallow, best)):
        if not np.array_equal(p["time"], t_pred):
            raise DatasetError(f"{p['path']} has a different time axis from {best['path']}")
        nets[label] = (
            p["spike_probability"][simulation][psel],
            p["soma_prediction"][simulation][psel],
        )
    if shallow is best:
        nets = {f"shallowest = best ({p_label(best)})": nets[labels[1]]}
    variant = str(ds.attrs.get("variant", ""))
    title = f"{ds.attrs.get('cell', '')} / {C.variant_label(variant)}: test simulation {simulation}"
    return make(
        t_all[sel],
        inputs,
        region,
        kind,
        ds["soma_voltage"].values[simulation][sel],
        spk,
        nets,
        zoom_ms=zoom_ms,
        title=title,
    )


def p_label(p: dict) -> str:
    return f"{p['depth']} layer{'s' if p['depth'] != 1 else ''}, seed {p['seed']}"


register(
    "example_predictions",
    from_files,
    best_network_inputs("predictions", "predictions"),
    category="Predictions",
)
