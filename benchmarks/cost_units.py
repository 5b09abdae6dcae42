"""Measure the per-unit costs behind ``neurodepth cost`` and ``neurodepth.ops.resources``.

Prints, side by side with the constants currently in ``neurodepth.ops.cost.UNIT_COSTS`` (the
baseline), the measured values and their ratio:

* training step time (forward + backward + NAdam of ``models.TCN`` on a batch of 8 x 400 ms
  windows with 1278 inputs) for the paper's architectures, fitted as
  ``s/step = overhead + GMAC / throughput`` on the available device(s);
* reading one batch of windows through ``reader.DatasetReader`` (the data-loader's work per step);
* disk bytes per input channel-ms and per voltage trace-ms of a shard written by
  ``shards.write_shard`` from ``inputs.generate_inputs`` at the paper's rates;
* the I&F cell's core-seconds per simulated second.

Usage: python benchmarks/cost_units.py [--device cpu|cuda] [--steps 20] [--archs 1,2,...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neurodepth.learning.networks.tcn import TCN
from neurodepth.ops import cost

PAPER_ARCHS = {
    1: ([110], 128),
    2: ([40] * 2, 8),
    3: ([20] * 3, 8),
    4: ([16] * 4, 128),
    5: ([10] * 5, 256),
    6: ([13] * 6, 128),
    7: ([35] * 7, 128),
    8: ([33] * 8, 256),
}
N_IN, WINDOW, BATCH = 1278, 400, 8


def time_steps(kernels, width, device, steps, warmup=3):
    model = TCN(N_IN, kernels, width).to(device)
    opt = torch.optim.NAdam(model.parameters(), lr=1e-4)
    x = (torch.rand(BATCH, N_IN, WINDOW, device=device) < 0.012).float()
    spikes = (torch.rand(BATCH, WINDOW, device=device) < 0.001).float()
    soma = torch.randn(BATCH, WINDOW, device=device)

    def step():
        out = model(x)
        loss = F.binary_cross_entropy_with_logits(out["spike_logit"], spikes) + 0.02 * F.mse_loss(
            out["soma"], soma
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())  # the Lightning module also syncs on the loss value every step

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps, model.macs_per_ms


def hay_like_segments():
    """639 segments with Hay-like lengths (mean 19.7 um, 1.7-39.9) on two trees, 262 basal."""
    rng = np.random.default_rng(0)
    lengths = rng.uniform(1.7, 39.9, 639)
    trees = np.array(["basal"] * 262 + ["apical"] * 377)
    return lengths, trees


def measure_disk(tmp: Path, n_sims=4, duration_ms=6000):
    # imported here: the GPU machine has torch but not netCDF4/NEURON, and runs --skip-data
    from neurodepth.cells.lif import simulate_lif
    from neurodepth.data.shards import build_shard_dataset, write_shard
    from neurodepth.simulation.inputs import InputRates, generate_inputs

    rng = np.random.default_rng(1)
    lengths, trees = hay_like_segments()
    inputs = np.stack(
        [generate_inputs(rng, lengths, trees, duration_ms, InputRates()) for _ in range(n_sims)]
    )
    # a realistic-looking soma trace: the I&F free voltage of a 100-input subset is smooth and
    # noisy like a membrane potential; float32 compression depends on that texture
    lif_in = inputs[:, :100]
    soma = np.stack([simulate_lif(x)[0] for x in lif_in]).astype(np.float32)
    attrs = dict(
        cell="bench",
        variant="full",
        split="train",
        seed=0,
        config_hash="0" * 16,
        duration_ms=duration_ms,
        integrator="fixed",
        dt_ms=0.025,
    )
    ds = build_shard_dataset(inputs, soma, [np.zeros(0)] * n_sims, attrs, nexus_voltage=soma)
    path = write_shard(ds, tmp / "bench_inputs.nc")
    only_inputs = build_shard_dataset(inputs, np.zeros_like(soma), [np.zeros(0)] * n_sims, attrs)
    base = write_shard(only_inputs, tmp / "bench_zero.nc").stat().st_size
    total = path.stat().st_size
    per_input = base / (n_sims * inputs.shape[1] * duration_ms)
    per_trace = (total - base) / (2 * n_sims * duration_ms)
    rate_hz = inputs[:, :639].mean() * 1000
    return per_input, per_trace, total / n_sims, rate_hz, path


def measure_reader(path: Path, n=30):
    from neurodepth.data.reader import DatasetReader

    reader = DatasetReader(path)
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    for _ in range(n):
        for _ in range(BATCH):
            sim = int(rng.integers(reader.n_simulations))
            end = int(rng.integers(500, reader.duration_ms))
            reader.window(sim, end, WINDOW)
    return (time.perf_counter() - t0) / n


def measure_lif(duration_ms=6000, n=5):
    from neurodepth.cells.lif import simulate_lif
    from neurodepth.simulation.inputs import InputRates, generate_point_inputs

    rng = np.random.default_rng(3)
    rates = InputRates(exc_range=(0, 160), inh_minus_exc=(-60, 20))
    t0 = time.perf_counter()
    for _ in range(n):
        simulate_lif(generate_point_inputs(rng, 80, 20, duration_ms, rates))
    return (time.perf_counter() - t0) / (n * duration_ms / 1000)


def row(name, measured, baseline_key):
    base = cost.unit(baseline_key)
    print(
        f"{name:44s} measured {measured:12.5g}   constant {base:12.5g}   "
        f"ratio {measured / base:8.3f}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--archs", default="1,2,3,4,5,6,7,8")
    ap.add_argument("--skip-data", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.device == "cpu":
        print(f"torch threads: {torch.get_num_threads()}")
    else:
        print(f"device: {torch.cuda.get_device_name(0)}")
    gm, secs = [], []
    for d in [int(a) for a in args.archs.split(",")]:
        kernels, width = PAPER_ARCHS[d]
        s, macs = time_steps(kernels, width, args.device, args.steps)
        g = macs * WINDOW * BATCH * cost.unit("backward_factor") / 1e9
        gm.append(g)
        secs.append(s)
        print(
            f"depth {d}: {len(kernels)}x{kernels[0]}x{width}  {g:8.2f} GMAC/step  "
            f"{s * 1e3:9.2f} ms/step"
        )
    dev = "gpu" if args.device == "cuda" else "cpu"
    if len(gm) >= 2:
        slope, intercept = np.polyfit(gm, secs, 1)
        overhead = max(intercept, min(secs) * 0.5)
        throughput = 1.0 / slope if slope > 0 else float("inf")
        row(f"train_step_overhead_s.{dev}", overhead, f"train_step_overhead_s.{dev}")
        row(f"train_gmac_per_s.{dev}", throughput, f"train_gmac_per_s.{dev}")
    for g, s in zip(gm, secs):
        pred = cost.unit(f"train_step_overhead_s.{dev}") + g / cost.unit(f"train_gmac_per_s.{dev}")
        print(
            f"  {g:8.2f} GMAC: measured {s * 1e3:9.2f} ms, cost model {pred * 1e3:9.2f} ms, "
            f"ratio {s / pred:6.2f}"
        )
    if args.skip_data:
        return
    with tempfile.TemporaryDirectory() as tmp:
        per_input, per_trace, per_sim, rate_hz, path = measure_disk(Path(tmp))
        print(
            f"mean excitatory input rate {rate_hz:.1f} Hz; "
            f"{per_sim / 1e6:.3f} MB per 6 s simulation"
        )
        row("disk_bytes_per_input_channel_ms", per_input, "disk_bytes_per_input_channel_ms")
        row("disk_bytes_per_trace_ms", per_trace, "disk_bytes_per_trace_ms")
        print(
            f"reader: {measure_reader(path) * 1e3:.1f} ms to read one batch of {BATCH} windows "
            "(one loader worker)"
        )
    row("lif_s_per_sim_s", measure_lif(), "lif_s_per_sim_s")


if __name__ == "__main__":
    main()
