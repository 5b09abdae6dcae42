"""The paper's integrate-and-fire (I&F) neuron, in numpy (no NEURON).

Model (paper_protocol.md, "I&F"): 80 excitatory (weight +1) and 20 inhibitory (weight -1) binary
inputs at 1 ms resolution. Each input train is filtered by the kernel exp(-t/20 ms); the somatic
voltage is ``V = -75 + 2 * (weighted sum of the filtered trains)`` mV. The cell spikes when
``V > -55`` mV; after a spike, V is brought back to -75 mV by subtracting the excess, and the
subtraction decays with the same exponential kernel.

Conventions (fixed here, tested in tests/unit/test_lif.py):

* Time bin ``t`` is the interval [t, t+1) ms; its voltage is reported at ``t`` ms.
* **Filter onset.** An input spike in bin ``t`` contributes ``weight * exp(-(u - t)/tau)`` to the
  filtered sum in every bin ``u >= t``; i.e. its contribution *starts in the same bin*, with value 1
  (so one excitatory spike alone lifts V by exactly 2 mV in its own bin). The kernel is the exact,
  untruncated exponential (implemented as the recursion ``s[t] = a*s[t-1] + x[t]``, a = exp(-1/tau)).
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
the whole trace (vectorised), then a loop over *output spikes* (not over ms), each step searching
vectorised for the next threshold crossing. This is exact, not an approximation.

Channel map: the I&F cell has no morphology. It is represented as a point neuron with a single
pseudo-segment (the soma, segment 0) carrying all 100 synapses; channels 0..n_exc-1 are excitatory
(+1), the rest inhibitory (-1). See :func:`lif_channel_map` and :func:`lif_segment_table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..errors import ConfigError, DatasetError

N_EXC = 80
N_INH = 20
TAU_MS = 20.0
V_RESET_MV = -75.0
V_THRESHOLD_MV = -55.0
GAIN_MV = 2.0

# Bins examined per vectorised search step; doubled while no crossing is found so that long
# silent stretches cost O(log) numpy calls.
_FIRST_CHUNK = 64


def _check_params(n_channels: int, n_exc: int, tau_ms: float, v_reset_mv: float,
                  v_threshold_mv: float) -> None:
    if not 0 <= n_exc <= n_channels:
        raise ConfigError(f"lif: n_exc={n_exc} must lie in [0, {n_channels}] (input channels)")
    if not (np.isfinite(tau_ms) and tau_ms > 0):
        raise ConfigError(f"lif: tau_ms={tau_ms} must be a positive finite number")
    if not v_threshold_mv > v_reset_mv:
        raise ConfigError(
            f"lif: v_threshold_mv={v_threshold_mv} must exceed v_reset_mv={v_reset_mv}"
        )


def lif_free_voltage(inputs: np.ndarray, n_exc: int = N_EXC, tau_ms: float = TAU_MS,
                     v_reset_mv: float = V_RESET_MV, gain_mv: float = GAIN_MV) -> np.ndarray:
    """Voltage without any spike reset: ``v_reset + gain * (exp-filtered weighted input sum)``.

    ``inputs`` is (n_channels, duration_ms); channels < n_exc have weight +1, the rest -1.
    Filtering the weighted sum once is exact because every channel uses the same kernel.
    """
    x = np.asarray(inputs)
    drive = x[:n_exc].sum(axis=0, dtype=np.float64) - x[n_exc:].sum(axis=0, dtype=np.float64)
    a = np.exp(-1.0 / tau_ms)
    filtered = lfilter([1.0], [1.0, -a], drive)
    return v_reset_mv + gain_mv * filtered


def simulate_lif(inputs: np.ndarray, n_exc: int = N_EXC, tau_ms: float = TAU_MS,
                 v_reset_mv: float = V_RESET_MV, v_threshold_mv: float = V_THRESHOLD_MV,
                 gain_mv: float = GAIN_MV) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the paper's I&F neuron on 1 ms binary inputs.

    Parameters
    ----------
    inputs : bool array (n_channels, duration_ms); the paper uses 100 channels, the first
        ``n_exc`` (80) excitatory, the rest (20) inhibitory.
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
    _check_params(x.shape[0], n_exc, tau_ms, v_reset_mv, v_threshold_mv)

    v_free = lif_free_voltage(x, n_exc, tau_ms, v_reset_mv, gain_mv)
    v = v_free.copy()
    n = v.size
    a = np.exp(-1.0 / tau_ms)
    spikes: list[int] = []

    start = 0          # first bin not yet examined
    r_bin = -1         # bin of the latest reset (-1: none yet)
    r_amp = 0.0        # accumulated reset term (mV) at r_bin
    chunk = _FIRST_CHUNK
    while start < n:
        stop = min(n, start + chunk)
        seg = v_free[start:stop]
        if r_bin >= 0:
            seg = seg - r_amp * a ** np.arange(start - r_bin, stop - r_bin, dtype=np.float64)
        v[start:stop] = seg
        above = np.flatnonzero(seg > v_threshold_mv)
        if above.size == 0:
            start = stop
            chunk *= 2
            continue
        t_spike = start + int(above[0])
        spikes.append(t_spike)
        chunk = _FIRST_CHUNK
        r_bin = t_spike + 1
        if r_bin >= n:
            break
        # Subtracting the excess of the next bin sets V there to v_reset; all earlier reset
        # kernels are included because the total reset term then equals V_free - v_reset.
        r_amp = v_free[r_bin] - v_reset_mv
        start = r_bin
    return v, np.asarray(spikes, dtype=np.float64)


def lif_channel_map(n_exc: int = N_EXC, n_inh: int = N_INH) -> pd.DataFrame:
    """One row per input channel: ``channel``, ``kind`` (exc/inh), ``weight`` (+1/-1), ``segment``.

    Every channel drives the single pseudo-segment 0 (the point soma), so the dataset's
    ``channel_segment`` is all zeros and ``channel_kind`` is exc for the first ``n_exc`` channels.
    The paper's segment-based rule "c < n_seg is exc" does NOT apply to this cell; downstream code
    must read ``channel_kind``.
    """
    if n_exc < 0 or n_inh < 0 or n_exc + n_inh == 0:
        raise ConfigError(f"lif: need n_exc >= 0, n_inh >= 0 and some channels, got {n_exc}, {n_inh}")
    n = n_exc + n_inh
    return pd.DataFrame({
        "channel": np.arange(n, dtype=np.int32),
        "kind": np.array(["exc"] * n_exc + ["inh"] * n_inh, dtype=object),
        "weight": np.concatenate([np.ones(n_exc), -np.ones(n_inh)]).astype(np.float64),
        "segment": np.zeros(n, dtype=np.int32),
    })


def lif_segment_table() -> pd.DataFrame:
    """The I&F cell's segment table: one pseudo-segment (the point soma), same columns as a
    morphological cell's ``segment_table`` (docs/design.md). Region and tree are ``soma``;
    geometric columns are 0 (the model has no geometry), ``x`` is 0.5."""
    return pd.DataFrame({
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
    })
