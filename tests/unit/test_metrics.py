"""Metric functions against hand-computed cases, and the evaluation protocol on arrays."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from neurodepth.analysis import metrics as M
from neurodepth.core.config import section_defaults
from neurodepth.learning.evaluate import evaluate_arrays, window_plan


def test_perfect_predictor_auc_one_and_tpr_one():
    y = np.array([0, 0, 1, 0, 1, 0, 0, 0])
    assert M.roc_auc(y, y * 0.9 + 0.05) == 1.0
    assert M.tpr_at_fpr(y, y.astype(float), 0.001) == 1.0
    assert M.d_prime(1.0) == math.inf


def test_constant_predictor_auc_half():
    y = np.array([0, 1, 0, 0, 1, 1, 0])
    assert M.roc_auc(y, np.full(y.size, 0.3)) == pytest.approx(0.5)


def test_auc_hand_computed():
    # Positives score 0.8, 0.4; negatives 0.9, 0.5, 0.3, 0.1.
    # Pairs (pos > neg): 0.8 beats 0.5,0.3,0.1 (3); 0.4 beats 0.3,0.1 (2) -> 5 / 8.
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.array([0.8, 0.4, 0.9, 0.5, 0.3, 0.1])
    assert M.roc_auc(y, s) == pytest.approx(5 / 8)
    # A tie between a positive and a negative counts one half.
    assert M.roc_auc(np.array([1, 0, 0]), np.array([0.5, 0.5, 0.1])) == pytest.approx(0.75)
    # Inverted scores give 1 - AUC.
    assert M.roc_auc(y, -s) == pytest.approx(3 / 8)


def test_tpr_at_fpr_and_threshold():
    # 1000 negatives, 10 positives. Negatives uniform in [0,1); positives: 5 at 2.0 (above all
    # negatives), 5 at 0.5 (middle).
    rng = np.random.default_rng(0)
    neg = np.sort(rng.random(1000))
    y = np.r_[np.ones(10), np.zeros(1000)]
    s = np.r_[np.full(5, 2.0), np.full(5, 0.5), neg]
    assert M.tpr_at_fpr(y, s, 0.001) == pytest.approx(0.5)
    assert M.tpr_at_fpr(y, s, 0.0025) == pytest.approx(0.5)
    thr = M.threshold_at_fpr(y, s, 0.002)
    assert np.mean(neg >= thr) <= 0.002


def test_d_prime_formula():
    for auc in (0.5, 0.76, 0.95, 0.991):
        assert M.d_prime(auc) == pytest.approx(math.sqrt(2) * norm.ppf(auc))
    assert M.d_prime(0.5) == pytest.approx(0.0)
    # For two unit-variance Gaussians d' apart, AUC = Phi(d'/sqrt(2)); the formula inverts it.
    assert M.d_prime(norm.cdf(1.5 / math.sqrt(2))) == pytest.approx(1.5)


def test_soma_metrics_perfect_and_realigned():
    rng = np.random.default_rng(1)
    truth = rng.normal(-65, 3, 500)
    perfect = M.soma_metrics(truth, truth)
    assert perfect["soma_rmse_mv"] == pytest.approx(0, abs=1e-12)
    assert perfect["soma_explained_variance"] == pytest.approx(1.0)
    # An affine copy is wrong raw but perfect once realigned.
    affine = 0.5 * truth + 10
    m = M.soma_metrics(truth, affine)
    assert m["soma_rmse_mv_realigned"] == pytest.approx(0, abs=1e-9)
    assert m["soma_mae_mv_realigned"] == pytest.approx(0, abs=1e-9)
    assert m["soma_explained_variance_realigned"] == pytest.approx(1.0)
    assert m["soma_rmse_mv"] == pytest.approx(np.sqrt(np.mean((truth - affine) ** 2)))
    assert m["soma_mae_mv"] == pytest.approx(np.mean(np.abs(truth - affine)))
    # Explained variance ignores a constant offset.
    m2 = M.soma_metrics(truth, truth + 2.0)
    assert m2["soma_explained_variance"] == pytest.approx(1.0)
    assert m2["soma_rmse_mv"] == pytest.approx(2.0)


def test_spike_timing_histogram_lags():
    lags, counts = M.spike_timing_histogram(
        [np.array([100, 300])], [np.array([103, 290, 500])], max_lag_ms=50
    )
    assert lags[0] == -50 and lags[-1] == 50
    got = dict(zip(lags[counts > 0].tolist(), counts[counts > 0].tolist()))
    assert got == {3: 1, -10: 1}


def test_roc_points_for_plot_monotone():
    rng = np.random.default_rng(2)
    y = rng.random(5000) < 0.02
    s = y + rng.normal(0, 0.7, y.size)
    fpr, tpr = M.roc_points_for_plot(y, s)
    assert fpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) > 0) and np.all(np.diff(tpr) >= 0)


@pytest.mark.parametrize(
    "T,W,rf", [(6000, 400, 153), (1000, 400, 1), (1000, 400, 200), (300, 400, 31)]
)
def test_window_plan_tiles_trace_with_full_history(T, W, rf):
    plan = window_plan(T, W, rf)
    covered = np.zeros(T, int)
    prev_end = 0
    for i, (start, keep) in enumerate(plan):
        end = min(start + W, T)
        assert keep == prev_end
        if i:
            assert keep - start >= rf - 1  # every kept output sees rf - 1 bins of real history
        covered[keep:end] += 1
        prev_end = end
    assert np.all(covered == 1)


def _protocol_arrays():
    rng = np.random.default_rng(3)
    n, T = 20, 1500
    target = (rng.random((n, T)) < 0.005).astype(np.int8)
    target[0, :] = 0
    target[0, 600:1400:20] = 1  # 40 spikes: excluded by the 0..24 rule
    counts = target.sum(1)
    truth = rng.normal(-66, 2, (n, T)).astype(np.float32)
    return target, truth, counts


def test_evaluate_arrays_perfect_and_constant():
    target, truth, counts = _protocol_arrays()
    cfg = section_defaults("evaluation") | {"drop_first_ms": 500, "max_output_spikes": 24}
    rows, extras = evaluate_arrays(target, target.astype(np.float32), truth, truth, counts, cfg)
    table = {(m, s): v for m, s, v in rows}
    assert not extras["included"][0] and extras["included"][1:].all()
    assert table[("spike_auc", "all")] == 1.0
    assert table[("soma_rmse_mv_realigned", "all")] == pytest.approx(0, abs=1e-6)
    assert {s for _, s, _ in rows} == {"all"} | {str(k) for k in range(12)}
    assert (
        extras["timing_count"][extras["lag_ms"] == 0][0] == target[extras["included"], 500:].sum()
    )
    rows, _ = evaluate_arrays(
        target, np.full(target.shape, 0.2, np.float32), truth, truth + 1, counts, cfg
    )
    table = {(m, s): v for m, s, v in rows}
    assert table[("spike_auc", "all")] == pytest.approx(0.5)
    assert table[("soma_rmse_mv", "all")] == pytest.approx(1.0, rel=1e-5)


def test_evaluate_arrays_drops_first_ms():
    target, truth, counts = _protocol_arrays()
    # Garbage predictions in the first 500 ms must not affect any metric.
    pred = target.astype(np.float32)
    pred[:, :500] = np.random.default_rng(4).random((pred.shape[0], 500))
    soma = truth.copy()
    soma[:, :500] += 50
    rows, _ = evaluate_arrays(
        target, pred, truth, soma, counts, section_defaults("evaluation") | {"subsets": 2}
    )
    table = {(m, s): v for m, s, v in rows}
    assert table[("spike_auc", "all")] == 1.0
    assert table[("soma_rmse_mv", "all")] == pytest.approx(0, abs=1e-6)


def test_bce_check_is_judged_only_where_there_are_spikes_to_predict():
    """A predictor below the training rate beats the constant-rate predictor on a split without
    output spikes without having learned anything: the check is then unknown, not passed."""
    target, truth, counts = _protocol_arrays()
    cfg = section_defaults("evaluation") | {"drop_first_ms": 500, "max_output_spikes": 24}
    rate = float(target[1:, 500:].mean())
    good = np.clip(target.astype(np.float32), 1e-4, 1 - 1e-4)
    _, extras = evaluate_arrays(target, good, truth, truth, counts, cfg, train_rate=rate)
    assert extras["fails_bce_check"] is False
    _, extras = evaluate_arrays(
        target, np.full(target.shape, rate, np.float32), truth, truth, counts, cfg, rate
    )
    assert extras["fails_bce_check"] is True  # the constant predictor itself: ratio 1
    silent = np.zeros_like(target)
    low = np.full(target.shape, rate / 10, np.float32)
    rows, extras = evaluate_arrays(
        silent, low, truth, truth, np.zeros_like(counts), cfg | {"min_output_spikes": 0}, rate
    )
    assert {m: v for m, s, v in rows if s == "all"}["spike_bce_ratio"] < 0.8
    assert extras["fails_bce_check"] is None
