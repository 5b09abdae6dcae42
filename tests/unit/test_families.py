"""Network families beside the TCN (ELM, GRU): causality, reported sizes, input grouping by
branch, training to fit a tiny dataset, config checks, and the comparison across families."""

import numpy as np
import pandas as pd
import pytest
import torch
from toy_data import write_toy_dataset

from neurodepth.analysis.families import compare_families
from neurodepth.core.config import read_config_file, section_defaults
from neurodepth.core.errors import ConfigError
from neurodepth.learning.checkpoints import load_model
from neurodepth.learning.networks import FAMILIES, build_network, network_size
from neurodepth.learning.networks.elm import branch_groups
from neurodepth.learning.train import train_model
from neurodepth.ops.study_config import validate_study_config

N_INPUTS = 12
GROUPS = [0, 0, 1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
NETWORKS = {
    "elm_per_channel": ("elm", {"memory_units": 6, "mlp_hidden": 10, "context_ms": 50}),
    "elm_by_branch": (
        "elm",
        {"memory_units": 6, "mlp_hidden": 10, "context_ms": 50, "channel_group": GROUPS},
    ),
    "gru": ("gru", {"hidden_units": 7, "context_ms": 50}),
}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _network(name, n_dendritic=0):
    family, arch = NETWORKS[name]
    torch.manual_seed(0)
    return build_network(family, N_INPUTS, {"depth": 1, **arch}, n_dendritic=n_dendritic)


@pytest.mark.parametrize("name", NETWORKS)
def test_outputs_before_t_never_see_inputs_after_t(name):
    model = _network(name, n_dendritic=3).eval()
    x = (torch.rand(3, N_INPUTS, 120, generator=torch.Generator().manual_seed(1)) < 0.1).float()
    changed = x.clone()
    changed[:, :, 70:] = 1.0 - changed[:, :, 70:]
    with torch.no_grad():
        a, b = model(x), model(changed)
    for key in ("spike_logit", "soma", "dendritic"):
        assert torch.equal(a[key][..., :70], b[key][..., :70]), key
        assert not torch.allclose(a[key][..., 70:], b[key][..., 70:]), key
    assert a["spike_logit"].shape == (3, 120) and a["dendritic"].shape == (3, 3, 120)


@pytest.mark.parametrize("name", NETWORKS)
def test_reported_size_is_the_modules(name):
    model = _network(name, n_dendritic=2)
    assert model.n_parameters == sum(p.numel() for p in model.parameters())
    family, arch = NETWORKS[name]
    size = network_size(family, N_INPUTS, model.architecture(), n_dendritic=2)
    assert size.n_parameters == model.n_parameters
    assert size.macs_per_ms == model.macs_per_ms > model.n_parameters // 2
    assert size.receptive_field == model.receptive_field == 50
    rebuilt = build_network(family, N_INPUTS, model.architecture(), n_dendritic=2)
    assert rebuilt.architecture() == model.architecture()


def test_elm_parameter_count_by_hand():
    model = _network("elm_by_branch")
    groups, m, h = 6, 6, 10
    expected = N_INPUTS + m + (groups * h + h) + m * h + (h * m + m) + (m * 2 + 2)
    assert model.n_parameters == expected
    # grouped channels share a group's drive: the per-channel weights start at 1/sqrt(group size)
    np.testing.assert_allclose(model.synapse_weight[:2].detach(), [1 / np.sqrt(2)] * 2)
    np.testing.assert_allclose(model.synapse_weight[2:5].detach(), [1 / np.sqrt(3)] * 3)
    tau = model.time_constants_ms().detach().numpy()
    assert 1.0 < tau.min() < 1.1 and 140 < tau.max() < 150 and np.all(np.diff(tau) > 0)


def test_branch_groups_split_sections_and_kinds():
    sections = np.array(["dend[0]", "dend[0]", "dend[1]", "apic[0]"])
    channel_segment = np.array([0, 1, 2, 3, 0, 2, -1])
    kind = np.array(["exc"] * 4 + ["inh"] * 2 + ["exc"])
    groups = branch_groups(channel_segment, sections, kind)
    # segments 0 and 1 share a section; inhibition on it is a group of its own
    assert groups == [0, 0, 1, 2, 3, 4, 5]


def test_architecture_from_the_config_options():
    arch = FAMILIES["elm"].architecture(16, {"tau_max_ms": 80, "grouping": "channel"})
    assert arch["memory_units"] == 16 and arch["mlp_hidden"] == 32
    assert arch["tau_max_ms"] == 80 and "grouping" not in arch
    assert FAMILIES["elm"].architecture(8, {})["grouping"] == "branch"
    with pytest.raises(ConfigError, match="families.elm.options.grouping"):
        FAMILIES["elm"].architecture(8, {"grouping": "soma"})
    assert FAMILIES["gru"].architecture(32, {}) == {
        "depth": 32,
        "hidden_units": 32,
        "context_ms": 300,
    }


@pytest.fixture(scope="module")
def toy_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy.nc"
    write_toy_dataset(path, n_simulations=6, duration_ms=1000, n_channels=16, seed=5)
    return path


# The ELM learns more slowly than the GRU here (val AUC 0.90 at step 240, 0.97 at 480; the GRU
# passes 0.95 by step 80): its slow memories take in new input by (1 - exp(-1 ms / tau)) a step.
STEPS = {"elm": (320, 160), "gru": (160, 80)}


@pytest.mark.parametrize("family", ["elm", "gru"])
def test_a_tiny_instance_fits_a_tiny_dataset(toy_path, tmp_path, family):
    cfg = section_defaults("training") | {
        "window_ms": 200,
        "min_window_end_ms": 500,
        "batch_size": 8,
        "validation_min_spikes": 30,
        "num_workers": 0,
        "accelerator": "cpu",
        "progress_bar": False,
        "val_every_steps": 40,
        "phases": [
            {"steps": STEPS[family][0], "lr": 0.01, "spike_weight": 1.0, "soma_weight": 0.02},
            {"steps": STEPS[family][1], "lr": 0.003, "spike_weight": 2.0, "soma_weight": 0.01},
        ],
    }
    arch = FAMILIES[family].architecture(8, {"context_ms": 60})
    ckpt = train_model(toy_path, toy_path, tmp_path / "run", arch, cfg, seed=0, family=family)
    model, meta = load_model(ckpt)
    assert meta["family"] == family and meta["best_val_spike_auc"] > 0.95
    if family == "elm":
        # the toy has no segment table: grouping by branch leaves one group per synapse kind
        assert meta["architecture"]["channel_group"] == [0] * 8 + [1] * 8
        assert model.n_groups == 2


def _config(**families):
    config = read_config_file("config/config.yaml")
    config["families"] = families
    return config


def test_config_names_unknown_family_options(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    ok = validate_study_config(_config(elm={"sizes": [4, 8]}, gru={"sizes": [16]}))
    assert ok["families"]["elm"]["options"] == {}
    with pytest.raises(ConfigError, match=r"families\.elm\.options\.tau_max': elm has no option"):
        validate_study_config(_config(elm={"sizes": [4], "options": {"tau_max": 9}}))
    with pytest.raises(ConfigError, match=r"families\.tcn': tcn is the depth sweep's family"):
        validate_study_config(_config(tcn={"sizes": [4]}))
    with pytest.raises(ConfigError, match="'lstm' is not registered"):
        validate_study_config(_config(lstm={"sizes": [4]}))


def _metrics(rows):
    """Tidy AUC rows: (family, size, parameters, macs, per-seed per-subset AUC arrays[, fails the
    BCE check])."""
    out = []
    for family, size, params, macs, auc, *fails in rows:
        for seed, per_subset in enumerate(auc):
            for subset, value in enumerate(per_subset):
                out.append(
                    dict(
                        cell="c",
                        variant="full",
                        family=family,
                        size=size,
                        depth=size,
                        seed=seed,
                        metric="spike_auc",
                        subset=str(subset),
                        value=value,
                        n_parameters=params,
                        macs_per_ms=macs,
                        fails_bce_check=fails[0] if fails else False,
                    )
                )
    return pd.DataFrame(out)


def test_comparison_picks_each_familys_smallest_model_within_the_margin():
    rng = np.random.default_rng(0)

    def auc(mean):
        return mean + 0.001 * rng.standard_normal((3, 8))

    df = _metrics(
        [
            ("tcn", 1, 5_000, 5_000, auc(0.90)),
            ("tcn", 4, 40_000, 90_000, auc(0.95)),
            ("elm", 4, 800, 900, auc(0.942)),
            ("elm", 16, 6_000, 6_500, auc(0.948)),
            ("gru", 8, 2_000, 2_100, auc(0.91)),
            # a high AUC from a network that fails the BCE check (it did not learn): never chosen
            ("gru", 64, 9_000, 9_000, auc(0.99), True),
            # nor one whose check could not be judged (no spike in its test set)
            ("gru", 128, 18_000, 18_000, auc(0.99), None),
        ]
    )
    baseline = pd.DataFrame(
        dict(
            cell="c",
            variant="full",
            depth=0,
            seed=0,
            metric="spike_auc",
            subset=str(k),
            value=0.905,
        )
        for k in range(8)
    )
    comparison, smallest = compare_families(df, 0.005, baseline, n_boot=300)
    assert len(comparison) == 7
    for size in (64, 128):
        failed = comparison.set_index(["family", "size"]).loc[("gru", size)]
        assert failed["seeds_failing_bce_check"] == 3 and not failed["learned"]
    row = comparison.set_index(["family", "size"]).loc[("elm", 16)]
    assert row["spike_auc"] == pytest.approx(0.948, abs=0.001)
    assert row["spike_auc_p05"] < row["spike_auc"] < row["spike_auc_p95"]
    assert row["n_parameters"] == 6_000 and row["n_seeds"] == 3
    picks = smallest.set_index("family")
    assert picks.loc["tcn", "smallest_size_by_n_parameters"] == 4
    assert picks.loc["elm", "smallest_size_by_n_parameters"] == 16
    assert picks.loc["elm", "n_parameters"] == 6_000 and picks.loc["elm", "macs_per_ms"] == 6_500
    assert picks.loc["elm", "fraction_within_margin"] == 1.0
    # the GRU is 0.04 below the best model: no size of it counts, in any resample
    assert np.isnan(picks.loc["gru", "n_parameters"])
    assert picks.loc["gru", "verdict"].startswith("none")
    assert picks.loc["gru", "fraction_within_margin"] == 0.0
    assert picks.loc["gru", "sizes_not_learned"] == "64 128"
    assert (picks["best_family"] == "tcn").all() and (picks["best_size"] == 4).all()
    assert picks.loc["tcn", "baseline_auc"] == pytest.approx(0.905)


def test_a_variant_where_no_network_learned_still_gets_its_verdict_and_figure(tmp_path):
    rng = np.random.default_rng(1)
    df = _metrics(
        [
            ("tcn", 1, 5_000, 5_000, 0.7 + 0.01 * rng.standard_normal((1, 4)), True),
            ("elm", 2, 500, 600, 0.6 + 0.01 * rng.standard_normal((1, 4)), True),
        ]
    )
    comparison, smallest = compare_families(df, 0.01, n_boot=50)
    assert not comparison["learned"].any()
    assert sorted(smallest["family"]) == ["elm", "tcn"]
    assert smallest["best_auc"].isna().all() and smallest["n_parameters"].isna().all()
    assert smallest["verdict"].str.startswith("none: no network of any family learned").all()

    from neurodepth.figures import auc_vs_parameters

    comparison.to_csv(tmp_path / "comparison.csv", index=False)
    smallest.to_csv(tmp_path / "smallest.csv", index=False)
    fig = auc_vs_parameters.from_files(tmp_path / "comparison.csv", tmp_path / "smallest.csv")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no network learned: nothing to compare" in texts
