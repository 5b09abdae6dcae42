"""The paper's integrate-and-fire (I&F) neuron, in numpy (no NEURON).

Model (paper_protocol.md, "I&F"): ``N_EXC`` = 80 excitatory (weight +1) and ``N_INH`` = 20
inhibitory (weight -1) binary inputs at 1 ms resolution. Each input train is filtered by the
kernel exp(-t/20 ms); the somatic voltage is ``V = -75 + 2 * (weighted sum of the filtered
trains)`` mV. The cell spikes when ``V > -55`` mV; after a spike, V is brought back to -75 mV by
subtracting the excess, and the subtraction decays with the same exponential kernel.

Conventions (fixed here, tested in tests/unit/test_lif.py):

* Time bin ``t`` is the interval [t, t+1) ms; its voltage is reported at ``t`` ms.
* **Filter onset.** An input spike in bin ``t`` contributes ``weight * exp(-(u - t)/tau)`` to the
  filtered sum in every bin ``u >= t``; i.e. its contribution *starts in the same bin*, with value 1
  (so one excitatory spike alone lifts V by exactly 2 mV in its own bin). The kernel is the exact,
  untruncated exponential (implemented as the recursion ``s[t] = a*s[t-1] + x[t]``,
  a = exp(-1/tau)).
* **Spike.** Bin ``t`` is an output spike when ``V[t] > v_threshold`` (strict); its spike time is
  ``t`` ms. ``V[t]`` itself keeps its supra-threshold value (there is no spike waveform).
* **Reset.** The reset acts from the next bin ``t+1``: the excess ``e = V_pre[t+1] - v_reset`` of
  the not-yet-reset voltage in that bin is subtracted with the same kernel,
  ``V[u] -= e * exp(-(u - t - 1)/tau)`` for ``u >= t+1``, so ``V[t+1] == v_reset`` exactly. Inputs
  arriving in bin t+1 are therefore absorbed by the reset (they are part of the excess). ``e`` is
  used with its sign: if strong inhibition in bin t+1 has already pulled V below -75 mV, the reset
  still sets V[t+1] to -75 mV ("V is reset to -75"). A spike in the last bin has no reset.

Because every reset kernel has the same time constant, the accumulated reset term is itself one
decaying exponential. After a reset in bin ``r`` it equals ``(V_free[r] - v_reset) * a**(u - r)``
where ``V_free`` is the voltage without any reset. So the simulation is: one linear filter over
the whole trace (vectorised), a scan over the bins where ``V_free`` exceeds threshold (the only
places a spike can occur while the reset term is non-negative; see ``_find_spikes``), and one
vectorised assembly of the trace. This is exact, not an approximation.

Channel map: the I&F cell has no morphology. It is represented as a point neuron with a single
pseudo-segment (the soma, segment 0) carrying all 100 synapses; channels 0..n_exc-1 are excitatory
(+1), the rest inhibitory (-1). See :func:`lif_channel_map` and :func:`lif_segment_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neurodepth.core.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    import pandas as pd

# The paper's input counts; every other module (simulation, cost estimates) reads them from here
# through the variant registry (``VARIANTS["lif"].fixed_channels``).
N_EXC = 80
N_INH = 20
TAU_MS = 20.0
V_RESET_MV = -75.0
V_THRESHOLD_MV = -55.0
GAIN_MV = 2.0

# Bins examined per vectorised search step; doubled while no crossing is found so that long
# silent stretches cost O(log) numpy calls.
_FIRST_CHUNK = 32


@dataclass(frozen=True)
class LifParams:
    """The model's constants (defaults: the paper's), held together so that the checks and the
    free voltage take them as one argument instead of repeating the parameter list."""

    n_exc: int = N_EXC
    tau_ms: float = TAU_MS
    v_reset_mv: float = V_RESET_MV
    v_threshold_mv: float = V_THRESHOLD_MV
    gain_mv: float = GAIN_MV

    def check(self, n_channels: int) -> None:
        """Raise ``ConfigError`` if these constants cannot drive ``n_channels`` inputs."""
        if not 0 <= self.n_exc <= n_channels:
            raise ConfigError(
                f"lif: n_exc={self.n_exc} must lie in [0, {n_channels}] (input channels)"
            )
        if not (np.isfinite(self.tau_ms) and self.tau_ms > 0):
            raise ConfigError(f"lif: tau_ms={self.tau_ms} must be a positive finite number")
        if not self.v_threshold_mv > self.v_reset_mv:
            raise ConfigError(
                f"lif: v_threshold_mv={self.v_threshold_mv} must exceed "
                f"v_reset_mv={self.v_reset_mv}"
            )


PAPER_PARAMS = LifParams()


def lif_free_voltage(inputs: np.ndarray, params: LifParams = PAPER_PARAMS) -> np.ndarray:
    """Voltage without any spike reset: ``v_reset + gain * (exp-filtered weighted input sum)``.

    ``inputs`` is (n_channels, duration_ms); channels < ``params.n_exc`` have weight +1, the rest
    -1. Filtering the weighted sum once is exact because every channel uses the same kernel.
    """
    from scipy.signal import lfilter  # scipy.signal costs ~0.5 s to import; the registry imports us

    x = np.asarray(inputs)
    n_exc = params.n_exc
    drive = x[:n_exc].sum(axis=0, dtype=np.float64) - x[n_exc:].sum(axis=0, dtype=np.float64)
    a = np.exp(-1.0 / params.tau_ms)
    filtered = lfilter([1.0], [1.0, -a], drive)
    return params.v_reset_mv + params.gain_mv * filtered


def simulate_lif(
    inputs: np.ndarray,
    n_exc: int = N_EXC,
    tau_ms: float = TAU_MS,
    v_reset_mv: float = V_RESET_MV,
    v_threshold_mv: float = V_THRESHOLD_MV,
    gain_mv: float = GAIN_MV,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the paper's I&F neuron on 1 ms binary inputs.

    Parameters
    ----------
    inputs : bool array (n_channels, duration_ms); the paper uses ``N_EXC + N_INH`` channels,
        the first ``n_exc`` excitatory, the rest inhibitory.
    n_exc, tau_ms, v_reset_mv, v_threshold_mv, gain_mv : model constants (paper defaults).

    Returns
    -------
    voltage_mv : float64 (duration_ms,), V at each ms (conventions in the module docstring).
    spike_times_ms : float64 (n_spikes,), the bins where V > threshold, in ms.
    """
    x = np.asarray(inputs)
    if x.ndim != 2:
        raise DatasetError(f"lif inputs: expected a 2-D (channel, time) array, got shape {x.shape}")
    if x.dtype != np.bool_:
        # Accept 0/1 integer arrays, but not counts: the protocol allows one spike per bin.
        if not np.issubdtype(x.dtype, np.integer) or x.size and (x.min() < 0 or x.max() > 1):
            raise DatasetError(
                f"lif inputs: expected binary (bool or 0/1) spikes, got dtype {x.dtype}"
            )
    params = LifParams(n_exc, tau_ms, v_reset_mv, v_threshold_mv, gain_mv)
    params.check(x.shape[0])

    v_free = lif_free_voltage(x, params)
    n = v_free.size
    decay = np.exp(-np.arange(n, dtype=np.float64) / tau_ms)  # reset kernel, computed once
    resets, amps, spikes = _find_spikes(v_free, decay, v_reset_mv, v_threshold_mv)
    v = v_free.copy()
    if resets:
        # piecewise: V = V_free - R_k * decay(t - r_k) between reset r_k and the next one
        r = np.asarray(resets)
        ends = np.r_[r[1:], n]
        lengths = ends - r
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        v[r[0] :] -= np.repeat(np.asarray(amps), lengths) * decay[offsets]
    return v, np.asarray(spikes, dtype=np.float64)


