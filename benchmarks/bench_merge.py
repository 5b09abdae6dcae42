"""Peak memory of merging shards: the streaming ``shards.merge_shards`` vs the in-memory merge.

Synthetic Hay-sized shards (1278 input channels at ~1.2 % density, 639 dendritic segments with
smooth voltage traces, soma and nexus traces; ``--sims-per-shard`` simulations each) are written
once and copied to make splits of each ``--shards`` count; the old merge's copies lack the input
event lists, which it cannot merge. Each merge runs in a fresh subprocess
that reports its peak RSS (``VmHWM``) after imports and at the end; the growth (end minus after
imports) is compared with one shard's size in memory (``read_shard(...).nbytes``). The in-memory
merge (tests/merge_reference.py, the merge before issue 16) holds the whole split, so it runs only
up to ``--old-up-to`` shards.

    .venv/bin/python benchmarks/bench_merge.py --shards 32 128 512 --old-up-to 128
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _synthetic import synthetic_attrs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_CHANNELS, N_SEGMENTS = 1278, 639


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def make_shard(
    path: Path, n_sim: int, duration_ms: int, events: bool = True, seed: int = 0
) -> None:
    from neurodepth.data.shards import build_shard_dataset, write_shard

    rng = np.random.default_rng(seed)
    inputs = rng.random((n_sim, N_CHANNELS, duration_ms)) < 0.012
    # smooth traces (a leaky random walk around -65 mV) compress like simulated voltages
    steps = rng.normal(0, 0.5, (n_sim, N_SEGMENTS, duration_ms)).astype(np.float32)
    dend = np.empty_like(steps)
    v = np.zeros((n_sim, N_SEGMENTS), np.float32)
    for t in range(duration_ms):
        v = 0.98 * v + steps[:, :, t]
        dend[:, :, t] = v
    dend -= 65.0
    soma = dend[:, 0].copy()
    table = pd.DataFrame(
        {
            "segment": np.arange(N_SEGMENTS),
            "section": [f"dend[{i}]" for i in range(N_SEGMENTS)],
            "x": np.full(N_SEGMENTS, 0.5),
            "path_distance_um": np.linspace(10, 1200, N_SEGMENTS),
        }
    )
    spikes = [np.sort(rng.uniform(0, duration_ms, 5)) for _ in range(n_sim)]
    attrs = synthetic_attrs(seed, duration_ms)
    ds = build_shard_dataset(
        inputs,
        soma,
        spikes,
        attrs,
        segment_table=table,
        nexus_voltage=soma + 1,
        dendritic_voltage=dend,
    )
    if not events:  # the in-memory merge predates the input event lists
        ds = ds.drop_vars(["input_event_channel", "input_event_count", "input_event_before"])
    write_shard(ds, path)


def child(kind: str, list_file: Path, out: Path) -> None:
    """Run one merge and print its peak RSS (JSON): called in a fresh subprocess."""
    from merge_reference import merge_shards_in_memory

    from neurodepth.data.shards import merge_shards

    paths = [Path(p) for p in list_file.read_text().split()]
    after_imports = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    (merge_shards if kind == "new" else merge_shards_in_memory)(paths, out)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        json.dumps(
            {
                "after_imports_mb": after_imports,
                "peak_mb": peak_rss_mb(),
                "wall_s": wall,
                "cpu_s": cpu,
            }
        )
    )


def run_merge(kind: str, paths: list[Path], tmp: Path) -> dict:
    list_file = tmp / f"{kind}_{len(paths)}.txt"
    list_file.write_text("\n".join(str(p) for p in paths))
    out = tmp / f"merged_{kind}_{len(paths)}.nc"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(list_file), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["merged_mb"] = out.stat().st_size / 1e6
    out.unlink()
    return result


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shards", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--sims-per-shard", type=int, default=4)
    ap.add_argument("--duration-ms", type=int, default=1000)
    ap.add_argument("--old-up-to", type=int, default=128, help="largest split the old merge runs")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "LIST", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    from neurodepth.data.shards import read_shard

    tmp = Path(tempfile.mkdtemp(prefix="bench_merge_"))
    try:
        templates, shard_mb = {}, {}
        for kind in ("new", "old"):
            templates[kind] = tmp / f"template_{kind}.nc"
            make_shard(templates[kind], args.sims_per_shard, args.duration_ms, kind == "new")
            shard_mb[kind] = read_shard(templates[kind]).nbytes / 1e6
            print(
                f"one shard for the {kind} merge: {args.sims_per_shard} simulations x "
                f"{args.duration_ms} ms, {N_CHANNELS} channels, {N_SEGMENTS} dendritic segments"
                f"{'' if kind == 'new' else ', no input event lists'}: {shard_mb[kind]:.1f} MB "
                f"in memory, {templates[kind].stat().st_size / 1e6:.2f} MB on disk"
            )
        paths = {"new": [], "old": []}
        print(
            "| shards | simulations | merge | peak RSS MB | after imports MB | growth MB | "
            "growth / shard | wall s | CPU s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sorted(args.shards):
            kinds = ["new", "old"] if n <= args.old_up_to else ["new"]
            for kind in kinds:
                while len(paths[kind]) < n:
                    paths[kind].append(tmp / f"shard_{kind}_{len(paths[kind])}.nc")
                    shutil.copyfile(templates[kind], paths[kind][-1])
                r = run_merge(kind, paths[kind][:n], tmp)
                growth = r["peak_mb"] - r["after_imports_mb"]
                print(
                    f"| {n} | {n * args.sims_per_shard} | {kind} | {r['peak_mb']:.0f} | "
                    f"{r['after_imports_mb']:.0f} | {growth:.0f} | {growth / shard_mb[kind]:.1f} | "
                    f"{r['wall_s']:.1f} | {r['cpu_s']:.1f} |",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
