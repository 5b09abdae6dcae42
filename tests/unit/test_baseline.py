"""The no-training baseline against hand-computed cases: the filter, the fits, tau recovery, and
the dataset path through the one reader."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from neurodepth.analysis.baseline import (
    Counts,
    channel_is_excitatory,
    exponential_filter,
    fit_baseline,
    fit_linear,
    fit_logistic,
    predict,
    read_counts,
)
from neurodepth.analysis.metrics import roc_auc
from neurodepth.data.shards import build_shard_dataset, write_shard


def test_exponential_filter_impulse_and_step():
    x = np.zeros(6)
    x[1] = 2.0
    a = np.exp(-1 / 4.0)
    # impulse at t=1: 2 a^(t-1) from t=1 on, nothing before (causal, lag 0 included)
    np.testing.assert_allclose(
        exponential_filter(x, 4.0), [0, 2, 2 * a, 2 * a**2, 2 * a**3, 2 * a**4]
    )
    # step: partial geometric sums (1 - a^(t+1)) / (1 - a)
    t = np.arange(50)
    np.testing.assert_allclose(exponential_filter(np.ones(50), 4.0), (1 - a ** (t + 1)) / (1 - a))
    # filters the last axis of a batch independently
    batch = np.stack([x, 3 * x])
    np.testing.assert_allclose(exponential_filter(batch, 4.0)[1], 3 * exponential_filter(x, 4.0))
    with pytest.raises(ValueError, match="tau"):
        exponential_filter(x, 0)


def test_logistic_fit_recovers_planted_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 2))
    y = rng.random(200_000) < expit(-3.0 + 1.5 * X[:, 0] - 0.8 * X[:, 1])
    coef, nll = fit_logistic(X, y)
    np.testing.assert_allclose(coef, [-3.0, 1.5, -0.8], atol=0.05)
    assert 0 < nll < np.log(2)


def test_logistic_fit_stays_finite_when_classes_separate():
    X = np.arange(100, dtype=float)[:, None]
    y = X[:, 0] > 70
    coef, nll = fit_logistic(X, y)
    assert np.all(np.isfinite(coef)) and coef[1] > 0 and nll < 0.05
    assert roc_auc(y, X[:, 0] * coef[1]) == 1.0


def test_linear_fit_is_exact_on_a_plane():
    X = np.random.default_rng(1).normal(size=(100, 2))
    coef, mse = fit_linear(X, 2.0 + 3.0 * X[:, 0] - X[:, 1])
    np.testing.assert_allclose(coef, [2.0, 3.0, -1.0])
    assert mse == pytest.approx(0, abs=1e-20)


def _planted(tau: float, n_sim=6, T=3000, seed=2):
    """Poisson-ish exc/inh counts; the soma is exactly their exp(-t/tau)-filtered net drive and
    spikes fire where that drive is high."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, size=(n_sim, 2, T)).astype(np.float32)
    drive = exponential_filter(counts[:, 0] - 0.5 * counts[:, 1], tau)
    soma = (-70.0 + 0.4 * drive).astype(np.float32)
    thr = np.quantile(drive, 0.995)
    spikes = (drive > thr).astype(np.int8)
    return Counts(counts, spikes, soma, spikes.sum(axis=1))


def test_fit_recovers_planted_tau_and_predicts_perfectly():
    data = _planted(tau=12.0)
    fit = fit_baseline(data, [3, 6, 12, 25, 50], drop_first_ms=100)
    assert fit.tau_soma_ms == 12.0 and fit.tau_spike_ms == 12.0
    b, w_exc, w_inh = fit.soma_coef
    assert (b, w_exc, w_inh) == pytest.approx((-70.0, 0.4, -0.2), abs=1e-4)
    assert w_inh / w_exc == pytest.approx(-0.5, abs=1e-6)
    prob, soma = predict(fit, data.counts)
    assert prob.shape == soma.shape == data.spike_target.shape and prob.dtype == np.float32
    # spikes follow the drive exactly: the baseline ranks them perfectly
    cut = slice(100, None)
    assert roc_auc(data.spike_target[:, cut], prob[:, cut]) > 0.999
    np.testing.assert_allclose(soma[:, cut], data.soma_truth[:, cut], atol=1e-3)
    # the training scores behind the choice are kept for the record
    assert min(fit.soma_mse_by_tau, key=fit.soma_mse_by_tau.get) == "12"
    assert fit.to_attrs()["baseline_tau_spike_ms"] == 12.0


def test_fit_needs_spikes():
    data = _planted(tau=5.0)
    data.spike_target[:] = 0
    with pytest.raises(Exception, match="both spikes"):
        fit_baseline(data, [5])


def test_read_counts_uses_the_channel_map(tmp_path):
    rng = np.random.default_rng(3)
    n_sim, n_seg, T = 2, 4, 80
    inputs = rng.random((n_sim, 2 * n_seg, T)) < 0.2
    soma = rng.normal(-65, 5, (n_sim, T)).astype(np.float32)
    attrs = dict(
        cell="toy", variant="full", split="train", seed=0, config_hash="0" * 16,
        duration_ms=T, integrator="fixed", dt_ms=0.05,
    )  # fmt: skip
    ds = build_shard_dataset(inputs, soma, [np.array([10.2, 40.7]), np.array([])], attrs, n_exc=3)
    path = tmp_path / "train.nc"
    write_shard(ds, path)
    exc = channel_is_excitatory(path)
    assert exc.tolist() == [True] * 3 + [False] * 5
    data = read_counts(path)
    np.testing.assert_array_equal(data.counts[:, 0], inputs[:, :3].sum(axis=1))
    np.testing.assert_array_equal(data.counts[:, 1], inputs[:, 3:].sum(axis=1))
    assert data.spike_target[0, [10, 40]].tolist() == [1, 1] and data.spike_target.sum() == 2
    np.testing.assert_allclose(data.soma_truth, np.minimum(soma, -55.0))
    assert data.spike_count.tolist() == [2, 0]
    assert read_counts(path, max_simulations=1).counts.shape == (1, 2, T)
