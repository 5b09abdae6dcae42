"""How much does one simulation's output rate vary between draws, and why? (issue 15, item 5)

Simulates N draws of one variant of the stylized cell at a fixed input scale with the default
config's integrator and protocol, and records per simulation the output spikes and what the
protocol drew for it: the hold interval, the smoothing sigma and the mean excitatory level.
Prints the rate's coefficient of variation over simulations, the spread of the mean over blocks
of 32 (the default's calibration size), and the correlation of the spike count with each drawn
quantity. This is what limits input-rate calibration: the rate of a set of n simulations is off
its population mean by about CV / sqrt(n).

    .venv/bin/python benchmarks/science_rate_variance.py --variant full --scale 0.7096 \
        --simulations 160 --mechanisms /tmp/ndmech_t --out /tmp/rate_variance_full.json
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import yaml

from neurodepth.cells.mechanisms_build import compile_mechanisms
from neurodepth.simulation.inputs import InputRates, _jittered, cell_inputs
from neurodepth.simulation.simulate import (
    NeuronRunner,
    SimulationSettings,
    build_variant_cell,
    simulation_rng,
)


def drawn_parameters(rng: np.random.Generator, rates: InputRates, duration_ms: int) -> dict:
    """What the input protocol draws first from ``rng`` (read from a copy: ``rng`` is untouched)."""
    probe = copy.deepcopy(rng)
    hold = _jittered(probe, rates.hold_intervals_ms, rates.jitter_ms)
    sigma = _jittered(probe, rates.smoothing_sigmas_ms, rates.jitter_ms)
    levels = probe.uniform(*rates.exc_range, size=(-(-duration_ms // hold), 2))
    return {"hold_ms": hold, "sigma_ms": sigma, "exc_level_mean": float(levels.mean())}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="full")
    parser.add_argument("--scale", type=float, required=True, help="input-rate scale")
    parser.add_argument("--simulations", type=int, default=160)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--mechanisms", type=Path, default=Path("/tmp/ndmech_t"))
    parser.add_argument("--out", type=Path, required=True, help="per-simulation rows (JSON)")
    args = parser.parse_args(argv)
    cfg = yaml.safe_load(args.config.read_text())
    if not (args.mechanisms / "mechanisms.json").exists():
        compile_mechanisms(args.mechanisms)
    cell = build_variant_cell(cfg["cell"]["name"], args.variant, args.mechanisms, None)
    settings = SimulationSettings.from_config({**cfg["simulation"], "record_nexus": False})
    section = {k: v for k, v in cfg["inputs"][args.variant].items() if k != "target_rate_hz"}
    rates = InputRates.from_config(section).scaled(args.scale)
    runner = NeuronRunner(cell, settings)
    T = settings.duration_ms
    rows = []
    for i in range(args.simulations):
        rng = simulation_rng(args.seed, i)
        row = {"simulation": i, **drawn_parameters(rng, rates, T)}
        row["spikes"] = len(runner.run(cell_inputs(rng, cell, T, rates))["spike_times"])
        rows.append(row)
        print(row, flush=True)
    args.out.write_text(json.dumps(rows))

    spikes = np.array([r["spikes"] for r in rows], float)
    rate = spikes / (T / 1000.0)
    print(
        f"\n{args.variant} at scale {args.scale}: {len(rows)} x {T} ms, mean rate "
        f"{rate.mean():.2f} Hz, CV over simulations {rate.std(ddof=1) / rate.mean():.2f}, "
        f"silent simulations {np.mean(spikes == 0):.0%}"
    )
    blocks = rate[: len(rate) // 32 * 32].reshape(-1, 32).mean(axis=1)
    print(f"mean rate of blocks of 32 simulations: {np.round(blocks, 2).tolist()} Hz")
    for key in ("hold_ms", "sigma_ms", "exc_level_mean"):
        values = np.array([r[key] for r in rows], float)
        print(f"correlation of spikes with {key}: {np.corrcoef(values, spikes)[0, 1]:+.2f}")
    log_sigma = np.log([r["sigma_ms"] for r in rows])
    print(f"correlation of spikes with log(sigma_ms): {np.corrcoef(log_sigma, spikes)[0, 1]:+.2f}")
    return rows


if __name__ == "__main__":
    main()
