"""What a config will cost before it is submitted: jobs per rule, simulated hours, core-hours,
GPU-hours and disk, from measured per-unit costs.

Every constant lives in ``UNIT_COSTS`` with its unit and where it was measured, so a new
measurement changes one line. ``estimate_cost(config)`` is pure arithmetic on the config (no
Snakemake, no NEURON), so it runs on a login node in a fraction of a second and is unit-tested on
hand-computed configs. ``neurodepth.ops.resources`` derives each job's Slurm request from the same
numbers, so the estimate and the requests cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from neurodepth.cells.spec import spec_needs_morphology
from neurodepth.cells.variants import VARIANTS
from neurodepth.core.errors import ConfigError
from neurodepth.simulation.calibration import search_simulation_count


@dataclass(frozen=True)
class UnitCost:
    value: float
    unit: str
    source: str


PROTOCOL = "shared/reference/paper_protocol.md, 'Cost of the original protocol' (2-core machine)"
CELLS_BENCH = "docs/benchmarks.md, section 'Cells' (benchmarks/bench_cells.py)"
BENCH = "docs/benchmarks.md, section 'Cluster: per-unit costs' (benchmarks/cost_units.py)"

# stylized fixed dt 0.05 cost x Hay's measured two-level adaptive / fixed-0.05 ratio (2.65 / 4.64)
_STYLIZED_ADAPTIVE_S_PER_SIM_S = 0.79 * 2.65 / (15.30 / 3.30)

#: One table of measured (or, where said, assumed) per-unit costs.
UNIT_COSTS: dict[str, UnitCost] = {
    # --- simulation (one core per shard job) -------------------------------------------------
    "hay2011_l5pc.fixed_s_per_sim_s": UnitCost(
        10.0, "core-s per simulated s at dt_ref", PROTOCOL + ": fixed step dt 0.025 ms ~10 s"
    ),
    "hay2011_l5pc.fixed_dt_ref_ms": UnitCost(0.025, "ms", PROTOCOL),
    "hay2011_l5pc.cvode_s_per_sim_s": UnitCost(
        18.5, "core-s per simulated s", PROTOCOL + ": CVODE ~18-19 s"
    ),
    "hay2011_l5pc.adaptive_s_per_sim_s": UnitCost(
        2.65,
        "core-s per simulated s",
        "docs/benchmarks.md, section 'Simulation': adaptive dt 0.1/0.025 ms above -60 mV, "
        "60 s measured",
    ),
    "hay2011_l5pc.adaptive_mid_s_per_sim_s": UnitCost(
        15.30 / 4.40,
        "core-s per simulated s",
        "docs/benchmarks.md, section 'Simulation': three-level adaptive dt 0.1/0.05/0.0125 ms "
        "(above -65/-60 mV) ran 4.40x faster than the CVODE atol 1e-3 baseline over 60 s; that "
        "baseline costs 15.30 core-s per s on the development machine when quiet",
    ),
    "hay2011_l5pc.n_segments": UnitCost(639, "dendritic segments", "paper_protocol.md, 'Cells'"),
    # The embedded stylized cell: CPU seconds (a dedicated cluster core sees CPU time, not the
    # wall time of a shared laptop), fixed step dt 0.05 ms, Crank-Nicolson.
    "stylized_l5pc.fixed_s_per_sim_s": UnitCost(
        0.79, "core-s per simulated s at dt_ref", CELLS_BENCH + ": CPU s, median of 2 (Hay: 4.61)"
    ),
    "stylized_l5pc.fixed_dt_ref_ms": UnitCost(0.05, "ms", CELLS_BENCH),
    "stylized_l5pc.cvode_s_per_sim_s": UnitCost(
        18.5 * 0.79 / 4.61,
        "core-s per simulated s",
        "ASSUMED: Hay CVODE x the measured stylized/Hay fixed-step CPU ratio (0.79 / 4.61)",
    ),
    "stylized_l5pc.adaptive_s_per_sim_s": UnitCost(
        _STYLIZED_ADAPTIVE_S_PER_SIM_S,
        "core-s per simulated s",
        "ASSUMED: stylized fixed dt 0.05 cost x Hay's measured adaptive / fixed-0.05 ratio "
        "(2.65 / 4.64)",
    ),
    "stylized_l5pc.adaptive_mid_s_per_sim_s": UnitCost(
        _STYLIZED_ADAPTIVE_S_PER_SIM_S * 19.13 / 13.08,
        "core-s per simulated s",
        "stylized two-level adaptive cost x the measured three-level / two-level CPU ratio on the "
        "stylized cell (19.13 / 13.08 s; docs/benchmarks.md, 'Simulation')",
    ),
    "stylized_l5pc.n_segments": UnitCost(97, "dendritic segments", CELLS_BENCH),
    "stylized_l5pc.cell_build_s": UnitCost(0.08, "core-s per shard", CELLS_BENCH),
    # no_branching (equivalent cylinders) has fewer compartments: counting it at the full cell's
    # cost over-estimates, which is the safe side for a budget.
    "no_branching_cost_factor": UnitCost(1.0, "x full-cell cost", "ASSUMED upper bound"),
    "hay2011_l5pc.cell_build_s": UnitCost(
        1.3, "core-s per shard (one build per process)", PROTOCOL
    ),
    "input_generation_s_per_sim_s": UnitCost(
        0.45 / 6.0, "core-s per simulated s", PROTOCOL + ": 0.45 s per 6 s simulation"
    ),
    "calibration_evaluations": UnitCost(
        4.0,
        "scales evaluated by a calibration search (typical; max: calibration.max_iterations)",
        "neurodepth.simulation.calibration, config/config.yaml rates, target 1 Hz, one stage on "
        "88 simulations (2026-12-07): full 4, no_nmda 2, no_branching 3, lif 5 evaluations; "
        "the search on 24 of 96 (2026-12-08): 3, 2, 2, 4",
    ),
    "calibration_final_evaluations": UnitCost(
        2.0,
        "scales evaluated on all calibration.simulations after the search on "
        "calibration.search_simulations (typical)",
        "neurodepth.simulation.calibration, config/config.yaml (2026-12-08, 96 simulations): "
        "full 2, no_nmda 2, no_branching 3, lif 2 evaluations",
    ),
    "lif_s_per_sim_s": UnitCost(0.0076, "core-s per simulated s (I&F, numpy, 100 inputs)", BENCH),
    # --- storage (netCDF, zlib level 4; see shards.py) ----------------------------------------
    "disk_bytes_per_input_channel_ms": UnitCost(
        0.0245, "bytes", BENCH + ": packed bits after zlib, 12.4 Hz exc inputs, 1278 channels"
    ),
    # input event lists (shards.input_events, uncompressed): 2 bytes per input spike, ~1.2 % of
    # channel-ms at ~12 Hz; plus one int32 index per ms. Measured by benchmarks/bench_loader.py
    # (1.2 % density): 209 kB per 6 s simulation at 1278 channels = 0.024 x 1278 x 6000 + 4 x 6000
    "disk_bytes_per_input_event_channel_ms": UnitCost(
        0.024, "bytes", "docs/benchmarks.md, 'Training' (bench_loader.py): uint16 per event"
    ),
    "disk_bytes_per_event_index_ms": UnitCost(
        4.0, "bytes", "int32 input_event_before per simulation-ms (shards.input_events)"
    ),
    "disk_bytes_per_trace_ms": UnitCost(
        2.50, "bytes", BENCH + ": float32 voltage after shuffle+zlib"
    ),
    "disk_bytes_per_dendrite_ms": UnitCost(
        2.0, "bytes", "ASSUMED: int16 (2 bytes) uncompressed upper bound; not measured"
    ),
    # --- training / evaluation (one job per network) ------------------------------------------
    # step = max(overhead + GMAC / throughput, data reading / loader workers): on a GPU the
    # compute is ~3-7 ms, so reading windows from netCDF sets the pace unless workers overlap it
    "train_step_overhead_s.cpu": UnitCost(
        0.010,
        "s per step (optimiser, small layers; one thread)",
        "docs/benchmarks.md, 'Cluster: per-unit costs', CPU: 20 trainings of the data-scaling "
        "study (60-90 CPU-ms per step at 1.8-2.1 GMAC, validation included)",
    ),
    "train_gmac_per_s.cpu": UnitCost(
        30.0,
        "G multiply-accumulates per s, fwd+bwd, one thread",
        "docs/benchmarks.md, 'Cluster: per-unit costs', CPU (same 20 trainings)",
    ),
    "train_step_overhead_s.gpu": UnitCost(
        0.0030,
        "s per step (kernel launches, optimiser, loss sync)",
        BENCH + ": NVIDIA H200, paper architectures 1-8",
    ),
    "train_gmac_per_s.gpu": UnitCost(
        68000.0,
        "G multiply-accumulates per s, fwd+bwd (fp32/TF32)",
        BENCH + ": NVIDIA H200 fit, 2.4-6.9 ms per step",
    ),
    "reader_s_per_channel_ms": UnitCost(
        3.6e-10,
        "s per input channel-ms read (one loader worker)",
        "docs/benchmarks.md, 'Training' (benchmarks/bench_loader.py): 1.46 CPU-ms per batch of "
        "8 x 400 ms x 1278 channels from the input event lists (16.4 ms before issue 16)",
    ),
    # Recurrent families step through the window one millisecond at a time: a per-ms cost on top
    # of their (small) MACs. Measured at the stylized cell's 194 inputs; at 1278 per-channel
    # inputs the ELM's unexplained share grows to ~800 us per ms (its trace over 1278 groups)
    "sequential_s_per_window_ms.elm.cpu": UnitCost(
        165e-6,
        "s per ms of a training window (fwd+bwd, batch 8, one thread) beyond the MAC model",
        "docs/benchmarks.md, 'Network families' (benchmarks/bench_families.py): ELM 4 and 16",
    ),
    "sequential_s_per_window_ms.gru.cpu": UnitCost(
        100e-6,
        "s per ms of a training window (fwd+bwd, batch 8, one thread) beyond the MAC model",
        "docs/benchmarks.md, 'Network families' (benchmarks/bench_families.py): GRU 8 and 32",
    ),
    "sequential_s_per_window_ms.elm.gpu": UnitCost(
        165e-6,
        "s per ms of a training window beyond the MAC model",
        "ASSUMED: not measured on a GPU (none lent); the loop launches ~10 small kernels per ms, "
        "taken as costly as the CPU's Python loop",
    ),
    "sequential_s_per_window_ms.gru.gpu": UnitCost(
        100e-6,
        "s per ms of a training window beyond the MAC model",
        "ASSUMED: not measured on a GPU (none lent); taken as the CPU's",
    ),
    "backward_factor": UnitCost(3.0, "fwd+bwd MACs / fwd MACs", "standard: backward ~2x forward"),
    "checkpoint_copies": UnitCost(
        2 * 3, "parameter copies on disk", "model.ckpt + last.ckpt, each weights + 2 NAdam moments"
    ),
}


@dataclass(frozen=True)
class DataScaling:
    """What the data-scaling study measured on one cell (docs/science.md, "Data scaling"):
    below ``overfits_below_s`` of training data per variant the networks overfit (train AUC
    more than 0.02 above test AUC); from there to ``flat_up_to_s``, the largest size measured
    with the current protocol, test AUC was flat, at the default's training budget and at a
    longer one (``budgets``), for the networks measured at every size; ``larger_networks``
    says what bigger networks did at the sizes they were measured."""

    overfits_below_s: float
    flat_up_to_s: float
    budgets: str
    larger_networks: str
    source: str


SCALING_STUDY = (
    "docs/science.md, 'Data scaling' (benchmarks/science_data_scaling.py): full cell, TCN depth "
    "1 and 4 at width 32 (depth 7, width 64 at 1x and 32x), 1x-32x the default's 192 s (2026-12-08)"
)
#: Measured per cell; other cells fall back on the stylized cell's numbers as a lower bound.
DATA_SCALING: dict[str, DataScaling] = {
    "stylized_l5pc": DataScaling(
        overfits_below_s=384.0,
        flat_up_to_s=6144.0,
        budgets="the default's 600-2000 steps and 4 passes (up to 6,000 steps) with patience 12",
        larger_networks=(
            "depth 7 and width 64 gained 0.005-0.006 AUC over depth 1 at 6,144 s (three seeds "
            "each), none at 192 s"
        ),
        source=SCALING_STUDY,
    ),
}


def training_data_seconds(config: dict) -> float:
    """Simulated seconds of training data per variant."""
    sim = config["simulation"]
    return sim["shards"]["train"] * sim["simulations_per_shard"] * sim["duration_ms"] / 1000.0


def data_verdict(config: dict) -> str:
    """How a config's training data compares with what the data-scaling study says it needs."""
    seconds = training_data_seconds(config)
    key = cell_key(config)
    scaling = DATA_SCALING.get(key)
    cell_note = ""
    if scaling is None:
        scaling = DATA_SCALING["stylized_l5pc"]
        cell_note = f" (measured on stylized_l5pc, not on {key}: a more complex cell needs more)"
    if seconds < scaling.overfits_below_s:
        regime = (
            f"below the {scaling.overfits_below_s:,.0f} s under which networks overfit their "
            "training set (train AUC > test AUC + 0.02): early stopping keeps them usable, but "
            "a demonstration only"
        )
    elif seconds <= scaling.flat_up_to_s:
        regime = (
            f"enough not to overfit (>= {scaling.overfits_below_s:,.0f} s); test AUC was flat "
            f"from there to {scaling.flat_up_to_s:,.0f} s with {scaling.budgets}: for TCNs of "
            "width 32 and depth 1 and 4 more data bought nothing; "
            f"{scaling.larger_networks}"
        )
    else:
        regime = (
            f"more than the {scaling.flat_up_to_s:,.0f} s measured with the current protocol: "
            "whether accuracy still changes here is not measured"
        )
    return (
        f"training data per variant: {seconds:,.0f} simulated s; {regime}{cell_note} "
        f"[{scaling.source}]"
    )


