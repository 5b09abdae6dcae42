"""The output-spike definition shared by our simulations and the authors' released data.

The paper counts a spike at each local maximum of the soma voltage above -25 mV. Here that is one
spike per excursion above the threshold, at the excursion's maximum (:func:`detect_spikes`): the
one definition, used by ``simulation.simulate`` for our shards and by ``data.authors_data`` when it
re-detects the release's spikes from its 1/8 ms soma trace, so both kinds of dataset count spikes
alike. It lives in the lowest layer that uses it.
"""

from __future__ import annotations

import numpy as np

SPIKE_THRESHOLD_MV = -25.0


def detect_spikes(
    t: np.ndarray, v: np.ndarray, threshold_mv: float = SPIKE_THRESHOLD_MV
) -> np.ndarray:
    """Output spike times (ms, float64): one per excursion of ``v`` above ``threshold_mv``, at
    the excursion's maximum (the paper's "local maximum above -25 mV").

    Taking one maximum per excursion (rather than every local maximum) matters: Crank-Nicolson
    and CVODE leave tiny wiggles at the peak that would count one spike twice. The peak time is
    refined by a parabola through the maximum sample and its neighbours (exact for a locally
    quadratic peak, valid on uneven CVODE steps). An excursion still open at the end counts
    only if its maximum is not the last sample.
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    above = v > threshold_mv
    if len(v) < 3 or not above.any():
        return np.zeros(0)
    edges = np.diff(above.astype(np.int8))
    starts = np.nonzero(edges == 1)[0] + 1
    ends = np.nonzero(edges == -1)[0] + 1  # exclusive
    if above[0]:
        starts = np.r_[0, starts]
    if above[-1]:
        ends = np.r_[ends, len(v)]
    # a handful of excursions per simulation: a Python loop over them is cheap
    peaks = np.array([s + int(np.argmax(v[s:e])) for s, e in zip(starts, ends)], dtype=np.int64)
    peaks = peaks[(peaks > 0) & (peaks < len(v) - 1)]
    if peaks.size == 0:
        return np.zeros(0)
    t0, t1, t2 = t[peaks - 1], t[peaks], t[peaks + 1]
    v0, v1, v2 = v[peaks - 1], v[peaks], v[peaks + 1]
    # vertex of the parabola through (t0,v0), (t1,v1), (t2,v2)
    num = (t1 - t0) ** 2 * (v1 - v2) - (t1 - t2) ** 2 * (v1 - v0)
    den = (t1 - t0) * (v1 - v2) - (t1 - t2) * (v1 - v0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = t1 - 0.5 * num / den
    ok = np.isfinite(tp) & (tp >= t0) & (tp <= t2)
    return np.where(ok, tp, t1)
