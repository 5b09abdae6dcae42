"""Small pickles in the structure of the authors' release (see neurodepth.data.authors_data), for
the importer's unit tests and the workflow's tests with ``dataset.source: authors``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def dendritic_trace(rng, n_seg: int, T: int) -> np.ndarray:
    """Per segment, -69 mV plus slow random excursions (a few mV), so a PCA of them has
    structure to find."""
    walk = np.cumsum(rng.standard_normal((n_seg, T)), axis=1) * 0.2
    return -69.0 + walk - walk.mean(axis=1, keepdims=True)


def fake_release(n_sim=3, n_seg=5, T=600, high_res=True, seed=0):
    """One file's dict and, per simulation, the truth: (exc spike dict, inh spike dict, output
    spike times). Output spikes are 1 ms triangles at known off-grid times on the 1/8 ms trace."""
    rng = np.random.default_rng(seed)
    sims, truth = [], []
    for i in range(n_sim):
        ex = {
            s: np.sort(rng.choice(T, size=rng.integers(0, 30), replace=False)).astype(float)
            for s in range(n_seg)
        }
        inh = {
            s: np.sort(rng.choice(T, size=rng.integers(0, 20), replace=False)).astype(float)
            for s in range(n_seg)
        }
        t_hi = np.arange(8 * T) / 8.0
        v_hi = np.full(t_hi.size, -70.0)
        spikes = (
            np.sort(rng.choice(np.arange(50, T - 50), size=i + 2, replace=False)) + 0.375 + 0.01 * i
        )
        for sp in spikes:  # 1 ms wide triangular spike peaking exactly at sp
            v_hi += np.clip(1 - np.abs(t_hi - sp) / 0.5, 0, None) * 100.0
        sim = {
            "exInputSpikeTimes": ex,
            "inhInputSpikeTimes": inh,
            "outputSpikeTimes": spikes.astype(np.float16),
            "somaVoltageLowRes": v_hi[::8].astype(np.float16),
            "nexusVoltageLowRes": np.full(T, -68.0, np.float16),
            "dendriticVoltagesLowRes": dendritic_trace(rng, n_seg, T).astype(np.float16),
        }
        if high_res:
            sim["somaVoltageHighRes"] = v_hi
        sims.append(sim)
        truth.append((ex, inh, spikes))
    data = {
        "Params": {
            "totalSimDurationInSec": T / 1000,
            "allSegmentsType": ["basal"] * 2 + ["apical"] * (n_seg - 2),
            "allSegmentsLength": list(np.linspace(10, 30, n_seg)),
        },
        "Results": {"listOfSingleSimulationDicts": sims},
    }
    return data, truth


def write_release(root: Path, name: str, files: dict, n_sim=4, n_seg=5, T=1200, seed=0) -> dict:
    """Folders ``root/<name>_<split>/`` holding ``files[split]`` pickles each, as the release lays
    out one cell (e.g. L5PC_NMDA_train/); returns {split: folder}."""
    folders = {}
    for k, (split, n_files) in enumerate(files.items()):
        folder = Path(root) / f"{name}_{split}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_files):
            data, _ = fake_release(n_sim=n_sim, n_seg=n_seg, T=T, seed=seed * 1000 + 10 * k + i)
            (folder / f"sim_experiment_{i}.p").write_bytes(pickle.dumps(data))
        folders[split] = str(folder)
    return folders
