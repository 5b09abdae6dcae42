"""A modeller's own neuron through the whole pipeline by configuration alone: a hoc template with
its own SWC morphology and a custom channel (``tests/user_model.py``), every variant including
the reduction, input rates calibrated to a target, and the same datasets, metrics and figures as
a built-in cell."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from user_model import write_user_model
from workflow_helpers import copy_workflow

pytestmark = pytest.mark.slow

VARIANTS = ["full", "no_nmda", "no_branching"]
CELL = "cell_spec"  # results are named after the spec file's stem


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("user_model_run")
    spec = write_user_model(root / "published_model")
    rates = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200], "target_rate_hz": 4.0}
    workflow = copy_workflow(
        root / "workflow",
        overrides={
            "cell": {"name": str(spec)},
            "variants": VARIANTS,
            "inputs": {v: dict(rates) for v in VARIANTS},
            "calibration": {"simulations": 4, "tolerance": 0.25},
            "families": {},
        },
    )
    workflow.run("--cores", "2")
    return workflow


def test_the_modellers_mechanisms_are_compiled_with_neurodepths_synapses(user_run):
    manifest = json.loads(user_run.path(f"results/mechanisms/{CELL}/mechanisms.json").read_text())
    assert sorted(manifest["mechanisms"]) == ["nd_AMPA", "nd_AMPANMDA", "nd_GABAA", "udemo_ks"]


def test_datasets_have_the_built_in_schema(user_run, tiny_local_run):
    reference = tiny_local_run.path("results/datasets/stylized_l5pc/full/test.nc")
    with xr.open_dataset(reference) as ref:
        ref_vars = {name: ref[name].dims for name in ref.variables}
        ref_attrs = set(ref.attrs)
    # the reduced cell's table also says where each segment's synapses went
    reduced = {f"segment_{c}": ("segment",) for c in ("reduced_section", "reduced_x")}
    reduced["segment_reduced_x_mapped"] = ("segment",)
    for variant in VARIANTS:
        expected = ref_vars | reduced if variant == "no_branching" else ref_vars
        with xr.open_dataset(user_run.path(f"results/datasets/{CELL}/{variant}/test.nc")) as ds:
            assert {name: ds[name].dims for name in ds.variables} == expected
            assert set(ds.attrs) == ref_attrs and ds.attrs["variant"] == variant
            # one excitatory and one inhibitory channel on each of the model's 73 segments
            assert ds.sizes["segment"] == 73 and ds.sizes["channel"] == 146
            regions = ds["segment_region"].values.astype(str)
            assert (regions == "tuft").sum() == 20 and (regions == "basal").sum() == 22
            assert np.isfinite(ds["soma_voltage"].values).all()


def test_calibration_brought_every_variant_near_its_target(user_run):
    table = pd.read_csv(user_run.path("results/calibration/calibration.csv"))
    assert sorted(table["variant"]) == sorted(VARIANTS)
    assert table["converged"].all()
    assert (abs(table["rate_hz"] / table["target_rate_hz"] - 1) <= 0.25).all()
    # the datasets fire: a training split without output spikes would have stopped the merge
    for variant in VARIANTS:
        with xr.open_dataset(user_run.path(f"results/datasets/{CELL}/{variant}/train.nc")) as ds:
            assert ds.sizes["spike"] > 0


def test_metrics_and_figures_are_those_of_any_cell(user_run, tiny_local_run):
    ours = pd.read_csv(user_run.path(f"results/evaluation/{CELL}/full/d1_s0/metrics.csv"))
    theirs = pd.read_csv(
        tiny_local_run.path("results/evaluation/stylized_l5pc/full/d1_s0/metrics.csv")
    )
    assert list(ours.columns) == list(theirs.columns)
    assert set(ours["metric"]) == set(theirs["metric"])
    needed = pd.read_csv(user_run.path("results/summary/depth_needed.csv"))
    assert sorted(needed["variant"]) == sorted(VARIANTS)
    auc = ours.loc[(ours.metric == "spike_auc") & (ours.subset == "all"), "value"]
    assert auc.between(0, 1).all()
    from PIL import Image

    for name in ("accuracy_vs_depth", "cell_morphology", "dataset_overview"):
        with Image.open(user_run.path(f"results/figures/{name}.png")) as image:
            assert np.asarray(image.convert("L")).std() > 5, name
