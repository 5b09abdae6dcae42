"""Input-rate calibration (neurodepth.simulation.calibration) and the scaled input protocol."""

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurodepth.core.config import section_defaults
from neurodepth.core.errors import ConfigError
from neurodepth.data.shards import read_shard, unpack_inputs
from neurodepth.simulation.calibration import (
    COLUMNS,
    CalibrationError,
    calibrate_input_scale,
    calibration_draws,
    find_scale,
    local_exponent,
    merge_calibrations,
    read_calibrated_scale,
    run_calibration,
    search_simulation_count,
)
from neurodepth.simulation.inputs import InputRates, generate_inputs, generate_point_inputs
from neurodepth.simulation.simulate import ShardJob, run_shard, simulation_rng

PAPER = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}
LIF = {"exc_per_100ms": [0, 160], "inh_minus_exc": [-60, 20]}
SIM_CFG = {
    "duration_ms": 1000,
    "integrator": "fixed",
    "dt_ms": 0.1,
    "dt_fine_ms": 0.025,
    "refine_above_mv": -60,
    "refine_hold_ms": 10,
    "secondorder": 2,
    "record_nexus": True,
    "record_dendrites": False,
    "simulations_per_shard": 2,
}


def toy_cell():
    rng = np.random.default_rng(0)
    return rng.uniform(2, 40, 80), np.array(["basal"] * 30 + ["apical"] * 50)


def digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.packbits(x).tobytes()).hexdigest()


# --------------------------------------------------------------------------- the search


def staircase(exponent=2.5, gain=3.0, counts_per_hz=40):
    """A monotone step function like a spike count over fixed draws, with its call log."""
    calls = []

    def rate_of(scale):
        calls.append(scale)
        return math.floor(gain * scale**exponent * counts_per_hz) / counts_per_hz

    return rate_of, calls


@pytest.mark.parametrize("target", [0.05, 1.0, 3.0, 40.0])
def test_search_reaches_target_on_a_monotone_step_function(target):
    rate_of, calls = staircase()
    result = find_scale(rate_of, target, tolerance=0.05, max_iterations=12)
    assert result.converged and abs(result.rate / target - 1) <= 0.05
    assert result.iterations == len(calls) == len(result.history) <= 8
    assert result.rate == rate_of(result.scale)


def test_search_climbs_out_of_zero_rate_and_handles_thresholds():
    # silent below scale 2, then steep: the search must step up through zeros
    def rate_of(scale):
        return 0.0 if scale < 2 else 10 * (scale - 2) ** 3

    result = find_scale(rate_of, 2.0, tolerance=0.05, max_iterations=20)
    assert result.converged and 2 < result.scale < 3


def test_search_closes_in_on_the_rising_side_of_a_peak():
    # strong balanced input silences a cell (measured: no_nmda on the stylized cell saturates and
    # then falls), so an overshoot can land past the peak at a lower rate
    def rate_of(scale):
        return scale**4 if scale < 1.1 else 0.0

    result = find_scale(rate_of, 1.4, tolerance=0.01, max_iterations=20)
    assert result.converged and result.scale < 1.1
    unreachable = find_scale(rate_of, 3.0, tolerance=0.01, max_iterations=20)
    assert not unreachable.converged
    assert unreachable.rate == pytest.approx(1.1**4, rel=0.01)  # the best it saw: the peak


def test_search_reports_unreachable_targets_and_budgets():
    with pytest.raises(CalibrationError, match="above the search bounds"):
        find_scale(lambda s: min(s, 5.0), 10.0, 0.05, 30, bounds=(0.1, 10))
    with pytest.raises(CalibrationError, match="below the search bounds"):
        find_scale(lambda s: 1.0 + s, 0.5, 0.05, 30, bounds=(0.1, 10))
    # a jump across the target: no scale is within tolerance, the search stops on a tiny bracket
    result = find_scale(lambda s: 1.0 if s < 1.7 else 3.0, 2.0, 0.05, 40)
    assert not result.converged and result.iterations < 40
    assert abs(math.log(result.scale / 1.7)) < 2e-3
    # a budget too small to get there
    assert not find_scale(lambda s: s**2, 100.0, 0.01, 2).converged


