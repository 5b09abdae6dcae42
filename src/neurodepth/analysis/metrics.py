"""Metric functions of the paper's evaluation protocol (numpy in, numbers out).

- Spike: ROC AUC over 1 ms bins (ties count one half, so a constant predictor scores 0.5), the
  true-positive rate at a given false-positive rate (linear interpolation on the ROC curve), and
  d' = sqrt(2) * Phi^-1(AUC) (equal-variance Gaussian signal-detection model).
- Soma: explained variance 1 - var(truth - pred) / var(truth), RMSE and MAE, raw and "realigned"
  (prediction z-scored, then rescaled to the truth's mean and SD, as the authors did).
- Spike timing: histogram of (predicted - true) spike-bin lags within +-max_lag ms.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def roc_curve(target: np.ndarray, score: np.ndarray):
    """ROC points ``(fpr, tpr, thresholds)`` from the highest threshold down; starts at (0, 0).

    Bins with tied scores enter together (one point per distinct score).
    """
    target = np.asarray(target).ravel().astype(bool)
    score = np.asarray(score, dtype=np.float64).ravel()
    n_pos = int(target.sum())
    n_neg = target.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC needs both classes: {n_pos} positive and {n_neg} negative bins")
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], target[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(t)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    thresholds = np.r_[np.inf, s[last_of_tie]]
    return fpr, tpr, thresholds


def roc_auc(target: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal over distinct thresholds = Mann-Whitney U / n+n-)."""
    fpr, tpr, _ = roc_curve(target, score)
    return float(np.trapezoid(tpr, fpr))


def tpr_at_fpr(target, score, fpr_value: float) -> float:
    fpr, tpr, _ = roc_curve(target, score)
    return float(np.interp(fpr_value, fpr, tpr))


def threshold_at_fpr(target, score, fpr_value: float) -> float:
    """Score threshold whose false-positive rate is the largest not exceeding ``fpr_value``."""
    fpr, _, thresholds = roc_curve(target, score)
    idx = int(np.searchsorted(fpr, fpr_value, side="right") - 1)
    return float(thresholds[max(idx, 0)])


def d_prime(auc: float) -> float:
    """d' = sqrt(2) * Phi^-1(AUC); infinite for AUC = 1."""
    return float(np.sqrt(2.0) * norm.ppf(auc))


def realign(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Z-score the prediction, then give it the truth's mean and SD."""
    prediction = np.asarray(prediction, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    sd = prediction.std()
    z = (prediction - prediction.mean()) / sd if sd > 0 else np.zeros_like(prediction)
    return z * truth.std() + truth.mean()


def soma_metrics(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """Explained variance, RMSE (mV) and MAE (mV), raw and realigned."""
    truth = np.asarray(truth, dtype=np.float64).ravel()
    prediction = np.asarray(prediction, dtype=np.float64).ravel()
    out = {}
    for suffix, pred in (("", prediction), ("_realigned", realign(prediction, truth))):
        err = truth - pred
        var_t = truth.var()
        out["soma_explained_variance" + suffix] = (
            float(1.0 - err.var() / var_t) if var_t > 0 else float("nan")
        )
        out["soma_rmse_mv" + suffix] = float(np.sqrt(np.mean(err**2)))
        out["soma_mae_mv" + suffix] = float(np.mean(np.abs(err)))
    return out


def spike_metrics(
    target: np.ndarray, score: np.ndarray, fpr_points=(0.001, 0.0025)
) -> dict[str, float]:
    """AUC, TPR at each FPR in ``fpr_points`` (keys ``tpr_at_fpr_<x>``) and d'."""
    fpr, tpr, _ = roc_curve(target, score)
    auc = float(np.trapezoid(tpr, fpr))
    out = {"spike_auc": auc}
    for f in fpr_points:
        out[f"tpr_at_fpr_{f:g}"] = float(np.interp(f, fpr, tpr))
    out["d_prime"] = d_prime(auc)
    return out


def roc_points_for_plot(
    target, score, n_linear: int = 501, n_log: int = 400, min_fpr: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """ROC resampled on a fixed FPR grid (linear + log-spaced), small enough to store and plot."""
    fpr, tpr, _ = roc_curve(target, score)
    grid = np.unique(
        np.r_[np.linspace(0.0, 1.0, n_linear), np.logspace(np.log10(min_fpr), 0.0, n_log)]
    )
    return grid, np.interp(grid, fpr, tpr)


def spike_timing_histogram(
    true_spikes: list[np.ndarray], predicted: list[np.ndarray], max_lag_ms: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of (predicted - true) lags in ms within +-max_lag, pooled over simulations.

    ``true_spikes[i]`` are true spike bins of simulation i, ``predicted[i]`` the bins where the
    thresholded prediction is on.
    """
    lags = np.arange(-max_lag_ms, max_lag_ms + 1)
    counts = np.zeros(lags.size, dtype=np.int64)
    for true_bins, pred_bins in zip(true_spikes, predicted):
        if len(true_bins) == 0 or len(pred_bins) == 0:
            continue
        d = np.asarray(pred_bins)[None, :] - np.asarray(true_bins)[:, None]
        d = d[np.abs(d) <= max_lag_ms]
        counts += np.bincount(d + max_lag_ms, minlength=lags.size)
    return lags, counts