GPU_ACCELERATORS = ("gpu",)
SPLITS = ("train", "valid", "test")


def unit(key: str) -> float:
    return float(UNIT_COSTS[key].value)


def unit_cost_table() -> pd.DataFrame:
    """The constants with their units and sources, for printing and the docs."""
    return pd.DataFrame(
        [
            {"constant": k, "value": c.value, "unit": c.unit, "source": c.source}
            for k, c in UNIT_COSTS.items()
        ]
    )


# ---------------------------------------------------------------------------------------------
# per-unit helpers (also used by neurodepth.ops.resources)


def cell_key(config: dict) -> str:
    """Cost-table key of the configured cell; a user's own spec is costed like the Hay cell."""
    name = str(config["cell"]["name"])
    return name if f"{name}.n_segments" in UNIT_COSTS else "hay2011_l5pc"


def _uses_neuron(variant: str) -> bool:
    return VARIANTS[variant].uses_neuron


def n_channels(config: dict, variant: str) -> int:
    fixed = VARIANTS[variant].fixed_channels  # a cell without morphology, e.g. the I&F's 80 + 20
    if fixed is not None:
        return sum(fixed)
    return 2 * int(unit(f"{cell_key(config)}.n_segments"))


def neuron_s_per_sim_s(config: dict, variant: str) -> float:
    """Core-seconds of integration per simulated second for one variant.

    A variant simulated without NEURON is costed like the I&F cell (the only one measured)."""
    if not _uses_neuron(variant):
        return unit("lif_s_per_sim_s")
    sim = config["simulation"]
    key = cell_key(config)
    if sim["integrator"] == "cvode":
        cost = unit(f"{key}.cvode_s_per_sim_s")
    elif float(sim["dt_fine_ms"]) > 0:
        # adaptive step, measured at the settings of config/paper.yaml (three levels) and of
        # config/config.yaml (two levels)
        levels = "adaptive_mid" if float(sim["dt_mid_ms"]) > 0 else "adaptive"
        cost = unit(f"{key}.{levels}_s_per_sim_s")
    else:
        # fixed step: the loop runs duration/dt steps, so cost scales with dt_ref / dt
        cost = (
            unit(f"{key}.fixed_s_per_sim_s") * unit(f"{key}.fixed_dt_ref_ms") / float(sim["dt_ms"])
        )
    if variant == "no_branching":
        cost *= unit("no_branching_cost_factor")
    return cost


