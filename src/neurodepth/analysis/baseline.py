"""The no-training baseline: net synaptic drive through a fitted exponential filter.

Before asking how deep a network must be, ask what no network at all achieves. The baseline sees
only how many excitatory and how many inhibitory inputs arrived in each 1 ms bin (two counts, no
place on the dendrite, no nonlinearity) and filters both causally with one exponential kernel,

    F[t] = sum_{j >= 0} exp(-j / tau) * count[t - j]      (lag 0 included, as a causal network's)

Spike probability is a logistic regression on ``(F_exc, F_inh)``, soma voltage a linear
regression on the same (each with its own ``tau``). The net drive ``F_exc - F_inh`` is the special
case ``w_inh = -w_exc``; fitting the two weights lets inhibition count less or more than
excitation, which only makes the baseline a harder bar for the networks. ``tau`` is chosen on a
grid by the training objective (spike: log-likelihood; soma: squared error), fitted on the
training split only, and the test set is then scored exactly like a network
(``neurodepth.learning.evaluate.evaluate_arrays``: same drop, same subsets, same metrics).

Everything is plain numpy/scipy: the fits have 3 parameters, so Newton's method (IRLS) with a
tiny ridge (which keeps the weights finite when the classes separate perfectly) converges in a
few dozen steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import expit

from neurodepth.core.errors import DatasetError
from neurodepth.data.reader import DatasetReader
from neurodepth.data.shards import open_dataset

#: Relative ridge on the (standardised) logistic weights: ``l2 * n_bins * |w|^2 / 2``.
RIDGE = 1e-6


def exponential_filter(x: np.ndarray, tau_ms: float) -> np.ndarray:
    """Causal exponential filter along the last axis: ``y[t] = sum_j exp(-j/tau) x[t-j]``.

    Computed recursively (``y[t] = a y[t-1] + x[t]``, ``a = exp(-1/tau)``), which equals the
    infinite kernel for a signal that starts at zero.
    """
    if not tau_ms > 0:
        raise ValueError(f"tau must be > 0 ms, got {tau_ms!r}")
    a = float(np.exp(-1.0 / float(tau_ms)))
    return lfilter([1.0], [1.0, -a], np.asarray(x, dtype=np.float64), axis=-1)


def channel_is_excitatory(path) -> np.ndarray:
    """Bool per input channel from the dataset's channel map (``channel_kind``).

    Falls back on the ``n_exc_channels`` attribute, then on "the first half is excitatory" (the
    shard schema's default), for files without the variable.
    """
    with open_dataset(path, load=False) as ds:
        n_ch = int(ds.sizes["channel"])
        if "channel_kind" in ds.variables:
            kinds = [
                k.decode() if isinstance(k, bytes) else str(k) for k in ds["channel_kind"].values
            ]
            kinds = [k.strip().lower() for k in kinds]
            unknown = sorted(set(kinds) - {"exc", "inh"})
            if unknown:
                raise DatasetError(f"{path}: channel_kind has unknown kinds {unknown}")
            return np.array([k == "exc" for k in kinds])
        n_exc = int(ds.attrs.get("n_exc_channels", n_ch // 2))
    return np.arange(n_ch) < n_exc


@dataclass
class Counts:
    """Per-bin input counts and targets of a dataset (or its first simulations)."""

    counts: np.ndarray  # (simulation, 2, time) float32: excitatory, inhibitory inputs per bin
    spike_target: np.ndarray  # (simulation, time) int8
    soma_truth: np.ndarray  # (simulation, time) float32, mV, clipped at the spike threshold
    spike_count: np.ndarray  # (simulation,) output spikes


def read_counts(path, max_simulations: int | None = None) -> Counts:
    """Excitatory and inhibitory input counts per 1 ms bin and the targets, through the one
    dataset reader (``DatasetReader``): soma in mV clipped at -55 mV as the networks see it."""
    exc = channel_is_excitatory(path)
    with DatasetReader(path) as reader:
        if exc.size != reader.n_channels:
            raise DatasetError(
                f"{path}: channel map has {exc.size} channels, inputs have {reader.n_channels}"
            )
        n = reader.n_simulations
        if max_simulations is not None:
            n = min(n, int(max_simulations))
        T = reader.duration_ms
        counts = np.empty((n, 2, T), np.float32)
        spike = np.empty((n, T), np.int8)
        soma = np.empty((n, T), np.float32)
        for sim in range(n):
            x = reader.inputs(sim, 0, T, dtype=np.uint8)
            counts[sim, 0] = x[exc].sum(axis=0, dtype=np.int64)
            counts[sim, 1] = x[~exc].sum(axis=0, dtype=np.int64)
            spike[sim] = reader.spike_target(sim, 0, T)
            v = reader.soma_voltage(sim, 0, T)
            soma[sim] = np.minimum(v, reader.soma_threshold_mv)
        spike_count = reader.spike_count[:n].copy()
    return Counts(counts, spike, soma, spike_count)


def features(counts: np.ndarray, tau_ms: float, drop_first_ms: int = 0) -> np.ndarray:
    """``(bins, 2)`` filtered (exc, inh) counts of every simulation, first bins dropped."""
    f = exponential_filter(counts, tau_ms)[..., int(drop_first_ms) :]
    return np.moveaxis(f, 1, -1).reshape(-1, counts.shape[1])


def _standardise(X: np.ndarray):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return np.column_stack([np.ones(len(X)), (X - mu) / sd]), mu, sd


def _unstandardise(w: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Intercept + weights on the raw features from weights on standardised ones."""
    slopes = w[1:] / sd
    return np.r_[w[0] - np.sum(slopes * mu), slopes]


def _penalised_nll(Z, y, w, l2n):
    eta = Z @ w
    # log(1 + e^eta) - y eta, computed without overflow
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * l2n * np.sum(w[1:] ** 2))


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = RIDGE, max_iter: int = 100):
    """Logistic regression ``P(y=1) = expit(b + X w)`` by damped Newton steps.

    Returns ``(coef, nll)``: ``coef = [b, w...]`` on the raw features and the mean negative
    log-likelihood (without the ridge) on the fitted data.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.shape[0] != y.size:
        raise ValueError(f"X has {X.shape[0]} rows, y {y.size}")
    if y.min() == y.max():
        raise DatasetError("the logistic baseline needs both spikes and non-spike bins to fit")
    Z, mu, sd = _standardise(X)
    l2n = float(l2) * len(y)
    penalty = np.r_[0.0, np.full(Z.shape[1] - 1, l2n)]
    rate = np.clip(y.mean(), 1e-9, 1 - 1e-9)
    w = np.r_[np.log(rate / (1 - rate)), np.zeros(Z.shape[1] - 1)]
    loss = _penalised_nll(Z, y, w, l2n)
    for _ in range(max_iter):
        p = expit(Z @ w)
        grad = Z.T @ (p - y) + penalty * w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6:  # backtracking: Newton may overshoot far from the optimum
            new = _penalised_nll(Z, y, w - t * step, l2n)
            if new <= loss:
                break
            t *= 0.5
        w = w - t * step
        converged = loss - new < 1e-10 * max(1.0, abs(loss))
        loss = new
        if converged:
            break
    eta = Z @ w
    nll = float(np.mean(np.logaddexp(0.0, eta) - y * eta))
    return _unstandardise(w, mu, sd), nll


def fit_linear(X: np.ndarray, y: np.ndarray):
    """Least squares ``y = b + X w``; returns ``(coef, mse)``."""
    A = np.column_stack([np.ones(len(X)), np.asarray(X, dtype=np.float64)])
    coef, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64).ravel(), rcond=None)
    mse = float(np.mean((A @ coef - np.ravel(y)) ** 2))
    return coef, mse


@dataclass
class BaselineFit:
    """The fitted baseline: time constants (ms) and coefficients ``[b, w_exc, w_inh]``."""

    tau_spike_ms: float
    spike_coef: list
    tau_soma_ms: float
    soma_coef: list
    spike_nll_by_tau: dict  # training mean negative log-likelihood per grid tau
    soma_mse_by_tau: dict  # training mean squared error (mV^2) per grid tau
    n_train_simulations: int

    def to_attrs(self) -> dict:
        """Flat netCDF-safe attributes (dicts as JSON)."""
        import json

        return {
            f"baseline_{k}": (json.dumps(v) if isinstance(v, dict) else v)
            for k, v in asdict(self).items()
        }


def fit_baseline(train: Counts, tau_grid_ms, drop_first_ms: int = 0) -> BaselineFit:
    """Fit both readouts on the training counts, each with the grid ``tau`` that fits it best.

    The first ``drop_first_ms`` of each simulation are left out (the filter starts from zero
    there, and the cell from rest), as the evaluation leaves them out.
    """
    taus = sorted({float(t) for t in tau_grid_ms})
    if not taus:
        raise ValueError("the baseline needs at least one time constant in its grid")
    y_spike = train.spike_target[:, int(drop_first_ms) :].ravel()
    y_soma = train.soma_truth[:, int(drop_first_ms) :].ravel()
    if y_spike.size == 0:
        raise DatasetError(f"no training bins left after dropping the first {drop_first_ms} ms")
    spike_fits, soma_fits = {}, {}
    for tau in taus:
        X = features(train.counts, tau, drop_first_ms)
        spike_fits[tau] = fit_logistic(X, y_spike)
        soma_fits[tau] = fit_linear(X, y_soma)
    tau_spike = min(taus, key=lambda t: spike_fits[t][1])  # ties: the shorter tau
    tau_soma = min(taus, key=lambda t: soma_fits[t][1])
    return BaselineFit(
        tau_spike_ms=tau_spike,
        spike_coef=[float(c) for c in spike_fits[tau_spike][0]],
        tau_soma_ms=tau_soma,
        soma_coef=[float(c) for c in soma_fits[tau_soma][0]],
        spike_nll_by_tau={f"{t:g}": spike_fits[t][1] for t in taus},
        soma_mse_by_tau={f"{t:g}": soma_fits[t][1] for t in taus},
        n_train_simulations=int(train.counts.shape[0]),
    )


def predict(fit: BaselineFit, counts: np.ndarray):
    """Full-trace ``(spike_probability, soma_prediction_mV)``, each (simulation, time) float32,
    shaped like a network's predictions."""
    n, _, T = counts.shape
    Xs = features(counts, fit.tau_spike_ms)
    Xv = features(counts, fit.tau_soma_ms)
    b, *w = fit.spike_coef
    prob = expit(b + Xs @ np.asarray(w)).reshape(n, T).astype(np.float32)
    b, *w = fit.soma_coef
    soma = (b + Xv @ np.asarray(w)).reshape(n, T).astype(np.float32)
    return prob, soma
