"""Windows of inputs and targets from a dataset netCDF, without loading the dataset into memory.

Reads go straight through netCDF4: one window reads only its own input events (from the event
lists, ``shards.input_events``: the events before each ms of the window, then the window's channel
numbers) and sets them in a zeroed array; in files without event lists (written before issue 16)
it reads the packed bytes that cover it (``ceil(length/8) + 1`` bytes per channel), which are
unpacked and trimmed to the exact bits. Both give the same array. Spike times (a short ragged list)
are read once at open. The file handle is opened lazily and reopened in a new process, so one
reader object can be handed to DataLoader worker processes (each worker gets its own handle; the
data module closes the parent's handle before workers fork, since HDF5 state copied from a process
with the file open is not safe to use).

Targets follow the paper: spike target = output spikes binned at 1 ms (from the full-precision
``spike_time``); soma target = soma voltage clipped at ``soma_threshold_mv`` (-55 mV, removes the
spikes) minus ``soma_bias_mv`` (-67.7 mV).
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from neurodepth.core.errors import DatasetError

SOMA_BIAS_MV = -67.7
SOMA_THRESHOLD_MV = -55.0

# One shared netCDF4 handle per (file, process), reference-counted. Why: with netCDF-C 4.10.1 /
# HDF5 2.2.0, opening one file several times in a process, closing some of the handles while
# another stays open and then opening it again segfaults. Sharing the handle avoids that pattern.
_HANDLES: dict = {}


def _acquire(path: Path) -> netCDF4.Dataset:
    key = (str(path.resolve()), os.getpid())
    entry = _HANDLES.get(key)
    if entry is None:
        try:
            nc = netCDF4.Dataset(path, "r")
        except OSError as err:
            raise DatasetError(f"cannot open dataset {path}: {err}") from err
        nc.set_auto_mask(False)  # plain ndarrays; our variables have no missing values
        entry = _HANDLES[key] = [nc, 0]
    entry[1] += 1
    return entry[0]


def _release(path: Path) -> None:
    key = (str(path.resolve()), os.getpid())
    entry = _HANDLES.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _HANDLES[key]
        entry[0].close()


REQUIRED_VARIABLES = ("input_spikes_packed", "soma_voltage", "spike_time", "spike_simulation")


class DatasetReader:
    """Random access to windows and full traces of one dataset file (any split)."""

    def __init__(
        self, path, soma_bias_mv: float = SOMA_BIAS_MV, soma_threshold_mv: float = SOMA_THRESHOLD_MV
    ):
        self.path = Path(path)
        self.soma_bias_mv = float(soma_bias_mv)
        self.soma_threshold_mv = float(soma_threshold_mv)
        self._nc = None
        self._pid = None
        if not self.path.exists():
            raise DatasetError(f"dataset file not found: {self.path}")
        nc = self._handle()
        missing = [v for v in REQUIRED_VARIABLES if v not in nc.variables]
        if missing:
            raise DatasetError(f"dataset {self.path} lacks variables {missing}")
        packed = nc.variables["input_spikes_packed"]
        self.n_simulations, self.n_channels, n_bytes = (int(s) for s in packed.shape)
        self.duration_ms = int(nc.variables["soma_voltage"].shape[1])
        if nc.variables["soma_voltage"].shape[0] != self.n_simulations:
            raise DatasetError(
                f"dataset {self.path}: soma_voltage and input_spikes_packed disagree on simulations"
            )
        if n_bytes != -(-self.duration_ms // 8):
            raise DatasetError(
                f"dataset {self.path}: time_byte={n_bytes} but time={self.duration_ms} "
                "(expected ceil(time/8))"
            )
        self.time_origin_ms = 0.0
        if "time" in nc.variables and self.duration_ms > 1:
            t = np.asarray(nc.variables["time"][:2], dtype=float)
            if not np.isclose(t[1] - t[0], 1.0):
                raise DatasetError(
                    f"dataset {self.path}: time step {t[1] - t[0]} ms, expected 1 ms bins"
                )
            self.time_origin_ms = float(t[0])
        spike_time = np.asarray(nc.variables["spike_time"][:], dtype=np.float64)
        spike_sim = np.asarray(nc.variables["spike_simulation"][:], dtype=np.int64)
        if spike_time.shape != spike_sim.shape:
            raise DatasetError(
                f"dataset {self.path}: spike_time and spike_simulation lengths differ"
            )
        if spike_sim.size and (spike_sim.min() < 0 or spike_sim.max() >= self.n_simulations):
            raise DatasetError(
                f"dataset {self.path}: spike_simulation out of range 0..{self.n_simulations - 1}"
            )
        bins = np.floor(spike_time - self.time_origin_ms).astype(np.int64)
        keep = (bins >= 0) & (bins < self.duration_ms)
        order = np.argsort(spike_sim[keep], kind="stable")
        self._spike_bins_all = bins[keep][order]
        sims_sorted = spike_sim[keep][order]
        # Offsets into the sorted spike list per simulation (CSR layout).
        self._spike_offsets = np.searchsorted(sims_sorted, np.arange(self.n_simulations + 1))
        self.spike_count = np.diff(self._spike_offsets).astype(np.int64)
        self.has_dendritic = "dendritic_voltage" in nc.variables
        # Files written from issue 16 on also hold the inputs as event lists: windows read those
        # (a few ~10 us plain reads instead of inflating packed chunks); older files unpack bits.
        self._event_count = self._event_first = None
        if "input_event_channel" in nc.variables:
            self._event_count = np.asarray(nc.variables["input_event_count"][:], dtype=np.int64)
            self._event_first = np.concatenate([[0], np.cumsum(self._event_count)])

    # ---- handle management -------------------------------------------------------------------
    def _handle(self) -> netCDF4.Dataset:
        if self._nc is None or self._pid != os.getpid():
            # In a new process the parent's handle object is left alone (never closed here).
            self._nc, self._pid = _acquire(self.path), os.getpid()
        return self._nc

    def close(self) -> None:
        if self._nc is not None and self._pid == os.getpid():
            _release(self.path)
        self._nc = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may already be gone
            pass

    @property
    def attrs(self) -> dict:
        """Global attributes of the file."""
        nc = self._handle()
        return {k: nc.getncattr(k) for k in nc.ncattrs()}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_nc"] = None  # a new process opens its own handle
        state["_pid"] = None
        return state

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- access --------------------------------------------------------------------------------
    def _check(self, sim: int, start: int, stop: int) -> None:
        if not 0 <= sim < self.n_simulations:
            raise DatasetError(
                f"{self.path}: simulation {sim} out of range 0..{self.n_simulations - 1}"
            )
        if not 0 <= start < stop <= self.duration_ms:
            raise DatasetError(
                f"{self.path}: time range [{start}, {stop}) outside 0..{self.duration_ms} ms"
            )

    def _read(self, name: str, start, count) -> np.ndarray:
        """The block ``start`` + ``count`` of variable ``name``, as stored (no mask or scale).

        Calls ``netCDF4.Variable._get(start, count, stride)``, the read that ``__getitem__``
        makes after turning the index into start/count/stride in Python; that conversion was
        ~30 % of a batch's time (two or three reads per window). ``__getitem__``'s only other
        work, masking and scaling, does not apply: these variables have neither a fill value nor
        a scale factor. Bounds are checked by the callers (``_check``).
        """
        var = self._handle().variables[name]
        start = np.asarray(start, dtype=np.intp)
        return var._get(start, np.asarray(count, dtype=np.intp), np.ones(len(start), np.intp))

    def _read_window(self, name: str, sim: int, lo: int, hi: int) -> np.ndarray:
        """Simulation ``sim`` of ``name``, indices ``[lo, hi)`` of its last axis."""
        shape = self._handle().variables[name].shape
        start = [sim] + [0] * (len(shape) - 2) + [lo]
        return self._read(name, start, [1, *shape[1:-1], hi - lo])[0]

    def inputs(self, sim: int, start: int, stop: int, dtype=np.float32) -> np.ndarray:
        """Binary inputs (channels, stop - start) as ``dtype``: from the window's input events if
        the file has event lists, else by unpacking only the needed bytes."""
        self._check(sim, start, stop)
        if self._event_first is not None:
            return self._inputs_from_events(sim, start, stop, dtype)
        b0, b1 = start // 8, -(-stop // 8)
        packed = self._read_window("input_spikes_packed", sim, b0, b1)
        bits = np.unpackbits(np.asarray(packed, dtype=np.uint8), axis=-1, bitorder="little")
        off = start - 8 * b0
        return bits[:, off : off + (stop - start)].astype(dtype, copy=dtype != np.uint8)

    def _inputs_from_events(self, sim: int, start: int, stop: int, dtype) -> np.ndarray:
        # events before each bin of [start, stop]; before the end of the simulation is its count
        before = self._read_window(
            "input_event_before", sim, start, min(stop + 1, self.duration_ms)
        )
        if stop == self.duration_ms:
            before = np.append(before, self._event_count[sim])
        x = np.zeros((self.n_channels, stop - start), dtype=dtype)
        lo, hi = self._event_first[sim] + before[0], self._event_first[sim] + before[-1]
        if hi > lo:
            channel = self._read("input_event_channel", [lo], [hi - lo])
            x[channel, np.repeat(np.arange(stop - start), np.diff(before))] = 1
        return x

    def spike_bins(self, sim: int) -> np.ndarray:
        """Output spike bin indices (ms from the first time bin) of one simulation."""
        a, b = self._spike_offsets[sim], self._spike_offsets[sim + 1]
        return self._spike_bins_all[a:b]

    def spike_target(self, sim: int, start: int, stop: int) -> np.ndarray:
        self._check(sim, start, stop)
        out = np.zeros(stop - start, dtype=np.float32)
        bins = self.spike_bins(sim)
        bins = bins[(bins >= start) & (bins < stop)]
        out[bins - start] = 1.0
        return out

    def soma_voltage(self, sim: int, start: int, stop: int) -> np.ndarray:
        """Raw soma voltage (mV), float32."""
        self._check(sim, start, stop)
        return np.asarray(self._read_window("soma_voltage", sim, start, stop), dtype=np.float32)

    def soma_target(self, sim: int, start: int, stop: int) -> np.ndarray:
        v = self.soma_voltage(sim, start, stop)
        return (np.minimum(v, self.soma_threshold_mv) - self.soma_bias_mv).astype(np.float32)

    def window(self, sim: int, t_end: int, length: int, dtype=np.float32):
        """Window covering time bins ``[t_end - length, t_end)`` of simulation ``sim``.

        Returns ``(inputs (channels, length) as dtype [float32], spike_target (length,) float32,
        soma_target (length,) float32)``.
        """
        start = int(t_end) - int(length)
        return (
            self.inputs(sim, start, int(t_end), dtype),
            self.spike_target(sim, start, int(t_end)),
            self.soma_target(sim, start, int(t_end)),
        )

    def full(self, sim: int):
        """Whole simulation: same triple as ``window`` over ``[0, duration_ms)``."""
        return self.window(sim, self.duration_ms, self.duration_ms)

    def dendritic_voltage(self, sim: int, start: int, stop: int) -> np.ndarray:
        """Dendritic voltages (segment, time) in mV, float32 (CF scale/offset applied)."""
        if not self.has_dendritic:
            raise DatasetError(f"dataset {self.path} has no dendritic_voltage")
        self._check(sim, start, stop)
        var = self._handle().variables["dendritic_voltage"]
        var.set_auto_scale(True)
        return np.asarray(var[sim, :, start:stop], dtype=np.float32)
