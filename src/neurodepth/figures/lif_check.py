"""Figure 7: the integrate-and-fire check — the I&F voltage against the shallowest network's
prediction, and that network's learned temporal filter against the I&F's exp(-t/20 ms) kernel."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import read_predictions
from neurodepth.figures import _common as C
from neurodepth.figures.registry import Input, register

save = C.save

LIF_TAU_MS = 20.0  # the paper's I&F synaptic kernel exp(-t/20 ms)


TAU_GRID_MS = np.arange(1.0, 200.5, 0.5)


def fit_exponential(profile: np.ndarray, lag_ms: np.ndarray, taus=TAU_GRID_MS):
    """Least-squares fit ``a * exp(-lag / tau)`` over a tau grid; returns (a, tau, r2)."""
    profile = np.asarray(profile, float)
    best = (0.0, float("nan"), -np.inf)
    ss_tot = float(np.sum((profile - profile.mean()) ** 2)) or 1e-30
    for tau in taus:
        basis = np.exp(-lag_ms / tau)
        a = float(basis @ profile / (basis @ basis))
        r2 = 1.0 - float(np.sum((profile - a * basis) ** 2)) / ss_tot
        if r2 > best[2]:
            best = (a, float(tau), r2)
    return best


def make(
    time_ms,
    soma_true_mv,
    soma_pred_mv,
    spike_times_ms,
    spike_probability,
    weights,
    channel_kind,
    window_ms: float = 1000.0,
    title: str = "",
):
    """Left: true vs predicted soma voltage and spike probability over ``window_ms``; right: mean
    excitatory and inhibitory first-layer weight (filter with the largest norm) against time before
    the output, with the best-fitting exponential and its time constant."""
    C.style()
    t = np.asarray(time_ms, float)
    sel = t < t[0] + window_ms
    weights = np.asarray(weights, float)
    kind = np.asarray(channel_kind).astype(str)
    if weights.ndim != 3 or weights.shape[1] != kind.size:
        raise DatasetError(f"weights shape {weights.shape} does not match {kind.size} channels")
    fig = plt.figure(figsize=(C.FIG_WIDTH_IN, 5.6))
    gs = fig.add_gridspec(
        2, 2, width_ratios=(2.2, 1), height_ratios=(1.4, 1), hspace=0.12, wspace=0.3
    )
    ax_v = fig.add_subplot(gs[0, 0])
    ax_p = fig.add_subplot(gs[1, 0], sharex=ax_v)
    ax_w = fig.add_subplot(gs[:, 1])
    ax_v.plot(t[sel], np.asarray(soma_true_mv)[sel], color="k", lw=1.0, label="I&F neuron")
    ax_v.plot(
        t[sel],
        np.asarray(soma_pred_mv)[sel],
        color=C.VARIANT_COLORS["full"],
        lw=1.2,
        alpha=0.9,
        label="network prediction",
    )
    ax_v.set_ylabel("voltage (mV)")
    ax_v.tick_params(labelbottom=False)
    spikes = np.asarray(spike_times_ms, float)
    spikes = spikes[(spikes >= t[sel][0]) & (spikes <= t[sel][-1])]
    ax_p.plot(t[sel], np.asarray(spike_probability)[sel], color=C.VARIANT_COLORS["full"], lw=1.0)
    ax_p.plot(
        spikes, np.full(spikes.size, 1.08), "v", color="k", ms=5, clip_on=False, label="I&F spikes"
    )
    ax_p.set_ylim(-0.02, 1.12)
    ax_p.set_ylabel("spike probability\n(per 1 ms bin)")
    ax_p.set_xlabel("time (ms)")
    # One legend row above panel A for the traces and the spike markers of both panels.
    h1, l1 = ax_v.get_legend_handles_labels()
    h2, l2 = ax_p.get_legend_handles_labels()
    ax_v.legend(
        h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, frameon=False
    )

    f = int(C.filter_order(weights)[0])
    k = weights.shape[2]
    lag = np.arange(k)[::-1].astype(float)  # ms before the output of weight index j
    fine = np.linspace(0, k - 1, 200)
    for kd, name in (("exc", "excitatory"), ("inh", "inhibitory")):
        if not np.any(kind == kd):
            continue
        prof = weights[f, kind == kd].mean(axis=0)
        a, tau, r2 = fit_exponential(prof, lag)
        if kd == "exc":
            # The I&F's own kernel at the fitted excitatory amplitude, as the reference shape.
            ax_w.plot(
                -fine,
                a * np.exp(-fine / LIF_TAU_MS),
                color="0.45",
                ls="--",
                lw=1.4,
                label=f"I&F kernel exp(−t/{LIF_TAU_MS:g} ms)",
            )
        ax_w.plot(-lag, prof, "o-", color=C.KIND_COLORS[kd], ms=3, lw=1.4, label=f"{name} (mean)")
        ax_w.plot(
            -fine,
            a * np.exp(-fine / tau),
            color=C.KIND_COLORS[kd],
            ls=":",
            lw=1.6,
            label=f"fit: τ = {tau:.0f} ms (R² {r2:.2f})",
        )
    ax_w.axhline(0, color="0.6", lw=0.7)
    ax_w.set_xlabel("time relative to output (ms)")
    ax_w.set_ylabel("first-layer weight (a.u.)")
    ax_w.set_title(f"learned filter {f} (largest norm)", fontsize=11)
    ax_w.legend(loc="upper left", frameon=False, fontsize=9)
    for ax, letter in zip((ax_v, ax_p, ax_w), "ABC"):
        C.panel_label(ax, letter)
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.84 if title else 0.9, bottom=0.12)
    return fig


def from_files(
    predictions, checkpoint, dataset, simulation: int | None = None, window_ms: float = 1000.0
):
    """``predictions``/``checkpoint``: the I&F network to show (e.g. the lif variant's depth-1
    network); ``dataset``: the lif test split (true voltage and spikes, channel kinds)."""
    pred = read_predictions(predictions)
    ds = C.open_dataset(dataset, "dataset")
    C.require_vars(ds, ["soma_voltage", "spike_time", "spike_simulation"], dataset)
    weights, meta = C.first_layer_weights(checkpoint)
    _, kind = C.channel_region_kind(ds)
    n_sim = ds.sizes["simulation"]
    if simulation is None:
        counts = np.bincount(ds["spike_simulation"].values.astype(int), minlength=n_sim)
        simulation = int(np.argmax(np.where(pred["included"], counts, -1)))
    if not 0 <= simulation < n_sim:
        raise DatasetError(f"simulation {simulation} not in {dataset} ({n_sim} simulations)")
    t_all = ds["time"].values.astype(float)
    # Only the scored part of the trace (after drop_first_ms) is shown.
    sel = np.isin(t_all, pred["time"][pred["time"] >= pred["drop_first_ms"]])
    psel = np.isin(pred["time"], t_all[sel])
    spikes = ds["spike_time"].values[ds["spike_simulation"].values == simulation]
    arch = meta.get("architecture", {})
    title = (
        f"Integrate-and-fire check: {arch.get('depth', '?')}-layer network, "
        f"{arch.get('width', '?')} unit{'s' if arch.get('width') != 1 else ''} per layer "
        f"(test simulation {simulation})"
    )
    return make(
        t_all[sel],
        ds["soma_voltage"].values[simulation][sel],
        pred["soma_prediction"][simulation][psel],
        spikes,
        pred["spike_probability"][simulation][psel],
        weights,
        kind,
        window_ms=window_ms,
        title=title,
    )


# The one-unit network of the shallowest depth is the check (an I&F neuron is one unit), not the
# best network.
register(
    "lif_check",
    from_files,
    {
        "predictions": Input("predictions", "lif", networks="shallowest"),
        "checkpoint": Input("checkpoint", "lif", networks="shallowest"),
        "dataset": Input("dataset", "lif", split="test"),
    },
    category="Integrate-and-fire check",
    requires_variants=("lif",),
)
