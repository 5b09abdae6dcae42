"""Accuracy against model size for every network family: one panel per variant, spike AUC
against trainable parameters (log axis), one line per family, the TCN's depths marked, the
smallest model of each family within the margin of the best ringed, networks that failed the
held-out BCE check (did not learn) hollow, and the no-training baseline dashed. Drawn when the
config compares families (config key ``families``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from neurodepth.core.errors import DatasetError
from neurodepth.figures import _common as C
from neurodepth.figures.registry import Input, register
from neurodepth.learning.networks import FAMILIES

COMPARISON_COLUMNS = ("cell", "variant", "family", "size", "n_parameters", "spike_auc")
_FAMILY_PALETTE = sns.color_palette("dark", 8)
_MARKERS = "osD^vP*X"


def _size_label(family: str) -> str:
    return FAMILIES[family].size_label if family in FAMILIES else "size"


def make(comparison: pd.DataFrame, smallest: pd.DataFrame, cell: str | None = None):
    """``comparison``: ``family_comparison.csv``; ``smallest``: ``smallest_models.csv``."""
    C.style()
    missing = [c for c in COMPARISON_COLUMNS if c not in comparison.columns]
    if missing:
        raise DatasetError(f"family comparison table lacks columns {missing}")
    cell = cell or sorted(comparison["cell"].unique())[0]
    comparison = comparison[comparison["cell"] == cell]
    smallest = smallest[smallest["cell"] == cell] if "cell" in smallest else smallest
    variants = C.variant_order(comparison["variant"].unique())
    families = list(dict.fromkeys(comparison.sort_values("family")["family"]))
    families.sort(
        key=lambda f: (f not in FAMILIES, list(FAMILIES).index(f) if f in FAMILIES else 0)
    )
    style = {f: (_FAMILY_PALETTE[i % 8], _MARKERS[i % 8]) for i, f in enumerate(families)}

    fig, axes = plt.subplots(
        1, len(variants), figsize=(max(4.2 * len(variants), 6.0), 4.4), squeeze=False
    )
    for ax, variant in zip(axes[0], variants, strict=True):
        rows = comparison[comparison["variant"] == variant]
        if not rows["spike_auc"].notna().any():
            ax.text(
                0.5,
                0.5,
                "spike AUC undefined:\nno output spikes in the test set",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.3",
            )
            ax.set_xticks([])
            ax.set_yticks([])
        for family in families:
            r = rows[rows["family"] == family].sort_values("n_parameters")
            if r.empty:
                continue
            color, marker = style[family]
            y = r["spike_auc"].to_numpy(float)
            err = np.vstack(
                [y - r["spike_auc_p05"].to_numpy(float), r["spike_auc_p95"].to_numpy(float) - y]
            )
            ax.errorbar(
                r["n_parameters"],
                y,
                yerr=np.clip(err, 0, None),
                color=color,
                marker=marker,
                ms=6,
                lw=1.6,
                capsize=3,
            )
            if "learned" in r:
                failed = r[~r["learned"].astype(bool)]
                ax.scatter(
                    failed["n_parameters"],
                    failed["spike_auc"],
                    s=40,
                    marker=marker,
                    facecolors="white",
                    edgecolors=color,
                    linewidths=1.5,
                    zorder=6,
                )
            if family == "tcn":
                for _, row in r.iterrows():
                    ax.annotate(
                        f"d{int(row['size'])}",
                        (row["n_parameters"], row["spike_auc"]),
                        textcoords="offset points",
                        xytext=(4, -12),
                        fontsize=9,
                        color=color,
                    )
            pick = smallest[(smallest["variant"] == variant) & (smallest["family"] == family)]
            if not pick.empty and pd.notna(pick["n_parameters"].iloc[0]):
                chosen = r[r["n_parameters"] == pick["n_parameters"].iloc[0]]
                ax.scatter(
                    chosen["n_parameters"],
                    chosen["spike_auc"],
                    s=220,
                    facecolors="none",
                    edgecolors=color,
                    linewidths=1.8,
                    zorder=5,
                )
        base = smallest.loc[smallest["variant"] == variant, "baseline_auc"]
        if not base.empty and pd.notna(base.iloc[0]):
            ax.axhline(base.iloc[0], color="0.35", ls="--", lw=1.2)
        best = smallest.loc[smallest["variant"] == variant, ["best_auc", "margin"]]
        if not best.empty and pd.notna(best.iloc[0]["best_auc"]):
            top, margin = best.iloc[0]
            ax.axhspan(top - margin, top, color="0.85", zorder=0)
        elif rows["spike_auc"].notna().any():
            ax.text(
                0.5,
                0.96,
                "no network learned: nothing to compare",
                ha="center",
                va="top",
                transform=ax.transAxes,
                color="0.3",
            )
        if rows["spike_auc"].notna().any():
            ax.set_xscale("log")
        ax.set_xlabel("trainable parameters (log scale)")
        ax.set_title(C.variant_label(variant))
        ax.grid(True, which="major", color="0.92")
    axes[0][0].set_ylabel("test spike prediction AUC\n(mean over seeds × test subsets)")

    handles = [
        Line2D(
            [],
            [],
            color=style[f][0],
            marker=style[f][1],
            lw=1.6,
            label=f"{f} (size: {_size_label(f)})",
        )
        for f in families
    ]
    handles += [
        Line2D(
            [],
            [],
            color="none",
            marker="o",
            ms=13,
            markerfacecolor="none",
            markeredgecolor="0.2",
            label="smallest within margin of the best",
        ),
        Line2D(
            [],
            [],
            color="none",
            marker="o",
            markerfacecolor="white",
            markeredgecolor="0.2",
            label="fails the held-out BCE check (did not learn)",
        ),
        Line2D([], [], color="0.35", ls="--", label="no-training baseline"),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label="within the margin of the best model"),
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=3, frameon=False, bbox_to_anchor=(0.5, -0.01)
    )
    fig.suptitle(
        f"Accuracy against model size per network family ({cell}); "
        "error bars: 5–95 % bootstrap over seeds and test subsets"
    )
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def from_files(family_comparison, smallest_models, cell: str | None = None):
    """Load ``family_comparison.csv`` and ``smallest_models.csv`` and call :func:`make`."""
    return make(pd.read_csv(family_comparison), pd.read_csv(smallest_models), cell=cell)


register(
    "auc_vs_parameters",
    from_files,
    {
        "family_comparison": Input("family_comparison"),
        "smallest_models": Input("smallest_models"),
    },
    category="Network families",
)
