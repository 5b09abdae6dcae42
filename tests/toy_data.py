"""A small synthetic dataset in the dataset netCDF schema, for tests and benchmarks of training.

The "neuron" is a leaky point integrator: excitatory minus inhibitory input counts filtered by an
exponential kernel (tau 10 ms) drive the voltage; an upward crossing of -55 mV is an output spike
(voltage set to +20 mV in that bin). A depth-1 TCN with a kernel of a few tens of ms can learn it,
which is what the overfit test needs. No NEURON involved, so it is fast and deterministic.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurodepth.data.shards import build_shard_dataset, write_shard


def toy_dataset(
    n_simulations: int = 4,
    duration_ms: int = 1200,
    n_channels: int = 16,
    rate_per_ms: float = 0.04,
    seed: int = 0,
    gain: float = 4.0,
    split: str = "train",
) -> xr.Dataset:
    """Return a dataset with ``input_spikes_packed``, ``soma_voltage``, ``spike_time`` etc."""
    rng = np.random.default_rng(seed)
    n_exc = n_channels // 2
    # Slowly varying rate per simulation so that spike counts differ between simulations.
    inputs = rng.random((n_simulations, n_channels, duration_ms)) < rate_per_ms * rng.uniform(
        0.5, 1.8, size=(n_simulations, 1, 1)
    )
    drive = inputs[:, :n_exc].sum(1).astype(float) - 0.8 * inputs[:, n_exc:].sum(1)
    tau = 10.0
    kernel = np.exp(-np.arange(60) / tau)
    filtered = np.stack([np.convolve(d, kernel)[:duration_ms] for d in drive])
    v = -70.0 + gain * filtered
    above = v > -55.0
    crossing = above & ~np.concatenate([np.zeros((n_simulations, 1), bool), above[:, :-1]], axis=1)
    soma = v.astype(np.float32)
    soma[crossing] = 20.0
    sim_idx, bin_idx = np.nonzero(crossing)
    spike_time = bin_idx + rng.uniform(0.05, 0.95, size=bin_idx.size)  # sub-ms times inside the bin
    attrs = {
        "cell": "toy",
        "variant": "full",
        "split": split,
        "seed": seed,
        "config_hash": "toy",
        "duration_ms": duration_ms,
        "integrator": "toy",
        "dt_ms": 1.0,
    }
    spike_times = [spike_time[sim_idx == i] for i in range(n_simulations)]
    return build_shard_dataset(inputs, soma, spike_times, attrs)


def write_toy_dataset(path, **kwargs) -> None:
    """Write ``toy_dataset(**kwargs)`` with the shard encoding (one simulation per chunk)."""
    write_shard(toy_dataset(**kwargs), path)
