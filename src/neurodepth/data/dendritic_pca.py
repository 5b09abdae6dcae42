"""The paper's auxiliary dendritic target: dendritic voltages clipped at +2 mV, reduced by a
whitened PCA fitted on the training split, the scores clipped at ±3 SD.

:func:`fit_dendritic_pca` streams the training split one simulation at a time (the sums of the
voltages and of their outer products over segments; memory is segments², never the split), so it
fits on a split of any length. The fit is stored beside the dataset (:func:`write_dendritic_pca`,
:func:`read_dendritic_pca`) and every consumer projects with :meth:`DendriticPCA.transform`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from neurodepth.core.atomic import write_netcdf_atomic
from neurodepth.core.errors import DatasetError
from neurodepth.data.reader import DatasetReader

#: Dendritic voltages above this are clipped before the PCA: dendritic spikes would otherwise
#: dominate the components (paper_protocol.md, "Recording and targets").
CLIP_ABOVE_MV = 2.0
#: Whitened scores are clipped at this many SD.
CLIP_SD = 3.0


@dataclass(frozen=True)
class DendriticPCA:
    """``mean`` (segment,) mV, ``components`` (component, segment) orthonormal rows, ``sd``
    (component,) the SD of each score on the training split, ``explained`` (component,) the
    fraction of the clipped voltages' variance each component explains."""

    mean: np.ndarray
    components: np.ndarray
    sd: np.ndarray
    explained: np.ndarray
    clip_above_mv: float = CLIP_ABOVE_MV
    clip_sd: float = CLIP_SD

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def transform(self, voltage: np.ndarray) -> np.ndarray:
        """(segment, time) mV -> (component, time) whitened scores, float32, clipped at ±clip_sd."""
        clipped = np.minimum(np.asarray(voltage, dtype=np.float64), self.clip_above_mv)
        scores = self.components @ (clipped - self.mean[:, None]) / self.sd[:, None]
        return np.clip(scores, -self.clip_sd, self.clip_sd).astype(np.float32)

    def reconstruct(self, scores: np.ndarray) -> np.ndarray:
        """(component, time) whitened scores -> (segment, time) mV (of the clipped voltages)."""
        return (self.mean[:, None] + self.components.T @ (scores * self.sd[:, None])).astype(
            np.float32
        )


def fit_dendritic_pca(
    train_path, n_components: int, clip_above_mv: float = CLIP_ABOVE_MV, clip_sd: float = CLIP_SD
) -> DendriticPCA:
    """Fit on every 1 ms bin of every simulation of ``train_path`` (which must hold
    ``dendritic_voltage``: config ``simulation.record_dendrites``)."""
    reader = DatasetReader(train_path)
    try:
        if not reader.has_dendritic:
            raise DatasetError(
                f"{train_path} holds no dendritic voltages: the dendritic target needs "
                "simulation.record_dendrites: true"
            )
        total = second = None
        count = 0
        for sim in range(reader.n_simulations):
            v = np.minimum(
                reader.dendritic_voltage(sim, 0, reader.duration_ms).astype(np.float64),
                clip_above_mv,
            )
            if total is None:
                total, second = np.zeros(v.shape[0]), np.zeros((v.shape[0], v.shape[0]))
            total += v.sum(axis=1)
            second += v @ v.T
            count += v.shape[1]
    finally:
        reader.close()
    n_segments = total.shape[0]
    if not 1 <= n_components <= n_segments:
        raise DatasetError(
            f"{n_components} dendritic components asked of {n_segments} dendritic segments"
        )
    mean = total / count
    covariance = second / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:n_components]
    variance = np.clip(eigenvalues[order], 1e-12, None)
    components = eigenvectors[:, order].T
    # a component's sign is arbitrary; fix it so that refits give the same targets
    components *= np.sign(components[np.arange(n_components), np.abs(components).argmax(1)])[
        :, None
    ]
    return DendriticPCA(
        mean=mean,
        components=components,
        sd=np.sqrt(variance),
        explained=variance / max(float(np.trace(covariance)), 1e-12),
        clip_above_mv=float(clip_above_mv),
        clip_sd=float(clip_sd),
    )


def write_dendritic_pca(pca: DendriticPCA, path, source: str = "") -> Path:
    ds = xr.Dataset(
        {
            "mean": (("segment",), pca.mean, {"units": "mV"}),
            "components": (("component", "segment"), pca.components),
            "sd": (("component",), pca.sd, {"units": "mV"}),
            "explained_variance_ratio": (("component",), pca.explained),
        },
        attrs={
            "clip_above_mv": pca.clip_above_mv,
            "clip_sd": pca.clip_sd,
            "fitted_on": str(source),
            "description": "whitened PCA of clipped dendritic voltages (neurodepth.data."
            "dendritic_pca): scores = components @ (min(v, clip_above_mv) - mean) / sd",
        },
    )
    write_netcdf_atomic(ds, path)
    return Path(path)


def read_dendritic_pca(path) -> DendriticPCA:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dendritic PCA file {path} does not exist")
    with xr.open_dataset(path) as ds:
        return DendriticPCA(
            mean=ds["mean"].values.astype(np.float64),
            components=ds["components"].values.astype(np.float64),
            sd=ds["sd"].values.astype(np.float64),
            explained=ds["explained_variance_ratio"].values.astype(np.float64),
            clip_above_mv=float(ds.attrs["clip_above_mv"]),
            clip_sd=float(ds.attrs["clip_sd"]),
        )
