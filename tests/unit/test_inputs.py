"""The paper's input protocol (neurodepth.simulation.inputs)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurodepth.core.errors import ConfigError
from neurodepth.simulation.inputs import (
    InputRates,
    expected_mean_rate_hz,
    gaussian_window,
    generate_inputs,
    generate_point_inputs,
    sample_bernoulli_exponential,
    smooth_rates,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PAPER = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}


def toy_cell(n_basal=30, n_apical=50, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.uniform(2, 40, n_basal + n_apical)
    trees = np.array(["basal"] * n_basal + ["apical"] * n_apical)
    return lengths, trees


def test_same_seed_same_inputs_and_shape():
    lengths, trees = toy_cell()
    rates = InputRates.from_config(PAPER)
    a = generate_inputs(np.random.default_rng(42), lengths, trees, 1500, rates)
    b = generate_inputs(np.random.default_rng(42), lengths, trees, 1500, rates)
    c = generate_inputs(np.random.default_rng(43), lengths, trees, 1500, rates)
    assert a.shape == (160, 1500) and a.dtype == bool
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gaussian_window_normalised_with_paper_length():
    for sigma in (5, 25, 37):
        w = gaussian_window(sigma)
        assert len(w) == int(1 + 7 * sigma)
        assert w.sum() == pytest.approx(1.0)
        assert np.argmax(w) == (len(w) - 1) // 2


def test_smoothing_preserves_interior_level_and_zero_pads_edges():
    x = np.full((1, 2000), 0.3)
    y = smooth_rates(x, 25)
    assert y[0, 1000] == pytest.approx(0.3)
    assert y[0, 0] == pytest.approx(0.15, rel=0.02)  # half the window hangs over the zero padding


def test_bernoulli_from_exponential_probability():
    # P(U < Exp(mean m)) = m (1 - exp(-1/m)); at most one spike per bin by construction
    rng = np.random.default_rng(0)
    for m in (0.01, 0.5, 2.0):
        spikes = sample_bernoulli_exponential(rng, np.full(400_000, m))
        assert spikes.mean() == pytest.approx(m * (1 - np.exp(-1 / m)), rel=0.03)
    assert not sample_bernoulli_exponential(rng, np.zeros(1000)).any()


def test_fixed_rates_spread_by_length_plus_10um():
    """With one hold level, no gain spread and a narrow sigma, each tree's exc total and the
    per-segment share (length + 10 um) / sum are what the config says."""
    lengths, trees = toy_cell(20, 40)
    rates = InputRates.from_config(
        {
            "exc_per_100ms": [300, 300],
            "inh_minus_exc": [-100, -100],
            "gain_range": [1, 1],
            "smoothing_sigmas_ms": [25],
            "jitter_ms": 0,
        }
    )
    T = 200_000
    x = generate_inputs(np.random.default_rng(1), lengths, trees, T, rates)
    n = len(lengths)
    for tree in ("basal", "apical"):
        m = trees == tree
        exc_per_100ms = x[:n][m].sum() / T * 100
        inh_per_100ms = x[n:][m].sum() / T * 100
        assert exc_per_100ms == pytest.approx(300, rel=0.02)
        assert inh_per_100ms == pytest.approx(200, rel=0.02)
    # per-channel rates follow (length + 10) within a tree
    m = trees == "apical"
    w = (lengths[m] + 10) / (lengths[m] + 10).sum()
    expected = 300 / 100 * w  # events per ms
    p = expected * (1 - np.exp(-1 / expected))
    observed = x[:n][m].mean(axis=1)
    assert np.corrcoef(observed, p)[0, 1] > 0.97
    assert np.allclose(observed, p, rtol=0.15)


def test_rates_within_configured_ranges():
    """Realised per-tree exc totals never exceed the configured maximum times the largest gain."""
    lengths, trees = toy_cell()
    rates = InputRates.from_config({"exc_per_100ms": [0, 100], "inh_minus_exc": [-600, 200]})
    n = len(lengths)
    for s in range(5):
        x = generate_inputs(np.random.default_rng(s), lengths, trees, 3000, rates)
        per_tree_rate = x[:n][trees == "apical"].sum(axis=0)  # events per ms
        # smoothed rate <= 100/100 * 1.5 per ms; a 200 ms window of counts is then below
        # 1.5*200 + slack
        window = np.convolve(per_tree_rate, np.ones(200), mode="valid")
        assert window.max() <= 1.5 * 200 + 4 * np.sqrt(1.5 * 200)
    zero = InputRates.from_config({"exc_per_100ms": [0, 0], "inh_minus_exc": [0, 0]})
    assert not generate_inputs(np.random.default_rng(0), lengths, trees, 1000, zero).any()


@pytest.mark.skipif(
    not (SHARED / "data" / "hay2011" / "segments_derived_neuron9.csv").exists(),
    reason="../shared absent",
)
def test_paper_mean_rates_on_hay_segments():
    """The paper: about 12 Hz per excitatory and 9 Hz per inhibitory synapse at its defaults."""
    df = pd.read_csv(SHARED / "data" / "hay2011" / "segments_derived_neuron9.csv")
    df = df[df.section.str.startswith(("dend", "apic"))]
    lengths = df.seg_length_um.to_numpy()
    trees = np.where(df.section.str.startswith("dend"), "basal", "apical")
    assert len(lengths) == 639
    rates = InputRates.from_config(PAPER)
    x = np.concatenate(
        [generate_inputs(np.random.default_rng(s), lengths, trees, 6000, rates) for s in range(12)],
        axis=1,
    )
    exc_hz, inh_hz = x[:639].mean() * 1000, x[639:].mean() * 1000
    assert 10.5 < exc_hz < 13.5
    assert 8.0 < inh_hz < 11.0
    e_expected, i_expected = expected_mean_rate_hz(lengths, trees, rates)
    assert e_expected == pytest.approx(12.5, rel=0.01)  # 2 trees x 400/100 ms / 639 segments
    assert exc_hz == pytest.approx(e_expected, rel=0.12)


def test_point_inputs_exc_first():
    rates = InputRates.from_config({"exc_per_100ms": [0, 160], "inh_minus_exc": [-60, 20]})
    x = generate_point_inputs(np.random.default_rng(0), 80, 20, 4000, rates)
    assert x.shape == (100, 4000)
    # inh totals are spread over 20 channels, exc over 80: inh channels fire more often
    assert x[80:].mean() > x[:80].mean() > 0


def test_from_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"inputs\.full\.exc_per_10ms"):
        InputRates.from_config({"exc_per_10ms": [0, 1]}, where="inputs.full")
    with pytest.raises(ConfigError, match="exc_per_100ms"):
        InputRates.from_config({"exc_per_100ms": [800, 0]})
    with pytest.raises(ConfigError, match="exc_per_100ms"):
        InputRates.from_config({"exc_per_100ms": [-5, 10]})
    with pytest.raises(ConfigError, match="jitter_ms"):
        InputRates.from_config({"jitter_ms": 30})
