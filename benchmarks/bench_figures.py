"""Time each registered figure's regeneration (draw + save) on a result set of realistic size.

Issue 7 requires <= 30 s per figure after a full run. The result set mimics the L5PC study: 639
segments (1278 input channels), 4 variants x 4 depths, a test set of N_SIM simulations of T_MS ms,
width-128 checkpoints with a 43 ms first kernel. Baseline for the ratio: the 30 s budget, and the
bare cost of importing the figure modules (printed side by side).

    .venv/bin/python benchmarks/bench_figures.py [n_sim] [t_ms]
    (set NEURODEPTH_BENCH_FIGS=<dir> to keep the rendered figures)
"""

from __future__ import annotations

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
    from neurodepth.figures import FIGURES, figures_for, input_paths
    from neurodepth.figures._common import save

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
            f"built result set ({n_sim} sims x {t_ms} ms, 1278 channels) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        # The workflow's layout, with the test split standing in for every split.
        network = "{cell}/{variant}/d{depth}_s{seed}"
        patterns = {
            "summary_metrics": f"{R}/summary/metrics.csv",
            "depth_needed": f"{R}/summary/depth_needed.csv",
            "best_networks": f"{R}/summary/best_networks.csv",
            "dataset": f"{R}/datasets/{{cell}}/{{variant}}/test.nc",
            "predictions": f"{R}/evaluation/{network}/predictions.nc",
            "checkpoint": f"{R}/models/{network}/model.ckpt",
        }
        print(f"{'figure':22s} {'seconds':>8s} {'x import':>9s} {'/ 30 s budget':>14s}")
        print(f"{'(import modules)':22s} {import_s:8.2f} {1.0:9.1f} {import_s / BUDGET_S:14.2f}")
        for name in figures_for(T.VARIANTS):
            inputs = input_paths(
                FIGURES[name], patterns, cell="toy", variants=T.VARIANTS, depths=T.DEPTHS, seeds=[0]
            )
            t = time.perf_counter()
            fig = FIGURES[name].draw(**inputs)
            save(fig, Path(os.environ.get("NEURODEPTH_BENCH_FIGS", R / "fig")) / f"{name}.png")
            dt = time.perf_counter() - t
            print(f"{name:22s} {dt:8.2f} {dt / import_s:9.1f} {dt / BUDGET_S:14.2f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
