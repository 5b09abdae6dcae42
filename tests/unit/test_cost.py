"""Cost estimate and per-rule resources on small configs whose numbers are computed by hand."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodepth.core.config import fill_defaults, load_schema
from neurodepth.core.errors import ConfigError
from neurodepth.learning.networks import network_size
from neurodepth.ops import cost, resources
from neurodepth.ops.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]


def _read(path: Path) -> dict:
    """A config file completed with the schema's defaults (as the workflow sees it)."""
    return fill_defaults(yaml.safe_load(path.read_text()), load_schema())


def hand_config(**over):
    """Hay cell, fixed dt 0.05 ms, 2 s simulations, 3 sims per shard, shards 4/1/2, one variant."""
    cfg = {
        "seed": 1,
        "cell": {"name": "hay2011_l5pc", "morphology": {"url": "", "sha256": "", "path": ""}},
        "variants": ["full"],
        "simulation": {
            "duration_ms": 2000,
            "integrator": "fixed",
            "dt_ms": 0.05,
            "secondorder": 2,
            "cvode_atol": 0.001,
            "record_nexus": True,
            "record_dendrites": False,
            "simulations_per_shard": 3,
            "shards": {"train": 4, "valid": 1, "test": 2},
        },
        "inputs": {"full": {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}},
        "network": {
            "depths": [1, 2],
            "seeds": [0, 1],
            "width": 4,
            "first_kernel_ms": 3,
            "kernel_ms": 2,
            "architectures": {},
        },
        "training": {
            "window_ms": 100,
            "min_window_end_ms": 500,
            "batch_size": 2,
            "num_workers": 0,
            "accelerator": "cpu",
            "phases": [
                {"steps": 30, "lr": 1e-3, "spike_weight": 1, "soma_weight": 0.02},
                {"steps": 20, "lr": 1e-4, "spike_weight": 2, "soma_weight": 0.01},
            ],
            "val_every_steps": 10,
        },
        "evaluation": {
            "drop_first_ms": 500,
            "max_output_spikes": 24,
            "subsets": 12,
            "subset_fraction": 0.67,
            "fpr_points": [0.001],
            "timing_fpr": 0.002,
        },
        "summary": {"auc_margin": 0.01},
    }
    cfg.update(over)
    return fill_defaults(cfg, load_schema())


def test_shard_seconds_by_hand():
    cfg = hand_config()
    # Hay fixed step: 10 s/s at dt 0.025 -> 5 s/s at dt 0.05; plus input generation 0.075 s/s
    per_sim = 2.0 * (10.0 * 0.025 / 0.05 + 0.45 / 6.0)
    assert cost.neuron_s_per_sim_s(cfg, "full") == pytest.approx(5.0)
    assert cost.shard_core_seconds(cfg, "full") == pytest.approx(1.3 + 3 * per_sim)
    cvode = copy.deepcopy(cfg)
    cvode["simulation"]["integrator"] = "cvode"
    assert cost.neuron_s_per_sim_s(cvode, "full") == pytest.approx(
        18.5
    )  # dt is irrelevant to CVODE


def test_estimate_jobs_hours_and_disk_by_hand():
    cfg = hand_config()
    est = cost.estimate_cost(cfg)
    jobs = dict(zip(est["per_rule"]["rule"], est["per_rule"]["jobs"]))
    assert jobs["simulate_shard"] == 7  # 4 + 1 + 2 shards, one variant
    assert jobs["merge_dataset"] == 3
    assert jobs["train_model"] == jobs["evaluate_model"] == 2 * 2  # depths x seeds
    assert jobs["compile_mechanisms"] == 1
    assert est["simulations"] == 21
    assert est["simulated_hours"] == pytest.approx(21 * 2.0 / 3600)
    sim_row = est["per_rule"].set_index("rule").loc["simulate_shard"]
    per_shard = 1.3 + 3 * 2.0 * (5.0 + 0.075)
    assert sim_row["core_hours"] == pytest.approx(7 * per_shard / 3600)
    # disk: 1278 channels x 2000 ms x 0.0245 B (packed) + 1278 x 2000 x 0.024 B + 2000 x 4 B
    # (event lists) + 2 traces (soma, nexus) x 2000 ms x 2.5 B, per sim
    per_sim_bytes = 1278 * 2000 * 0.0245 + 1278 * 2000 * 0.024 + 2000 * 4 + 2 * 2000 * 2.5
    assert sim_row["disk_gb"] == pytest.approx(21 * per_sim_bytes / 1e9)
    assert est["gpu_hours"] == 0.0  # CPU training