def _find_spikes(v_free: np.ndarray, decay: np.ndarray, v_reset: float, v_thr: float):
    """Output spikes and the resets they cause, exactly, without a per-ms Python loop.

    State after a reset in bin r is one number R = V_free[r] - v_reset (the total reset term
    there; earlier resets are absorbed in it), so V[t] = V_free[t] - R*decay[t-r] until the next
    spike. With R >= 0 the reset only lowers V, so spikes can only be where V_free itself is above
    threshold: those candidate bins are checked one by one (scalar work per candidate, not per
    ms). With R < 0 (inhibition pulled V below reset) V lies above V_free, so the stretch is
    searched exactly with vectorised chunks instead.
    """
    n = v_free.size
    vf = v_free.tolist()
    dec = decay.tolist()
    cand = np.flatnonzero(v_free > v_thr).tolist()
    n_cand = len(cand)
    resets: list[int] = []
    amps: list[float] = []
    spikes: list[int] = []
    r, big_r = -1, 0.0
    ci = 0
    start = 0
    while start < n:
        t_spike = -1
        if big_r >= 0.0:
            while ci < n_cand and cand[ci] < start:
                ci += 1
            while ci < n_cand:
                c = cand[ci]
                vc = vf[c] - big_r * dec[c - r] if r >= 0 else vf[c]
                if vc > v_thr:
                    t_spike = c
                    break
                ci += 1
        else:
            chunk = _FIRST_CHUNK
            pos = start
            while pos < n and t_spike < 0:
                stop = min(n, pos + chunk)
                seg = v_free[pos:stop] - big_r * decay[pos - r : stop - r]
                above = np.flatnonzero(seg > v_thr)
                if above.size:
                    t_spike = pos + int(above[0])
                pos, chunk = stop, chunk * 2
        if t_spike < 0:
            break
        spikes.append(t_spike)
        r = t_spike + 1
        if r >= n:
            break
        # subtracting the excess of the next bin sets V there to v_reset exactly
        big_r = vf[r] - v_reset
        resets.append(r)
        amps.append(big_r)
        start = r
    return resets, amps, spikes


