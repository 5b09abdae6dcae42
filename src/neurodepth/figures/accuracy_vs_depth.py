"""Figure 1: accuracy against network depth, one line per variant, with the depth needed marked
and the no-training baseline each depth must beat drawn as a dashed line."""

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


def make(
    summary: pd.DataFrame,
    depth_needed: pd.DataFrame,
    cell: str | None = None,
    baseline: pd.DataFrame | None = None,
):
    """Three panels (spike AUC, TPR at 0.25 % FP, soma explained variance) against depth.

    ``summary`` is ``results/summary/metrics.csv`` (columns cell, variant, depth, metric, mean, sd);
    error bars are its SD over seeds (``sd_seeds``) where there are several seeds, else over test
    subsets.  ``depth_needed`` is ``depth_needed.csv``; each variant's depth needed is drawn as a
    star on the AUC panel (its 5-95 % bootstrap interval and FCI go in the legend), and as a
    dotted vertical line on the other panels.  ``baseline`` is ``baseline.csv``: each variant's
    no-training baseline, a dashed horizontal line of the variant's colour on every panel.
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
    if baseline is not None and "cell" in baseline.columns:
        baseline = baseline[baseline["cell"] == cell]
    several_seeds = "sd_seeds" in summary.columns and summary["sd_seeds"].notna().any()

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
            verdict = str(need["verdict"].iloc[0]) if "verdict" in need and len(need) else ""
            if not need.empty and verdict.startswith("none"):
                label_v += ": no depth beats the baseline"
                need = need.iloc[0:0]
            elif not need.empty and pd.isna(need["depth_needed"].iloc[0]):
                label_v += ": depth needed undefined (no test spikes)"
                need = need.iloc[0:0]
            if not need.empty:
                # The legend carries the number and its bootstrap interval; the plot the position.
                d = int(need["depth_needed"].iloc[0])
                lo = need["depth_needed_p05"].iloc[0]
                hi = need["depth_needed_p95"].iloc[0]
                hi_text = "none" if pd.isna(hi) else f"{hi:g}"
                label_v += f": needs {d}" + (
                    f" [{lo:g}–{hi_text}]" if (lo, hi) != (d, d) else " [exact]"
                )
            fci_row = depth_needed[depth_needed["variant"] == v]
            if "fci" in fci_row and len(fci_row) and np.isfinite(fci_row["fci"].iloc[0]):
                f = fci_row.iloc[0]
                label_v += f", FCI {f['fci']:.2f} [{f['fci_p05']:.2f}–{f['fci_p95']:.2f}]"
            # Small horizontal offsets keep overlapping error bars apart.
            x = r["depth"].to_numpy(float) + (i - (n_var - 1) / 2) * 0.06
            ax.errorbar(
                x,
                r["mean"],
                yerr=(r["sd_seeds"] if several_seeds else r["sd"]).fillna(0),
                color=C.variant_color(v, i),
                marker="o",
                ms=5,
                lw=1.8,
                capsize=3,
                label=label_v,
            )
            if baseline is not None:
                b = baseline[(baseline["variant"] == v) & (baseline["metric"] == metric)]
                if not b.empty and np.isfinite(b["mean"].iloc[0]):
                    ax.axhline(
                        float(b["mean"].iloc[0]),
                        color=C.variant_color(v, i),
                        ls="--",
                        lw=1.3,
                        alpha=0.9,
                        zorder=1,
                        label="_baseline",
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
    extra_handles, extra_labels = [], []
    if baseline is not None and not baseline.empty:
        extra_handles.append(Line2D([], [], color="0.4", ls="--", lw=1.3))
        extra_labels.append("no-training baseline (filtered input counts, fitted)")
    bars = Line2D([], [], color="0.4", marker="|", ms=10, ls="none")
    extra_handles.append(bars)
    extra_labels.append(
        "error bars: SD over training seeds"
        if several_seeds
        else "error bars: SD over test subsets"
    )
    star_label = "depth needed [5–95 % bootstrap]" + (
        f":\nsmallest depth with AUC within {margin:g} of best" if margin is not None else ""
    )
    fig.legend(
        [h for h, _ in keep] + [star] + extra_handles,
        [lab for _, lab in keep] + [star_label] + extra_labels,
        loc="lower center",
        ncol=2,
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.suptitle(f"Prediction accuracy against network depth ({cell})")
    n_rows = (len(keep) + 1 + len(extra_handles) + 1) // 2
    fig.tight_layout(rect=(0, 0.07 + 0.05 * n_rows, 1, 1))
    return fig


def from_files(summary_metrics, depth_needed, baseline=None, cell: str | None = None):
    """Load ``results/summary/metrics.csv``, ``depth_needed.csv`` and ``baseline.csv`` and call
    :func:`make`."""
    return make(
        read_summary_table(summary_metrics, "metrics"),
        read_summary_table(depth_needed, "depth_needed"),
        cell=cell,
        baseline=None if baseline is None else read_summary_table(baseline, "baseline"),
    )


register(
    "accuracy_vs_depth",
    from_files,
    {
        "summary_metrics": Input("summary_metrics"),
        "depth_needed": Input("depth_needed"),
        "baseline": Input("baseline_summary"),
    },
    category="Accuracy against depth",
)
