"""LightningDataModule over dataset netCDF files: random training windows, whole validation traces.

Training batches are drawn on the fly from the packed inputs (one ``DatasetReader`` per worker
process, each with its own file handle), so memory does not grow with the dataset: a worker holds
one batch plus the netCDF chunk cache. Window ends are uniform in ``[max(min_window_end_ms,
window_ms), duration]``; simulations are uniform. Validation scores whole simulations (see
:class:`ValidationTraces`), chosen once, so every validation pass scores the same bins.
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from neurodepth.core.errors import DatasetError
from neurodepth.data.dendritic_pca import DendriticPCA, read_dendritic_pca
from neurodepth.data.reader import SOMA_BIAS_MV, DatasetReader


def _end_range(reader: DatasetReader, window_ms: int, min_end_ms: int) -> tuple[int, int]:
    lo = max(int(min_end_ms), int(window_ms))
    if lo > reader.duration_ms:
        raise DatasetError(
            f"dataset {reader.path}: simulations of {reader.duration_ms} ms are too short for "
            f"windows of {window_ms} ms ending >= {min_end_ms} ms (training.window_ms / "
            f"training.min_window_end_ms)"
        )
    return lo, reader.duration_ms


def _batch(
    reader: DatasetReader, sims, ends, window_ms: int, dendritic: DendriticPCA | None = None
) -> dict[str, torch.Tensor]:
    # Inputs travel as uint8 (0/1): 4x less to copy between processes and to the GPU; the
    # LightningModule converts them to float on the device.
    x = np.empty((len(sims), reader.n_channels, window_ms), dtype=np.uint8)
    spike = np.empty((len(sims), window_ms), dtype=np.float32)
    soma = np.empty((len(sims), window_ms), dtype=np.float32)
    for i, (s, e) in enumerate(zip(sims, ends)):
        x[i], spike[i], soma[i] = reader.window(int(s), int(e), window_ms, dtype=np.uint8)
    batch = {
        "inputs": torch.from_numpy(x),
        "spike": torch.from_numpy(spike),
        "soma": torch.from_numpy(soma),
    }
    if dendritic is not None:
        batch["dendritic"] = torch.from_numpy(
            np.stack(
                [
                    dendritic.transform(
                        reader.dendritic_voltage(int(s), int(e) - window_ms, int(e))
                    )
                    for s, e in zip(sims, ends)
                ]
            )
        )
    return batch


class RandomWindowBatches(IterableDataset):
    """Endless stream of whole batches (the DataLoader uses ``batch_size=None``)."""

    def __init__(
        self,
        reader: DatasetReader,
        window_ms: int,
        min_end_ms: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        dendritic: DendriticPCA | None = None,
    ):
        self.reader = reader
        self.dendritic = dendritic
        self.window_ms = int(window_ms)
        self.batch_size = int(batch_size)
        self.lo, self.hi = _end_range(reader, window_ms, min_end_ms)
        self.seed = int(seed)
        self.start_step = int(start_step)

    def __iter__(self):
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        # Batch b is drawn from a generator keyed on (seed, b) alone, and worker w makes batches
        # w, w + n, w + 2n, ... which the DataLoader interleaves back into 0, 1, 2, ...; so the
        # stream is the same for any worker count, and a run resumed at step k trains on exactly
        # the batches an uninterrupted run would have (bit-identical results after a kill).
        batch = self.start_step + worker
        while True:
            rng = np.random.default_rng([self.seed, batch])
            sims = rng.integers(0, self.reader.n_simulations, size=self.batch_size)
            ends = rng.integers(self.lo, self.hi + 1, size=self.batch_size)
            yield _batch(self.reader, sims, ends, self.window_ms, self.dendritic)
            batch += n_workers


class ValidationTraces(Dataset):
    """Whole validation simulations, added in a seeded order until they hold enough output spikes.

    One item is one whole simulation. Every network, whatever its receptive field, is scored on
    the same bins (from ``scored_from_ms`` on, kept >= the receptive field - 1), so the
    criterion is comparable across depths and architecture candidates. Simulations are taken in a
    permutation seeded by ``seed`` until the scored bins hold ``min_spikes`` output spikes or the
    split is exhausted (``exhausted`` then says so): a fixed number of windows held 3 spikes on a
    weakly firing variant, too few to rank networks.
    """

    def __init__(self, reader: DatasetReader, scored_from_ms: int, min_spikes: int, seed: int):
        self.reader = reader
        self.scored_from = int(scored_from_ms)
        if self.scored_from >= reader.duration_ms:
            raise DatasetError(
                f"dataset {reader.path}: simulations of {reader.duration_ms} ms hold no bin after "
                f"{self.scored_from} ms to validate on (training.min_window_end_ms)"
            )
        order = np.random.default_rng([int(seed), 7919]).permutation(reader.n_simulations)
        counts = np.array([scored_spikes(reader, int(s), self.scored_from) for s in order])
        reached = np.nonzero(np.cumsum(counts) >= int(min_spikes))[0]
        n = int(reached[0]) + 1 if reached.size else len(order)
        self.sims = np.sort(order[:n])
        self.n_spikes = int(counts[:n].sum())
        self.min_spikes = int(min_spikes)
        self.exhausted = self.n_spikes < self.min_spikes

    def __len__(self) -> int:
        return len(self.sims)

    def __getitem__(self, i):
        x, spike, soma = self.reader.window(
            int(self.sims[i]), self.reader.duration_ms, self.reader.duration_ms, dtype=np.uint8
        )
        return {
            "inputs": torch.from_numpy(x),
            "spike": torch.from_numpy(spike),
            "soma": torch.from_numpy(soma),
        }


def scored_spikes(reader: DatasetReader, sim: int, scored_from_ms: int) -> int:
    """Output spikes of one simulation in the bins that are scored (from ``scored_from_ms`` on)."""
    return int((reader.spike_bins(sim) >= int(scored_from_ms)).sum())


def spike_rate_per_bin(reader: DatasetReader, scored_from_ms: int) -> float:
    """Output spikes per 1 ms bin over the scored bins of every simulation (the constant-rate
    predictor's rate; evaluation compares each network's spike BCE with that predictor's)."""
    spikes = sum(scored_spikes(reader, s, scored_from_ms) for s in range(reader.n_simulations))
    bins = reader.n_simulations * max(0, reader.duration_ms - int(scored_from_ms))
    return spikes / bins if bins else float("nan")


IDENTITY_ATTRS = ("cell", "variant", "config_hash")


def data_identity(attrs: dict) -> dict:
    """What must agree between datasets used together: the cell, the variant, the config hash."""
    return {key: str(attrs.get(key, "")) for key in IDENTITY_ATTRS}


def check_compatible(named: dict) -> dict:
    """``named``: role -> (path, attrs). Raise DatasetError naming the files that disagree."""
    items = list(named.items())
    first_role, (first_path, first_attrs) = items[0]
    reference = data_identity(first_attrs)
    for role, (path, attrs) in items[1:]:
        other = data_identity(attrs)
        for key in IDENTITY_ATTRS:
            if other[key] != reference[key]:
                raise DatasetError(
                    f"incompatible datasets: {role} set {path} has {key}={other[key]!r} but "
                    f"{first_role} set {first_path} has {key}={reference[key]!r} (made with a "
                    f"different config; rerun the pipeline so both come from the same one)"
                )
    return reference


class NeuronDataModule(pl.LightningDataModule):
    """Data for one training job. ``training_cfg`` is the config's ``training`` section.

    The files are opened in :meth:`setup`, which checks that they belong together and builds the
    window sets; ``n_inputs`` and ``data_identity`` are known from then on. ``setup`` runs once:
    the training job calls it before building the network (whose input width it sets), and the
    Trainer's own call is then a no-op.
    """

    def __init__(
        self,
        train_path,
        valid_path,
        training_cfg: dict,
        seed: int = 0,
        start_step: int = 0,
        dendritic_pca_path=None,
    ):
        super().__init__()
        # the auxiliary dendritic target's projection (training.dendritic_components); training
        # batches then carry "dendritic" (component, time); validation scores spikes and soma only
        self.dendritic_pca_path = dendritic_pca_path
        self.dendritic: DendriticPCA | None = None
        self.window_ms = int(training_cfg["window_ms"])
        self.min_end_ms = int(training_cfg["min_window_end_ms"])
        self.batch_size = int(training_cfg["batch_size"])
        self.min_spikes = int(training_cfg["validation_min_spikes"])
        # Bins before the windows' earliest end are the simulation's start-up transient; neither
        # training targets nor validation scores use them.
        self.scored_from = self.min_end_ms
        self.num_workers = int(training_cfg["num_workers"])
        self.soma_bias_mv = SOMA_BIAS_MV
        self.train_path, self.valid_path = train_path, valid_path
        self.seed = int(seed)
        self.start_step = int(start_step)
        self.train_reader = self.valid_reader = None
        self.train_set = self.valid_set = None
        self.data_identity: dict | None = None
        self.train_spike_rate: float | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.train_reader = DatasetReader(self.train_path, soma_bias_mv=self.soma_bias_mv)
        self.valid_reader = DatasetReader(self.valid_path, soma_bias_mv=self.soma_bias_mv)
        if self.train_reader.n_channels != self.valid_reader.n_channels:
            raise DatasetError(
                f"{self.train_path} has {self.train_reader.n_channels} channels but "
                f"{self.valid_path} has {self.valid_reader.n_channels}"
            )
        self.data_identity = check_compatible(
            {
                "train": (self.train_path, self.train_reader.attrs),
                "valid": (self.valid_path, self.valid_reader.attrs),
            }
        )
        if self.dendritic_pca_path is not None:
            self.dendritic = read_dendritic_pca(self.dendritic_pca_path)
            if not self.train_reader.has_dendritic:
                raise DatasetError(
                    f"{self.train_path} holds no dendritic voltages for the dendritic target "
                    f"({self.dendritic_pca_path})"
                )
        self.train_set = RandomWindowBatches(
            self.train_reader,
            self.window_ms,
            self.min_end_ms,
            self.batch_size,
            self.seed,
            self.start_step,
            self.dendritic,
        )
        self.valid_set = ValidationTraces(
            self.valid_reader, self.scored_from, self.min_spikes, self.seed
        )
        self.train_spike_rate = spike_rate_per_bin(self.train_reader, self.scored_from)

    @property
    def n_dendritic(self) -> int:
        """Components of the dendritic target (0 without one)."""
        return 0 if self.dendritic is None else self.dendritic.n_components

    @property
    def n_inputs(self) -> int:
        if self.train_reader is None:
            raise RuntimeError("NeuronDataModule.n_inputs is known after setup()")
        return self.train_reader.n_channels

    def train_dataloader(self):
        workers = self.num_workers > 0
        if workers:
            # Workers are forked. HDF5 state copied from a parent that has the file open is not
            # safe to use in the child, so the parent's handles are closed first; every process
            # (re)opens lazily. Spawn would avoid this but re-runs an unguarded __main__ script
            # (e.g. a Snakemake script) in every worker.
            self.train_reader.close()
            self.valid_reader.close()
        return DataLoader(
            self.train_set,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=workers,
            prefetch_factor=2 if workers else None,
        )

    def val_dataloader(self):
        # Validation is small; reading it in the main process avoids spawning workers each pass.
        # One whole simulation per batch bounds memory on long (6 s) traces.
        return DataLoader(self.valid_set, batch_size=1, shuffle=False, num_workers=0)