def lif_channel_map(n_exc: int = N_EXC, n_inh: int = N_INH) -> pd.DataFrame:
    """One row per input channel: ``channel``, ``kind`` (exc/inh), ``weight`` (+1/-1), ``segment``.

    Every channel drives the single pseudo-segment 0 (the point soma), so the dataset's
    ``channel_segment`` is all zeros and ``channel_kind`` is exc for the first ``n_exc`` channels.
    The paper's segment-based rule "c < n_seg is exc" does NOT apply to this cell; downstream code
    must read ``channel_kind``.
    """
    import pandas as pd

    if n_exc < 0 or n_inh < 0 or n_exc + n_inh == 0:
        raise ConfigError(
            f"lif: need n_exc >= 0, n_inh >= 0 and some channels, got {n_exc}, {n_inh}"
        )
    n = n_exc + n_inh
    return pd.DataFrame(
        {
            "channel": np.arange(n, dtype=np.int32),
            "kind": np.array(["exc"] * n_exc + ["inh"] * n_inh, dtype=object),
            "weight": np.concatenate([np.ones(n_exc), -np.ones(n_inh)]).astype(np.float64),
            "segment": np.zeros(n, dtype=np.int32),
        }
    )


def lif_segment_table() -> pd.DataFrame:
    """The I&F cell's segment table: one pseudo-segment (the point soma), same columns as a
    morphological cell's ``segment_table`` (docs/design.md). Region and tree are ``soma``;
    geometric columns are 0 (the model has no geometry), ``x`` is 0.5."""
    import pandas as pd

    return pd.DataFrame(
        {
            "segment": np.array([0], dtype=np.int64),
            "section": ["soma"],
            "x": [0.5],
            "region": ["soma"],
            "tree": ["soma"],
            "path_distance_um": [0.0],
            "length_um": [0.0],
            "area_um2": [0.0],
            "diam_um": [0.0],
            "x_um": [0.0],
            "y_um": [0.0],
            "z_um": [0.0],
        }
    )
