"""Simulation throughput, accuracy, storage and scaling: candidate integrator vs CVODE reference.

Baseline (the original protocol): CVODE atol 1e-3, soma + nexus + every dendritic segment
recorded at every step and resampled to 1 ms. Candidate(s): fixed step (``--dt``, Crank-Nicolson
by default) and adaptive fixed step (``--adaptive COARSE:FINE:ABOVE_MV:HOLD_MS``: the fine step
while the soma is near threshold, see ``simulate.NeuronRunner._run_adaptive``), recording soma +
nexus at 1 ms. Same cell, same inputs, runs interleaved per simulation so that the load of a
shared machine hits both alike; throughput is measured in CPU seconds of this process
(``time.process_time``), i.e. simulated seconds per core-second.

    .venv/bin/python benchmarks/bench_simulation.py --mechanisms results/mechanisms/hay2011_l5pc \
        --morphology ../shared/data/hay2011/cell1.asc --simulations 10 --duration-ms 6000 \
        --dt 0.05 --adaptive 0.1:0.025:-65:10 --skip-scaling

``--cvode 1e-3 1.25e-3 8e-4 1e-4`` adds CVODE candidates: at the reference tolerance it isolates
the cost of recording every segment; at neighbouring tolerances it measures how reproducible the
reference's own spike times are, i.e. the best agreement any method can expect with it.

``--first-simulation K`` starts at input draw K, so a long run can be split over processes (the
per-simulation CSV rows of the parts concatenate; ``--summarize A.csv B.csv`` prints their joint
summary).

``--converged-atol 1e-5`` adds a converged solution (CVODE at that tolerance) of every draw and
scores the baseline *and* each candidate against it (columns ``*_converged*``): the atol-1e-3
baseline is not exact, and this tells which method is closer to the true trajectory. Converged
runs are deterministic and cost ~2x the baseline, so they are cached in ``--cache-dir`` (keyed by
cell, draw, duration and tolerance); they are not part of any timing.

Prints one line per simulation and a summary; writes a CSV (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from neurodepth.core.seeds import derive_seed
from neurodepth.data.shards import build_shard_dataset, write_shard
from neurodepth.simulation.inputs import InputRates, generate_inputs
from neurodepth.simulation.simulate import NeuronRunner, SimulationSettings, _build, simulation_rng
from neurodepth.simulation.validate_integration import (
    converged_scores,
    describe,
    match_spikes,
    run_converged,
    soma_rms_clipped,
    summarize_converged,
)

PAPER_RATES = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}


def throughput(args):
    cell = _build(args.cell, "full", args.mechanisms, args.morphology)
    n_seg = len(cell.segments)
    print(f"cell {args.cell}: {n_seg} segments, {2 * n_seg} synapses", flush=True)
    base = SimulationSettings(
        duration_ms=args.duration_ms, record_nexus=True, record_dendrites=False
    )
    ref_s = base.replace(integrator="cvode", cvode_atol=args.reference_atol)
    settings = [
        base.replace(integrator="fixed", dt_ms=dt, secondorder=args.secondorder) for dt in args.dt
    ]
    for spec in args.adaptive:  # COARSE:FINE:ABOVE_MV:HOLD_MS[:MID:MID_ABOVE_MV]
        c, f, v, hold, *mid = spec.split(":")
        mid_dt, mid_mv = (float(mid[0]), float(mid[1])) if mid else (0.0, -65.0)
        settings.append(
            base.replace(
                integrator="fixed",
                dt_ms=float(c),
                dt_fine_ms=float(f),
                refine_above_mv=float(v),
                refine_hold_ms=int(hold),
                dt_mid_ms=mid_dt,
                mid_above_mv=mid_mv,
                secondorder=args.secondorder,
            )
        )
    # the reference's own reproducibility: same method, other tolerances
    settings += [base.replace(integrator="cvode", cvode_atol=atol) for atol in args.cvode]
    cands = {describe(s): s for s in settings}  # the labels validate-integration prints
    runner = NeuronRunner(cell, base)
    rates = InputRates.from_config(PAPER_RATES)
    table = cell.segment_table
    seed = derive_seed("bench_simulation", args.seed)
    rows, kept = [], []
    for k in range(args.first_simulation, args.first_simulation + args.simulations):
        x = generate_inputs(
            simulation_rng(seed, k),
            table.length_um.to_numpy(),
            table.tree.to_numpy(),
            args.duration_ms,
            rates,
        )
        runner.set_recording(True, True, every_step=True)
        ref = runner.run(x, ref_s)
        conv = converged_run(args, runner, x, k, base) if args.converged_atol else None
        for name, s in cands.items():
            # CVODE has no steps on the ms grid: it records every step and resamples, like the
            # baseline
            runner.set_recording(True, False, every_step=s.integrator == "cvode")
            c = runner.run(x, s)
            m, shift = match_spikes(ref["spike_times"], c["spike_times"], 1.0)
            row = dict(
                simulation=k,
                duration_ms=args.duration_ms,
                candidate=name,
                ref_spikes=len(ref["spike_times"]),
                cand_spikes=len(c["spike_times"]),
                matched=m,
                max_shift_ms=shift,
                soma_rms_clipped_mv=soma_rms_clipped(ref["soma"], c["soma"]),
                ref_cpu_s=ref["cpu_s"],
                cand_cpu_s=c["cpu_s"],
                ref_wall_s=ref["wall_s"],
                cand_wall_s=c["wall_s"],
                ref_mean_clipped_mv=float(np.minimum(ref["soma"], -55).mean()),
                exc_rate_hz=float(x[:n_seg].mean() * 1000),
                fine_fraction=float(getattr(runner, "fine_fraction", 0.0))
                if s.dt_fine_ms > 0
                else 0.0,
                mid_fraction=float(getattr(runner, "mid_fraction", 0.0))
                if s.dt_mid_ms > 0
                else 0.0,
            )
            if conv is not None:
                row.update(converged_scores(conv, ref, c, 1.0))
            rows.append(row)
            print(
                " ".join(
                    f"{k2}={v:.3f}" if isinstance(v, float) else f"{k2}={v}"
                    for k2, v in row.items()
                ),
                flush=True,
            )
            if args.out:
                pd.DataFrame(rows).to_csv(
                    args.out, index=False
                )  # partial results survive an interrupt
        kept = [(x, ref, c)]  # storage is measured on the latest simulation (real traces)
        print(
            "storage, MB per 6 s simulation:",
            {k: round(v, 3) for k, v in storage(kept, cell, args.duration_ms).items()},
            flush=True,
        )
        print(
            summarize(pd.DataFrame(rows)).to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            flush=True,
        )
    return pd.DataFrame(rows), kept, cell


def converged_run(args, runner, x, k, base):
    """CVODE at ``--converged-atol`` on draw ``k`` (soma every step), from the cache when there."""
    key = f"{args.cell}_seed{args.seed}_sim{k}_{args.duration_ms}ms_atol{args.converged_atol:g}.npz"
    path = Path(args.cache_dir) / key
    if path.exists():
        z = np.load(path)
        if np.array_equal(z["inputs_sum"], x.sum(axis=1)):  # same draw, not a stale cache
            return {"soma": z["soma"], "spike_times": z["spike_times"]}
    out = run_converged(runner, x, base, args.converged_atol)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, soma=out["soma"], spike_times=out["spike_times"], inputs_sum=x.sum(axis=1))
    os.replace(tmp, path)
    return out


def storage_only(args):
    """Storage on real traces without the CVODE reference: candidate run recording every segment."""
    cell = _build(args.cell, "full", args.mechanisms, args.morphology)
    s = SimulationSettings(
        duration_ms=args.duration_ms,
        integrator="fixed",
        dt_ms=args.dt[0],
        secondorder=args.secondorder,
        record_nexus=True,
        record_dendrites=True,
    )
    runner = NeuronRunner(cell, s)
    rates = InputRates.from_config(PAPER_RATES)
    table = cell.segment_table
    seed = derive_seed("bench_simulation", args.seed)
    kept = []
    for k in range(args.simulations):
        x = generate_inputs(
            simulation_rng(seed, k),
            table.length_um.to_numpy(),
            table.tree.to_numpy(),
            args.duration_ms,
            rates,
        )
        c = runner.run(x)
        kept.append((x, c, c))
    print(
        f"== storage, MB per 6 s simulation (shard of {len(kept)} simulation(s) of "
        f"{args.duration_ms} ms, fixed dt={args.dt[0]:g}) =="
    )
    for k, v in storage(kept, cell, args.duration_ms).items():
        print(f"{k}: {v:.3f} MB")


def summarize(df):
    out = []
    for name, g in df.groupby("candidate", sort=False):
        sim_s = g.duration_ms.sum() / 1000
        denom = max(g.ref_spikes.sum(), g.cand_spikes.sum())
        out.append(
            dict(
                candidate=name,
                simulated_s=sim_s,
                ref_cpu_s_per_sim_s=g.ref_cpu_s.sum() / sim_s,
                cand_cpu_s_per_sim_s=g.cand_cpu_s.sum() / sim_s,
                speedup_cpu=g.ref_cpu_s.sum() / g.cand_cpu_s.sum(),
                spikes=(
                    f"{g.matched.sum()}/{denom} "
                    f"(ref {g.ref_spikes.sum()}, cand {g.cand_spikes.sum()})"
                ),
                spike_match=g.matched.sum() / denom if denom else 1.0,
                soma_rms_clipped_mv=float(np.sqrt(np.mean(g.soma_rms_clipped_mv**2))),
                max_shift_ms=float(g.max_shift_ms.max()),
                fine_fraction=float(g.fine_fraction.mean()),
                mid_fraction=float(g.mid_fraction.mean()) if "mid_fraction" in g else 0.0,
            )
        )
        if "converged_spikes" in g:
            out[-1].update(summarize_converged(g, spike_columns=("ref_spikes", "cand_spikes")))
    return pd.DataFrame(out)


def storage(kept, cell, duration_ms):
    """MB per simulation of shards with and without dendritic voltages (real recorded traces)."""
    x = np.array([k[0] for k in kept])
    soma = np.array([k[2]["soma"] for k in kept])
    nexus = np.array([k[2]["nexus"] for k in kept])
    dend = np.array([k[1]["dendrites"] for k in kept])
    spikes = [k[2]["spike_times"] for k in kept]
    attrs = dict(
        cell=cell.name,
        variant="full",
        split="bench",
        shard=0,
        seed=0,
        config_hash="bench",
        duration_ms=duration_ms,
        integrator="fixed",
        dt_ms=0.05,
    )
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, d in (("without dendrites", None), ("with dendrites", dend)):
            ds = build_shard_dataset(
                x,
                soma,
                spikes,
                attrs,
                segment_table=cell.segment_table,
                nexus_voltage=nexus,
                dendritic_voltage=d,
            )
            p = write_shard(ds, Path(tmp) / "s.nc")
            sizes[label] = os.path.getsize(p) / len(kept) / 1e6 * (6000 / duration_ms)
    return sizes


_WORKER = """
import sys, time, json
from neurodepth.simulation.simulate import ShardJob, simulate_shard
t, c = time.perf_counter(), time.process_time()
simulate_shard(ShardJob(sys.argv[1], "full", "bench", int(sys.argv[2]), 1,
    {"duration_ms": int(sys.argv[3]), "simulations_per_shard": int(sys.argv[4]),
     "record_dendrites": False},
    {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]},
    mechanisms_dir=sys.argv[5], morphology_path=sys.argv[6] or None), progress=False)