def shard_core_seconds(config: dict, variant: str) -> float:
    """Wall seconds of one single-core shard job: build once, then simulate each simulation."""
    sim = config["simulation"]
    sim_s = sim["duration_ms"] / 1000.0
    per_sim = sim_s * (neuron_s_per_sim_s(config, variant) + unit("input_generation_s_per_sim_s"))
    build = unit(f"{cell_key(config)}.cell_build_s") if _uses_neuron(variant) else 0.0
    return build + sim["simulations_per_shard"] * per_sim


def calibrated_variants(config: dict) -> list[str]:
    """Variants whose input rates the calibrate_inputs rule scales to a target output rate (none
    when the data are the authors', which nothing simulates)."""
    if config["dataset"]["source"] == "authors":
        return []
    return [v for v in config["variants"] if config["inputs"][v]["target_rate_hz"] is not None]


def calibration_core_seconds(config: dict, variant: str, worst_case: bool = False) -> float:
    """One calibrate_inputs job: the cell built once, then per evaluated scale
    ``calibration.search_simulations`` simulations of ``calibration.duration_ms`` while the search
    runs and ``calibration.simulations`` after it; typical numbers of evaluations, or with
    ``worst_case`` all ``calibration.max_iterations`` in both stages (for time limits)."""
    cal = config["calibration"]
    n_sims = cal["simulations"]
    n_search = search_simulation_count(cal)
    search = cal["max_iterations"] if worst_case else unit("calibration_evaluations")
    search = min(search, cal["max_iterations"])
    if n_search < n_sims:
        final = cal["max_iterations"] if worst_case else unit("calibration_final_evaluations")
        # the final stage's first scale is the search's last: its first n_search draws are known
        simulations = search * n_search + min(final, cal["max_iterations"]) * n_sims - n_search
    else:
        simulations = search * n_sims
    sim_s = (cal["duration_ms"] or config["simulation"]["duration_ms"]) / 1000.0
    per_sim = sim_s * (neuron_s_per_sim_s(config, variant) + unit("input_generation_s_per_sim_s"))
    build = unit(f"{cell_key(config)}.cell_build_s") if _uses_neuron(variant) else 0.0
    return build + simulations * per_sim


