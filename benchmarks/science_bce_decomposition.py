"""Why do networks fail the held-out BCE check? Ranking or calibration (issue 15).

A network passes ``results/summary/network_checks.csv`` when its held-out spike BCE is below
``evaluation.max_bce_ratio`` (0.8) x the constant-rate predictor's. A network can fail because it
does not rank the bins well (low AUC) or because its probabilities are off in scale (too
confident after memorising, or fitted to a training set that fired faster than the test set).
This script separates the two for every evaluated network (and the no-training baseline) of a
finished run, from its ``predictions.nc`` and ``metrics.csv``:

- ``bce_ratio``: the check's value (spike BCE over the constant-rate predictor's, which predicts
  the training set's mean rate);
- ``recalibrated_ratio``: the same after the best affine map of the network's logit,
  ``sigmoid(a * logit(p) + b)``, fitted on the scored test bins themselves. Two parameters on
  ~40,000 bins: an in-sample ceiling on what recalibration could give, not a result to report as
  the network's;
- ``test_rate_ratio``: a constant predictor at the test set's own rate, over the check's
  denominator (below 1: part of the check's margin is the rate difference between splits).

A network whose ``recalibrated_ratio`` is still above 0.8 does not rank the bins well enough:
more data, not better calibration, is what it lacks.

    .venv/bin/python benchmarks/science_bce_decomposition.py results/evaluation/stylized_l5pc \
        --md /tmp/bce.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.data.predictions import read_predictions
from neurodepth.learning.evaluate import spike_bce

_EPS = 1e-7


def scored_bins(pred: dict) -> tuple[np.ndarray, np.ndarray]:
    """(targets, probabilities) of the bins evaluation scores: included simulations, after
    drop_first_ms."""
    keep = pred["time"] >= pred["drop_first_ms"]
    rows = pred["included"]
    y = pred["spike_target"][rows][:, keep].ravel().astype(np.float64)
    p = pred["spike_probability"][rows][:, keep].ravel().astype(np.float64)
    return y, p


def fit_affine_logit(y: np.ndarray, p: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) minimising the BCE of sigmoid(a * logit(p) + b) against y (Newton's method)."""
    p = np.clip(p, _EPS, 1 - _EPS)
    x = np.log(p) - np.log1p(-p)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        q = 1.0 / (1.0 + np.exp(-(a * x + b)))
        r, w = q - y, np.maximum(q * (1 - q), 1e-12)
        grad = np.array([np.dot(r, x), r.sum()])
        hess = np.array([[np.dot(w * x, x), np.dot(w, x)], [np.dot(w, x), w.sum()]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def recalibrated(p: np.ndarray, a: float, b: float) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return 1.0 / (1.0 + np.exp(-(a * (np.log(p) - np.log1p(-p)) + b)))


def decompose(run_dir: Path) -> dict:
    """One row for the network (or baseline) evaluated in ``run_dir``."""
    metrics = pd.read_csv(run_dir / "metrics.csv").query("subset == 'all'")
    value = dict(zip(metrics["metric"], metrics["value"]))
    pred = read_predictions(run_dir / "predictions.nc")
    y, p = scored_bins(pred)
    a, b = fit_affine_logit(y, p)
    constant = value["constant_rate_bce"]
    return {
        "variant": run_dir.parent.name,
        "network": run_dir.name,
        "auc": value["spike_auc"],
        "bce_ratio": value["spike_bce_ratio"],
        "recalibrated_ratio": spike_bce(y, recalibrated(p, a, b)) / constant,
        "slope_a": a,
        "offset_b": b,
        "test_rate_ratio": spike_bce(y, y.mean()) / constant,
        "mean_p_over_test_rate": p.mean() / y.mean(),
    }


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", type=Path, help="results/evaluation/<cell> of a run")
    parser.add_argument("--md", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    runs = sorted(p.parent for p in args.evaluation.glob("*/*/predictions.nc"))
    table = pd.DataFrame([decompose(r) for r in runs]).round(3)
    print(table.to_string(index=False))
    if args.md:
        args.md.write_text(table.to_markdown(index=False) + "\n")
    return table


if __name__ == "__main__":
    main()
