"""Time to build one training batch (``datamodule._batch``: 8 windows x 400 ms x 1278 channels)
on one CPU core, from a dataset in the layout before issue 16 and in today's layout.

Before: the layout and reads before issue 16 (packed inputs and soma voltage one whole
simulation per chunk, windows read through netCDF4's ``__getitem__``, the packed bits unpacked).
After: ``shards.shard_encoding`` (inputs also as uncompressed event lists, soma voltage cut along
time, ``shards.WINDOW_CHUNK``) and today's ``reader.DatasetReader``. Both files hold the same
synthetic Hay-sized data (1278 channels at 1.2 % input density, 6 s
simulations); both build the same seeded batches (the ``RandomWindowBatches`` draw), which are
checked bit-identical. Rounds alternate before/after, since the machine is shared; both wall
time and the thread's CPU time are reported (CPU time is what one dedicated core would take: on a
busy machine the wall time also counts the time the process waits for its core).

netCDF's chunk cache is off by default here: on a real training split (10,000 simulations,
~1 MB of decompressed inputs each) a random window almost never finds its chunk cached, while
this benchmark's small file would fit in the default 64 MB cache. ``--cache`` keeps it.

    .venv/bin/python benchmarks/bench_loader.py --core 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import netCDF4
import numpy as np
import torch
from _synthetic import synthetic_attrs

from neurodepth.core.atomic import write_netcdf_atomic
from neurodepth.data.reader import DatasetReader
from neurodepth.data.shards import build_shard_dataset, shard_encoding
from neurodepth.learning.datamodule import _batch

N_CHANNELS, DURATION_MS = 1278, 6000


class BeforeReader(DatasetReader):
    """``DatasetReader``'s window reads as they were before issue 16 (netCDF4 ``__getitem__``,
    masking and scaling on, the packed bits unpacked per window)."""

    def __init__(self, path):
        super().__init__(path)
        self._handle().variables["soma_voltage"].set_auto_scale(True)

    def inputs(self, sim, start, stop, dtype=np.float32):
        self._check(sim, start, stop)
        b0, b1 = start // 8, -(-stop // 8)
        packed = self._handle().variables["input_spikes_packed"][sim, :, b0:b1]
        bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=-1, bitorder="little")
        off = start - 8 * b0
        return bits[:, off : off + (stop - start)].astype(dtype, copy=dtype != np.uint8)

    def soma_voltage(self, sim, start, stop):
        self._check(sim, start, stop)
        return np.asarray(
            self._handle().variables["soma_voltage"][sim, start:stop], dtype=np.float32
        )


def write_datasets(tmp: Path, n_sim: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    inputs = rng.random((n_sim, N_CHANNELS, DURATION_MS)) < 0.012
    soma = rng.normal(-67, 3, (n_sim, DURATION_MS)).astype(np.float32)
    spikes = [np.sort(rng.uniform(0, DURATION_MS, 8)) for _ in range(n_sim)]
    attrs = synthetic_attrs(seed, DURATION_MS)
    ds = build_shard_dataset(inputs, soma, spikes, attrs)
    after, before = tmp / "after.nc", tmp / "before.nc"
    write_netcdf_atomic(ds, after, encoding=shard_encoding(ds))
    ds = ds.drop_vars(["input_event_channel", "input_event_count", "input_event_before"])
    encoding = shard_encoding(ds)
    encoding["soma_voltage"]["chunksizes"] = (1, DURATION_MS)  # one whole simulation per chunk
    write_netcdf_atomic(ds, before, encoding=encoding)
    return before, after


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sims", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=400)
    ap.add_argument("--batches", type=int, default=20, help="batches per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--core", type=int, default=None, help="pin to this CPU core")
    ap.add_argument("--cache", action="store_true", help="keep netCDF's default chunk cache")
    args = ap.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    torch.set_num_threads(1)
    if not args.cache:
        netCDF4.set_chunk_cache(0, 0, 0.75)
    tmp = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    try:
        measure(tmp, args)
    finally:
        shutil.rmtree(tmp)


def measure(tmp: Path, args) -> None:
    before_path, after_path = write_datasets(tmp, args.sims)
    readers = {"before": BeforeReader(before_path), "after": DatasetReader(after_path)}
    for name, path in (("before", before_path), ("after", after_path)):
        print(f"{name}: {path.stat().st_size / 1e6:.2f} MB on disk")
    lo, hi = 500, DURATION_MS  # window ends as RandomWindowBatches draws them (min end 500 ms)
    times = {name: [] for name in readers}
    cpu = {name: [] for name in readers}
    for r in range(args.rounds + 1):  # round 0 warms up
        for b in range(args.batches):
            rng = np.random.default_rng([0, r * args.batches + b])
            sims = rng.integers(0, args.sims, size=args.batch)
            ends = rng.integers(lo, hi + 1, size=args.batch)
            built = {}
            for name, reader in readers.items():
                t0, c0 = time.perf_counter(), time.thread_time()
                built[name] = _batch(reader, sims, ends, args.window)
                if r:
                    times[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.thread_time() - c0)
            for key in built["before"]:
                assert torch.equal(built["before"][key], built["after"][key]), key
    for name in readers:
        wall, used = 1e3 * np.array(times[name]), 1e3 * np.array(cpu[name])
        print(
            f"{name}: wall median {np.median(wall):.2f} ms per batch (p10 "
            f"{np.percentile(wall, 10):.2f}, p90 {np.percentile(wall, 90):.2f}); CPU median "
            f"{np.median(used):.2f} ms (p10 {np.percentile(used, 10):.2f}); {len(wall)} batches"
        )
    ratio = statistics.median(cpu["before"]) / statistics.median(cpu["after"])
    per_channel_ms = statistics.median(cpu["after"]) / (N_CHANNELS * args.window * args.batch)
    print(
        f"CPU speed-up {ratio:.1f}x; batches bit-identical; after: {per_channel_ms:.2e} s per "
        "channel-ms (UNIT_COSTS['reader_s_per_channel_ms'])"
    )


if __name__ == "__main__":
    main()
