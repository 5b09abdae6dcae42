"""The auxiliary dendritic target: a whitened PCA of clipped dendritic voltages, fitted by
streaming the training split, stored beside it and read back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurodepth.core.errors import DatasetError
from neurodepth.data.dendritic_pca import (
    fit_dendritic_pca,
    read_dendritic_pca,
    write_dendritic_pca,
)
from neurodepth.data.shards import build_shard_dataset, write_shard

N_SEG, N_SIM, T = 24, 5, 600


def _segment_table(n):
    return pd.DataFrame(
        {
            "segment": np.arange(n),
            "section": [f"dend[{i // 4}]" for i in range(n)],
            "x": 0.5,
            "region": "basal",
            "tree": "basal",
            "path_distance_um": np.linspace(10, 300, n),
            "length_um": 20.0,
            "area_um2": 50.0,
            "diam_um": 1.0,
            "x_um": 0.0,
            "y_um": 0.0,
            "z_um": 0.0,
        }
    )


@pytest.fixture(scope="module")
def dendritic_dataset(tmp_path_factory):
    """Three latent signals mixed into 24 segments, small noise, and dendritic spikes to +30 mV
    that the +2 mV clip must remove."""
    rng = np.random.default_rng(3)
    latent = rng.standard_normal((N_SIM, 3, T)).cumsum(-1) * 0.5
    mixing = rng.standard_normal((N_SEG, 3)) * np.array([6.0, 3.0, 1.5])
    v = (
        -65
        + np.einsum("sk,nkt->nst", mixing, latent)
        + 0.1 * rng.standard_normal((N_SIM, N_SEG, T))
    )
    spikes = rng.random(v.shape) < 0.002
    v[spikes] = 30.0
    inputs = rng.random((N_SIM, 2 * N_SEG, T)) < 0.01
    soma = np.full((N_SIM, T), -70.0, dtype=np.float32)
    ds = build_shard_dataset(
        inputs,
        soma,
        [np.array([100.5])] * N_SIM,
        {
            "cell": "toy",
            "variant": "full",
            "split": "train",
            "seed": 0,
            "config_hash": "t",
            "duration_ms": T,
            "integrator": "toy",
            "dt_ms": 1.0,
        },
        segment_table=_segment_table(N_SEG),
        dendritic_voltage=v,
    )
    path = tmp_path_factory.mktemp("dendritic") / "train.nc"
    write_shard(ds, path)
    return path, np.minimum(v, 2.0)


def test_streamed_fit_equals_the_pca_of_the_whole_split(dendritic_dataset):
    path, clipped = dendritic_dataset
    pca = fit_dendritic_pca(path, n_components=3)
    # the int16 storage quantum is 1/32 mV: compare with the stored voltages' PCA
    flat = np.round(clipped * 32) / 32
    flat = flat.transpose(1, 0, 2).reshape(N_SEG, -1)
    covariance = np.cov(flat, bias=True)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    top = eigenvectors[:, ::-1][:, :3].T
    np.testing.assert_allclose(np.abs(pca.components @ top.T), np.eye(3), atol=1e-6)
    np.testing.assert_allclose(pca.sd**2, eigenvalues[::-1][:3], rtol=1e-6)
    np.testing.assert_allclose(pca.mean, flat.mean(1), atol=1e-4)  # within the quantum
    assert pca.explained.sum() > 0.95  # three latent signals and a little noise


def test_targets_reconstruct_the_variance_they_report(dendritic_dataset):
    path, clipped = dendritic_dataset
    pca = fit_dendritic_pca(path, n_components=3)
    v = np.round(clipped * 32) / 32
    scores = np.stack([pca.transform(v[n]) for n in range(N_SIM)])
    assert scores.shape == (N_SIM, 3, T) and scores.dtype == np.float32
    # whitened: unit SD per component (before the ±3 SD clip, which touches few bins)
    np.testing.assert_allclose(scores.transpose(1, 0, 2).reshape(3, -1).std(1), 1.0, atol=0.05)
    assert np.abs(scores).max() <= 3.0
    residual = np.stack([v[n] - pca.reconstruct(scores[n]) for n in range(N_SIM)])
    total = ((v - v.mean(axis=(0, 2), keepdims=True)) ** 2).sum()
    measured = 1 - (residual**2).sum() / total
    assert measured == pytest.approx(pca.explained.sum(), abs=0.01)


def test_fit_round_trips_through_its_file(dendritic_dataset, tmp_path):
    path, _ = dendritic_dataset
    pca = fit_dendritic_pca(path, n_components=2)
    written = write_dendritic_pca(pca, tmp_path / "dendritic_pca.nc", source=str(path))
    back = read_dendritic_pca(written)
    for name in ("mean", "components", "sd", "explained"):
        np.testing.assert_array_equal(getattr(back, name), getattr(pca, name))
    assert (back.clip_above_mv, back.clip_sd, back.n_components) == (2.0, 3.0, 2)
    # refitting gives the same signs, so the same targets
    np.testing.assert_array_equal(fit_dendritic_pca(path, 2).components, pca.components)


def test_a_split_without_dendrites_or_too_many_components_is_refused(dendritic_dataset, tmp_path):
    from toy_data import write_toy_dataset

    plain = tmp_path / "plain.nc"
    write_toy_dataset(plain, n_simulations=2, duration_ms=600)
    with pytest.raises(DatasetError, match="simulation.record_dendrites: true"):
        fit_dendritic_pca(plain, 3)
    with pytest.raises(DatasetError, match="30 dendritic components asked of 24"):
        fit_dendritic_pca(dendritic_dataset[0], 30)


def test_a_network_learns_the_dendritic_target(dendritic_dataset, tmp_path):
    import torch

    from neurodepth.core.config import section_defaults
    from neurodepth.learning.checkpoints import load_model
    from neurodepth.learning.train import train_model

    torch.set_num_threads(1)
    path, _ = dendritic_dataset
    pca_path = write_dendritic_pca(fit_dendritic_pca(path, 3), tmp_path / "dendritic_pca.nc")
    cfg = section_defaults("training") | {
        "window_ms": 100,
        "min_window_end_ms": 100,
        "batch_size": 4,
        "validation_min_spikes": 1,
        "num_workers": 0,
        "accelerator": "cpu",
        "progress_bar": False,
        "val_every_steps": 20,
        "log_every_n_steps": 1,
        "patience_validations": 100,
        "phases": [
            {
                "steps": 80,
                "lr": 0.01,
                "spike_weight": 1.0,
                "soma_weight": 0.0,
                "dendritic_weight": 1.0,
            },
        ],
    }
    arch = {"depth": 1, "kernels": [20], "width": 8}
    ckpt = train_model(path, path, tmp_path / "run", arch, cfg, seed=0, dendritic_pca_path=pca_path)
    model, _ = load_model(ckpt)
    assert model.n_dendritic == 3
    x = torch.zeros(1, model.n_inputs, 50)
    assert model(x)["dendritic"].shape == (1, 3, 50)
    log = pd.read_csv(tmp_path / "run" / "training_log.csv").dropna(subset=["train_dendritic_mse"])
    first, last = (
        log["train_dendritic_mse"].iloc[:10].mean(),
        log["train_dendritic_mse"].iloc[-10:].mean(),
    )
    # the inputs carry no information about these voltages, but the mean of the whitened scores
    # (0) is learnable from a start far from it
    assert last < first