# --------------------------------------------------------------------------- scaled inputs


def test_explicit_rates_draw_exactly_what_they_drew_before():
    """Golden digests of inputs made before calibration existed: explicit rates (and a scale of
    exactly 1) must keep every dataset bit-identical."""
    lengths, trees = toy_cell()
    rates = InputRates.from_config(PAPER)
    for r in (rates, rates.scaled(1.0), InputRates.from_config({**PAPER, "target_rate_hz": None})):
        x = generate_inputs(np.random.default_rng(7), lengths, trees, 2000, r)
        assert digest(x) == "88ee05c1379843e9ad8d859281f8e303f945c166622b75320a4111d858933f3b"
    y = generate_point_inputs(np.random.default_rng(7), 80, 20, 2000, InputRates.from_config(LIF))
    assert digest(y) == "fbbe200784a7f7131b793459dfd5edb6f1817bcee29529c43392a1abd6e44bfa"


def test_scale_multiplies_every_rate_and_nests_the_spikes():
    """Same generator state: a larger scale gives a superset of the input spikes (common random
    numbers), and exc and inh totals scale together."""
    lengths, trees = toy_cell()
    rates = InputRates.from_config(PAPER)
    s = rates.scaled(1.7)
    assert s.exc_range == (0.0, 800 * 1.7) and s.inh_minus_exc == (-600 * 1.7, 200 * 1.7)
    assert s.hold_intervals_ms == rates.hold_intervals_ms and s.gain_range == rates.gain_range
    small = generate_inputs(np.random.default_rng(3), lengths, trees, 3000, rates.scaled(0.6))
    base = generate_inputs(np.random.default_rng(3), lengths, trees, 3000, rates)
    big = generate_inputs(np.random.default_rng(3), lengths, trees, 3000, s)
    assert not (small & ~base).any() and not (base & ~big).any()
    assert small.sum() < base.sum() < big.sum()
    n = len(lengths)
    # inh/exc event ratio is kept (up to the per-ms saturation of the Bernoulli step)
    ratios = [x[n:].sum() / x[:n].sum() for x in (small, base)]
    assert ratios[0] == pytest.approx(ratios[1], rel=0.1)
    with pytest.raises(ValueError):
        rates.scaled(0.0)


def test_target_key_is_not_a_protocol_key():
    rates = InputRates.from_config({**PAPER, "target_rate_hz": 3.0})
    assert rates == InputRates.from_config(PAPER)
    assert "target_rate_hz" not in rates.as_dict()


def test_calibration_draws_are_the_datasets_draws_training_first_never_test():
    from neurodepth.core.seeds import shard_seed

    def seed(split, k):
        return shard_seed(1, "stylized_l5pc", "full", split, k)

    shards = {"train": 2, "valid": 1, "test": 1}
    draws = calibration_draws(1, "stylized_l5pc", "full", 8, 2, shards)
    assert draws == [
        (seed("train", 0), 0),
        (seed("train", 0), 1),
        (seed("train", 1), 0),
        (seed("train", 1), 1),
        (seed("valid", 0), 0),
        (seed("valid", 0), 1),
        (seed("train", 2), 0),  # past the training and validation splits: unused train seeds
        (seed("train", 2), 1),
    ]
    assert seed("test", 0) not in {s for s, _ in draws}
    assert calibration_draws(1, "stylized_l5pc", "full", 3, 2) == draws[:2] + [
        (seed("train", 1), 0)
    ]
    assert calibration_draws(1, "stylized_l5pc", "no_nmda", 1, 2)[0][0] != seed("train", 0)


