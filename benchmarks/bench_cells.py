"""Cell cost: wall (and CPU) seconds per simulated second per core, Hay L5PC vs stylized L5PC.

Both cells get the paper's input protocol (``neurodepth.simulation.inputs.generate_inputs``
with the default rates: the same events per 100 ms per tree, spread over each tree's segments by
length), fixed step dt = 0.05 ms with Crank-Nicolson (``h.secondorder = 2``), soma + nexus
recorded. Each run is
a fresh child process that builds one cell, so the cells never share a NEURON model; runs
alternate Hay / stylized so machine load hits both alike. Prints per-run lines and the ratio.

    .venv/bin/python benchmarks/bench_cells.py --mechanisms /tmp/ndmech \
        --morphology ../shared/data/hay2011/cell1.asc --duration-ms 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def child(args) -> None:
    from neurodepth.cells.builder import build_cell
    from neurodepth.cells.mechanisms_build import load_mechanisms
    from neurodepth.cells.spec import load_cell_spec
    from neurodepth.simulation.inputs import InputRates, generate_inputs

    load_mechanisms(args.mechanisms)
    from neuron import h

    h.load_file("stdrun.hoc")
    t0 = time.perf_counter()
    spec = load_cell_spec(
        args.cell, morphology_path=args.morphology if args.cell.startswith("hay") else None
    )
    cell = build_cell(spec, "full")
    build_s = time.perf_counter() - t0
    tab = cell.segment_table
    rng = np.random.default_rng(args.seed)
    spikes = generate_inputs(
        rng, tab.length_um.to_numpy(), tab.tree.to_numpy(), args.duration_ms, InputRates()
    )
    ncs = []
    for c in range(cell.n_channels):
        nc = h.NetCon(None, cell.synapse_for_channel(c))
        nc.weight[0] = 1.0
        nc.delay = 0.0
        ncs.append((nc, np.flatnonzero(spikes[c]).astype(float)))

    def queue():
        for nc, times in ncs:
            for t in times:
                nc.event(t)

    fih = h.FInitializeHandler(queue)
    h.cvode.active(0)
    h.dt = 0.05
    h.secondorder = 2
    soma = h.Vector().record(cell.soma_seg._ref_v, 1.0)
    # kept alive (not read): recording the nexus is part of the measured cost
    _nexus = h.Vector().record(cell.nexus_seg._ref_v, 1.0)
    h.finitialize(spec.simulation["v_init_mv"])
    w0, c0 = time.perf_counter(), time.process_time()
    h.continuerun(args.duration_ms)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    v = np.array(soma)
    n_out = int(np.sum((v[1:] > -20) & (v[:-1] <= -20)))
    n = len(cell.segments)
    print(
        json.dumps(
            dict(
                cell=args.cell,
                n_segments=n,
                build_s=build_s,
                wall_s=wall,
                cpu_s=cpu,
                wall_per_sim_s=wall / (args.duration_ms / 1000),
                cpu_per_sim_s=cpu / (args.duration_ms / 1000),
                exc_hz=float(spikes[:n].mean() * 1000),
                inh_hz=float(spikes[n:].mean() * 1000),
                events=int(spikes.sum()),
                output_spikes=n_out,
                soma_mean_mv=float(np.clip(v, None, -55).mean()),
            )
        )
    )
    del fih


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mechanisms", required=True)
    p.add_argument("--morphology", required=True)
    p.add_argument("--duration-ms", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cell", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return
    results = {"hay2011_l5pc": [], "stylized_l5pc": []}
    for r in range(args.repeats):
        for cell in results:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--cell",
                cell,
                "--mechanisms",
                args.mechanisms,
                "--morphology",
                args.morphology,
                "--duration-ms",
                str(args.duration_ms),
                "--seed",
                str(args.seed + r),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            res = json.loads(out.strip().splitlines()[-1])
            results[cell].append(res)
            print(
                f"run {r} {cell:14s} segs {res['n_segments']:4d} build {res['build_s']:.2f} s  "
                f"wall/sim-s {res['wall_per_sim_s']:.2f}  cpu/sim-s {res['cpu_per_sim_s']:.2f}  "
                f"exc {res['exc_hz']:.1f} Hz inh {res['inh_hz']:.1f} Hz events {res['events']}  "
                f"out spikes {res['output_spikes']}  clipped soma {res['soma_mean_mv']:.1f} mV",
                flush=True,
            )
    med = {
        c: (
            np.median([r["wall_per_sim_s"] for r in rs]),
            np.median([r["cpu_per_sim_s"] for r in rs]),
        )
        for c, rs in results.items()
    }
    hw, hc = med["hay2011_l5pc"]
    sw, sc = med["stylized_l5pc"]
    print(f"median wall s per simulated s: hay {hw:.2f}, stylized {sw:.2f}, ratio {hw / sw:.1f}x")
    print(f"median CPU  s per simulated s: hay {hc:.2f}, stylized {sc:.2f}, ratio {hc / sc:.1f}x")


if __name__ == "__main__":
    main()
