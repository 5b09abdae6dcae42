"""The paper's I&F neuron against hand-computed traces and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest

from neurodepth.cells.builder import SEGMENT_COLUMNS
from neurodepth.cells.lif import (
    lif_channel_map,
    lif_free_voltage,
    lif_segment_table,
    simulate_lif,
)
from neurodepth.core.errors import ConfigError, DatasetError

A = np.exp(-1.0 / 20.0)  # one-ms decay of the 20 ms kernel


def _inputs(duration, exc=(), inh=()):
    """Build (100, duration) inputs; exc/inh are (bin, n_spikes) pairs (distinct channels)."""
    x = np.zeros((100, duration), dtype=bool)
    for t, k in exc:
        x[:k, t] = True
    for t, k in inh:
        x[80 : 80 + k, t] = True
    return x


def test_subthreshold_trace_by_hand():
    # one exc spike at 2 ms, one inh at 5 ms: contributions start in their own bin
    v, spikes = simulate_lif(_inputs(8, exc=[(2, 1)], inh=[(5, 1)]))
    expected = [
        -75,
        -75,
        -73,
        -75 + 2 * A,
        -75 + 2 * A**2,
        -75 + 2 * A**3 - 2,
        -75 + 2 * A**4 - 2 * A,
        -75 + 2 * A**5 - 2 * A**2,
    ]
    np.testing.assert_allclose(v, expected, rtol=0, atol=1e-12)
    assert spikes.size == 0 and spikes.dtype == np.float64


def test_spike_and_reset_by_hand():
    # 11 exc at 1 ms: V = -75 + 22 = -53 > -55 -> spike at 1 ms; from 2 ms on the excess
    # (22a at 2 ms) is subtracted with the same kernel, so V stays exactly at -75 until new input.
    v, spikes = simulate_lif(_inputs(8, exc=[(1, 11), (4, 1)], inh=[(6, 1)]))
    expected = [-75, -53, -75, -75, -73, -75 + 2 * A, -75 + 2 * A**2 - 2, -75 + 2 * A**3 - 2 * A]
    np.testing.assert_allclose(v, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(spikes, [1.0])


def test_back_to_back_spikes_accumulate_resets():
    # spike at 1, reset at 2, 11 fresh exc at 3 -> -53 again -> spike at 3, reset at 4
    v, spikes = simulate_lif(_inputs(7, exc=[(1, 11), (3, 11)]))
    np.testing.assert_allclose(v, [-75, -53, -75, -53, -75, -75, -75], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(spikes, [1.0, 3.0])


def test_threshold_is_strict_and_last_bin_spike_counts():
    v, spikes = simulate_lif(_inputs(3, exc=[(1, 10)]))  # exactly -55: no spike
    assert v[1] == pytest.approx(-55.0, abs=1e-12) and spikes.size == 0
    v, spikes = simulate_lif(_inputs(3, exc=[(2, 12)]))  # spike in the last bin, nothing to reset
    np.testing.assert_array_equal(spikes, [2.0])
    assert v[2] == pytest.approx(-51.0, abs=1e-12)


def test_reset_sets_minus_75_even_when_inhibition_overshoots():
    # V_pre at the reset bin = -75 + 22a - 40 < -75: the reset still puts V at -75
    v, _ = simulate_lif(_inputs(5, exc=[(1, 11)], inh=[(2, 20)]))
    np.testing.assert_allclose(v[2:], -75.0, rtol=0, atol=1e-12)


def _brute_force(x, n_exc=80, tau=20.0):
    """Independent O(T^2) reference: explicit kernel sums, per-ms threshold test."""
    w = np.r_[np.ones(n_exc), -np.ones(x.shape[0] - n_exc)]
    drive = w @ x.astype(float)
    n = x.shape[1]
    v = np.empty(n)
    resets: list[tuple[int, float]] = []
    spikes = []
    for t in range(n):
        lags = t - np.arange(t + 1)
        vt = -75 + 2 * np.sum(drive[: t + 1] * np.exp(-lags / tau))
        vt -= sum(e * np.exp(-(t - r) / tau) for r, e in resets)
        if spikes and spikes[-1] == t - 1:  # first bin after a spike: subtract its excess
            e = vt + 75
            resets.append((t, e))
            vt -= e
        v[t] = vt
        if vt > -55:
            spikes.append(t)
    return v, np.asarray(spikes, float)


def test_matches_brute_force_reference_on_random_inputs():
    rng = np.random.default_rng(7)
    # ~ 45 Hz exc, 30 Hz inh: several output spikes in 1.5 s
    x = np.zeros((100, 1500), dtype=bool)
    x[:80] = rng.random((80, 1500)) < 0.045
    x[80:] = rng.random((20, 1500)) < 0.03
    v, spikes = simulate_lif(x)
    v_ref, spikes_ref = _brute_force(x)
    assert spikes.size >= 5, "input too weak to exercise resets"
    np.testing.assert_array_equal(spikes, spikes_ref)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-9)
    # every bin right after a spike sits exactly at the reset value
    idx = spikes.astype(int) + 1
    np.testing.assert_allclose(v[idx[idx < v.size]], -75.0, atol=1e-9)
    assert np.all(v[np.setdiff1d(np.arange(v.size), spikes.astype(int))] <= -55.0)


def test_free_voltage_is_linear_filter():
    x = _inputs(4, exc=[(0, 3)])
    np.testing.assert_allclose(lif_free_voltage(x), -75 + 6 * A ** np.arange(4), atol=1e-12)


def test_channel_map_and_segment_table():
    cmap = lif_channel_map()
    assert len(cmap) == 100
    assert (cmap["kind"][:80] == "exc").all() and (cmap["kind"][80:] == "inh").all()
    np.testing.assert_array_equal(cmap["weight"], np.r_[np.ones(80), -np.ones(20)])
    assert (cmap["segment"] == 0).all()
    table = lif_segment_table()
    assert list(table.columns) == SEGMENT_COLUMNS  # the same table as a NEURON cell's
    assert len(table) == 1 and table["section"][0] == "soma"


def test_bad_inputs_name_the_culprit():
    with pytest.raises(DatasetError, match="2-D"):
        simulate_lif(np.zeros(10, dtype=bool))
    with pytest.raises(DatasetError, match="binary"):
        simulate_lif(np.full((100, 5), 2))
    with pytest.raises(ConfigError, match="n_exc"):
        simulate_lif(np.zeros((100, 5), dtype=bool), n_exc=101)
    with pytest.raises(ConfigError, match="tau_ms"):
        simulate_lif(np.zeros((100, 5), dtype=bool), tau_ms=0)