def test_lif_shard_with_explicit_rates_is_unchanged_and_records_scale(tmp_path):
    job = ShardJob("stylized_l5pc", "lif", "train", 3, 20210701, SIM_CFG, LIF, config_hash="h")
    plain = read_shard(run_shard(job, tmp_path / "a.nc", progress=False))
    assert plain.attrs["input_scale"] == 1.0
    rates = InputRates.from_config(LIF)
    x = generate_point_inputs(simulation_rng(plain.attrs["seed"], 0), 80, 20, 1000, rates)
    assert np.array_equal(unpack_inputs(plain.input_spikes_packed.values, 1000)[0], x)
    scaled_job = dataclasses.replace(job, input_scale=1.5)
    scaled = read_shard(run_shard(scaled_job, tmp_path / "b.nc", progress=False))
    assert scaled.attrs["input_scale"] == 1.5
    a = unpack_inputs(plain.input_spikes_packed.values, 1000)
    b = unpack_inputs(scaled.input_spikes_packed.values, 1000)
    assert not (a & ~b).any() and b.sum() > a.sum()


# --------------------------------------------------------------------------- calibration


def calibration_cfg(**over):
    cfg = section_defaults("calibration")
    cfg.update(over)
    return cfg


def test_calibration_reaches_target_on_the_lif_cell(tmp_path):
    cfg = calibration_cfg(simulations=8, tolerance=0.05)
    row, history = calibrate_input_scale(
        "stylized_l5pc", "lif", 5, SIM_CFG, {**LIF, "target_rate_hz": 4.0}, cfg, log=None
    )
    assert set(row) == set(COLUMNS)
    assert row["converged"] and abs(row["rate_hz"] / 4.0 - 1) <= 0.05
    assert row["iterations"] == len(history) and row["simulated_s"] == 8 * 1.0 * len(history)
    assert row["exc_per_100ms_high"] == pytest.approx(160 * row["scale"])
    # deterministic: the same config gives the same scale
    again, _ = calibrate_input_scale(
        "stylized_l5pc", "lif", 5, SIM_CFG, {**LIF, "target_rate_hz": 4.0}, cfg, log=None
    )
    assert again["scale"] == row["scale"]
    assert row["dataset_draws"] == "train 0-3"  # no splits configured: training seeds only
    # with splits: the datasets' draws, training then validation, never test. Simulated at the
    # scale found, those shards hold exactly the spikes the calibration counted
    sim_cfg = {**SIM_CFG, "shards": {"train": 2, "valid": 1, "test": 1}}
    split_row, _ = calibrate_input_scale(
        "stylized_l5pc", "lif", 5, sim_cfg, {**LIF, "target_rate_hz": 4.0}, cfg, log=None
    )
    assert split_row["dataset_draws"] == "train 0-1, valid 0-0, train 2-2"
    spikes = 0
    for split, shard in [("train", 0), ("train", 1), ("valid", 0), ("train", 2)]:
        job = ShardJob(
            "stylized_l5pc", "lif", split, shard, 5, sim_cfg, LIF, input_scale=split_row["scale"]
        )
        shard_file = run_shard(job, tmp_path / f"{split}_{shard}.nc", progress=False)
        spikes += read_shard(shard_file).sizes["spike"]
    assert spikes == split_row["output_spikes"] == round(split_row["rate_hz"] * 8.0)

    out = run_calibration(
        tmp_path / "lif.csv",
        cell_name="stylized_l5pc",
        variant="lif",
        seed=5,
        simulation_cfg=SIM_CFG,
        inputs_cfg={**LIF, "target_rate_hz": 4.0},
        calibration_cfg=cfg,
    )
    assert read_calibrated_scale(out, "lif") == pytest.approx(row["scale"])
    with pytest.raises(CalibrationError, match="not 'full'"):
        read_calibrated_scale(out, "full")
    table = merge_calibrations([out, out], tmp_path / "all.csv")
    assert list(pd.read_csv(tmp_path / "all.csv").columns) == COLUMNS and len(table) == 2


