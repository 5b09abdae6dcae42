"""CLI ``neurodepth validate-integration``: the configured integrator against a CVODE reference
on the same inputs (``neurodepth.simulation.validate_integration``), for a config's cell and
variant, plugins included."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurodepth.core.errors import ConfigError
from neurodepth.ops.study_config import load_study_config
from neurodepth.simulation.validate_integration import summarize, validate_integration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default="config/config.yaml", help="config file (simulation, inputs, cell)"
    )
    parser.add_argument("--cell", help="cell spec name or path (default: config cell.name)")
    parser.add_argument("--variant", default="full")
    parser.add_argument(
        "--mechanisms", required=True, help="compiled mechanisms folder (results/mechanisms/<cell>)"
    )
    parser.add_argument("--morphology", help="morphology file for cells that need one")
    parser.add_argument("--simulations", type=int, default=2)
    parser.add_argument("--duration-ms", type=int, help="override simulation.duration_ms")
    parser.add_argument("--tolerance-ms", type=float, default=1.0)
    parser.add_argument("--reference-atol", type=float, default=1e-3)
    parser.add_argument(
        "--converged-atol",
        type=float,
        default=None,
        help="also score both methods against CVODE at this tighter tolerance (e.g. 1e-5)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default="validate_integration.csv", help="CSV, one row per simulation"
    )


def run(args) -> int:
    cfg = load_study_config(args.config)  # with its plugins: a plugin variant can be checked
    cell = args.cell or cfg["cell"]["name"]
    morphology = args.morphology or (cfg.get("cell", {}).get("morphology", {}).get("path") or None)
    if args.variant not in cfg.get("inputs", {}):
        raise ConfigError(
            f"inputs.{args.variant}: no input rates for variant {args.variant!r} in {args.config}"
        )

    def log(row):
        print(
            f"sim {row['simulation']}: spikes ref {row['reference_spikes']} "
            f"cand {row['candidate_spikes']} "
            f"matched {row['matched_spikes']}, soma RMS {row['soma_rms_clipped_mv']:.3f} mV, "
            f"cpu ref {row['reference_cpu_s']:.1f} s cand {row['candidate_cpu_s']:.1f} s",
            flush=True,
        )

    df = validate_integration(
        cell,
        args.variant,
        cfg["simulation"],
        cfg["inputs"][args.variant],
        args.mechanisms,
        morphology,
        args.simulations,
        args.duration_ms,
        args.seed,
        Path(args.out),
        args.reference_atol,
        args.tolerance_ms,
        log=log,
        converged_atol=args.converged_atol,
    )
    s = summarize(df)
    print(
        f"{df.candidate.iloc[0]} vs {df.reference.iloc[0]} over {s['simulated_s']:g} simulated s: "
        f"spikes matched {s['matched_spikes']}/{max(s['reference_spikes'], s['candidate_spikes'])} "
        f"({100 * s['spike_match_fraction']:.1f} %), soma RMS {s['soma_rms_clipped_mv']:.3f} mV, "
        f"CPU speed-up {s['speedup_cpu']:.2f}x; wrote {args.out}"
    )
    if "converged_spikes" in s:
        print(
            f"against {df.converged.iloc[0]} ({s['converged_spikes']} spikes): reference "
            f"{100 * s['reference_vs_converged_match_fraction']:.1f} % of spikes within "
            f"{args.tolerance_ms:g} ms, "
            f"soma RMS {s['reference_soma_rms_vs_converged_mv']:.3f} mV; candidate "
            f"{100 * s['candidate_vs_converged_match_fraction']:.1f} %, "
            f"soma RMS {s['candidate_soma_rms_vs_converged_mv']:.3f} mV"
        )
        for name in ("reference", "candidate"):
            where = s[f"{name}_misses_by_simulation"] or "none"
            print(f"  {name} misses converged spikes in simulation(s) {where} (matched/spikes)")
    return 0