def bytes_per_simulation(config: dict, variant: str) -> float:
    sim = config["simulation"]
    ms = sim["duration_ms"]
    traces = 1 + (1 if sim["record_nexus"] and _uses_neuron(variant) else 0)
    total = n_channels(config, variant) * ms * unit("disk_bytes_per_input_channel_ms")
    total += _event_list_bytes(config, variant)
    total += traces * ms * unit("disk_bytes_per_trace_ms")
    if sim["record_dendrites"] and _uses_neuron(variant):
        total += n_channels(config, variant) // 2 * ms * unit("disk_bytes_per_dendrite_ms")
    return total


def _event_list_bytes(config: dict, variant: str) -> float:
    """The input event lists of one simulation (stored uncompressed: same on disk and in memory)."""
    ms = config["simulation"]["duration_ms"]
    return ms * (
        n_channels(config, variant) * unit("disk_bytes_per_input_event_channel_ms")
        + unit("disk_bytes_per_event_index_ms")
    )


def in_memory_bytes_per_simulation(config: dict, variant: str) -> float:
    """Uncompressed size of one simulation as xarray holds it (packed bits, input event lists,
    float32 traces)."""
    sim = config["simulation"]
    ms = sim["duration_ms"]
    total = n_channels(config, variant) * math.ceil(ms / 8) + 2 * ms * 4
    total += _event_list_bytes(config, variant)
    if sim["record_dendrites"] and _uses_neuron(variant):
        total += n_channels(config, variant) // 2 * ms * 4
    return float(total)