def test_two_stage_calibration_searches_on_a_prefix_and_reuses_its_draws(tmp_path):
    """The search runs on the first search_simulations draws, then goes on from its scale on
    all of them without simulating the prefix again there; the rate it reports is that of all
    the draws, which the shards simulated at its scale reproduce spike for spike."""
    sim_cfg = {**SIM_CFG, "shards": {"train": 4, "valid": 1, "test": 1}}
    inputs = {**LIF, "target_rate_hz": 4.0}
    cfg = calibration_cfg(simulations=10, search_simulations=2, tolerance=0.05)
    row, history = calibrate_input_scale("stylized_l5pc", "lif", 5, sim_cfg, inputs, cfg, log=None)
    assert row["converged"] and abs(row["rate_hz"] / 4.0 - 1) <= 0.05
    assert row["search_simulations"] == 2 and row["simulations"] == 10
    search, final = history[history.simulations == 2], history[history.simulations == 10]
    assert (
        len(search) >= 1
        and len(final) >= 1
        and list(history.simulations) == sorted(history.simulations)
    )
    assert row["iterations"] == len(history)
    # the search stops at its own, looser tolerance (its rate estimates that of all the draws)
    assert abs(search.rate_hz.iloc[-1] / 4.0 - 1) <= cfg["search_tolerance"]
    assert all(abs(r / 4.0 - 1) > cfg["search_tolerance"] for r in search.rate_hz.iloc[:-1])
    # the final stage starts at the search's chosen scale (the closest to the target there)
    closest = (search.rate_hz / 4.0).map(lambda r: abs(math.log(r)) if r > 0 else math.inf)
    assert final.scale.iloc[0] == search.scale[closest.idxmin()]
    # every distinct (scale, draw) simulated once
    simulated = {(r.scale, k) for r in history.itertuples() for k in range(int(r.simulations))}
    sims = len(simulated)
    assert row["simulated_s"] == pytest.approx(sims * 1.0)
    assert row["simulated_s"] < 10 * len(history)  # cheaper than one stage on every draw
    spikes = 0
    for split, shard in [("train", k) for k in range(4)] + [("valid", 0)]:
        job = ShardJob(
            "stylized_l5pc", "lif", split, shard, 5, sim_cfg, LIF, input_scale=row["scale"]
        )
        spikes += read_shard(run_shard(job, tmp_path / f"{split}{shard}.nc", progress=False)).sizes[
            "spike"
        ]
    assert spikes == row["output_spikes"] == round(row["rate_hz"] * 10.0)
    # one stage when the search would use every draw anyway
    single, one = calibrate_input_scale(
        "stylized_l5pc", "lif", 5, sim_cfg, inputs, {**cfg, "search_simulations": None}, log=None
    )
    assert set(one.simulations) == {10} and single["search_simulations"] == 10


def test_local_exponent_is_the_slope_nearest_the_target():
    history = [(1.0, 8.0), (0.5, 1.0), (0.6, 1.5), (0.55, 0.0)]
    # nearest the target 1.2 Hz: 1.5 Hz at 0.6, then 1.0 Hz at 0.5
    assert local_exponent(history, 1.2) == pytest.approx(math.log(1.5) / math.log(0.6 / 0.5))
    assert local_exponent([(1.0, 2.0)], 1.0) == 2.0  # one point: the default
    assert local_exponent([(1.0, 2.0), (2.0, 2.0**20)], 1.0) == 8.0  # clamped