def test_training_seconds_by_hand():
    cfg = hand_config()
    arch = {"depth": 1, "kernels": [3], "width": 4}
    assert cost.architecture_for(cfg, 1) == arch
    macs = 1278 * 4 * 3 + 2 * 4
    assert cost.network_size(cfg, "full", 1).macs_per_ms == macs
    gmac_step = macs * 100 * 2 * 3 / 1e9
    read = 1278 * 100 * 2 * 3.6e-10
    step = 0.010 + gmac_step / 30.0 + read  # num_workers 0: read then compute
    # 50 steps / every 10 -> 5 validations, each of the whole valid split (1 shard x 3 x 2 s)
    val = 5 * (macs * 2000 * 3 / 1e9) / 30.0
    assert cost.training_seconds(cfg, "full", 1) == pytest.approx(50 * step + val)


def test_each_architecture_candidate_is_costed_at_its_own_size():
    cfg = hand_config()
    cfg["network"]["candidates"] = [{"width": 4}, {"width": 16}, {"width": 4}]  # one repeat
    narrow, wide = cost.candidates_for(cfg, 1)
    assert (narrow["width"], wide["width"]) == (4, 16)
    assert cost.network_size(cfg, "full", 1, wide).n_parameters > 3 * (
        cost.network_size(cfg, "full", 1, narrow).n_parameters
    )
    est = cost.estimate_cost(cfg)["per_rule"].set_index("rule")
    variants, seeds = cfg["variants"], cfg["network"]["seeds"]
    by_hand = sum(
        len(seeds) * cost.training_seconds(cfg, v, d, arch)
        for v in variants
        for d in cfg["network"]["depths"]
        for arch in cost.candidates_for(cfg, d)
    )
    assert est.loc["train_model", "core_hours"] == pytest.approx(by_hand / 3600)
    assert est.loc["train_model", "jobs"] == len(variants) * len(seeds) * 2 * 2  # 2 depths x 2
    # the request of every training job covers its slowest candidate
    assert resources.train_resources(cfg)["runtime"] >= math.ceil(
        cost.training_seconds(cfg, "full", 2, cost.candidates_for(cfg, 2)[1]) / 60
    )


def test_gpu_training_counts_gpu_hours_and_requests_a_gpu():
    cfg = hand_config()
    cfg["training"]["accelerator"] = "gpu"
    est = cost.estimate_cost(cfg)
    assert est["gpu_hours"] > 0
    train = est["per_rule"].set_index("rule").loc["train_model"]
    assert train["gpu_hours"] == pytest.approx(train["core_hours"])  # 1 core per GPU job here
    assert resources.train_resources(cfg, 1)["gpu"] == 1
    assert "gpu" not in resources.train_resources(hand_config(), 1)


def test_group_components_divide_slurm_submissions():
    cfg = hand_config()
    est = cost.estimate_cost(cfg, group_components=3)
    row = est["per_rule"].set_index("rule").loc["simulate_shard"]
    assert row["jobs"] == 7
    assert row["slurm_jobs"] == 2 + 1 + 1  # ceil(4/3) + ceil(1/3) + ceil(2/3)
    with pytest.raises(ConfigError):
        cost.estimate_cost(cfg, group_components=0)