def architecture_for(config: dict, depth: int, family: str | None = None) -> dict:
    """The architecture one size of a sweep: the depth sweep's (``network.family``) by default,
    else the compared ``family``'s at that size (config key ``families``)."""
    from neurodepth.learning.networks import FAMILIES

    if family is None or family == config["network"]["family"]:
        return FAMILIES[config["network"]["family"]].architecture(int(depth), config["network"])
    return FAMILIES[family].architecture(int(depth), config["families"][family]["options"])


def candidates_for(config: dict, depth: int) -> list[dict]:
    """The distinct architecture candidates trained at one depth (``network.candidates``)."""
    from neurodepth.learning.networks import candidate_architectures

    return candidate_architectures(config["network"]["family"], int(depth), config["network"])


def network_size(
    config: dict,
    variant: str,
    depth: int,
    architecture: dict | None = None,
    family: str | None = None,
):
    """Parameters, receptive field, MACs per ms and activation floats per ms of one network, as
    the family's own module reports them (``neurodepth.learning.networks.network_size``);
    ``architecture``: one of the depth's candidates, default the size's base architecture;
    ``family``: default the depth sweep's. (Data-dependent parts, such as the ELM's grouping of
    inputs by branch, are left out: each input channel counts as its own group, an upper bound.)"""
    from neurodepth.learning.networks import network_size as family_network_size

    family = family or config["network"]["family"]
    arch = dict(architecture or architecture_for(config, depth, family))
    arch.pop("grouping", None)
    return family_network_size(family, n_channels(config, variant), arch)


