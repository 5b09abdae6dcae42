"""TCN: shapes, causality, receptive field, parameter / MAC counts, architecture_for_depth, and
its entry in the network-family registry."""

import math

import pytest
import torch

from neurodepth.core.errors import ConfigError
from neurodepth.learning.networks import FAMILIES, build_network, network_size
from neurodepth.learning.networks.tcn import TCN, architecture_for_depth


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine is shared: a single intra-op thread avoids OpenMP spin contention.
    torch.set_num_threads(1)


@pytest.mark.parametrize("kernels", [[1], [5], [7, 3, 3], [31, 9, 9, 9]])
def test_receptive_field_is_sum_of_kernel_minus_one_plus_one(kernels):
    model = TCN(6, kernels, 4)
    assert model.receptive_field == sum(k - 1 for k in kernels) + 1


def test_receptive_field_matches_measured_dependence():
    torch.manual_seed(0)
    model = TCN(3, [5, 4, 3], 6).eval()
    with torch.no_grad():  # positive weights keep every ReLU open, so no path is silenced
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv1d)):
            conv.weight.abs_().add_(0.01)
    T = 40
    x = torch.rand(1, 3, T)
    base = model(x)["spike_logit"][0, -1]
    # Perturbing an input at lag L changes the last output iff L < receptive field (10 here).
    changed = []
    for lag in range(T):
        y = x.clone()
        y[0, :, T - 1 - lag] += 5.0
        changed.append(bool((model(y)["spike_logit"][0, -1] - base).abs() > 1e-6))
    assert changed.index(False) == model.receptive_field == 10
    assert not any(changed[10:])


def test_causality_future_inputs_never_change_past_outputs():
    torch.manual_seed(1)
    model = TCN(8, [9, 5, 5], 12, n_dendritic=3, init_std=0.3).eval()
    x = (torch.rand(2, 8, 120) < 0.1).float()
    out = model(x)
    t = 57
    y = x.clone()
    y[:, :, t:] = torch.rand_like(y[:, :, t:])  # change everything from t on
    out2 = model(y)
    for key in ("spike_logit", "soma", "dendritic"):
        assert torch.equal(out[key][..., :t], out2[key][..., :t]), key
        assert not torch.allclose(out[key][..., t:], out2[key][..., t:]), key


def test_output_shapes_and_spike_bias_init():
    model = TCN(10, [4, 3], 5, n_dendritic=2)
    out = model(torch.zeros(3, 10, 25))
    assert out["spike_logit"].shape == (3, 25)
    assert out["soma"].shape == (3, 25)
    assert out["dendritic"].shape == (3, 2, 25)
    assert model.spike_head.bias.item() == pytest.approx(-2.0)
    w = model.body[0].weight
    assert w.abs().max() <= 2 * model.init_std + 1e-9  # truncated at 2 SD


def test_parameter_and_mac_counts_by_hand():
    model = TCN(10, [4, 3], 5, n_dendritic=2)
    conv = (10 * 5 * 4 + 5) + (5 * 5 * 3 + 5)
    bn = 2 * (2 * 5)
    heads = (5 + 1) * 2 + (5 * 2 + 2)
    assert model.n_parameters == conv + bn + heads
    assert model.macs_per_ms == 10 * 5 * 4 + 5 * 5 * 3 + 5 * (2 + 2)


def test_paper_7x128_tcn_size():
    # The paper's 7-layer TCN with 35 ms kernels and 128 channels has about 9.2 M parameters.
    model = TCN(1278, [35] * 7, 128)
    assert 9.0e6 < model.n_parameters < 9.4e6
    assert model.receptive_field == 7 * 34 + 1


def test_architecture_for_depth_defaults_and_explicit():
    cfg = {"width": 32, "first_kernel_ms": 31, "kernel_ms": 9, "architectures": {}}
    assert architecture_for_depth(1, cfg) == {"depth": 1, "kernels": [31], "width": 32}
    assert architecture_for_depth(3, cfg) == {"depth": 3, "kernels": [31, 9, 9], "width": 32}
    cfg["architectures"] = {
        7: {"kernels": [35] * 7, "width": 128},
        "2": {"kernels": [40, 40], "width": 8},
    }
    assert architecture_for_depth(7, cfg) == {"depth": 7, "kernels": [35] * 7, "width": 128}
    assert architecture_for_depth(2, cfg) == {"depth": 2, "kernels": [40, 40], "width": 8}


