"""Figure 1: accuracy against network depth, one line per variant, with the depth needed marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from neurodepth.analysis.summary import read_summary_table
from neurodepth.core.errors import DatasetError
from neurodepth.figures import _common as C
from neurodepth.figures.registry import Input, register

save = C.save

PANELS = [
    ("spike_auc", "spike prediction AUC\n(ROC area, 0.5 = chance)"),
    ("tpr_at_fpr_0.0025", "spike TP rate at 0.25 % FP\n(fraction of output spikes)"),
    ("soma_explained_variance", "soma voltage explained\nvariance (fraction)"),
]


def make(summary: pd.DataFrame, depth_needed: pd.DataFrame, cell: str | None = None):
    """Three panels (spike AUC, TPR at 0.25 % FP, soma explained variance) against depth.

    ``summary`` is ``results/summary/metrics.csv`` (columns cell, variant, depth, metric, mean, sd);
    error bars are its SD over seeds x test subsets.  ``depth_needed`` is ``depth_needed.csv``;
    each variant's depth needed is drawn as a star on the AUC panel with its 5-95 % bootstrap
    interval as a horizontal bar, and as a dotted vertical line on the other panels.
    """
    C.style()
    for col in ("cell", "variant", "depth", "metric", "mean", "sd"):
        if col not in summary.columns:
            raise DatasetError(f"summary metrics table lacks column {col!r}")
    cells = sorted(summary["cell"].unique())
    cell = cell or cells[0]
    summary = summary[summary["cell"] == cell]
    if "cell" in depth_needed.columns:
        depth_needed = depth_needed[depth_needed["cell"] == cell]
    variants = C.variant_order(summary["variant"].unique())

    fig, axes = plt.subplots(1, len(PANELS), figsize=(C.FIG_WIDTH_IN, 3.9), sharex=True)
    n_var = len(variants)
    for p, (ax, (metric, label)) in enumerate(zip(axes, PANELS)):
        rows = summary[summary["metric"] == metric]
        for i, v in enumerate(variants):
            r = rows[rows["variant"] == v].sort_values("depth")
            if r.empty:
                continue
            need = depth_needed[depth_needed["variant"] == v]
            label_v = C.variant_label(v)
            if not need.empty and pd.isna(need["depth_needed"].iloc[0]):
                label_v += ": depth needed undefined (no test spikes)"
                need = need.iloc[0:0]
            if not need.empty:
                # The legend carries the number and its bootstrap interval; the plot the position.
                d = int(need["depth_needed"].iloc[0])
                lo = need["depth_needed_p05"].iloc[0]
                hi = need["depth_needed_p95"].iloc[0]
                label_v += f": needs {d}" + (
                    f" [{lo:g}–{hi:g}]" if (lo, hi) != (d, d) else " [exact]"
                )
            # Small horizontal offsets keep overlapping error bars apart.
            x = r["depth"].to_numpy(float) + (i - (n_var - 1) / 2) * 0.06
            ax.errorbar(
                x,
                r["mean"],
                yerr=r["sd"].fillna(0),
                color=C.variant_color(v, i),
                marker="o",
                ms=5,
                lw=1.8,
                capsize=3,
                label=label_v,
            )
            if need.empty:
                continue
            if p == 0:
                on = np.isclose(r["depth"].to_numpy(float), d)
                if on.any():
                    ax.plot(
                        x[on],
                        r["mean"].to_numpy()[on],
                        marker="*",
                        ms=17,
                        mec="k",
                        mew=0.8,
                        color=C.variant_color(v, i),
                        ls="none",
                        zorder=5,
                        label="_nolegend_",
                    )
            else:
                ax.axvline(d, color=C.variant_color(v, i), ls=":", lw=1.4, zorder=0)
        ax.set_ylabel(label)
        ax.set_xlabel("network depth (hidden layers)")
        ax.grid(axis="y", alpha=0.3)
        C.panel_label(ax, "ABC"[p])
    depths = sorted(summary["depth"].unique())
    axes[0].set_xticks(depths)
    handles, labels = axes[0].get_legend_handles_labels()
    # Only the variant lines (not the star markers) go in the legend, plus one star entry.
    keep = [(h, lab) for h, lab in zip(handles, labels) if not lab.startswith("_")]
    margin = (
        depth_needed["margin"].iloc[0] if "margin" in depth_needed and len(depth_needed) else None
    )
    star = Line2D([], [], marker="*", ms=14, mec="k", color="0.5", ls="none")
    star_label = "depth needed [5–95 % bootstrap]" + (
        f":\nsmallest depth with AUC within {margin:g} of best" if margin is not None else ""
    )
    fig.legend(
        [h for h, _ in keep] + [star],
        [lab for _, lab in keep] + [star_label],
        loc="lower center",
        ncol=2,
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.suptitle(f"Prediction accuracy against network depth ({cell})")
    fig.tight_layout(rect=(0, 0.07 + 0.05 * ((len(keep) + 2) // 2), 1, 1))
    return fig


def from_files(summary_metrics, depth_needed, cell: str | None = None):
    """Load ``results/summary/metrics.csv`` and ``depth_needed.csv`` and call :func:`make`."""
    return make(
        read_summary_table(summary_metrics, "metrics"),
        read_summary_table(depth_needed, "depth_needed"),
        cell=cell,
    )


register(
    "accuracy_vs_depth",
    from_files,
    {"summary_metrics": Input("summary_metrics"), "depth_needed": Input("depth_needed")},
    category="Accuracy against depth",
)