def device_of(config: dict) -> str:
    return "gpu" if config["training"]["accelerator"] in GPU_ACCELERATORS else "cpu"


def _sequential_s_per_ms(family: str, device: str) -> float:
    key = f"sequential_s_per_window_ms.{family}.{device}"
    return unit(key) if key in UNIT_COSTS else 0.0


def step_seconds(
    config: dict,
    variant: str,
    depth: int,
    device: str | None = None,
    architecture: dict | None = None,
    family: str | None = None,
) -> float:
    """Seconds per training step (forward + backward of one batch of windows)."""
    device = device or device_of(config)
    family = family or config["network"]["family"]
    tr = config["training"]
    n_inputs = n_channels(config, variant)
    macs = network_size(config, variant, depth, architecture, family).macs_per_ms
    gmacs = macs * tr["window_ms"] * tr["batch_size"] * unit("backward_factor") / 1e9
    compute = (
        unit(f"train_step_overhead_s.{device}")
        + gmacs / unit(f"train_gmac_per_s.{device}")
        + tr["window_ms"] * _sequential_s_per_ms(family, device)
    )
    read = n_inputs * tr["window_ms"] * tr["batch_size"] * unit("reader_s_per_channel_ms")
    workers = int(tr["num_workers"])
    # without workers the main process reads then computes; with workers reading overlaps compute
    return compute + read if workers == 0 else max(compute, read / workers)


def _forward_seconds(config, variant, depth, architecture, family, device, n_sims) -> float:
    """Forward passes over ``n_sims`` whole simulations: MACs, plus a recurrent family's
    per-ms loop (forward ~1/3 of forward + backward)."""
    duration = config["simulation"]["duration_ms"]
    macs = network_size(config, variant, depth, architecture, family).macs_per_ms
    gmacs = macs * duration * n_sims / 1e9
    sequential = duration * _sequential_s_per_ms(family, device) / unit("backward_factor")
    return gmacs / unit(f"train_gmac_per_s.{device}") + sequential


