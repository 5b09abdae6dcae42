"""Figure 6: the datasets — input rates against output firing, somatic voltage distributions, and
output firing rate per variant."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neurodepth.core.errors import DatasetError
from neurodepth.figures import _common as C
from neurodepth.figures.registry import Input, register

save = C.save

V_RANGE_MV = (-95.0, 45.0)
MAX_VOLTAGE_SAMPLES = 200_000  # enough for a smooth histogram, keeps the figure fast on big sets


def make(per_variant: dict):
    """``per_variant``: ``{variant: {"exc_rate_hz": (sim,), "inh_rate_hz": (sim,),
    "output_rate_hz": (sim,), "soma_voltage_mv": (n,) samples}}``."""
    C.style()
    if not per_variant:
        raise DatasetError("dataset_overview needs at least one variant's dataset")
    variants = C.variant_order(per_variant)
    fig, axes = plt.subplots(
        1, 3, figsize=(C.FIG_WIDTH_IN, 4.3), gridspec_kw={"width_ratios": (1.1, 1.1, 0.9)}
    )
    ax_r, ax_v, ax_f = axes
    bins = np.linspace(*V_RANGE_MV, 141)
    rows = []
    for i, v in enumerate(variants):
        d = per_variant[v]
        color = C.variant_color(v, i)
        exc, out = np.asarray(d["exc_rate_hz"], float), np.asarray(d["output_rate_hz"], float)
        ax_r.scatter(
            exc, out, s=18, color=color, alpha=0.75, edgecolor="none", label=C.variant_label(v)
        )
        volt = np.asarray(d["soma_voltage_mv"], float)
        ax_v.hist(
            np.clip(volt, *V_RANGE_MV),
            bins=bins,
            density=True,
            histtype="step",
            lw=1.6,
            color=color,
            label=C.variant_label(v),
        )
        rows += [dict(variant=C.variant_label(v), rate=r) for r in out]
    ax_r.set_xlabel("mean excitatory input rate\nper synapse (Hz)")
    ax_r.set_ylabel("output firing rate (Hz)")
    ax_v.set_yscale("log")
    ax_v.set_xlabel("somatic voltage (mV)")
    ax_v.set_ylabel("probability density (1/mV)")
    ax_v.set_xlim(*V_RANGE_MV)
    df = pd.DataFrame(rows)
    order = [C.variant_label(v) for v in variants]
    palette = {C.variant_label(v): C.variant_color(v, i) for i, v in enumerate(variants)}
    import warnings

    import seaborn as sns

    # the box and the points are drawn from the same table, in the same order and colours
    per_variant_rates = dict(
        data=df,
        x="variant",
        y="rate",
        hue="variant",
        order=order,
        palette=palette,
        ax=ax_f,
        legend=False,
    )
    with warnings.catch_warnings():
        # seaborn 0.13.2 passes matplotlib's deprecated ``vert``; nothing for us to change.
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated.*")
        sns.boxplot(**per_variant_rates, showfliers=False, width=0.6, boxprops={"alpha": 0.5})
    sns.stripplot(**per_variant_rates, size=3.5, jitter=0.2)
    for i, v in enumerate(variants):
        m = float(np.mean(per_variant[v]["output_rate_hz"]))
        ax_f.text(
            i,
            0.99,
            f"mean\n{m:.2g} Hz",
            transform=ax_f.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=9,
        )
    ax_f.set_xlabel("")
    ax_f.set_ylabel("output firing rate (Hz)")
    ax_f.set_xticks(range(len(order)))
    ax_f.set_xticklabels([C.variant_tick_label(v) for v in variants], fontsize=10)
    ax_f.set_ylim(top=ax_f.get_ylim()[1] * 1.18)  # room for the mean labels
    for ax, letter in zip(axes, "ABC"):
        C.panel_label(ax, letter)
    handles, labels = ax_r.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels),
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        markerscale=1.5,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def summarize_dataset(ds, path="dataset", seed: int = 0) -> dict:
    """Plain arrays for :func:`make` from one dataset (voltage subsampled to
    ``MAX_VOLTAGE_SAMPLES``)."""
    C.require_vars(ds, ["soma_voltage", "spike_count"], path)
    n_t = ds.sizes["time"]
    duration_s = n_t / 1000.0
    out_rate = (
        ds["output_rate_hz"].values
        if "output_rate_hz" in ds
        else ds["spike_count"].values / duration_s
    )
    if "exc_rate_hz" not in ds:
        raise DatasetError(f"{path} lacks variables ['exc_rate_hz'] (realised input rates)")
    exc = ds["exc_rate_hz"].values
    volt = ds["soma_voltage"].values.ravel()
    if volt.size > MAX_VOLTAGE_SAMPLES:
        volt = np.random.default_rng(seed).choice(volt, MAX_VOLTAGE_SAMPLES, replace=False)
    return {
        "exc_rate_hz": exc,
        "output_rate_hz": out_rate,
        "soma_voltage_mv": volt,
        "inh_rate_hz": ds["inh_rate_hz"].values if "inh_rate_hz" in ds else None,
    }


def from_files(datasets):
    """``datasets``: dataset netCDF paths (e.g. each variant's train split); the variant is read
    from each file's ``variant`` attribute; files of one variant are pooled."""
    paths = C.as_paths(datasets)
    pooled: dict = {}
    for p in paths:
        ds = C.open_dataset(p, "dataset")
        v = str(ds.attrs.get("variant", p))
        s = summarize_dataset(ds, p)
        if v in pooled:
            for key in ("exc_rate_hz", "output_rate_hz", "soma_voltage_mv"):
                pooled[v][key] = np.concatenate([pooled[v][key], s[key]])
        else:
            pooled[v] = s
    return make(pooled)


register(
    "dataset_overview",
    from_files,
    {"datasets": Input("dataset", "all", split="train")},
    category="Cell and data",
)