def test_tcn_is_the_first_registered_family():
    assert FAMILIES.names()[0] == "tcn"
    assert FAMILIES["tcn"].architecture is architecture_for_depth
    with pytest.raises(ConfigError, match="unknown network family 'nope'.*tcn"):
        FAMILIES["nope"]


@pytest.mark.parametrize(
    "n_inputs,arch,n_dendritic",
    [
        (10, {"depth": 2, "kernels": [4, 3], "width": 5}, 2),
        (1278, {"depth": 7, "kernels": [35] * 7, "width": 128}, 0),
    ],
)
def test_registry_sizes_are_the_modules_own(n_inputs, arch, n_dendritic):
    model = build_network("tcn", n_inputs, arch, n_dendritic)
    assert isinstance(model, TCN) and model.architecture() == arch
    size = network_size("tcn", n_inputs, arch, n_dendritic)
    assert size.n_parameters == model.n_parameters == sum(p.numel() for p in model.parameters())
    assert size.receptive_field == model.receptive_field == sum(k - 1 for k in arch["kernels"]) + 1
    assert size.macs_per_ms == model.macs_per_ms
    # every conv, ReLU and BatchNorm output (width channels each, per layer) plus the heads
    assert size.activations_per_ms == 3 * arch["width"] * arch["depth"] + 2 + n_dendritic


def test_network_size_builds_nothing_on_the_cpu():
    # The meta device: no memory, and torch's generator untouched (seeded training unaffected).
    torch.manual_seed(0)
    before = torch.get_rng_state()
    network_size("tcn", 1278, {"depth": 8, "kernels": [33] * 8, "width": 256})
    assert torch.equal(torch.get_rng_state(), before)


def test_architecture_candidates_override_the_base_and_are_distinct():
    from neurodepth.learning.networks import candidate_architectures

    cfg = {"width": 32, "first_kernel_ms": 31, "kernel_ms": 9, "architectures": {}}
    cfg["candidates"] = [{"width": 16}, {}, {"width": 32}]
    archs = candidate_architectures("tcn", 2, cfg)
    assert [a["width"] for a in archs] == [16, 32]  # {} and {width: 32} are the same network
    cfg["architectures"] = {"2": {"kernels": [5, 5], "width": 8}}
    assert candidate_architectures("tcn", 2, cfg) == [{"depth": 2, "kernels": [5, 5], "width": 8}]


def test_initial_spike_bias_is_the_training_rates_logit_or_a_number():
    from neurodepth.learning.networks import initial_spike_bias

    assert initial_spike_bias("training_rate", 0.001) == pytest.approx(math.log(0.001 / 0.999))
    assert initial_spike_bias(-2, 0.001) == -2.0
    assert initial_spike_bias("training_rate", 0.0) == pytest.approx(math.log(1e-6 / (1 - 1e-6)))


@pytest.mark.parametrize(
    "family, arch",
    [
        ("tcn", {"depth": 2, "kernels": [5, 3], "width": 8}),
        ("gru", {"depth": 4, "hidden_units": 4, "context_ms": 20}),
    ],
)
def test_a_network_started_at_the_training_rate_predicts_it(family, arch):
    """Set to the training rate, an untrained network's mean spike probability is that rate
    (small initial weights add little to the bias), not the paper's sigmoid(-2) = 0.12."""
    from neurodepth.learning.networks import initial_spike_bias

    torch.manual_seed(0)
    model = build_network(family, 12, arch).eval()
    x = (torch.rand(4, 12, 200) < 0.02).float()
    with torch.no_grad():
        before = torch.sigmoid(model(x)["spike_logit"]).mean().item()
        model.set_spike_bias(initial_spike_bias("training_rate", 0.001))
        after = torch.sigmoid(model(x)["spike_logit"]).mean().item()
    assert before == pytest.approx(1 / (1 + math.exp(2.0)), rel=0.3)
    assert after == pytest.approx(0.001, rel=0.3)