def training_seconds(
    config: dict,
    variant: str,
    depth: int,
    architecture: dict | None = None,
    family: str | None = None,
) -> float:
    """One network trained to the phases' cap (early stopping can only shorten it): all steps
    plus the periodic validation passes (forward only)."""
    tr = config["training"]
    device = device_of(config)
    family = family or config["network"]["family"]
    steps = sum(int(p["steps"]) for p in tr["phases"])
    train = steps * step_seconds(config, variant, depth, device, architecture, family)
    n_val = math.ceil(steps / tr["val_every_steps"])
    # validation scores whole valid simulations (at most the split; fewer once enough spikes)
    sim = config["simulation"]
    n_valid = sim["shards"]["valid"] * sim["simulations_per_shard"]
    val = n_val * _forward_seconds(config, variant, depth, architecture, family, device, n_valid)
    return train + val


def evaluation_seconds(
    config: dict,
    variant: str,
    depth: int,
    architecture: dict | None = None,
    family: str | None = None,
) -> float:
    """Forward pass over every test simulation (full traces) on the training device."""
    sim = config["simulation"]
    n_test = sim["shards"]["test"] * sim["simulations_per_shard"]
    family = family or config["network"]["family"]
    forward = _forward_seconds(
        config, variant, depth, architecture, family, device_of(config), n_test
    )
    return 30.0 + forward  # 30 s: start-up, loading, metrics


# ---------------------------------------------------------------------------------------------


def cell_needs_morphology(config: dict) -> bool:
    """Whether the workflow fetches a morphology for the configured cell (an unreadable spec
    raises: the estimate would otherwise miss a rule that the run needs)."""
    return bool(spec_needs_morphology(config["cell"]["name"]))


