"""Shard simulation (neurodepth.simulation.simulate) and the integrator check
(neurodepth.simulation.validate_integration)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neurodepth.core.errors import ConfigError
from neurodepth.data.shards import read_shard, unpack_inputs
from neurodepth.data.spikes import detect_spikes
from neurodepth.simulation.simulate import (
    ShardJob,
    SimulationSettings,
    run_shard,
)
from neurodepth.simulation.validate_integration import (
    match_spikes,
    soma_rms_clipped,
    summarize,
    validate_integration,
)

SIM_CFG = {
    "duration_ms": 500,
    "integrator": "fixed",
    "dt_ms": 0.05,
    "secondorder": 2,
    "cvode_atol": 1e-3,
    "record_nexus": True,
    "record_dendrites": True,
    "simulations_per_shard": 2,
}
INPUTS_CFG = {"exc_per_100ms": [0, 800], "inh_minus_exc": [-600, 200]}


def test_detect_spikes_one_per_excursion_with_subsample_time():
    dt = 0.05
    t = np.arange(0, 100, dt)
    true = [20.013, 55.5371]
    v = -70 + sum(100 * np.exp(-0.5 * ((t - s) / 0.3) ** 2) for s in true)
    v += np.where(np.abs(t - 55.5371) < 0.12, 0.02 * np.sin(t * 200), 0.0)  # wiggles at one peak
    got = detect_spikes(t, v)
    assert got.dtype == np.float64 and len(got) == 2
    assert np.allclose(got, true, atol=0.01)
    assert len(detect_spikes(t, np.minimum(v, -30))) == 0  # peaks below -25 mV are not spikes


def test_settings_validation_names_key():
    with pytest.raises(ConfigError, match="simulation.integrator"):
        SimulationSettings.from_config({"integrator": "rk4"})
    with pytest.raises(ConfigError, match="simulation.dt_ms"):
        SimulationSettings.from_config({"dt_ms": 0.03})  # does not divide 1 ms
    s = SimulationSettings.from_config(SIM_CFG)
    assert s.duration_ms == 500 and s.record_dendrites


def test_match_spikes_and_rms():
    assert match_spikes([10.0, 20.0, 30.0], [10.4, 21.5, 29.9], 1.0) == (2, pytest.approx(0.4))
    assert match_spikes([10.0], [10.2, 10.3], 1.0)[0] == 1  # one-to-one
    assert soma_rms_clipped(np.array([-70.0, 0.0]), np.array([-69.0, 20.0])) == pytest.approx(
        np.sqrt(0.5)
    )


def test_lif_shard_without_neuron(tmp_path):
    cfg = dict(SIM_CFG, duration_ms=2000, simulations_per_shard=3)
    lif_inputs = {"exc_per_100ms": [0, 160], "inh_minus_exc": [-60, 20]}
    job = ShardJob("stylized_l5pc", "lif", "train", 0, 5, cfg, lif_inputs, config_hash="h1")
    out = run_shard(job, tmp_path / "lif.nc", progress=False)
    ds = read_shard(out)
    assert ds.sizes["channel"] == 100 and ds.sizes["simulation"] == 3 and ds.sizes["time"] == 2000
    assert (ds.channel_kind.values[:80] == "exc").all() and (
        ds.channel_kind.values[80:] == "inh"
    ).all()
    assert ds.attrs["integrator"] == "lif_exact" and ds.attrs["variant"] == "lif"
    from neurodepth.cells.lif import simulate_lif

    x = unpack_inputs(ds.input_spikes_packed.values[1], 2000)
    v, spikes = simulate_lif(x, n_exc=80)
    assert np.allclose(ds.soma_voltage.values[1], v, atol=1e-4)
    assert np.array_equal(ds.spike_time.values[ds.spike_simulation.values == 1], spikes)


@pytest.mark.neuron
def test_neuron_shard_on_stylized_cell(mechanisms, tmp_path):
    job = ShardJob(
        "stylized_l5pc",
        "full",
        "train",
        1,
        20210701,
        SIM_CFG,
        INPUTS_CFG,
        mechanisms,
        config_hash="cfg1",
    )
    a = run_shard(job, tmp_path / "a.nc", progress=False)
    b = run_shard(job, tmp_path / "b.nc", progress=False)
    da, db = read_shard(a), read_shard(b)
    # same seed -> identical shard content
    for name in da.data_vars:
        assert np.array_equal(da[name].values, db[name].values), name
    assert da.attrs["seed"] == db.attrs["seed"] and da.attrs["global_seed"] == 20210701

    n_seg = da.sizes["segment"]
    assert (
        da.sizes["simulation"] == 2 and da.sizes["time"] == 500 and da.sizes["channel"] == 2 * n_seg
    )
    assert da.soma_voltage.dtype == np.float32 and da.spike_time.dtype == np.float64
    assert da.soma_voltage.attrs["units"] == "mV" and da.nexus_voltage.attrs["units"] == "mV"
    assert da.dendritic_voltage.shape == (2, n_seg, 500)
    assert da.soma_voltage.values[:, 0] == pytest.approx(-76.0, abs=1e-3)  # finitialize(-76)
    v = da.soma_voltage.values
    assert v.min() > -95 and v.max() < 60
    assert -80 < np.minimum(v, -55).mean() < -55
    # inputs follow the protocol: rates of a few to tens of Hz, exc channels first
    assert (da.exc_rate_hz > 1).all() and (da.exc_rate_hz < 200).all()
    # every stored spike is a soma excursion above -25 mV near that time (1 ms samples may miss
    # the peak)
    for t, s in zip(da.spike_time.values, da.spike_simulation.values):
        i = int(t)
        assert v[s, max(i - 2, 0) : i + 3].max() > -55
    # different shard index -> different inputs
    c = read_shard(run_shard(dataclasses.replace(job, shard=2), tmp_path / "c.nc", progress=False))
    assert not np.array_equal(c.input_spikes_packed.values, da.input_spikes_packed.values)


@pytest.mark.neuron
def test_validate_integration_stylized(mechanisms, tmp_path, capsys):
    """Through the command line, on the default config (stylized cell, its adaptive step)."""
    from neurodepth.ops.cli import main

    config = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
    out = tmp_path / "v.csv"
    rc = main(
        [
            "validate-integration",
            "--config",
            str(config),
            "--mechanisms",
            str(mechanisms),
            "--simulations",
            "1",
            "--duration-ms",
            "400",
            "--seed",
            "3",
            "--converged-atol",
            "1e-5",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    back = pd.read_csv(out)
    assert len(back) == 1 and {
        "reference_spikes",
        "candidate_spikes",
        "matched_spikes",
        "soma_rms_clipped_mv",
        "reference_cpu_s",
        "candidate_cpu_s",
        "converged_spikes",
        "reference_matched_converged",
        "candidate_matched_converged",
    } <= set(back.columns)
    s = summarize(back)
    # the adaptive Crank-Nicolson step tracks CVODE closely on this cell
    assert s["soma_rms_clipped_mv"] < 1.0
    assert back.reference.iloc[0].startswith("cvode atol=0.001")
    assert back.candidate.iloc[0].startswith("fixed dt=0.1 (fine 0.025 above -60 mV")
    assert back.converged.iloc[0] == "cvode atol=1e-05"
    # both methods lie close to the converged solution, and it is a different run from either
    assert (
        s["reference_soma_rms_vs_converged_mv"] < 1.0
        and s["candidate_soma_rms_vs_converged_mv"] < 1.0
    )
    assert (
        s["reference_soma_rms_vs_converged_mv"] > 0 and s["candidate_soma_rms_vs_converged_mv"] > 0
    )
    assert f"over 0.4 simulated s: spikes matched {s['matched_spikes']}/" in printed
    for name in ("reference", "candidate"):
        where = s[f"{name}_misses_by_simulation"] or "none"
        assert f"{name} misses converged spikes in simulation(s) {where}" in printed
    with pytest.raises(ConfigError, match="converged_atol"):
        validate_integration(
            "stylized_l5pc",
            "full",
            dict(SIM_CFG, record_dendrites=False),
            INPUTS_CFG,
            mechanisms,
            None,
            n_simulations=1,
            duration_ms=400,
            log=None,
            converged_atol=1e-2,
        )


@pytest.mark.neuron
def test_events_reach_the_right_synapse_at_the_right_time(mechanisms):
    """PatternStim delivery: an input in bin k acts from k ms on; exc depolarises; inh (E = -80 mV,
    near this cell's rest) shunts the exc response on the same segment."""
    from neurodepth.simulation.simulate import NeuronRunner, build_variant_cell

    cell = build_variant_cell("stylized_l5pc", "full", mechanisms, None)
    n_seg = len(cell.segments)
    s = SimulationSettings(duration_ms=300, record_nexus=False)
    runner = NeuronRunner(cell, s)
    x = np.zeros((2 * n_seg, 300), bool)
    rest = runner.run(x)["soma"]
    seg = int(
        np.argmin(cell.segment_table.path_distance_um.values)
    )  # the synapse closest to the soma
    x_exc = x.copy()
    x_exc[seg, 100] = True
    exc = runner.run(x_exc)["soma"]
    x_inh = x.copy()
    x_inh[n_seg + seg, 100] = True
    inh = runner.run(x_inh)["soma"]
    both = runner.run(x_exc | x_inh)["soma"]
    assert np.array_equal(exc[:101], rest[:101]) and np.array_equal(inh[:101], rest[:101])
    assert (exc[102:130] - rest[102:130]).max() > 0.01
    assert np.abs(inh[101:130] - rest[101:130]).max() > 1e-5
    assert (both[102:130] - rest[102:130]).max() < (exc[102:130] - rest[102:130]).max() - 0.005
    # the reset between runs is complete: the same inputs give the same trace again
    assert np.array_equal(runner.run(x)["soma"], rest)


def test_adaptive_step_settings_validation_names_key():
    with pytest.raises(ConfigError, match="simulation.dt_fine_ms"):
        SimulationSettings.from_config({"dt_ms": 0.1, "dt_fine_ms": 0.03})  # does not divide 1 ms
    with pytest.raises(ConfigError, match="simulation.dt_fine_ms"):
        SimulationSettings.from_config({"dt_ms": 0.05, "dt_fine_ms": 0.1})  # coarser than dt_ms
    with pytest.raises(ConfigError, match="simulation.refine_hold_ms"):
        SimulationSettings.from_config({"dt_ms": 0.1, "dt_fine_ms": 0.025, "refine_hold_ms": 0})
    s = SimulationSettings.from_config({"dt_ms": 0.1, "dt_fine_ms": 0.025, "refine_above_mv": -62})
    assert (s.dt_fine_ms, s.refine_above_mv, s.refine_hold_ms) == (0.025, -62.0, 10)
    assert s.dt_mid_ms == 0.0  # two levels unless asked
    with pytest.raises(ConfigError, match="simulation.dt_mid_ms"):
        SimulationSettings.from_config({"dt_ms": 0.1, "dt_mid_ms": 0.05})  # no fine step
    with pytest.raises(ConfigError, match="simulation.dt_mid_ms"):
        SimulationSettings.from_config(
            {"dt_ms": 0.1, "dt_fine_ms": 0.05, "dt_mid_ms": 0.025}
        )  # finer than fine
    with pytest.raises(ConfigError, match="simulation.mid_above_mv"):
        SimulationSettings.from_config(
            {"dt_ms": 0.1, "dt_fine_ms": 0.0125, "dt_mid_ms": 0.05, "mid_above_mv": -50}
        )
    s = SimulationSettings.from_config(
        {"dt_ms": 0.1, "dt_fine_ms": 0.0125, "dt_mid_ms": 0.05, "mid_above_mv": -66}
    )
    assert (s.dt_mid_ms, s.mid_above_mv) == (0.05, -66.0)


@pytest.mark.neuron
def test_adaptive_step_refines_only_near_threshold(mechanisms):
    """The adaptive fixed step: all-fine equals the uniform fine step exactly; a threshold no soma
    reaches gives the uniform coarse step exactly; a real threshold refines part of the run, and
    the result lies closer to the uniform fine step than the coarse step does."""
    from neurodepth.simulation.inputs import InputRates, generate_inputs
    from neurodepth.simulation.simulate import NeuronRunner, build_variant_cell, simulation_rng

    cell = build_variant_cell("stylized_l5pc", "full", mechanisms, None)
    T = 400
    s = SimulationSettings(duration_ms=T, record_nexus=False, dt_ms=0.1)
    runner = NeuronRunner(cell, s)
    t = cell.segment_table
    x = generate_inputs(
        simulation_rng(5, 0),
        t.length_um.to_numpy(),
        t.tree.to_numpy(),
        T,
        InputRates.from_config(INPUTS_CFG),
    )
    coarse = runner.run(x, s)
    fine = runner.run(x, s.replace(dt_ms=0.025))
    all_fine = runner.run(x, s.replace(dt_fine_ms=0.025, refine_above_mv=-1000.0))
    assert runner.fine_fraction == 1.0 and np.array_equal(all_fine["soma"], fine["soma"])
    none_fine = runner.run(x, s.replace(dt_fine_ms=0.025, refine_above_mv=1000.0))
    assert runner.fine_fraction == 0.0 and np.array_equal(none_fine["soma"], coarse["soma"])
    v_mid = float(np.percentile(fine["soma"], 50))
    mixed = runner.run(x, s.replace(dt_fine_ms=0.025, refine_above_mv=v_mid, refine_hold_ms=5))
    assert 0.0 < runner.fine_fraction < 1.0

    def err(a):
        return float(np.sqrt(np.mean((np.minimum(a, -55) - np.minimum(fine["soma"], -55)) ** 2)))

    assert err(mixed["soma"]) < err(coarse["soma"])
    assert runner.h.dt == 0.1  # the run leaves the coarse step set
    # three levels: a middle band that covers everything gives the uniform middle step exactly
    mid = runner.run(x, s.replace(dt_ms=0.05))
    all_mid = runner.run(
        x, s.replace(dt_fine_ms=0.025, refine_above_mv=1000.0, dt_mid_ms=0.05, mid_above_mv=-1000.0)
    )
    assert (runner.fine_fraction, runner.mid_fraction) == (0.0, 1.0)
    assert np.array_equal(all_mid["soma"], mid["soma"])
    # ... and a real middle band refines more of the run than the fine level alone, never less
    runner.run(x, s.replace(dt_fine_ms=0.025, refine_above_mv=v_mid, refine_hold_ms=5))
    two_level_fine = runner.fine_fraction
    three = runner.run(
        x,
        s.replace(
            dt_fine_ms=0.025,
            refine_above_mv=v_mid,
            refine_hold_ms=5,
            dt_mid_ms=0.05,
            mid_above_mv=float(np.percentile(fine["soma"], 20)),
        ),
    )
    assert (
        runner.fine_fraction == two_level_fine and 0.0 < runner.mid_fraction < 1.0 - two_level_fine
    )
    assert err(three["soma"]) < err(coarse["soma"])


def test_converged_scores_and_summary():
    """Both methods are scored against the converged run; the summary pools simulations."""
    from neurodepth.simulation.validate_integration import converged_scores

    soma = np.full(100, -70.0)
    conv = {"spike_times": np.array([10.0, 50.0, 80.0]), "soma": soma}
    ref = {"spike_times": np.array([10.2, 55.0]), "soma": soma + 1.0}
    cand = {"spike_times": np.array([10.1, 50.3, 80.9]), "soma": soma + 0.5}
    sc = converged_scores(conv, ref, cand, 1.0)
    assert sc["converged_spikes"] == 3
    assert (sc["reference_matched_converged"], sc["candidate_matched_converged"]) == (1, 3)
    assert sc["reference_soma_rms_vs_converged_mv"] == pytest.approx(1.0)
    assert sc["candidate_soma_rms_vs_converged_mv"] == pytest.approx(0.5)
    row = dict(
        simulation=0,
        duration_ms=100,
        reference_spikes=2,
        candidate_spikes=3,
        matched_spikes=1,
        soma_rms_clipped_mv=0.5,
        reference_cpu_s=4.0,
        candidate_cpu_s=1.0,
        **sc,
    )
    out = summarize(pd.DataFrame([row, dict(row, simulation=1, reference_cpu_s=2.0)]))
    assert out["speedup_cpu"] == pytest.approx(3.0)
    assert out["reference_vs_converged_match_fraction"] == pytest.approx(2 / 6)
    assert out["candidate_vs_converged_match_fraction"] == pytest.approx(1.0)
    assert out["converged_spikes"] == 6
    # where each method misses: the reference in both simulations, the candidate nowhere
    assert out["reference_misses_by_simulation"] == "0: 1/3, 1: 1/3"
    assert out["candidate_misses_by_simulation"] == ""
    # a candidate with an extra spike misses too (matched/max(converged, its own spikes))
    extra = dict(row, simulation=5, candidate_spikes=4)
    assert summarize(pd.DataFrame([row, extra]))["candidate_misses_by_simulation"] == "5: 3/4"
