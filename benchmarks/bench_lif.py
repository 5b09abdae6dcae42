"""I&F simulation speed: neurodepth.cells.lif.simulate_lif vs a straightforward per-ms loop.

Run: .venv/bin/python benchmarks/bench_lif.py [n_sims]
Both implementations run on the same inputs in the same process; outputs are checked equal.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from neurodepth.cells.lif import N_EXC, N_INH, simulate_lif


def per_ms_loop(x, n_exc=N_EXC, tau=20.0):
    """Baseline: filter state and reset state updated bin by bin in Python."""
    a = np.exp(-1.0 / tau)
    drive = x[:n_exc].sum(0).astype(float) - x[n_exc:].sum(0)
    v = np.empty(x.shape[1])
    s = r = 0.0
    spikes = []
    reset_next = False
    for t in range(x.shape[1]):
        s = a * s + drive[t]
        r = a * r
        vt = -75.0 + 2.0 * s - r
        if reset_next:
            r += vt + 75.0
            vt = -75.0
            reset_next = False
        v[t] = vt
        if vt > -55.0:
            spikes.append(t)
            reset_next = True
    return v, np.asarray(spikes, float)


def main(n_sims: int = 50, p_exc: float = 0.012, p_inh: float = 0.012) -> None:
    rng = np.random.default_rng(0)
    sims = []
    for _ in range(n_sims):
        x = np.zeros((N_EXC + N_INH, 6000), dtype=bool)
        x[:N_EXC] = rng.random((N_EXC, 6000)) < p_exc
        x[N_EXC:] = rng.random((N_INH, 6000)) < p_inh
        sims.append(x)
    t0 = time.perf_counter()
    ours = [simulate_lif(x) for x in sims]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = [per_ms_loop(x) for x in sims]
    t_base = time.perf_counter() - t0
    for (v1, s1), (v2, s2) in zip(ours, base):
        np.testing.assert_allclose(v1, v2, atol=1e-9)
        np.testing.assert_array_equal(s1, s2)
    n_spk = sum(len(s) for _, s in ours)
    print(
        f"{n_sims} simulations x 6 s, inputs {1e3 * p_exc:.0f} Hz exc / {1e3 * p_inh:.0f} Hz inh, "
        f"{n_spk / (6 * n_sims):.1f} Hz output"
    )
    print(f"simulate_lif : {1e3 * t_ours / n_sims:.2f} ms per simulation")
    print(f"per-ms loop  : {1e3 * t_base / n_sims:.2f} ms per simulation")
    print(f"speed-up     : {t_base / t_ours:.1f}x")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    main(n)  # typical: a few Hz output
    main(n, p_exc=0.03, p_inh=0.03)  # stress: >100 Hz output, one numpy search per spike