def test_calibration_failures_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="target_rate_hz"):
        calibrate_input_scale(
            "stylized_l5pc", "lif", 5, SIM_CFG, {**LIF, "target_rate_hz": None}, calibration_cfg()
        )
    with pytest.raises(ConfigError, match="scale_bounds"):
        calibrate_input_scale(
            "stylized_l5pc",
            "lif",
            5,
            SIM_CFG,
            {**LIF, "target_rate_hz": 4.0},
            calibration_cfg(scale_bounds=[0, 10]),
        )
    with pytest.raises(CalibrationError, match="calibration.max_iterations"):
        run_calibration(
            tmp_path / "x.csv",
            cell_name="stylized_l5pc",
            variant="lif",
            seed=5,
            simulation_cfg=SIM_CFG,
            inputs_cfg={**LIF, "target_rate_hz": 4.37},  # 2 s count in steps of 0.5 Hz
            calibration_cfg=calibration_cfg(simulations=2, max_iterations=3, tolerance=0.01),
        )
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.neuron  # ~10 s on a loaded 2-core machine
def test_calibration_reaches_target_on_the_stylized_cell(mechanisms):
    """The issue's check: a short calibration of the full stylized cell reaches its target, and
    the scale carries over to independent draws."""
    target = 4.0
    cfg = calibration_cfg(simulations=6, duration_ms=1000, tolerance=0.1, max_iterations=8)
    row, history = calibrate_input_scale(
        "stylized_l5pc",
        "full",
        11,
        SIM_CFG,
        {**PAPER, "target_rate_hz": target},
        cfg,
        mechanisms_dir=mechanisms,
        log=None,
    )
    assert row["converged"] and abs(row["rate_hz"] / target - 1) <= 0.1, history
    assert row["iterations"] <= 6
    assert (np.diff(history.sort_values("scale")["rate_hz"]) >= 0).all()  # monotone on CRN


def test_cost_counts_calibration_jobs_only_for_targets():
    from neurodepth.core.config import load_config
    from neurodepth.ops import cost

    config = load_config(Path(__file__).resolve().parents[2] / "config" / "config.yaml")
    for inputs in config["inputs"].values():
        inputs["target_rate_hz"] = None
    rules = cost.estimate_cost(config)["per_rule"]["rule"].tolist()
    assert "calibrate_inputs" not in rules
    config["inputs"]["full"]["target_rate_hz"] = 2.0
    config["inputs"]["lif"]["target_rate_hz"] = 2.0
    table = cost.estimate_cost(config)["per_rule"].set_index("rule")
    assert table.loc["calibrate_inputs", "jobs"] == 2
    typical = cost.calibration_core_seconds(config, "full")
    assert 0 < typical < cost.calibration_core_seconds(config, "full", worst_case=True)


@pytest.mark.slow  # two Snakemake dry runs, seconds each
def test_workflow_plans_calibration_only_for_variants_with_a_target(tmp_path):
    import re

    from workflow_helpers import copy_workflow

    def planned(root, overrides, *targets):
        result = copy_workflow(root, overrides=overrides).run("-n", "-p", *targets)
        table = result.stdout.split("job ", 1)[1]
        jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
        return jobs, result.stdout

    jobs, _ = planned(tmp_path / "plain", {})
    assert "calibrate_inputs" not in jobs and "calibration_table" not in jobs
    target = {"inputs": {"full": {"target_rate_hz": 3.0}, "lif": {"target_rate_hz": 3.0}}}
    jobs, out = planned(tmp_path / "target", target)
    assert jobs["calibrate_inputs"] == 2 and jobs["calibration_table"] == 1
    assert "results/calibration/calibration.csv" in out
    _, out = planned(
        tmp_path / "shard", target, "results/shards/stylized_l5pc/full/train/shard_0000.nc"
    )
    assert "results/calibration/stylized_l5pc/full.csv" in out
    _, out = planned(
        tmp_path / "explicit", target, "results/shards/stylized_l5pc/no_nmda/train/shard_0000.nc"
    )
    assert "results/calibration" not in out and "rule calibrate_inputs" not in out


@pytest.mark.parametrize(
    ("search", "simulations", "expected"), [(24, 96, 24), (None, 96, 96), (200, 96, 96)]
)
def test_search_stage_size_is_the_prefix_never_more_than_all(search, simulations, expected):
    cfg = {"simulations": simulations, "search_simulations": search}
    assert search_simulation_count(cfg) == expected
