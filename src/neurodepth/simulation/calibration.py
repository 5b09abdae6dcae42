"""Input rates calibrated to a target output rate.

A variant whose input section sets ``target_rate_hz`` is simulated with its configured rates
multiplied by one scale (``InputRates.scaled``: every synapse's rate times the scale, the
excitation/inhibition balance kept). :func:`calibrate_input_scale` finds that scale from short
simulations of the same cell, integrator and input protocol as the shards.

The output rate is monotone in the scale but noisy from draw to draw. The search therefore uses
common random numbers: every candidate scale is simulated on the same generator states, and
because a scaled draw is the unscaled draw times the scale (same uniforms, exponentials and
comparisons), the input spikes at a larger scale are a superset of those at a smaller one. The
measured rate is then a deterministic, nearly monotone step function of the scale, and a
bracketing search on log(scale) (:func:`find_scale`) converges in a handful of evaluations.
Because inhibition grows with excitation, the rate saturates and can fall at large scales (the
stylized AMPA-only cell peaks near 3.4 Hz at about twice its configured rates); the search
handles a peak, and a target above it fails naming the highest rate seen.

The calibration draws are the datasets' own (:func:`calibration_draws`: the training shards'
simulations, then the validation shards', seeded as ``simulate_shard`` seeds them). The output
rate of one simulation varies by about its own mean from draw to draw (coefficient of variation
1.07 on the full stylized cell at 2 Hz, more at 1 Hz), so a scale calibrated on 32 independent
draws left the datasets 20-40 % off their target; on the datasets' own draws, the simulations it
used fire at the target whatever their luck, and only the rest carry sampling error. The test
split is never drawn on, and the scale is fitted to output counts only: nothing a network is
scored on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.cells.variants import VARIANTS
from neurodepth.core.errors import ConfigError, NeurodepthError
from neurodepth.core.seeds import shard_seed
from neurodepth.simulation.inputs import InputRates, cell_inputs, generate_point_inputs
from neurodepth.simulation.simulate import (
    NeuronRunner,
    SimulationSettings,
    build_variant_cell,
    simulation_rng,
)

#: Columns of a calibration table (one row per cell and variant).
COLUMNS = [
    "cell",
    "variant",
    "target_rate_hz",
    "scale",
    "rate_hz",
    "relative_error",
    "converged",
    "iterations",
    "simulations",
    "search_simulations",
    "duration_ms",
    "simulated_s",
    "output_spikes",
    "cpu_s",
    "exc_per_100ms_low",
    "exc_per_100ms_high",
    "inh_minus_exc_low",
    "inh_minus_exc_high",
    "dataset_draws",
]


class CalibrationError(NeurodepthError):
    """The search could not reach the target rate within its budget or scale bounds."""


@dataclass
class SearchResult:
    scale: float
    rate: float
    iterations: int
    converged: bool
    history: list = field(default_factory=list)  # (scale, rate) in evaluation order


def find_scale(
    rate_of: Callable[[float], float],
    target: float,
    tolerance: float,
    max_iterations: int,
    start: float = 1.0,
    bounds: tuple[float, float] = (1e-2, 1e2),
    exponent_guess: float = 2.0,
    max_factor: float = 4.0,
) -> SearchResult:
    """The scale whose ``rate_of(scale)`` lies within ``tolerance`` (relative) of ``target``.

    ``rate_of`` should be non-decreasing (it may be a step function and may be 0 at small
    scales); a rate that falls as the scale grows is taken as past a peak, and the search then
    closes in on the rising side (or on the peak, not converged, when the peak is too low).
    Until the target is bracketed, each step moves log(scale) by the log-rate gap divided by the
    log-log slope seen so far (``exponent_guess`` before there are two positive rates), at most
    a factor ``max_factor``; once bracketed, by false position on (log scale, log rate),
    falling back to bisection when a step fails to halve the bracket or a rate is 0. Stops when
    the rate is within tolerance, after ``max_iterations`` evaluations, or when the bracket has
    shrunk below 0.1 % (a step of the rate function straddles the target). Returns the evaluated
    point closest to the target in log rate (the latest among equals); ``converged`` says
    whether it is within tolerance. Raises ``CalibrationError`` when the target lies beyond
    ``bounds``.
    """
    if not target > 0:
        raise ValueError(f"target rate must be > 0, got {target}")
    lo_b, hi_b = math.log(bounds[0]), math.log(bounds[1])
    log_t = math.log(target)
    history: list[tuple[float, float]] = []

    def evaluate(x: float, scale: float | None = None) -> float:
        scale = math.exp(x) if scale is None else scale
        rate = float(rate_of(scale))
        history.append((scale, rate))
        return rate

    def within(rate: float) -> bool:
        return abs(rate / target - 1.0) <= tolerance

    # the start itself, not exp(log(start)): a caller may already know its rate's parts
    first = min(max(float(start), bounds[0]), bounds[1])
    x = math.log(first)
    rate = evaluate(x, first)
    below: tuple[float, float] | None = None  # highest (x, rate) with rate < target
    above: tuple[float, float] | None = None  # lowest (x, rate) with rate > target
    widths: list[float] = []
    while not within(rate) and len(history) < max_iterations:
        # a rate lower than at a smaller scale is past the peak (strong balanced input shunts
        # the cell or holds it depolarised): the crossing, if any, lies at smaller scales
        past_peak = below is not None and x > below[0] and rate < below[1]
        if rate < target and not past_peak:
            below = (x, rate) if below is None or x > below[0] else below
        else:
            above = (x, rate) if above is None or x < above[0] else above
        if below is not None and above is not None:
            width = above[0] - below[0]
            if width < 1e-3:
                break
            widths.append(width)
            stalled = len(widths) >= 3 and widths[-1] > 0.5 * widths[-3]
            if below[1] > 0 and above[1] > target and not stalled:
                frac = (log_t - math.log(below[1])) / (math.log(above[1]) - math.log(below[1]))
                # keep clear of the ends: a flat step would otherwise pin the next point there
                x = below[0] + min(max(frac, 0.1), 0.9) * width
            else:
                x = below[0] + 0.5 * width
        else:
            positive = [(s, r) for s, r in history if r > 0]
            slope = exponent_guess
            if len(positive) >= 2:
                slope = _log_log_slope(positive[-2], positive[-1]) or exponent_guess
            step_max = math.log(max_factor)
            step = step_max if rate <= 0 else (log_t - math.log(rate)) / slope
            step = min(max(step, -step_max), step_max)
            if (step > 0 and x >= hi_b) or (step < 0 and x <= lo_b):
                side = "above" if step > 0 else "below"
                raise CalibrationError(
                    f"target {target:g} Hz needs an input-rate scale {side} the search bounds "
                    f"{bounds} (rate {rate:g} Hz at scale {math.exp(x):g}); check the variant's "
                    "rate ranges and target_rate_hz"
                )
            x = min(max(x + step, lo_b), hi_b)
        rate = evaluate(x)
    # closest in log rate; among equal rates (one step of the rate function) the latest, which
    # lies nearest the crossing
    best = min(
        range(len(history)),
        key=lambda i: (
            abs(math.log(history[i][1] / target)) if history[i][1] > 0 else math.inf,
            -i,
        ),
    )
    best_scale, best_rate = history[best]
    return SearchResult(best_scale, best_rate, len(history), within(best_rate), history)


def _log_log_slope(a: tuple[float, float], b: tuple[float, float]) -> float | None:
    """d log(rate) / d log(scale) between two (scale, rate) points with positive rates, clamped
    to 0.5-8 (a step function's flat parts and jumps would otherwise send the search far off);
    None when the points share their scale or their rate."""
    (s1, r1), (s2, r2) = a, b
    if s1 == s2 or r1 == r2:
        return None
    return min(max(math.log(r2 / r1) / math.log(s2 / s1), 0.5), 8.0)


def local_exponent(history, target: float, default: float = 2.0) -> float:
    """The log-log slope of rate against scale between the evaluated point with a positive rate
    nearest ``target`` and the next nearest that differs from it (:func:`_log_log_slope`), or
    ``default`` when there is none: the next search's first step from there."""
    points = sorted(
        {(s, r) for s, r in history if r > 0}, key=lambda p: abs(math.log(p[1] / target))
    )
    slopes = (_log_log_slope(points[0], p) for p in points[1:])
    return next((slope for slope in slopes if slope is not None), default)


# --------------------------------------------------------------------------- the cell's rate


def search_simulation_count(calibration_cfg: dict) -> int:
    """Simulations the search stage runs on: ``calibration.search_simulations`` (all of
    ``calibration.simulations`` when unset), never more than there are."""
    n_sims = int(calibration_cfg["simulations"])
    return min(int(calibration_cfg["search_simulations"] or n_sims), n_sims)


def calibration_draws(
    global_seed: int,
    cell_name: str,
    variant: str,
    n_sims: int,
    simulations_per_shard: int,
    shards: dict | None = None,
) -> list[tuple[int, int]]:
    """(shard seed, index in shard) of the first ``n_sims`` dataset draws, as ``simulate_shard``
    seeds them: the training shards' simulations, then the validation shards' (``shards``: the
    config's ``simulation.shards``), then further training shard seeds that no dataset uses. The
    test split is never drawn on."""
    per_shard = int(simulations_per_shard)
    shards = shards or {}
    n_train, n_valid = int(shards.get("train", 0)), int(shards.get("valid", 0))
    order = [("train", k) for k in range(n_train)] + [("valid", k) for k in range(n_valid)]
    order += [("train", n_train + k) for k in range(-(-int(n_sims) // per_shard))]
    return [
        (shard_seed(global_seed, cell_name, variant, *order[k // per_shard]), k % per_shard)
        for k in range(int(n_sims))
    ]


def _describe_draws(n_sims: int, per_shard: int, shards: dict | None) -> str:
    """Which shards' simulations :func:`calibration_draws` took, e.g. "train 0-7, valid 0-2"."""
    shards = shards or {}
    n_train, n_valid = int(shards.get("train", 0)), int(shards.get("valid", 0))
    used = -(-n_sims // per_shard)
    parts = [("train", 0, min(used, n_train))]
    parts.append(("valid", 0, min(max(used - n_train, 0), n_valid)))
    parts.append(("train", n_train, max(used - n_train - n_valid, 0)))
    return ", ".join(f"{split} {a}-{a + n - 1}" for split, a, n in parts if n > 0)


def _spike_simulator(entry, settings, cell_name, variant, mechanisms_dir, morphology_path, cell):
    """(make_inputs(rng, rates), spike_times(inputs)) for a registered variant: NEURON variants
    on their built cell, others on their point model, as the shards simulate them."""
    T = settings.duration_ms
    if not entry.uses_neuron:
        model = entry.point_model

        def point_inputs(rng, rates):
            return generate_point_inputs(rng, model.n_exc, model.n_inh, T, rates)

        return point_inputs, lambda x: model.simulate(x)[1]
    if cell is None:
        cell = build_variant_cell(cell_name, variant, mechanisms_dir, morphology_path)
    runner = NeuronRunner(cell, settings)

    def inputs(rng, rates):
        return cell_inputs(rng, cell, T, rates)

    return inputs, lambda x: runner.run(x)["spike_times"]


def calibrate_input_scale(
    cell_name: str,
    variant: str,
    seed: int,
    simulation_cfg: dict,
    inputs_cfg: dict,
    calibration_cfg: dict,
    mechanisms_dir=None,
    morphology_path=None,
    cell=None,
    log: Callable[[str], None] | None = print,
) -> tuple[dict, pd.DataFrame]:
    """Find the input-rate scale giving ``inputs_cfg["target_rate_hz"]`` output spikes per s.

    The cell is built once (``cell`` may pass a built one); each evaluation of a scale runs
    ``calibration.simulations`` simulations of ``calibration.duration_ms`` (null: the dataset's
    ``simulation.duration_ms``) on the same draws, the datasets' first (training, then
    validation: :func:`calibration_draws`). With ``calibration.search_simulations`` below
    ``calibration.simulations`` the search first runs on that many of the draws, to within
    ``calibration.search_tolerance``, and then goes on from its scale on all of them. Returns
    the table row (see ``COLUMNS``) and the history (one row per evaluated scale, with the
    simulations it ran on). The row says whether the final stage came within
    ``calibration.tolerance`` (``run_calibration`` raises ``CalibrationError`` when not).
    """
    target = inputs_cfg["target_rate_hz"]
    if target is None:
        raise ConfigError(f"inputs.{variant}.target_rate_hz is not set: nothing to calibrate")
    bounds = tuple(float(b) for b in calibration_cfg["scale_bounds"])
    if not 0 < bounds[0] < bounds[1]:
        raise ConfigError(f"calibration.scale_bounds={list(bounds)}: expected 0 < low < high")
    entry = VARIANTS[variant]
    duration = calibration_cfg["duration_ms"] or simulation_cfg["duration_ms"]
    # spikes are all calibration needs: no nexus or dendritic recording
    settings = SimulationSettings.from_config(
        {
            **simulation_cfg,
            "duration_ms": int(duration),
            "record_nexus": False,
            "record_dendrites": False,
        }
    )
    rates = InputRates.from_config(inputs_cfg, where=f"inputs.{variant}")
    n_sims = int(calibration_cfg["simulations"])
    n_search = search_simulation_count(calibration_cfg)
    per_shard = int(simulation_cfg["simulations_per_shard"])
    draws = calibration_draws(
        seed, cell_name, variant, n_sims, per_shard, simulation_cfg.get("shards")
    )
    cpu0 = time.process_time()
    make_inputs, spike_times = _spike_simulator(
        entry, settings, cell_name, variant, mechanisms_dir, morphology_path, cell
    )
    sim_s = settings.duration_ms / 1000.0
    simulated_s = 0.0
    # spike count of (scale, draw): the final stage starts where the search stopped, on a
    # superset of its draws, so the draws already simulated at that scale are not run again
    counts: dict[tuple[float, int], int] = {}

    def rate_on(n: int) -> Callable[[float], float]:
        def rate_of(scale: float) -> float:
            nonlocal simulated_s
            scaled = rates.scaled(scale)
            for k in range(n):
                if (scale, k) not in counts:
                    # the same generator state for every scale: common random numbers
                    counts[(scale, k)] = len(
                        spike_times(make_inputs(simulation_rng(*draws[k]), scaled))
                    )
                    simulated_s += sim_s
            rate = sum(counts[(scale, k)] for k in range(n)) / (n * sim_s)
            if log:
                label = f"{cell_name}/{variant}"
                log(f"calibrate {label}: scale {scale:.4g} -> {rate:.3f} Hz ({n} simulations)")
            return rate

        return rate_of

    search_args = dict(
        target=float(target),
        tolerance=float(calibration_cfg["tolerance"]),
        max_iterations=int(calibration_cfg["max_iterations"]),
        bounds=bounds,
    )
    stages = []
    if n_search < n_sims:
        loose = max(search_args["tolerance"], float(calibration_cfg["search_tolerance"]))
        search = find_scale(rate_on(n_search), **{**search_args, "tolerance": loose})
        stages.append((n_search, search))
        search_args.update(
            start=search.scale, exponent_guess=local_exponent(search.history, target)
        )
    result = find_scale(rate_on(n_sims), **search_args)
    stages.append((n_sims, result))
    used = rates.scaled(result.scale)
    row = {
        "cell": cell_name,
        "variant": variant,
        "target_rate_hz": float(target),
        "scale": result.scale,
        "rate_hz": result.rate,
        "relative_error": result.rate / float(target) - 1.0,
        "converged": bool(result.converged),
        "iterations": sum(stage.iterations for _, stage in stages),
        "simulations": n_sims,
        "search_simulations": n_search,
        "duration_ms": settings.duration_ms,
        "simulated_s": simulated_s,
        "output_spikes": sum(counts[(result.scale, k)] for k in range(n_sims)),
        "cpu_s": time.process_time() - cpu0,
        "exc_per_100ms_low": used.exc_range[0],
        "exc_per_100ms_high": used.exc_range[1],
        "inh_minus_exc_low": used.inh_minus_exc[0],
        "inh_minus_exc_high": used.inh_minus_exc[1],
        "dataset_draws": _describe_draws(n_sims, per_shard, simulation_cfg.get("shards")),
    }
    history = pd.DataFrame(
        [(n, scale, rate) for n, stage in stages for scale, rate in stage.history],
        columns=["simulations", "scale", "rate_hz"],
    )
    history.insert(0, "evaluation", np.arange(1, len(history) + 1))
    return row, history


# --------------------------------------------------------------------------- files


def run_calibration(out_path, cell_label: str | None = None, **search) -> Path:
    """Calibrate one variant and write its one-row table atomically (the Snakemake entry point).
    ``search``: the arguments of :func:`calibrate_input_scale`. A search that misses its
    tolerance raises, after logging what it reached."""
    from neurodepth.core.atomic import write_csv_atomic

    row, history = calibrate_input_scale(**search)
    calibration_cfg = search["calibration_cfg"]
    if cell_label is not None:
        row["cell"] = cell_label
    print(history.to_string(index=False))
    if not row["converged"]:
        final = history[history["simulations"] == row["simulations"]]
        peak = final.loc[final["rate_hz"].idxmax()]
        raise CalibrationError(
            f"inputs.{search['variant']}: rate calibration reached {row['rate_hz']:.3g} Hz at "
            f"scale {row['scale']:.4g}, not within "
            f"calibration.tolerance={calibration_cfg['tolerance']} "
            f"of target_rate_hz={row['target_rate_hz']:g} after {row['iterations']} evaluations "
            f"(highest rate seen: {peak['rate_hz']:.3g} Hz at scale {peak['scale']:.4g}). If that "
            "is below the target, the cell cannot reach it with these rate ranges (lower "
            "target_rate_hz); otherwise raise calibration.max_iterations, "
            "calibration.simulations or the tolerance"
        )
    write_csv_atomic(pd.DataFrame([row], columns=COLUMNS), out_path)
    return Path(out_path)


def read_calibrated_scale(path, variant: str | None = None) -> float:
    """The scale in a variant's calibration file (checked to be that variant's when named)."""
    table = pd.read_csv(path)
    if len(table) != 1 or "scale" not in table:
        raise CalibrationError(f"{path}: expected one calibration row with a 'scale' column")
    if variant is not None and str(table["variant"].iloc[0]) != variant:
        raise CalibrationError(
            f"{path}: calibration of variant {table['variant'].iloc[0]!r}, not {variant!r}"
        )
    scale = float(table["scale"].iloc[0])
    if not (scale > 0 and math.isfinite(scale)):
        raise CalibrationError(f"{path}: scale {scale} is not a positive number")
    return scale


def merge_calibrations(paths, out_path) -> pd.DataFrame:
    """Concatenate the per-variant calibration files into one table (atomic write)."""
    from neurodepth.core.atomic import write_csv_atomic

    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_csv_atomic(table[COLUMNS], out_path)
    return table