print(json.dumps({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}))
"""


def scaling(args):
    """Wall time of 1 shard job alone vs 2 shard jobs at once (independent processes)."""

    def launch(n):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER,
                    args.cell,
                    str(i),
                    str(args.scaling_duration_ms),
                    str(args.scaling_simulations),
                    str(args.mechanisms),
                    str(args.morphology or ""),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for i in range(n)
        ]
        t = time.perf_counter()
        outs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - t
        for p in procs:
            if p.returncode:
                raise RuntimeError(f"scaling worker failed (exit {p.returncode})")
        return wall, [json.loads(o.strip().splitlines()[-1])["cpu_s"] for o in outs]

    w1, c1 = launch(1)
    w2, c2 = launch(2)
    sim_s = args.scaling_duration_ms * args.scaling_simulations / 1000
    # wall throughput depends on free cores; CPU seconds per process show whether two jobs slow
    # each other (memory bandwidth, caches): equal CPU per job means N cores give N x throughput.
    return {
        "1 process: simulated s per wall s": sim_s / w1,
        "2 processes: simulated s per wall s": 2 * sim_s / w2,
        "wall scaling (2 vs 1)": (2 * sim_s / w2) / (sim_s / w1),
        "1 process: CPU s per job (build included)": c1[0],
        "2 processes: mean CPU s per job": float(np.mean(c2)),
        "per-core efficiency (CPU 1 job / CPU per job of 2)": c1[0] / float(np.mean(c2)),
    }


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cell", default="hay2011_l5pc")
    p.add_argument(
        "--morphology",
        default=str(
            Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hay2011" / "cell1.asc"
        ),
    )
    p.add_argument("--mechanisms", help="compiled mechanisms folder (compiled there if missing)")
    p.add_argument("--simulations", type=int, default=10)
    p.add_argument(
        "--first-simulation",
        type=int,
        default=0,
        help="index of the first input draw (split a long run over processes)",
    )
    p.add_argument("--duration-ms", type=int, default=6000)
    p.add_argument(
        "--dt",
        type=float,
        nargs="*",
        default=[0.05],
        help="uniform fixed steps (none: only --adaptive)",
    )
    p.add_argument("--secondorder", type=int, default=2)
    p.add_argument(
        "--adaptive",
        nargs="*",
        default=[],
        metavar="COARSE:FINE:ABOVE_MV:HOLD_MS[:MID:MID_ABOVE_MV]",
        help="adaptive fixed-step candidates, e.g. 0.1:0.025:-60:10 or 0.1:0.0125:-60:10:0.05:-65",
    )
    p.add_argument(
        "--cvode",
        type=float,
        nargs="*",
        default=[],
        metavar="ATOL",
        help="CVODE candidates at these tolerances (soma + nexus only): how well the reference "
        "method agrees with itself at a neighbouring tolerance, and what recording costs",
    )
    p.add_argument("--reference-atol", type=float, default=1e-3)
    p.add_argument(
        "--converged-atol",
        type=float,
        default=None,
        help="also score baseline and candidates against CVODE at this tolerance (e.g. 1e-5)",
    )
    p.add_argument(
        "--cache-dir", default="benchmarks/.cache", help="where converged runs are cached"
    )
    p.add_argument(
        "--summarize", nargs="*", metavar="CSV", help="only print the joint summary of these CSVs"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scaling-simulations", type=int, default=1)
    p.add_argument("--scaling-duration-ms", type=int, default=2000)
    p.add_argument("--skip-scaling", action="store_true")
    p.add_argument(
        "--scaling-only", action="store_true", help="only measure 1 vs 2 independent shard jobs"
    )
    p.add_argument(
        "--storage-only", action="store_true", help="only measure shard sizes (no CVODE reference)"
    )
    p.add_argument("--out", default="benchmarks/simulation_results.csv")
    args = p.parse_args(argv)
    if args.summarize:
        pd.set_option("display.width", 250)
        df = pd.concat([pd.read_csv(f) for f in args.summarize], ignore_index=True)
        print(summarize(df).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return
    if not args.mechanisms:
        p.error("--mechanisms is required (except with --summarize)")

    from neurodepth.cells.mechanisms_build import compile_mechanisms

    if not (Path(args.mechanisms) / "mechanisms.json").exists():
        compile_mechanisms(args.mechanisms)

    if args.storage_only:
        storage_only(args)
        return
    if not args.skip_scaling:  # first, so that it is measured even if the long part is cut short
        print(
            f"== scaling (independent shard jobs; {args.scaling_simulations:d} x "
            f"{args.scaling_duration_ms:d} ms each) =="
        )
        for k, v in scaling(args).items():
            print(f"{k}: {v:.3f}", flush=True)
    if args.scaling_only:
        return
    df, kept, cell = throughput(args)
    summ = summarize(df)
    pd.set_option("display.width", 200)
    print(
        f"\n== throughput and accuracy (baseline: CVODE atol {args.reference_atol:g}, "
        "all segments recorded every step) =="
    )
    print(summ.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        "\n== storage, MB per 6 s simulation (measured on the last simulation, "
        f"{args.duration_ms:d} ms) =="
    )
    for k, v in storage(kept, cell, args.duration_ms).items():
        print(f"{k}: {v:.3f} MB")


if __name__ == "__main__":
    main()
