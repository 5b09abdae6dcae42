"""Evaluation protocol of the paper on a test dataset; tidy metrics CSV + predictions netCDF.

1. Predict every full trace with overlapping windows: each window is at least twice the receptive
   field long and only outputs with a full receptive field of real history are kept (apart from
   the very start of the trace, which is dropped below anyway).
2. Drop the first ``drop_first_ms`` of every simulation; keep simulations with
   ``min_output_spikes..max_output_spikes`` output spikes (0..24).
3. Pool the remaining 1 ms bins: spike AUC, TPR at each FPR of ``fpr_points``, d'; soma explained
   variance, RMSE, MAE raw and realigned (in mV, against the soma voltage clipped at -55 mV).
   Also the spike BCE per bin and that of the constant-rate predictor (rate = the training set's
   output spikes per bin, stored in the checkpoint) and their ratio; a network whose ratio on all
   kept simulations is not below ``max_bce_ratio`` is flagged (column ``fails_bce_check``).
4. The same metrics on ``subsets`` random subsets of ``subset_fraction`` of the kept simulations
   (seeded by ``subset_seed``); their SD is the spread the paper reports.
5. ROC curve (resampled) and the spike-timing histogram at ``timing_fpr`` go into predictions.nc.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from neurodepth.analysis.metrics import (
    roc_points_for_plot,
    soma_metrics,
    spike_metrics,
    spike_timing_histogram,
    threshold_at_fpr,
)
from neurodepth.core.atomic import write_csv_atomic
from neurodepth.core.errors import ConfigError, DatasetError
from neurodepth.core.provenance import provenance_attrs
from neurodepth.data.predictions import write_predictions
from neurodepth.data.reader import DatasetReader

log = logging.getLogger(__name__)


def window_plan(duration: int, window: int, receptive_field: int) -> list[tuple[int, int]]:
    """``(start, keep_from)`` per window of length ``window``.

    A window covers ``[start, start+window)`` and contributes outputs ``[keep_from,
    start+window)``; the kept ranges tile ``[0, duration)``."""
    if duration <= window:
        return [(0, 0)]
    plan = [(0, 0)]
    kept = window
    while kept < duration:
        start = min(kept - (receptive_field - 1), duration - window)
        plan.append((start, kept))
        kept = start + window
    return plan


@torch.inference_mode()
def predict_trace(model: nn.Module, inputs: np.ndarray, window_ms: int = 400, device="cpu"):
    """Spike probability and soma output (model units) for one full trace (channels, time)."""
    rf = model.receptive_field
    duration = inputs.shape[1]
    window = min(duration, max(int(window_ms), 2 * rf))
    plan = window_plan(duration, window, rf)
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    batch = torch.stack([x[:, s : s + window] for s, _ in plan]).to(device)
    out = model(batch)
    prob_w = torch.sigmoid(out["spike_logit"].float()).cpu().numpy()
    soma_w = out["soma"].float().cpu().numpy()
    prob = np.empty(duration, np.float32)
    soma = np.empty(duration, np.float32)
    for i, (s, keep) in enumerate(plan):
        prob[keep : s + window] = prob_w[i, keep - s :]
        soma[keep : s + window] = soma_w[i, keep - s :]
    return prob, soma


# float32 probabilities saturate at 0 and 1; clip so that one confident miss costs a large but
# finite log loss
_BCE_EPS = 1e-7


def spike_bce(spike_target: np.ndarray, spike_prob) -> float:
    """Mean binary cross-entropy per bin (nats) of probabilities ``spike_prob`` (an array like
    the target, or one constant rate) for 0/1 targets."""
    y = np.asarray(spike_target, dtype=np.float64)
    p = np.clip(
        np.broadcast_to(np.asarray(spike_prob, dtype=np.float64), y.shape), _BCE_EPS, 1 - _BCE_EPS
    )
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def all_metrics(
    spike_target: np.ndarray,
    spike_prob: np.ndarray,
    soma_truth: np.ndarray,
    soma_pred: np.ndarray,
    fpr_points,
    train_rate: float | None = None,
) -> dict[str, float]:
    """Every protocol metric for arrays (simulation, time) already cut to the scored bins."""
    if spike_target.min() == spike_target.max():
        out = {
            "spike_auc": np.nan,
            **{f"tpr_at_fpr_{f:g}": np.nan for f in fpr_points},
            "d_prime": np.nan,
        }
    else:
        out = spike_metrics(spike_target, spike_prob, fpr_points)
    out.update(soma_metrics(soma_truth, soma_pred))
    out["spike_bce"] = spike_bce(spike_target, spike_prob)
    rate = np.nan if train_rate is None else float(train_rate)
    out["constant_rate_bce"] = spike_bce(spike_target, rate) if np.isfinite(rate) else np.nan
    out["spike_bce_ratio"] = (
        out["spike_bce"] / out["constant_rate_bce"] if out["constant_rate_bce"] > 0 else np.nan
    )
    return out


def evaluate_arrays(
    spike_target, spike_prob, soma_truth, soma_pred, spike_count, cfg: dict, train_rate=None
):
    """Apply the protocol to full-trace arrays (simulation, time). Returns (rows, extras).

    ``cfg``: the config's whole ``evaluation`` section (the schema supplies every default).
    ``train_rate``: the training set's output spikes per bin (the constant-rate predictor); None
    (a checkpoint from before it was stored) gives NaN for the BCE comparison.
    """
    drop = int(cfg["drop_first_ms"])
    included = (spike_count >= int(cfg["min_output_spikes"])) & (
        spike_count <= int(cfg["max_output_spikes"])
    )
    idx = np.nonzero(included)[0]
    if idx.size == 0:
        raise DatasetError(
            f"no simulation has {cfg['min_output_spikes']}..{cfg['max_output_spikes']} "
            f"output spikes"
        )
    if drop >= spike_target.shape[1]:
        raise ConfigError(
            f"evaluation.drop_first_ms={drop} >= trace length {spike_target.shape[1]}"
        )

    def cut(a, sel):
        return a[sel, drop:]

    rows = []
    target_kept, prob_kept = cut(spike_target, idx), cut(spike_prob, idx)
    full = all_metrics(
        target_kept,
        prob_kept,
        cut(soma_truth, idx),
        cut(soma_pred, idx),
        cfg["fpr_points"],
        train_rate,
    )
    rows += [(m, "all", v) for m, v in full.items()]
    rng = np.random.default_rng(int(cfg["subset_seed"]))
    n_sub = max(1, int(round(float(cfg["subset_fraction"]) * idx.size)))
    for k in range(int(cfg["subsets"])):
        sel = np.sort(rng.choice(idx, size=n_sub, replace=False))
        sub = all_metrics(
            cut(spike_target, sel),
            cut(spike_prob, sel),
            cut(soma_truth, sel),
            cut(soma_pred, sel),
            cfg["fpr_points"],
            train_rate,
        )
        rows += [(m, str(k), v) for m, v in sub.items()]
    ratio = full["spike_bce_ratio"]
    # None when it cannot be judged: no training rate, or no output spike among the kept bins
    # (then any predictor below the training rate beats the constant one without learning)
    judged = np.isfinite(ratio) and bool(target_kept.any())
    extras = {
        "included": included,
        "fails_bce_check": bool(ratio >= cfg["max_bce_ratio"]) if judged else None,
    }
    if target_kept.min() != target_kept.max():
        extras["roc_fpr"], extras["roc_tpr"] = roc_points_for_plot(target_kept, prob_kept)
        thr = threshold_at_fpr(target_kept, prob_kept, float(cfg["timing_fpr"]))
        true_bins = [np.nonzero(r)[0] for r in target_kept]
        pred_bins = [np.nonzero(r >= thr)[0] for r in prob_kept]
        extras["lag_ms"], extras["timing_count"] = spike_timing_histogram(
            true_bins, pred_bins, int(cfg["timing_max_lag_ms"])
        )
        extras["timing_threshold"] = thr
    return rows, extras


def prediction_arrays(spike_probability, soma_prediction, spike_target, soma_truth) -> dict:
    """The four (simulation, time) traces a predictions file holds, by their variable names."""
    return dict(
        spike_probability=spike_probability,
        soma_prediction=soma_prediction,
        spike_target=spike_target,
        soma_truth=soma_truth,
    )


def evaluate_baseline(
    train_path,
    test_path,
    cfg: dict,
    tau_grid_ms,
    meta: dict,
    out_metrics,
    out_predictions,
    max_train_simulations: int | None = None,
):
    """Fit the no-training baseline (``neurodepth.analysis.baseline``) on ``train_path`` and score
    it on ``test_path`` exactly like a network: same metrics.csv and predictions.nc layout, and
    its spike BCE compared with the constant-rate predictor of the training split."""
    from neurodepth.analysis.baseline import fit_baseline, predict, read_counts
    from neurodepth.learning.datamodule import spike_rate_per_bin

    train = read_counts(train_path, max_train_simulations)
    fit = fit_baseline(train, tau_grid_ms, cfg["drop_first_ms"])
    test = read_counts(test_path)
    prob, soma_pred = predict(fit, test.counts)
    with DatasetReader(train_path) as reader:
        train_rate = spike_rate_per_bin(reader, cfg["drop_first_ms"])
    rows, extras = evaluate_arrays(
        test.spike_target,
        prob,
        test.soma_truth,
        soma_pred,
        test.spike_count,
        cfg,
        train_rate=train_rate,
    )
    made_by = dict(
        train_path=str(train_path),
        test_path=str(test_path),
        model_family="no_training_baseline",
        model_n_parameters=6,  # (b, w_exc, w_inh) for the spike and for the soma readout
        **fit.to_attrs(),
    )
    arrays = prediction_arrays(prob, soma_pred, test.spike_target, test.soma_truth)
    return write_evaluation(
        rows, extras, arrays, test.spike_count, cfg, meta, made_by, out_metrics, out_predictions
    )


def evaluate_checkpoint(
    ckpt,
    test_path,
    evaluation_cfg: dict,
    out_metrics,
    out_predictions,
    meta: dict | None = None,
    device: str | None = None,
) -> pd.DataFrame:
    """Score one checkpoint on a test dataset; write metrics CSV and predictions netCDF atomically.

    ``meta`` supplies the identifying columns ``cell, variant, depth, seed`` (missing ones are
    taken from the checkpoint / dataset attributes). ``evaluation_cfg``: the config's whole
    ``evaluation`` section. Returns the tidy metrics table.
    """
    from neurodepth.learning.checkpoints import load_model  # late: it imports Lightning

    cfg = evaluation_cfg
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, mmeta = load_model(ckpt, map_location="cpu")
    model.to(device)
    bias = mmeta["soma_bias_mv"]
    reader = DatasetReader(test_path, soma_bias_mv=bias)
    if mmeta.get("data_identity"):
        from neurodepth.learning.datamodule import check_compatible

        check_compatible(
            {
                "training": (f"of checkpoint {ckpt}", mmeta["data_identity"]),
                "test": (test_path, reader.attrs),
            }
        )
    if reader.n_channels != mmeta["n_inputs"]:
        raise DatasetError(
            f"{test_path} has {reader.n_channels} input channels, checkpoint {ckpt} expects "
            f"{mmeta['n_inputs']}"
        )
    n, T = reader.n_simulations, reader.duration_ms
    prob = np.empty((n, T), np.float32)
    soma_pred = np.empty((n, T), np.float32)
    spike_target = np.empty((n, T), np.int8)
    soma_truth = np.empty((n, T), np.float32)
    for sim in range(n):
        x, spk, soma_t = reader.full(sim)
        prob[sim], s = predict_trace(model, x, int(cfg["window_ms"]), device)
        soma_pred[sim] = s + bias  # back to mV
        spike_target[sim] = spk
        soma_truth[sim] = soma_t + bias  # soma voltage clipped at -55 mV, in mV
    try:
        rows, extras = evaluate_arrays(
            spike_target,
            prob,
            soma_truth,
            soma_pred,
            reader.spike_count,
            cfg,
            train_rate=mmeta.get("train_spike_rate"),
        )
    except DatasetError as err:
        raise DatasetError(f"{test_path}: {err}") from err

    attrs = reader.attrs
    log.info(
        "%s: scored %d of %d simulations (%d..%d output spikes)",
        test_path,
        int(extras["included"].sum()),
        n,
        int(cfg["min_output_spikes"]),
        int(cfg["max_output_spikes"]),
    )
    meta = dict(meta or {})
    ident = {
        "cell": meta.get("cell", attrs.get("cell", "")),
        "variant": meta.get("variant", attrs.get("variant", "")),
        "depth": int(meta.get("depth", mmeta["architecture"].get("depth", 0))),
        "seed": int(meta["seed"]) if meta.get("seed") is not None else int(mmeta.get("seed") or 0),
    }
    df = write_evaluation(
        rows,
        extras,
        prediction_arrays(prob, soma_pred, spike_target, soma_truth),
        reader.spike_count,
        cfg,
        ident,
        dict(
            checkpoint=str(ckpt),
            test_path=str(test_path),
            model_n_parameters=mmeta["n_parameters"],
            model_receptive_field=mmeta["receptive_field"],
            model_macs_per_ms=mmeta["macs_per_ms"],
            model_family=mmeta["family"],
            **{f"model_{key}": value for key, value in mmeta["architecture"].items()},
            model_global_step=mmeta["global_step"],
        ),
        out_metrics,
        out_predictions,
    )
    reader.close()
    return df


def write_evaluation(
    rows,
    extras,
    arrays: dict,
    spike_count,
    cfg: dict,
    ident: dict,
    attrs: dict,
    out_metrics,
    out_predictions,
) -> pd.DataFrame:
    """Write ``evaluate_arrays``' result as metrics.csv and predictions.nc, for any predictor.

    ``arrays``: full-trace ``spike_probability``, ``soma_prediction`` (mV), ``spike_target`` and
    ``soma_truth`` (mV), each (simulation, time); ``ident``: ``cell, variant, depth, seed``;
    ``attrs``: extra predictions.nc attributes (what made the predictions). Networks and the
    no-training baseline (``neurodepth.analysis.baseline``) share it, so their files are alike.
    """
    n, T = arrays["spike_probability"].shape
    df = pd.DataFrame(rows, columns=["metric", "subset", "value"])
    for key in ("seed", "depth", "variant", "cell"):
        df.insert(0, key, ident[key])
    # A property of the network, so the same on all its rows (appended: older readers unaffected).
    df["fails_bce_check"] = pd.array([extras["fails_bce_check"]] * len(df), dtype="boolean")
    write_csv_atomic(df, out_metrics)

    data = {
        "spike_probability": (
            ("simulation", "time"),
            arrays["spike_probability"],
            {"long_name": "predicted output spike probability per 1 ms bin"},
        ),
        "soma_prediction": (
            ("simulation", "time"),
            arrays["soma_prediction"],
            {"units": "mV", "long_name": "predicted soma voltage (bias added back)"},
        ),
        "spike_target": (
            ("simulation", "time"),
            arrays["spike_target"].astype(np.int8),
            {"long_name": "true output spike in bin (0/1)"},
        ),
        "soma_truth": (
            ("simulation", "time"),
            arrays["soma_truth"],
            {"units": "mV", "long_name": "soma voltage clipped at -55 mV"},
        ),
        "included": (
            ("simulation",),
            extras["included"].astype(np.int8),
            {"long_name": "simulation scored (output spike count within limits)"},
        ),
        "spike_count": (("simulation",), np.asarray(spike_count).astype(np.int32)),
    }
    coords = {
        "time": ("time", np.arange(T, dtype=np.float64), {"units": "ms"}),
        "simulation": np.arange(n),
    }
    if "roc_fpr" in extras:
        data["roc_fpr"] = (("roc_point",), extras["roc_fpr"], {"long_name": "false-positive rate"})
        data["roc_tpr"] = (("roc_point",), extras["roc_tpr"], {"long_name": "true-positive rate"})
        data["spike_timing_count"] = (
            ("lag_ms",),
            extras["timing_count"],
            {"long_name": f"predicted - true spike lags at FPR {cfg['timing_fpr']:g}"},
        )
        coords["lag_ms"] = ("lag_ms", extras["lag_ms"], {"units": "ms"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        provenance_attrs(
            title="neurodepth predictions",
            **ident,
            **attrs,
            drop_first_ms=int(cfg["drop_first_ms"]),
            timing_threshold=float(extras.get("timing_threshold", np.nan)),
            evaluation=json.dumps(cfg, default=str),
        )
    )
    write_predictions(ds, out_predictions)
    return df
