"""CLI ``neurodepth check-cell SPEC``: what a modeller checks before paying for a dataset.

Builds the cell (compiling its mechanisms unless ``--mechanisms`` names a compiled folder) and
prints: dendritic segments and synapses per tree and region, the resting potential, the spikes
for somatic current steps, the spikes at the most excitatory draw of the input protocol (the
top of ``exc_per_100ms`` with the least inhibition), the calibrated input rates when the config
sets ``target_rate_hz``, and the integrator against a CVODE reference. Exits 1 when the cell
never fires at the most excitatory inputs: no draw of the protocol could make it fire, so a
dataset of it would hold no output spike.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.core.errors import ConfigError, NeurodepthError
from neurodepth.ops.study_config import load_study_config

STEP_DURATION_MS = 1000.0
STEP_DELAY_MS = 200.0
REST_MS = 1000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="cell spec name or path (a spec of kind model, or any)")
    parser.add_argument(
        "--config", default="config/config.yaml", help="config for inputs, simulation, calibration"
    )
    parser.add_argument("--variant", default="full", help="the variant to build (default full)")
    parser.add_argument(
        "--mechanisms", help="a compiled mechanisms folder; default: compile into a temp folder"
    )
    parser.add_argument("--morphology", help="morphology file for specs that need one")
    parser.add_argument(
        "--steps-na",
        type=float,
        nargs="+",
        default=[0.1, 0.3, 0.6, 1.0],
        help="somatic current steps (nA, 1 s each)",
    )
    parser.add_argument(
        "--simulations",
        type=int,
        default=4,
        help="simulations of the most excitatory inputs, and of the integrator check",
    )
    parser.add_argument(
        "--calibration-simulations",
        type=int,
        default=8,
        help="simulations per calibration evaluation (the pipeline uses calibration.simulations)",
    )
    parser.add_argument("--duration-ms", type=int, default=1000, help="input simulations' length")
    parser.add_argument("--skip-calibration", action="store_true")
    parser.add_argument("--skip-integration", action="store_true")


def region_counts(segment_table, site_segment) -> pd.DataFrame:
    """Dendritic segments, length, synapse sites (one excitatory and one inhibitory synapse
    each) and sites per um, per tree and region."""
    sites = np.bincount(site_segment, minlength=len(segment_table))
    table = (
        segment_table.assign(sites=sites)
        .groupby(["tree", "region"], sort=True)
        .agg(segments=("segment", "size"), length_um=("length_um", "sum"), sites=("sites", "sum"))
        .reset_index()
    )
    table["synapses"] = 2 * table["sites"]
    table["sites_per_um"] = table["sites"] / table["length_um"]
    return table


def somatic_responses(cell, amplitudes_na, dt_ms: float = 0.025) -> tuple[float, dict]:
    """(resting potential in mV after ``REST_MS`` without input, spikes per 1 s step of each
    amplitude), at the soma, with the spike definition of the simulations."""
    from neuron import h

    from neurodepth.data.spikes import detect_spikes

    h.load_file("stdrun.hoc")
    h.dt = dt_ms
    clamp = h.IClamp(cell.soma_seg)
    clamp.delay, clamp.dur = REST_MS + STEP_DELAY_MS, STEP_DURATION_MS
    t, v = h.Vector().record(h._ref_t), h.Vector().record(cell.soma_seg._ref_v)
    spikes, rest = {}, np.nan
    for amplitude in [0.0, *amplitudes_na]:
        clamp.amp = amplitude
        h.finitialize(cell.v_init_mv)
        h.continuerun(REST_MS + STEP_DELAY_MS + STEP_DURATION_MS + 100.0)
        tt, vv = np.array(t), np.array(v)
        if amplitude == 0.0:
            rest = float(vv[np.searchsorted(tt, REST_MS)])
            continue
        in_step = (tt >= clamp.delay) & (tt <= clamp.delay + clamp.dur)
        spikes[amplitude] = int(len(detect_spikes(tt[in_step], vv[in_step])))
    return rest, spikes


def most_excitatory(rates):
    """The protocol's most excitatory draw: excitation at the top of its range, the least
    inhibition its offsets allow."""
    return dataclasses.replace(
        rates,
        exc_range=(rates.exc_range[1], rates.exc_range[1]),
        inh_minus_exc=(rates.inh_minus_exc[0], rates.inh_minus_exc[0]),
    )


def spikes_at_inputs(cell, settings, rates, n_simulations: int, seed: int = 0) -> list[int]:
    """Output spikes of each of ``n_simulations`` draws of ``rates`` on ``cell``."""
    from neurodepth.simulation.inputs import cell_inputs
    from neurodepth.simulation.simulate import NeuronRunner, simulation_rng

    runner = NeuronRunner(cell, settings)
    out = []
    for i in range(n_simulations):
        x = cell_inputs(simulation_rng(seed, i), cell, settings.duration_ms, rates)
        out.append(len(runner.run(x)["spike_times"]))
    return out


def run(args) -> int:
    from neurodepth.cells.mechanisms_build import (
        compile_mechanisms,
        load_mechanisms,
        mechanism_sources,
    )
    from neurodepth.cells.spec import load_cell_spec
    from neurodepth.cells.variants import VARIANTS, build_variant
    from neurodepth.simulation.calibration import calibrate_input_scale
    from neurodepth.simulation.inputs import InputRates
    from neurodepth.simulation.simulate import SimulationSettings

    cfg = load_study_config(args.config)
    if not VARIANTS[args.variant].uses_neuron:
        raise ConfigError(f"check-cell: variant {args.variant!r} is not a NEURON cell")
    if args.variant not in cfg["inputs"]:
        raise ConfigError(f"inputs.{args.variant}: no input rates in {args.config}")
    spec = load_cell_spec(args.spec, morphology_path=args.morphology)
    mechanisms = args.mechanisms
    if mechanisms is None:
        mechanisms = compile_mechanisms(
            Path(tempfile.mkdtemp(prefix="neurodepth-check-cell-")), mechanism_sources(spec)
        )
        print(f"compiled {', '.join(p.name for p in mechanism_sources(spec))} in {mechanisms}")
    load_mechanisms(mechanisms)
    cell = build_variant(spec, args.variant)
    print(
        f"\n{spec.name} ({args.variant}): {len(cell.segments)} dendritic segments, "
        f"{cell.n_sites} synapse sites (placement: {spec.synapses['placement']})"
    )
    print(region_counts(cell.segment_table, cell.site_segment).to_string(index=False))

    rest, steps = somatic_responses(cell, args.steps_na)
    print(f"\nresting potential (soma, after {REST_MS:g} ms without input): {rest:.2f} mV")
    for amplitude, count in steps.items():
        print(f"  {amplitude:g} nA for {STEP_DURATION_MS:g} ms: {count} spikes")

    settings = SimulationSettings.from_config(
        {**cfg["simulation"], "duration_ms": args.duration_ms, "record_dendrites": False}
    )
    inputs_cfg = cfg["inputs"][args.variant]
    rates = InputRates.from_config(inputs_cfg, where=f"inputs.{args.variant}")
    row = None
    if inputs_cfg["target_rate_hz"] is not None and not args.skip_calibration:
        calibration_cfg = {
            **cfg["calibration"],
            "simulations": args.calibration_simulations,
            "duration_ms": args.duration_ms,
        }
        try:
            row, _ = calibrate_input_scale(
                spec.source_path or args.spec,
                args.variant,
                cfg["seed"],
                cfg["simulation"],
                inputs_cfg,
                calibration_cfg,
                cell=cell,
                log=None,
            )
        except NeurodepthError as exc:  # reported; the firing check below still runs
            print(f"\ncalibration failed: {exc}")
    if row is not None:
        print(
            f"\ncalibrated inputs for {inputs_cfg['target_rate_hz']:g} Hz: scale "
            f"{row['scale']:.3g} -> {row['rate_hz']:.2f} Hz on {row['simulations']} x "
            f"{row['duration_ms']} ms (converged: {row['converged']}); exc_per_100ms "
            f"[{row['exc_per_100ms_low']:.0f}, {row['exc_per_100ms_high']:.0f}], inh_minus_exc "
            f"[{row['inh_minus_exc_low']:.0f}, {row['inh_minus_exc_high']:.0f}]"
        )
        rates = rates.scaled(row["scale"])
    top = spikes_at_inputs(cell, settings, most_excitatory(rates), args.simulations)
    print(
        f"\nmost excitatory inputs (exc {rates.exc_range[1]:.0f} per 100 ms per tree, inh - exc "
        f"{rates.inh_minus_exc[0]:.0f}): spikes per {args.duration_ms} ms simulation: {top}"
    )
    if not args.skip_integration:
        from neurodepth.simulation.validate_integration import summarize, validate_integration

        del cell  # the check builds its own cell; NEURON runs every cell that is alive
        df = validate_integration(
            str(spec.source_path or args.spec),
            args.variant,
            cfg["simulation"],
            inputs_cfg,
            mechanisms,
            args.morphology,
            args.simulations,
            args.duration_ms,
            log=None,
        )
        s = summarize(df)
        print(
            f"\nintegrator {df.candidate.iloc[0]} vs {df.reference.iloc[0]}: spikes matched "
            f"{s['matched_spikes']}/{max(s['reference_spikes'], s['candidate_spikes'])}, soma "
            f"RMS {s['soma_rms_clipped_mv']:.3f} mV, CPU speed-up {s['speedup_cpu']:.2f}x"
        )
    if sum(top) == 0:
        print(
            f"\n{spec.name} never fired at the most excitatory inputs of inputs.{args.variant}: "
            "no draw of the protocol would make it fire. Raise inputs."
            f"{args.variant}.exc_per_100ms or the synapses' gmax, or check its channels"
        )
        return 1
    return 0