def test_lif_variant_is_cheap_and_has_100_channels():
    cfg = hand_config(variants=["lif"])
    cfg["inputs"]["lif"] = {
        "exc_per_100ms": [0, 160],
        "inh_minus_exc": [-60, 20],
        "target_rate_hz": None,
    }
    assert cost.n_channels(cfg, "lif") == 100
    assert cost.shard_core_seconds(cfg, "lif") < cost.shard_core_seconds(hand_config(), "full") / 50
    jobs = dict(zip(*[cost.estimate_cost(cfg)["per_rule"][c] for c in ("rule", "jobs")]))
    assert "compile_mechanisms" not in jobs  # no NEURON variant


def test_resources_grow_with_attempt():
    cfg = hand_config()
    for fn in (
        resources.simulate_resources,
        resources.merge_resources,
        resources.train_resources,
        resources.evaluate_resources,
    ):
        one, three = fn(cfg, 1), fn(cfg, 3)
        assert three["mem_mb"] == 3 * one["mem_mb"]
        assert three["runtime"] == 3 * one["runtime"]
        assert one["runtime"] >= resources.MIN_RUNTIME_MIN


def test_merge_memory_follows_one_shard_not_the_split():
    """merge_shards streams the split (docs/benchmarks.md, 'Merging shards'): ten times the
    shards needs no more memory (only more time); more simulations per shard do."""
    cfg = hand_config()
    cfg["simulation"]["record_dendrites"] = True
    base = resources.merge_resources(cfg)
    more = copy.deepcopy(cfg)
    more["simulation"]["shards"] = {k: 10 * v for k, v in cfg["simulation"]["shards"].items()}
    assert resources.merge_resources(more)["mem_mb"] == base["mem_mb"]
    assert resources.merge_resources(more)["runtime"] >= base["runtime"]
    bigger = copy.deepcopy(cfg)
    bigger["simulation"]["simulations_per_shard"] *= 20
    shard_mb = (
        resources.MERGE_SHARD_COPIES
        * cost.in_memory_bytes_per_simulation(cfg, "full")
        * cfg["simulation"]["simulations_per_shard"]
        / 1e6
    )
    grown = resources.merge_resources(bigger)["mem_mb"] - base["mem_mb"]
    assert abs(grown - 19 * shard_mb) <= 100  # rounded up to 100 MB


def test_simulate_runtime_tracks_shard_cost():
    cfg = hand_config()
    cfg["simulation"]["simulations_per_shard"] = 100
    seconds = cost.shard_core_seconds(cfg, "full")  # 1.3 + 100 * 2 * 5.075 = 1016.3 s
    assert resources.simulate_resources(cfg, 1)["runtime"] == -(
        -int(2 * seconds) // 60
    )  # ceil(2x / 60 s)


def test_paper_config_costs_are_paper_scale():
    cfg = _read(REPO / "config" / "paper.yaml")
    est = cost.estimate_cost(cfg)
    assert est["simulations"] == 4 * (625 + 64 + 64) * 16
    # three NEURON variants x 12,048 simulations x 6 s x ~3.4 core-s per s (three-level adaptive
    # step) + builds and input generation -> ~210 core-hours
    per_s = cost.UNIT_COSTS["hay2011_l5pc.adaptive_mid_s_per_sim_s"].value
    assert cost.neuron_s_per_sim_s(cfg, "full") == per_s
    assert (
        3 * 12_048 * 6 * per_s / 3600
        < est["per_rule"].set_index("rule").loc["simulate_shard", "core_hours"]
        < 300
    )
    assert est["gpu_hours"] > 0
    assert resources.train_resources(cfg, 1)["gpu"] == 1


