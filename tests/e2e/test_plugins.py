"""A user's extensions through the registries alone: a plugin module named by the config key
``plugins`` adds a cell variant and a network family, and the tiny pipeline runs with them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from workflow_helpers import copy_workflow

pytestmark = pytest.mark.slow

# Written into the scratch workflow as a user would write it: no edit to neurodepth.
PLUGIN = '''
from functools import partial

import torch.nn.functional as F
from torch import nn

from neurodepth.cells.lif import N_EXC, N_INH, lif_segment_table, simulate_lif
from neurodepth.cells.variants import VARIANTS, PointModel, Variant
from neurodepth.learning.networks import FAMILIES, NetworkFamily

FAST_TAU_MS = 5.0

VARIANTS.register(
    "fast_lif",
    Variant(
        "fast_lif", "fast integrate-and-fire", "fast I&F", "#cc78bc", False,
        point_model=PointModel(
            N_EXC, N_INH, partial(simulate_lif, n_exc=N_EXC, tau_ms=FAST_TAU_MS),
            lif_segment_table, "lif_exact",
        ),
    ),
)


class CausalLinear(nn.Module):
    """One causal filter per input channel, read out as spike logit and soma voltage."""

    def __init__(self, n_inputs, architecture):
        super().__init__()
        self.n_inputs, self.n_dendritic = n_inputs, 0
        self.depth, self.kernel = architecture["depth"], architecture["kernel"]
        self.conv = nn.Conv1d(n_inputs, 2, self.kernel)

    def forward(self, x):
        out = self.conv(F.pad(x, (self.kernel - 1, 0)))
        return {"spike_logit": out[:, 0], "soma": out[:, 1]}

    @property
    def n_parameters(self):
        return sum(p.numel() for p in self.parameters())

    @property
    def receptive_field(self):
        return self.kernel

    @property
    def macs_per_ms(self):
        return self.n_inputs * 2 * self.kernel

    def architecture(self):
        return {"depth": self.depth, "kernel": self.kernel}


FAMILIES.register(
    "causal_linear",
    NetworkFamily(
        architecture=lambda size, network_cfg: {"depth": size, "kernel": 10 * size},
        build=lambda n_inputs, arch, n_dendritic=0, init_std=None: CausalLinear(n_inputs, arch),
    ),
)
'''


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory, mechanisms):
    root = tmp_path_factory.mktemp("plugin_run")
    (root / "my_extensions.py").write_text(PLUGIN)
    workflow = copy_workflow(
        root,
        mechanisms_from=mechanisms,
        overrides={
            "plugins": ["my_extensions.py"],
            "variants": ["full", "fast_lif"],
            # tau 5 ms forgets input 4x faster than the built-in I&F: at its [0, 160] it fires
            # 0.1 spikes per 1.2 s simulation, at [0, 500] about 4 (20 draws each)
            "inputs": {"fast_lif": {"exc_per_100ms": [0, 500], "inh_minus_exc": [-60, 20]}},
            "network": {"family": "causal_linear", "depths": [1, 2]},
            # the plugin's own variant and family are what this run is for
            "families": {},
            "training": {"dendritic_components": {}},
        },
    )
    workflow.run("--cores", "2")
    return workflow


def test_plugin_variant_is_simulated_by_its_own_model(plugin_run):
    from neurodepth.cells.lif import N_EXC, simulate_lif
    from neurodepth.data.shards import open_dataset, read_simulation_inputs

    path = plugin_run.path("results/datasets/stylized_l5pc/fast_lif/test.nc")
    ds = open_dataset(path)
    assert ds.attrs["variant"] == "fast_lif"
    assert ds.sizes["channel"] == 100
    soma = ds["soma_voltage"].values
    inputs = read_simulation_inputs(path, 0)
    # the stored trace is the plugin's model (tau 5 ms), not the built-in I&F (tau 20 ms)
    fast, _ = simulate_lif(inputs, n_exc=N_EXC, tau_ms=5.0)
    built_in, _ = simulate_lif(inputs, n_exc=N_EXC)
    np.testing.assert_allclose(soma[0], fast, atol=1e-4)
    assert np.abs(soma[0] - built_in).max() > 1.0


@pytest.fixture()
def plugin_loaded_here(plugin_run):
    """The plugin imported into this process, as every rule's job does, and removed afterwards
    so that later tests see the built-in registries only."""
    import sys

    from neurodepth.cells.variants import VARIANTS
    from neurodepth.core.registry import load_plugins
    from neurodepth.figures.registry import FIGURES
    from neurodepth.learning.networks import FAMILIES

    registries = (VARIANTS, FAMILIES, FIGURES)
    saved = [dict(registry._entries) for registry in registries]
    modules = set(sys.modules)
    load_plugins(["my_extensions.py"], plugin_run.root)
    yield plugin_run
    for registry, entries in zip(registries, saved, strict=True):
        registry._entries = entries
    for name in set(sys.modules) - modules:
        if name.startswith("neurodepth_plugin_"):
            del sys.modules[name]


def test_plugin_family_is_trained_evaluated_and_summarised(plugin_loaded_here):
    from neurodepth.learning.checkpoints import load_model

    plugin_run = plugin_loaded_here

    for variant in ("full", "fast_lif"):
        for depth in (1, 2):
            run = f"stylized_l5pc/{variant}/d{depth}_s0"
            model, meta = load_model(plugin_run.path(f"results/models/{run}/model.ckpt"))
            assert meta["family"] == "causal_linear"
            assert type(model).__name__ == "CausalLinear"
            assert model.kernel == 10 * depth
            assert model.n_parameters == model.n_inputs * 2 * 10 * depth + 2
            metrics = pd.read_csv(plugin_run.path(f"results/evaluation/{run}/metrics.csv"))
            # the whole test split's AUC (a tiny split's random subsets may hold no spike: NaN)
            auc = metrics.loc[(metrics.metric == "spike_auc") & (metrics.subset == "all"), "value"]
            assert len(auc) == 1 and auc.between(0, 1).all()
            with xr.open_dataset(
                plugin_run.path(f"results/evaluation/{run}/predictions.nc")
            ) as pred:
                assert pred.attrs["model_receptive_field"] == 10 * depth
    needed = pd.read_csv(plugin_run.path("results/summary/depth_needed.csv"))
    assert set(needed.variant) == {"full", "fast_lif"}
    assert torch.is_tensor(model.conv.weight)
    figure = plugin_run.path("results/figures/accuracy_vs_depth.png")
    assert figure.stat().st_size > 10_000
