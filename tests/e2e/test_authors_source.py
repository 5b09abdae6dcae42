"""The authors' data as the pipeline's source (``dataset.source: authors``): the tiny pipeline on
small pickles in the release's structure, one folder per variant and split. Nothing is simulated;
one import job per pickle; then merge, train, evaluate, summarise and plot as usual."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from authors_release import write_release
from workflow_helpers import copy_workflow

pytestmark = pytest.mark.slow

FILES = {"train": 2, "valid": 1, "test": 1}
N_SIM, N_SEG, T = 4, 5, 1200  # per file; T = the tiny config's simulation.duration_ms


@pytest.fixture(scope="module")
def authors_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("authors")
    # the release's two cells: NMDA (our 'full') and AMPA only ('no_nmda')
    folders = {
        "full": write_release(root / "data", "L5PC_NMDA", FILES, N_SIM, N_SEG, T, seed=1),
        "no_nmda": write_release(root / "data", "L5PC_AMPA", FILES, N_SIM, N_SEG, T, seed=2),
    }
    wf = copy_workflow(
        root / "wf",
        overrides={
            "cell": {"name": "hay2011_l5pc"},
            "variants": ["full", "no_nmda"],
            "dataset": {"source": "authors", "authors": folders},
        },
    )
    # no family comparison (the overrides merge into the tiny config's families, not replace)
    config_path = wf.path("tiny_config.yaml")
    config = yaml.safe_load(config_path.read_text())
    config["families"] = {}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = wf.run("--cores", "2", timeout=900)
    return wf, folders, result.stdout + result.stderr


def test_no_simulation_one_import_job_per_pickle(authors_run):
    _, _, log = authors_run
    rules = re.findall(r"^\s*(?:local)?rule (\w+):", log, re.M)
    assert rules.count("import_authors") == 2 * sum(FILES.values())
    for absent in ("simulate_shard", "compile_mechanisms", "calibrate_inputs", "fetch_morphology"):
        assert absent not in rules, absent
    assert rules.count("train_model") == 2 * 2  # 2 variants x depths [1, 2] x seed [0]


def test_datasets_hold_the_pickles(authors_run):
    wf, folders, _ = authors_run
    for variant in folders:
        for split, n_files in FILES.items():
            path = wf.path(f"results/datasets/hay2011_l5pc/{variant}/{split}.nc")
            with xr.open_dataset(path) as ds:
                assert ds.sizes["simulation"] == n_files * N_SIM
                assert ds.sizes["channel"] == 2 * N_SEG and ds.sizes["segment"] == N_SEG
                assert ds.sizes["time"] == T
                assert (ds.attrs["variant"], ds.attrs["split"]) == (variant, split)
                assert ds.attrs["integrator"] == "authors_release"
                # which file each simulation came from, in the folder's name order
                np.testing.assert_array_equal(
                    ds["simulation_shard"].values, np.repeat(np.arange(n_files), N_SIM)
                )
                # output spikes: 2..5 per simulation in fake_release, re-detected from HighRes
                assert 2 * n_files * N_SIM <= ds.sizes["spike"] <= 5 * n_files * N_SIM


def test_metrics_and_figures(authors_run):
    wf, _, _ = authors_run
    metrics = pd.read_csv(wf.path("results/summary/metrics.csv"))
    assert set(metrics["variant"]) == {"full", "no_nmda"}
    for variant in ("full", "no_nmda"):
        for depth in (1, 2):
            per_net = pd.read_csv(
                wf.path(f"results/evaluation/hay2011_l5pc/{variant}/d{depth}_s0/metrics.csv")
            )
            auc = per_net.loc[per_net["metric"] == "spike_auc", "value"].to_numpy(float)
            assert auc.size and np.all((auc >= 0) & (auc <= 1)), (variant, depth, auc)
    figures = {p.stem for p in wf.path("results/figures").glob("*.png")}
    assert {"accuracy_vs_depth", "roc_timing", "dataset_overview"} <= figures
    assert "cell_morphology" not in figures  # the release has no segment coordinates
    assert not wf.path("results/calibration").exists()


def test_command_line_import_equals_the_workflows_dataset(authors_run, tmp_path):
    wf, folders, _ = authors_run
    out = tmp_path / "train.nc"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "neurodepth.ops.cli",
            "import-authors",
            folders["full"]["train"],
            str(out),
            "--cell",
            "hay2011_l5pc",
            "--variant",
            "full",
            "--split",
            "train",
            "--include-dendritic",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    workflow_dataset = wf.path("results/datasets/hay2011_l5pc/full/train.nc")
    with xr.open_dataset(out) as a, xr.open_dataset(workflow_dataset) as b:
        assert set(a.data_vars) == set(b.data_vars)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_the_dendritic_target_is_fitted_on_the_releases_dendrites(authors_run):
    """The tiny config trains the full cell with 4 dendritic components: with the authors' data
    they come from the release's dendriticVoltagesLowRes (imported as simulation.record_dendrites
    asks), not from a simulation."""
    from neurodepth.data.dendritic_pca import read_dendritic_pca
    from neurodepth.learning.checkpoints import load_model

    wf, _, _ = authors_run
    pca = read_dendritic_pca(wf.path("results/datasets/hay2011_l5pc/full/dendritic_pca.nc"))
    assert pca.n_components == 4 and pca.components.shape == (4, N_SEG)
    # the fake release's 5 independent random walks: 4 components explain most, not all
    assert 0.6 < pca.explained.sum() < 1.0
    with xr.open_dataset(wf.path("results/datasets/hay2011_l5pc/full/train.nc")) as ds:
        assert ds["dendritic_voltage"].shape == (FILES["train"] * N_SIM, N_SEG, T)
        assert float(ds["dendritic_voltage"].std()) > 0.1
    for variant, components in (("full", 4), ("no_nmda", 0)):
        model, _ = load_model(wf.path(f"results/models/hay2011_l5pc/{variant}/d1_s0/model.ckpt"))
        assert model.n_dendritic == components
