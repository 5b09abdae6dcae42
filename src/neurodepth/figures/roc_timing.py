"""Figure 3: ROC curves of each variant's best network (0.25 % FP point marked, inset at low FP)
and the spike-timing cross-correlation of predicted against true spikes (±50 ms)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np

from neurodepth.core.errors import DatasetError
from neurodepth.data.predictions import network_of, read_predictions
from neurodepth.figures import _common as C
from neurodepth.figures.registry import Input, register

save = C.save

FP_MARK = 0.0025  # the paper's operating point
INSET_MAX_FPR = 0.01


def make(curves: dict, timing: dict, timing_fpr: float = 0.002, no_spikes=()):
    """ROC panel (with low-FP inset) and timing panel, one line per variant.

    curves : ``{variant: (fpr, tpr, auc, label_suffix)}`` — ROC points of that variant's best
    network; ``label_suffix`` (e.g. "3 layers") may be "".
    timing : ``{variant: (lags_ms, counts, n_true_spikes)}`` — histogram of predicted minus true
    spike bins at the ``timing_fpr`` threshold; plotted per true spike so variants compare.
    no_spikes : variants left out because their test set has no output spike (named in the legend).
    """
    C.style()
    if not curves:
        raise DatasetError("roc_timing needs at least one variant's ROC curve")
    fig, (ax_roc, ax_t) = plt.subplots(
        1, 2, figsize=(C.FIG_WIDTH_IN, 5.2), gridspec_kw={"width_ratios": (1, 1.15)}
    )
    inset = ax_roc.inset_axes([0.5, 0.25, 0.46, 0.42])
    for i, v in enumerate(C.variant_order(curves)):
        fpr, tpr, auc, suffix = curves[v]
        color = C.variant_color(v, i)
        label = f"{C.variant_label(v)}" + (f" ({suffix})" if suffix else "") + f": AUC {auc:.4f}"
        ax_roc.plot(fpr, tpr, color=color, lw=1.8, label=label)
        tp_mark = float(np.interp(FP_MARK, fpr, tpr))
        lo = fpr <= INSET_MAX_FPR * 1.001
        inset.plot(100 * fpr[lo], tpr[lo], color=color, lw=1.6)
        inset.plot([100 * FP_MARK], [tp_mark], "o", color=color, mec="k", ms=6, zorder=5)
        ax_roc.plot([FP_MARK], [tp_mark], "o", color=color, mec="k", ms=5, zorder=5)
    ax_roc.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="chance")
    ax_roc.set_xlim(0, 1)
    ax_roc.set_ylim(0, 1.01)
    ax_roc.set_xlabel("false-positive rate (fraction of non-spike 1 ms bins)")
    ax_roc.set_ylabel("true-positive rate (fraction of spike bins)")
    inset.axvline(100 * FP_MARK, color="0.4", ls=":", lw=1)
    inset.set_xlim(0, 100 * INSET_MAX_FPR)
    inset.set_ylim(0, 1)
    inset.set_xlabel("FP rate (%)", fontsize=9)
    inset.set_ylabel("TP rate", fontsize=9)
    inset.tick_params(labelsize=8)
    inset.set_title(f"low FP; dots at {100 * FP_MARK:g} %", fontsize=9)
    C.panel_label(ax_roc, "A")

    for i, v in enumerate(C.variant_order(timing)):
        lags, counts, n_true = timing[v]
        lags = np.asarray(lags, float)
        per_spike = np.asarray(counts, float) / max(float(n_true), 1.0)
        ax_t.step(
            lags,
            per_spike,
            where="mid",
            color=C.variant_color(v, i),
            lw=1.6,
            label=C.variant_label(v),
        )
    ax_t.axvline(0, color="0.5", lw=0.8, ls=":")
    ax_t.set_xlim(-50, 50)
    ax_t.set_xlabel("predicted − true spike time (ms)")
    ax_t.set_ylabel("predicted spike bins per true spike\n(per 1 ms lag)")
    ax_t.set_title(f"spike timing (threshold at {100 * timing_fpr:g} % FP)", fontsize=11)
    C.panel_label(ax_t, "B")
    fig.suptitle("Spike prediction: ROC and timing of the best network per variant")
    # One legend for both panels (same colours), carrying each variant's AUC.
    for v in no_spikes:
        ax_roc.plot(
            [], [], ls="none", label=f"{C.variant_label(v)}: no output spikes in test set, no ROC"
        )
    handles, labels = ax_roc.get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0)
    )
    fig.tight_layout(rect=(0, 0.04 + 0.05 * ((len(labels) + 1) // 2), 1, 1))
    return fig


def from_files(predictions, best_networks):
    """``predictions``: predictions.nc paths (any variants, depths, seeds); per variant the best
    network of the summary's ``best_networks`` (results/summary/best_networks.csv) is shown. The
    timing threshold is the one the evaluation used (``evaluation.timing_fpr``, stored with the
    predictions), so the title cannot disagree with the histogram."""
    paths = C.as_paths(predictions)
    if not paths:
        raise DatasetError("roc_timing needs at least one predictions file")
    variants = []
    for path in paths:
        net = network_of(path)
        if net is None:
            raise DatasetError(f"{path} is not in a .../<variant>/d<depth>_s<seed>/ folder")
        if net[0] not in variants:
            variants.append(net[0])
    curves, timing, missing, read, timing_fprs = {}, {}, [], [], set()
    for v in variants:
        p = read_predictions(C.best_file(paths, best_networks, v))
        read.append(p["path"])
        timing_fprs.add(float(json.loads(p["attrs"]["evaluation"])["timing_fpr"]))
        roc = C.roc_of(p)
        if roc is None:
            missing.append(v)
            continue
        fpr, tpr, auc = roc
        curves[v] = (fpr, tpr, auc, f"{p['depth']} layer{'s' if p['depth'] != 1 else ''}")
        if p["timing_count"] is not None:
            lags = (
                p["timing_lag"]
                if p["timing_lag"] is not None
                else np.arange(p["timing_count"].size) - p["timing_count"].size // 2
            )
            n_true = p["n_true_scored"] if np.isfinite(p["n_true_scored"]) else 1.0
            timing[v] = (lags, p["timing_count"], n_true)
    if not curves:
        raise DatasetError(
            "no predictions file has output spikes in its scored test bins: "
            + ", ".join(str(path) for path in read)
        )
    if len(timing_fprs) != 1:
        raise DatasetError(f"predictions were evaluated at different timing FPRs {timing_fprs}")
    return make(curves, timing, timing_fpr=timing_fprs.pop(), no_spikes=missing)


register(
    "roc_timing",
    from_files,
    {"predictions": Input("predictions"), "best_networks": Input("best_networks")},
    category="Predictions",
)
