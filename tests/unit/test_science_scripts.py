"""The science scripts' own arithmetic (benchmarks/science_*.py), on cases with known answers."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurodepth.learning.evaluate import spike_bce

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_affine_recalibration_recovers_a_known_distortion():
    """Spikes drawn with logit 2x - 6 from a predictor that says logit x: the fit finds
    (a, b) = (2, -6) and the recalibrated BCE is the true model's."""
    bce = _load("science_bce_decomposition")
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.5, 200_000)
    truth = 1 / (1 + np.exp(-(2 * x - 6)))
    y = (rng.random(x.size) < truth).astype(float)
    predicted = 1 / (1 + np.exp(-x))
    a, b = bce.fit_affine_logit(y, predicted)
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(-6.0, abs=0.2)
    fixed = bce.recalibrated(predicted, a, b)
    assert spike_bce(y, fixed) == pytest.approx(spike_bce(y, truth), rel=0.01)
    assert spike_bce(y, fixed) < 0.5 * spike_bce(y, predicted)


def test_affine_recalibration_leaves_a_calibrated_predictor_alone():
    bce = _load("science_bce_decomposition")
    rng = np.random.default_rng(1)
    p = rng.uniform(0.001, 0.05, 100_000)
    y = (rng.random(p.size) < p).astype(float)
    a, b = bce.fit_affine_logit(y, p)
    assert a == pytest.approx(1.0, abs=0.15) and b == pytest.approx(0.0, abs=0.4)
