"""Per-rule Slurm/Snakemake resources, computed from the config and the retry ``attempt``.

Each ``<stage>_resources(config, attempt) -> dict`` returns ``mem_mb`` and ``runtime`` (minutes,
the plugin's ``sbatch -t``) and, for training on a GPU, ``gpu`` (the plugin turns it into
``--gpus=N``). The rules call them through ``resources_for(stage)`` in
``workflow/rules/common.smk``. Time comes from the same per-unit costs as ``neurodepth cost``;
both memory and time grow linearly with ``attempt`` so that a job killed for exceeding either
(Slurm OUT_OF_MEMORY / TIMEOUT) is resubmitted by ``retries:`` with more.
"""

from __future__ import annotations

import math

from neurodepth.ops import cost

#: Slack over the estimate: cluster cores are often slower than the machine the costs came
#: from, and a shard's spike count (hence event load) varies with its random rates.
TIME_SAFETY = 2.0
MIN_RUNTIME_MIN = 10
#: A Python process with NEURON / torch imported, before any data.
NEURON_BASE_MB = 500
TORCH_BASE_MB = 1500


def _scale(attempt) -> int:
    return max(1, int(attempt))


def _minutes(seconds: float, attempt) -> int:
    return int(max(MIN_RUNTIME_MIN, math.ceil(TIME_SAFETY * seconds / 60.0)) * _scale(attempt))


def _variants(config: dict) -> list[str]:
    return list(config["variants"])


def simulate_resources(config: dict, attempt: int = 1) -> dict:
    """One shard: one core, the cell built once, ``simulations_per_shard`` simulations in memory."""
    variants = _variants(config)
    seconds = max(cost.shard_core_seconds(config, v) for v in variants)
    per_shard = config["simulation"]["simulations_per_shard"]
    # the shard is assembled in memory (inputs as bools before packing: 8x the packed size)
    data = max(8 * cost.in_memory_bytes_per_simulation(config, v) for v in variants) * per_shard
    mem = NEURON_BASE_MB + 2 * data / 1e6
    return {
        "mem_mb": int(math.ceil(mem / 100.0) * 100) * _scale(attempt),
        "runtime": _minutes(seconds, attempt),
    }


#: Peak memory of ``shards.merge_shards`` beyond its imports, in shards held in memory: one shard
#: being validated plus one simulation of each trace being copied; measured 3.2-3.3 shards whatever
#: the split's size (docs/benchmarks.md, 'Merging shards'), rounded up.
MERGE_SHARD_COPIES = 4


def merge_resources(config: dict, attempt: int = 1) -> dict:
    """``shards.merge_shards`` streams the split: its memory follows one shard's size, not the
    number of shards."""
    sim = config["simulation"]
    biggest = max(sim["shards"].values()) * sim["simulations_per_shard"]
    per_simulation = max(cost.in_memory_bytes_per_simulation(config, v) for v in _variants(config))
    shard = per_simulation * sim["simulations_per_shard"]
    mem = NEURON_BASE_MB + MERGE_SHARD_COPIES * shard / 1e6
    seconds = (
        60.0 + max(cost.bytes_per_simulation(config, v) for v in _variants(config)) * biggest / 50e6
    )
    return {
        "mem_mb": int(math.ceil(mem / 100.0) * 100) * _scale(attempt),
        "runtime": _minutes(seconds, attempt),
    }


def _largest_network(config: dict) -> tuple[str, int, dict, str]:
    """(variant, size, architecture, family) with the most training time, over the depth sweep's
    candidates and the compared families (config key ``families``): it sets the request for
    every network."""
    sweep = config["network"]["family"]
    options = [
        (v, d, arch, sweep)
        for v in _variants(config)
        for d in config["network"]["depths"]
        for arch in cost.candidates_for(config, d)
    ]
    options += [
        (v, size, cost.architecture_for(config, size, family), family)
        for family, entry in config.get("families", {}).items()
        for v in _variants(config)
        for size in entry["sizes"]
    ]
    return max(options, key=lambda p: cost.training_seconds(config, *p))


def train_resources(config: dict, attempt: int = 1) -> dict:
    """One network; asks for a GPU when ``training.accelerator`` is gpu."""
    variant, depth, arch, family = _largest_network(config)
    size = cost.network_size(config, variant, depth, arch, family)
    n_in = cost.n_channels(config, variant)
    tr = config["training"]
    params = size.n_parameters
    # weights + grads + 2 NAdam moments, the inputs and every layer's outputs for one batch (kept
    # for backward), loader prefetch
    activations = 4 * tr["batch_size"] * tr["window_ms"] * (n_in + size.activations_per_ms)
    mem = TORCH_BASE_MB + (16 * params + 2 * activations) / 1e6 + 200 * int(tr["num_workers"])
    out = {
        "mem_mb": int(math.ceil(mem / 100.0) * 100) * _scale(attempt),
        "runtime": _minutes(cost.training_seconds(config, variant, depth, arch, family), attempt),
    }
    if tr["accelerator"] in cost.GPU_ACCELERATORS:
        out["gpu"] = 1
    return out


def evaluate_resources(config: dict, attempt: int = 1) -> dict:
    """Full-trace predictions over the test set: four float32 traces per test simulation are
    held (``learning.evaluate``), the test data are read one simulation at a time (its dense
    float32 inputs for the network)."""
    variant, depth, arch, family = _largest_network(config)
    sim = config["simulation"]
    n_test = sim["shards"]["test"] * sim["simulations_per_shard"]
    one_simulation = cost.in_memory_bytes_per_simulation(config, variant) + 4 * sim[
        "duration_ms"
    ] * cost.n_channels(config, variant)
    data = n_test * 4 * 4 * sim["duration_ms"] + one_simulation
    params = cost.network_size(config, variant, depth, arch, family).n_parameters
    mem = TORCH_BASE_MB + 2 * data / 1e6 + 4 * params / 1e6
    out = {
        "mem_mb": int(math.ceil(mem / 100.0) * 100) * _scale(attempt),
        "runtime": _minutes(cost.evaluation_seconds(config, variant, depth, arch, family), attempt),
    }
    if config["training"]["accelerator"] in cost.GPU_ACCELERATORS:
        out["gpu"] = 1
    return out


def compile_resources(config: dict, attempt: int = 1) -> dict:
    return {"mem_mb": 1000 * _scale(attempt), "runtime": MIN_RUNTIME_MIN * _scale(attempt)}


#: The request each rule's jobs make; rules not listed run in a plain Python process on the
#: login node or the submitting machine.
RULE_RESOURCES = {
    "compile_mechanisms": compile_resources,
    "calibrate_inputs": simulate_resources,
    "simulate_shard": simulate_resources,
    "merge_dataset": merge_resources,
    "train_model": train_resources,
    "train_family": train_resources,
    "evaluate_model": evaluate_resources,
    "evaluate_family": evaluate_resources,
}


def memory_gb_per_job(config: dict, rule: str) -> float:
    """The memory one job of ``rule`` asks for on its first attempt, in GB; NaN for rules that
    ask for nothing."""
    request = RULE_RESOURCES.get(rule)
    return float("nan") if request is None else request(config, 1)["mem_mb"] / 1000.0
