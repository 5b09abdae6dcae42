"""Time each figure's regeneration (from_files + save) on a result set of realistic size.

Issue 7 requires <= 30 s per figure after a full run. The result set mimics the L5PC study: 639
segments (1278 input channels), 4 variants x 4 depths, a test set of N_SIM simulations of T_MS ms,
width-128 checkpoints with a 43 ms first kernel. Baseline for the ratio: the 30 s budget, and the
bare cost of importing the figure modules (printed side by side).

    .venv/bin/python benchmarks/bench_figures.py [n_sim] [t_ms]
    (set NEURODEPTH_BENCH_FIGS=<dir> to keep the rendered figures)
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

BUDGET_S = 30.0


def main(n_sim: int = 32, t_ms: int = 6000) -> None:
    t0 = time.perf_counter()
    from neurodepth.figures import (
        accuracy_vs_depth,
        cell_morphology,
        dataset_overview,
        example_predictions,
        first_layer_weights,
        lif_check,
        roc_timing,
    )

    import_s = time.perf_counter() - t0

    import tiny_results as T

    T.N_SIM, T.T_MS, T.N_SEG, T.DROP_MS = n_sim, t_ms, 639, 500
    T.VARIANTS = ["full", "no_nmda", "no_branching", "lif"]
    T.DEPTHS = [1, 2, 3, 4]
    orig_ckpt = T.write_checkpoint
    T.write_checkpoint = lambda path, n_in, kernels, width=6, seed=0: orig_ckpt(
        path, n_in, (43,) + tuple(kernels[1:]), width=128 if width > 1 else 1, seed=seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        R = Path(tmp)
        t = time.perf_counter()
        T.build(R)
        print(
            f"built result set ({n_sim} sims x {t_ms} ms, 1278 channels) in {time.perf_counter() - t:.1f} s"
        )
        full_ds = R / "datasets/toy/full/test.nc"
        jobs = {
            "accuracy_vs_depth": lambda: accuracy_vs_depth.from_files(
                R / "summary/metrics.csv", R / "summary/depth_needed.csv"
            ),
            "example_predictions": lambda: example_predictions.from_files(
                full_ds, sorted(glob.glob(f"{R}/evaluation/toy/full/*/predictions.nc"))
            ),
            "roc_timing": lambda: roc_timing.from_files(
                sorted(glob.glob(f"{R}/evaluation/toy/*/*/predictions.nc"))
            ),
            "first_layer_weights": lambda: first_layer_weights.from_files(
                sorted(glob.glob(f"{R}/models/toy/full/*/model.ckpt")),
                full_ds,
                R / "summary/metrics.csv",
            ),
            "cell_morphology": lambda: cell_morphology.from_files(
                full_ds, R / "models/toy/full/d4_s0/model.ckpt"
            ),
            "dataset_overview": lambda: dataset_overview.from_files(
                sorted(glob.glob(f"{R}/datasets/toy/*/test.nc"))
            ),
            "lif_check": lambda: lif_check.from_files(
                R / "evaluation/toy/lif/d1_s0/predictions.nc",
                R / "models/toy/lif/d1_s0/model.ckpt",
                R / "datasets/toy/lif/test.nc",
            ),
        }
        mods = {
            "accuracy_vs_depth": accuracy_vs_depth,
            "example_predictions": example_predictions,
            "roc_timing": roc_timing,
            "first_layer_weights": first_layer_weights,
            "cell_morphology": cell_morphology,
            "dataset_overview": dataset_overview,
            "lif_check": lif_check,
        }
        print(f"{'figure':22s} {'seconds':>8s} {'x import':>9s} {'/ 30 s budget':>14s}")
        print(f"{'(import modules)':22s} {import_s:8.2f} {1.0:9.1f} {import_s / BUDGET_S:14.2f}")
        for name, job in jobs.items():
            t = time.perf_counter()
            fig = job()
            mods[name].save(
                fig, Path(os.environ.get("NEURODEPTH_BENCH_FIGS", R / "fig")) / f"{name}.png"
            )
            dt = time.perf_counter() - t
            print(f"{name:22s} {dt:8.2f} {dt / import_s:9.1f} {dt / BUDGET_S:14.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