def estimate_cost(config: dict, group_components: int = 1) -> dict:
    """Jobs, hours and disk for a whole config.

    Returns a dict: ``per_rule`` (DataFrame: rule, jobs, slurm_jobs, core_hours, gpu_hours,
    disk_gb), ``simulations``, ``simulated_hours``, ``core_hours``, ``gpu_hours``, ``disk_gb``,
    ``slurm_jobs`` and ``units`` (the constant table). ``group_components`` is the profile's
    ``group-components: simulation=N`` (that many shard jobs share one Slurm submission).
    """
    try:
        sim = config["simulation"]
        variants = list(config["variants"])
        depths = list(config["network"]["depths"])
        seeds = list(config["network"]["seeds"])
        shards = {s: int(sim["shards"][s]) for s in SPLITS}
        per_shard = int(sim["simulations_per_shard"])
        duration_s = sim["duration_ms"] / 1000.0
        accelerator = config["training"]["accelerator"]
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"cost estimate: config key {exc} missing or malformed") from exc
    if group_components < 1:
        raise ConfigError(f"group_components must be >= 1, got {group_components}")
    gpu = accelerator in GPU_ACCELERATORS
    neuron_variants = [v for v in variants if _uses_neuron(v)]
    n_shards = sum(shards.values())
    rows = []

    def add(rule, jobs, slurm_jobs=None, core_s=0.0, gpu_s=0.0, disk_bytes=0.0, local=False):
        rows.append(
            {
                "rule": rule,
                "jobs": int(jobs),
                "slurm_jobs": 0 if local else int(jobs if slurm_jobs is None else slurm_jobs),
                "core_hours": core_s / 3600.0,
                "gpu_hours": gpu_s / 3600.0,
                "disk_gb": disk_bytes / 1e9,
            }
        )

    if neuron_variants:
        add("compile_mechanisms", 1, core_s=60.0)
        if cell_needs_morphology(config):
            add("fetch_morphology", 1, local=True)
    calibrated = calibrated_variants(config)
    if calibrated:
        add(
            "calibrate_inputs",
            len(calibrated),
            core_s=sum(calibration_core_seconds(config, v) for v in calibrated),
        )
    sim_core_s = sum(n_shards * shard_core_seconds(config, v) for v in variants)
    shard_jobs = len(variants) * n_shards
    slurm_shard_jobs = sum(math.ceil(shards[s] / group_components) for s in SPLITS) * len(variants)
    disk_sims = sum(n_shards * per_shard * bytes_per_simulation(config, v) for v in variants)
    add("simulate_shard", shard_jobs, slurm_shard_jobs, core_s=sim_core_s, disk_bytes=disk_sims)
    # merging reads and rewrites every simulation once (zlib dominates: ~1 core-s per 50 MB)
    add(
        "merge_dataset",
        3 * len(variants),
        core_s=disk_sims / 50e6 + 3 * len(variants) * 20.0,
        disk_bytes=disk_sims,
    )

    train_s = eval_s = ckpt_bytes = pred_bytes = 0.0
    n_test = shards["test"] * per_shard
    for v in variants:
        for d in depths:
            # every architecture candidate is trained at its own size; the one selected is
            # evaluated (costed as the slowest of them)
            candidates = candidates_for(config, d)
            for arch in candidates:
                train_s += len(seeds) * training_seconds(config, v, d, arch)
                params = network_size(config, v, d, arch).n_parameters
                # the candidate's checkpoints (the selected model's copy is small beside them)
                ckpt_bytes += len(seeds) * params * 4 * unit("checkpoint_copies")
            eval_s += len(seeds) * max(evaluation_seconds(config, v, d, a) for a in candidates)
            # predictions.nc: spike probability + soma prediction + 2 truth copies, float32
            pred_bytes += len(seeds) * n_test * sim["duration_ms"] * 4 * 4
    n_nets = len(variants) * len(depths) * len(seeds)
    n_trained = len(variants) * len(seeds) * sum(len(candidates_for(config, d)) for d in depths)
    # a GPU job also holds cores for data loading: count them as core-hours too
    cores = 1 + int(config["training"]["num_workers"])
    add(
        "train_model",
        n_trained,
        core_s=train_s * cores,
        gpu_s=train_s if gpu else 0.0,
        disk_bytes=ckpt_bytes,
    )
    add(
        "evaluate_model", n_nets, core_s=eval_s, gpu_s=eval_s if gpu else 0.0, disk_bytes=pred_bytes
    )
    add("select_model", n_nets, core_s=5.0 * n_nets, local=True)
    if config.get("families"):
        fam_train_s = fam_eval_s = fam_ckpt = 0.0
        n_family_nets = 0
        for family, entry in config["families"].items():
            for v in variants:
                for size in entry["sizes"]:
                    n_family_nets += len(seeds)
                    fam_train_s += len(seeds) * training_seconds(config, v, size, family=family)
                    fam_eval_s += len(seeds) * evaluation_seconds(config, v, size, family=family)
                    params = network_size(config, v, size, family=family).n_parameters
                    fam_ckpt += len(seeds) * params * 4 * unit("checkpoint_copies")
                    pred_bytes += len(seeds) * n_test * sim["duration_ms"] * 4 * 4
        add(
            "train_family",
            n_family_nets,
            core_s=fam_train_s * cores,
            gpu_s=fam_train_s if gpu else 0.0,
            disk_bytes=fam_ckpt,
        )
        add("evaluate_family", n_family_nets, core_s=fam_eval_s, gpu_s=fam_eval_s if gpu else 0.0)
        add("compare_families", 1, core_s=30.0, local=True)
    add("summarize", 1, core_s=30.0, local=True)
    per_rule = pd.DataFrame(rows)
    n_sims = n_shards * per_shard * len(variants)
    return {
        "per_rule": per_rule,
        "simulations": n_sims,
        "simulated_hours": n_sims * duration_s / 3600.0,
        "core_hours": float(per_rule["core_hours"].sum()),
        "gpu_hours": float(per_rule["gpu_hours"].sum()),
        "disk_gb": float(per_rule["disk_gb"].sum()),
        "slurm_jobs": int(per_rule["slurm_jobs"].sum()),
        "networks": n_nets,
        "training_data_s": training_data_seconds(config),
        "data_verdict": data_verdict(config),
        "units": unit_cost_table(),
    }