def test_cli_prints_table(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert (
        cli_main(["cost", "--configfile", "config/paper.yaml", "--profile", "profiles/slurm"]) == 0
    )
    out = capsys.readouterr().out
    assert "simulate_shard" in out and "core-hours" in out and "GPU-hours" in out
    assert "paper_protocol.md" in out  # constants are printed with their sources


def test_cli_missing_config_names_file(capsys):
    assert cli_main(["cost", "--configfile", "does/not/exist.yaml"]) == 2
    assert "does/not/exist.yaml" in capsys.readouterr().err


def test_bad_config_names_key():
    cfg = hand_config()
    del cfg["simulation"]["shards"]
    with pytest.raises(ConfigError, match="shards"):
        cost.estimate_cost(cfg)


def test_tiny_config_uses_the_stylized_cell_measurement():
    cfg = _read(REPO / "tests" / "e2e" / "tiny_config.yaml")
    # stylized cell: 0.79 core-s per simulated s at dt 0.05 (the tiny config's dt), 97 segments
    assert cost.n_channels(cfg, "full") == 194
    assert cost.shard_core_seconds(cfg, "full") == pytest.approx(0.08 + 2 * 1.2 * (0.79 + 0.075))
    jobs = dict(zip(*[cost.estimate_cost(cfg)["per_rule"][c] for c in ("rule", "jobs")]))
    # the same counts `snakemake -n` plans for this config (3 variants x 4 shards, 3 x 3 merges,
    # 3 variants x 2 depths x 1 seed networks)
    assert (jobs["simulate_shard"], jobs["merge_dataset"], jobs["train_model"]) == (12, 9, 6)


def test_network_numbers_come_from_the_family():
    cfg = hand_config()
    cfg["network"]["architectures"] = {"2": {"kernels": [35, 35], "width": 128}}
    size = cost.network_size(cfg, "full", 2)
    arch = {"depth": 2, "kernels": [35, 35], "width": 128}
    assert size == network_size("tcn", 1278, arch)
    params = 1278 * 128 * 35 + 128 + 2 * 128 + 128 * 128 * 35 + 128 + 2 * 128 + 2 * 129
    assert size.n_parameters == params
    ckpt = cost.estimate_cost(cfg)["per_rule"].set_index("rule").loc["train_model", "disk_gb"]
    depth1 = cost.network_size(cfg, "full", 1).n_parameters
    assert ckpt == pytest.approx(2 * (depth1 + params) * 4 * 6 / 1e9)  # 2 seeds, 6 copies


def test_every_constant_names_its_source():
    table = cost.unit_cost_table()
    assert table["source"].str.len().min() > 5
    assert (table["value"] > 0).all()


def test_data_verdict_places_a_config_against_the_scaling_study():
    default = _read(REPO / "config" / "config.yaml")
    assert cost.training_data_seconds(default) == 16 * 4 * 3.0
    assert "under which networks overfit" in cost.data_verdict(default)
    scaling = cost.DATA_SCALING["stylized_l5pc"]
    middle = copy.deepcopy(default)
    middle["simulation"]["shards"]["train"] = 32  # 768 s: between overfitting and the largest size
    assert scaling.overfits_below_s < cost.training_data_seconds(middle) <= scaling.flat_up_to_s
    assert "test AUC was flat" in cost.data_verdict(middle)
    # config/study.yaml's 6144 s is the largest size the study measured
    study = _read(REPO / "config" / "study.yaml")
    assert cost.training_data_seconds(study) == scaling.flat_up_to_s
    assert "test AUC was flat" in cost.data_verdict(study)
    larger = copy.deepcopy(study)
    larger["simulation"]["shards"]["train"] *= 2
    assert "overfit" not in cost.data_verdict(larger)
    assert "not measured" in cost.data_verdict(larger)
    # a cell the study did not measure is told so
    hay = hand_config()
    assert "not on hay2011_l5pc" in cost.data_verdict(hay)
    assert cost.estimate_cost(default)["data_verdict"] == cost.data_verdict(default)


def test_compared_families_are_costed_with_their_sequential_loop():
    cfg = hand_config(families={"elm": {"sizes": [4, 16]}, "gru": {"sizes": [8]}})
    assert cfg["families"]["gru"]["options"] == {}  # completed from the schema
    # a GRU of 8 units on 1278 inputs: its MACs and the per-ms loop cost of the table
    gru = cost.network_size(cfg, "full", 8, family="gru")
    assert gru.macs_per_ms == 3 * (1278 * 8 + 8 * 8) + 8 * 2
    gmac_step = gru.macs_per_ms * 100 * 2 * 3 / 1e9
    read = 1278 * 100 * 2 * 3.6e-10
    step = 0.010 + gmac_step / 30.0 + 100 * 100e-6 + read
    assert cost.step_seconds(cfg, "full", 8, family="gru") == pytest.approx(step)
    # validation: 5 passes over 3 whole 2 s simulations, the loop at a third of its fwd+bwd cost
    val = 5 * ((gru.macs_per_ms * 2000 * 3 / 1e9) / 30.0 + 2000 * 100e-6 / 3)
    assert cost.training_seconds(cfg, "full", 8, family="gru") == pytest.approx(50 * step + val)
    est = cost.estimate_cost(cfg)["per_rule"].set_index("rule")
    seeds = len(cfg["network"]["seeds"])
    assert est.loc["train_family", "jobs"] == est.loc["evaluate_family", "jobs"] == 3 * seeds
    by_hand = seeds * sum(
        cost.training_seconds(cfg, "full", size, family=family)
        for family, size in (("elm", 4), ("elm", 16), ("gru", 8))
    )
    assert est.loc["train_family", "core_hours"] == pytest.approx(by_hand / 3600)
    # the slowest network of any family sets every training job's time request
    slowest = max(
        cost.training_seconds(cfg, "full", size, family=family)
        for family, size in (("elm", 4), ("elm", 16), ("gru", 8))
    )
    assert resources.train_resources(cfg)["runtime"] >= math.ceil(slowest / 60)


def test_each_rule_reports_the_memory_its_jobs_ask_for(capsys, monkeypatch):
    cfg = hand_config()
    assert resources.memory_gb_per_job(cfg, "train_model") == (
        resources.train_resources(cfg)["mem_mb"] / 1000
    )
    assert resources.memory_gb_per_job(cfg, "calibrate_inputs") == (
        resources.simulate_resources(cfg)["mem_mb"] / 1000
    )
    assert np.isnan(resources.memory_gb_per_job(cfg, "summarize"))  # where Snakemake runs
    # every rule the estimate lists that submits jobs has a request
    for rule in cost.estimate_cost(cfg)["per_rule"].query("slurm_jobs > 0")["rule"]:
        assert rule in resources.RULE_RESOURCES, rule
    monkeypatch.chdir(REPO)
    assert cli_main(["cost", "--configfile", "config/paper.yaml"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "rule" in line)
    assert header.split()[-1] == "mem_gb_per_job"


def test_evaluation_memory_follows_its_predictions_not_the_test_inputs():
    """Evaluation reads the test set one simulation at a time and keeps four float32 traces per
    simulation: recording dendrites (large inputs) must not change its request much."""
    cfg = hand_config()
    base = resources.evaluate_resources(cfg)["mem_mb"]
    cfg["simulation"]["record_dendrites"] = True
    with_dendrites = resources.evaluate_resources(cfg)["mem_mb"]
    one_sim_mb = cost.in_memory_bytes_per_simulation(cfg, "full") / 1e6
    assert with_dendrites - base <= 2 * one_sim_mb + 100
    more = copy.deepcopy(cfg)
    more["simulation"]["shards"]["test"] *= 10
    sim = cfg["simulation"]
    n_more = 9 * sim["shards"]["test"] * sim["simulations_per_shard"]
    grown = resources.evaluate_resources(more)["mem_mb"] - with_dendrites
    assert abs(grown - 2 * n_more * 16 * sim["duration_ms"] / 1e6) <= 100
