"""The paper's input protocol (Beniaguev et al. 2021, dataset script), vectorised with numpy.

Per simulation:
1. a hold interval (ms) from ``hold_intervals_ms`` plus ``int(40u - 20)`` jitter and a Gaussian
   smoothing sigma from ``smoothing_sigmas_ms`` plus the same kind of jitter;
2. for every hold interval and every tree independently, the total excitatory events per 100 ms
   ``exc ~ U(exc_range)`` and inhibitory ``inh ~ U(max(0, exc + d_lo), exc + d_hi)``;
3. a tree's total is spread over its segments in proportion to (length + 10 um), and each
   segment's rate is multiplied by an independent U(0.5, 1.5) gain per interval;
4. rates are held for the interval, cropped to the duration, and smoothed along time with a
   normalised Gaussian window (std sigma, 1 + 7 sigma bins, 'same' mode: zero-padded edges, as
   in the original);
5. per bin and channel a spike occurs when U(0,1) < Exponential(mean = smoothed rate per ms),
   so there is at most one spike per channel per ms.

All randomness comes from the ``numpy.random.Generator`` passed in, in a fixed draw order, so
the same generator state always gives the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from scipy.signal import fftconvolve

from neurodepth.core.errors import ConfigError

HOLD_INTERVALS_MS = (25, 30, 35, 40, 45, 55, 60, 65, 70, 75, 80, 85, 90, 100, 150, 200, 300, 450)
SMOOTHING_SIGMAS_MS = (25, 30, 35, 40, 50, 60, 80, 100, 150, 200, 300, 400, 500, 600)


@dataclass(frozen=True)
class InputRates:
    """Rate ranges of the input protocol (events per 100 ms per tree)."""

    exc_range: tuple = (0.0, 800.0)
    inh_minus_exc: tuple = (-600.0, 200.0)
    hold_intervals_ms: tuple = HOLD_INTERVALS_MS
    smoothing_sigmas_ms: tuple = SMOOTHING_SIGMAS_MS
    jitter_ms: int = 20
    gain_range: tuple = (0.5, 1.5)
    length_offset_um: float = 10.0
    # config key -> field name (the config uses the paper's wording)
    _KEYS = {
        "exc_per_100ms": "exc_range",
        "exc_range": "exc_range",
        "inh_minus_exc": "inh_minus_exc",
        "hold_intervals_ms": "hold_intervals_ms",
        "smoothing_sigmas_ms": "smoothing_sigmas_ms",
        "jitter_ms": "jitter_ms",
        "gain_range": "gain_range",
        "length_offset_um": "length_offset_um",
    }
    # keys of a variant's input section that steer the pipeline, not the protocol's draws
    # (target_rate_hz: the output rate that neurodepth.simulation.calibration finds a scale for)
    _PIPELINE_KEYS = ("target_rate_hz",)

    @classmethod
    def from_config(cls, cfg: dict | None, where: str = "inputs") -> InputRates:
        """Build from a config section such as ``config["inputs"]["full"]``; unknown or malformed
        keys raise ``ConfigError`` naming ``where.key``."""
        cfg = dict(cfg or {})
        kwargs = {}
        for key, value in cfg.items():
            if key in cls._PIPELINE_KEYS:
                continue
            if key not in cls._KEYS:
                raise ConfigError(
                    f"{where}.{key}: unknown input-protocol key (known: {sorted(cls._KEYS)})"
                )
            name = cls._KEYS[key]
            if name in ("exc_range", "inh_minus_exc", "gain_range"):
                if not (
                    isinstance(value, (list, tuple))
                    and len(value) == 2
                    and float(value[0]) <= float(value[1])
                ):
                    raise ConfigError(
                        f"{where}.{key}: expected [low, high] with low <= high, got {value!r}"
                    )
                value = (float(value[0]), float(value[1]))
            elif name in ("hold_intervals_ms", "smoothing_sigmas_ms"):
                if not (
                    isinstance(value, (list, tuple)) and value and all(float(v) > 0 for v in value)
                ):
                    raise ConfigError(
                        f"{where}.{key}: expected a non-empty list of positive ms, got {value!r}"
                    )
                value = tuple(int(v) for v in value)
            else:
                value = type(getattr(cls, name))(value)
            kwargs[name] = value
        rates = cls(**kwargs)
        if rates.exc_range[0] < 0:
            raise ConfigError(f"{where}.exc_per_100ms: rates must be >= 0, got {rates.exc_range}")
        if rates.gain_range[0] < 0:
            raise ConfigError(f"{where}.gain_range: gains must be >= 0, got {rates.gain_range}")
        if (
            min(rates.hold_intervals_ms) - rates.jitter_ms < 1
            or min(rates.smoothing_sigmas_ms) - rates.jitter_ms < 1
        ):
            raise ConfigError(
                f"{where}.jitter_ms={rates.jitter_ms}: would allow intervals or sigmas < 1 ms"
            )
        return rates

    def scaled(self, scale: float) -> InputRates:
        """These rates with every synapse's rate multiplied by ``scale`` (> 0).

        Both ``exc_range`` and ``inh_minus_exc`` are multiplied: the inhibitory total is drawn
        from [max(0, exc + d_lo), exc + d_hi], so scaling the offsets with the excitatory range
        scales the joint (exc, inh) distribution as a whole (each draw becomes ``scale`` times
        the unscaled draw from the same generator state) and keeps the distribution of the
        inhibition/excitation ratio. Scaling the excitatory range alone would shift the balance
        with the scale (inhibition would overtake excitation at small scales, where the +d_hi
        offset dominates), so a calibrated variant would differ from its explicit-rate version
        in more than its drive.
        """
        scale = float(scale)
        if not (scale > 0 and np.isfinite(scale)):
            raise ValueError(f"input-rate scale must be finite and > 0, got {scale}")
        if scale == 1.0:
            return self
        lo, hi = self.exc_range
        d_lo, d_hi = self.inh_minus_exc
        return replace(
            self,
            exc_range=(lo * scale, hi * scale),
            inh_minus_exc=(d_lo * scale, d_hi * scale),
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _jittered(rng: np.random.Generator, choices, jitter_ms: int) -> int:
    # the original adds int(40u - 20): truncation toward zero, so -19..19 with 0 twice as likely
    base = int(rng.choice(np.asarray(choices)))
    return base + int(np.trunc(2 * jitter_ms * rng.random() - jitter_ms))


def gaussian_window(sigma_ms: float) -> np.ndarray:
    """Normalised Gaussian window of 1 + 7 sigma bins (the original's length)."""
    n = int(1 + 7 * sigma_ms)
    t = np.arange(n) - (n - 1) / 2.0
    w = np.exp(-0.5 * (t / sigma_ms) ** 2)
    return w / w.sum()


def smooth_rates(rates: np.ndarray, sigma_ms: float) -> np.ndarray:
    """Convolve each row with the Gaussian window, 'same' mode (zero-padded edges)."""
    win = gaussian_window(sigma_ms)
    out = fftconvolve(rates, win[None, :], mode="same", axes=1)
    return np.clip(out, 0.0, None)  # FFT round-off can give -1e-18


def sample_bernoulli_exponential(rng: np.random.Generator, rate_per_ms: np.ndarray) -> np.ndarray:
    """Spike where U(0,1) < Exp(mean = rate): the original's per-bin rule (≤ 1 spike per bin)."""
    p = rng.exponential(1.0, size=rate_per_ms.shape) * rate_per_ms
    return rng.random(rate_per_ms.shape) < p


def _generate(rng, weights, trees, n_trees, n_exc, duration_ms, rates: InputRates):
    """Core: ``weights`` (n_ch,) spread factors, normalised per (kind, tree); ``trees`` (n_ch,)
    tree index; the first ``n_exc`` channels are excitatory."""
    duration_ms = int(duration_ms)
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be positive, got {duration_ms}")
    n_ch = len(weights)
    hold = _jittered(rng, rates.hold_intervals_ms, rates.jitter_ms)
    sigma = _jittered(rng, rates.smoothing_sigmas_ms, rates.jitter_ms)
    n_int = -(-duration_ms // hold)

    lo, hi = rates.exc_range
    exc_tot = rng.uniform(lo, hi, size=(n_int, n_trees))
    d_lo, d_hi = rates.inh_minus_exc
    inh_lo = np.maximum(0.0, exc_tot + d_lo)
    inh_hi = np.maximum(inh_lo, exc_tot + d_hi)
    inh_tot = rng.uniform(inh_lo, inh_hi)

    is_exc = np.arange(n_ch) < n_exc
    # share of its (kind, tree) total that each channel receives
    share = np.zeros(n_ch)
    for kind in (True, False):
        for tree in range(n_trees):
            m = (is_exc == kind) & (trees == tree)
            if m.any():
                share[m] = weights[m] / weights[m].sum()
    totals = np.where(
        is_exc[:, None], exc_tot.T[trees], inh_tot.T[trees]
    )  # (n_ch, n_int) per 100 ms
    gains = rng.uniform(rates.gain_range[0], rates.gain_range[1], size=(n_ch, n_int))
    rate_per_ms = totals * share[:, None] * gains / 100.0

    held = np.repeat(rate_per_ms, hold, axis=1)[:, :duration_ms]
    smoothed = smooth_rates(held, sigma)
    return sample_bernoulli_exponential(rng, smoothed)


def generate_inputs(
    rng: np.random.Generator, site_length_um, site_tree, duration_ms: int, rates: InputRates
) -> np.ndarray:
    """Input spikes for one simulation of a morphological cell.

    Returns bool (2 * n_sites, duration_ms): channel c < n_sites is the excitatory synapse of
    site c, channel n_sites + c the inhibitory one (the paper's order, where a site is a
    segment). A site's share of its tree's input follows ``site_length_um``, the dendrite it
    stands for; ``site_tree`` gives each site's tree (e.g. "basal"/"apical"); each tree gets its
    own rate draws.
    """
    lengths = np.asarray(site_length_um, dtype=float)
    tree_names = np.asarray(site_tree).astype(str)
    if lengths.ndim != 1 or lengths.shape != tree_names.shape:
        raise ValueError(
            f"site_length_um {lengths.shape} and site_tree {tree_names.shape} must be equal 1-D"
        )
    if (lengths < 0).any() or not np.isfinite(lengths).all():
        raise ValueError("site_length_um must be finite and >= 0")
    uniq = sorted(
        set(tree_names.tolist())
    )  # sorted: the draw order must not depend on segment order
    tree_idx = np.searchsorted(np.array(uniq), tree_names)
    w = lengths + rates.length_offset_um
    weights = np.concatenate([w, w])
    trees = np.concatenate([tree_idx, tree_idx])
    return _generate(rng, weights, trees, len(uniq), len(lengths), duration_ms, rates)


def cell_inputs(rng: np.random.Generator, cell, duration_ms: int, rates: InputRates) -> np.ndarray:
    """:func:`generate_inputs` for the synapse sites of a built cell (``BuiltCell.input_sites``)."""
    site_length, site_tree, _ = cell.input_sites()
    return generate_inputs(rng, site_length, site_tree, duration_ms, rates)


def generate_point_inputs(
    rng: np.random.Generator, n_exc: int, n_inh: int, duration_ms: int, rates: InputRates
) -> np.ndarray:
    """Inputs for a point neuron (the I&F cell): one 'tree', totals spread evenly over ``n_exc``
    excitatory then ``n_inh`` inhibitory channels. Returns bool (n_exc + n_inh, duration_ms)."""
    weights = np.ones(n_exc + n_inh)
    trees = np.zeros(n_exc + n_inh, dtype=int)
    return _generate(rng, weights, trees, 1, n_exc, duration_ms, rates)


def expected_mean_rate_hz(
    segment_length_um, segment_tree, rates: InputRates
) -> tuple[float, float]:
    """Mean (exc, inh) rate per synapse in Hz implied by the ranges, before smoothing edges
    (an analytic check for tests and docs)."""
    n_seg = len(segment_length_um)
    n_trees = len(set(np.asarray(segment_tree).astype(str).tolist()))
    lo, hi = rates.exc_range
    d_lo, d_hi = rates.inh_minus_exc
    e = np.linspace(lo, hi, 20001)
    inh = (np.maximum(0.0, e + d_lo) + np.maximum(np.maximum(0.0, e + d_lo), e + d_hi)) / 2
    exc_mean, inh_mean = e.mean(), inh.mean()  # per 100 ms per tree
    gain = sum(rates.gain_range) / 2
    return (exc_mean * n_trees * 10 * gain / n_seg, inh_mean * n_trees * 10 * gain / n_seg)
