"""Import of the authors' pickled release format, on a small pickle of the same structure."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from authors_release import fake_release

from neurodepth.core.errors import DatasetError
from neurodepth.data.authors_data import authors_files, import_authors_file
from neurodepth.data.reader import DatasetReader
from neurodepth.data.spikes import detect_spikes


@pytest.mark.parametrize("high_res", [True, False])
def test_import_matches_pickle(tmp_path, high_res):
    data, truth = fake_release(high_res=high_res)
    pkl = tmp_path / "sim_experiment.p"
    pkl.write_bytes(pickle.dumps(data))
    out = import_authors_file(pkl, tmp_path / "authors.nc", include_dendritic=True)
    r = DatasetReader(out)
    assert (r.n_simulations, r.n_channels, r.duration_ms) == (3, 10, 600)
    for i, (ex, inh, spikes) in enumerate(truth):
        x = r.inputs(i, 0, 600)
        for seg in range(5):
            np.testing.assert_array_equal(np.nonzero(x[seg])[0], ex[seg].astype(int))
            np.testing.assert_array_equal(np.nonzero(x[5 + seg])[0], inh[seg].astype(int))
        a, b = r._spike_offsets[i], r._spike_offsets[i + 1]
        assert r.spike_count[i] == len(spikes) == b - a
        np.testing.assert_array_equal(r.spike_bins(i), np.floor(spikes).astype(int))
    with xr.open_dataset(out) as ds:
        times = ds["spike_time"].values
        assert ds["spike_time"].dtype == np.float64
        exact = np.concatenate([t[2] for t in truth])
        if high_res:  # re-detected on the 1/8 ms grid: within 1/16 ms of the true peak
            np.testing.assert_allclose(times, exact, atol=1 / 16)
            assert "HighRes" in ds.attrs["spike_time_source"]
        else:
            np.testing.assert_allclose(times, exact.astype(np.float16).astype(float))
            assert "float16" in ds.attrs["spike_time_source"]
        assert list(ds["segment_tree"].values[:3]) == ["basal", "basal", "apical"]
        stored = ds["dendritic_voltage"].values
        for i in range(3):  # float16 in the pickle: same values, stored as float32
            np.testing.assert_array_equal(
                stored[i],
                data["Results"]["listOfSingleSimulationDicts"][i]["dendriticVoltagesLowRes"].astype(
                    np.float32
                ),
            )
        assert stored.std() > 0.1
        np.testing.assert_array_equal(
            ds["channel_segment"].values, np.r_[np.arange(5), np.arange(5)]
        )


def test_one_spike_per_excursion_as_in_our_simulations(tmp_path):
    """The release's spikes are counted with the simulator's definition: a peak with a wiggle (two
    local maxima above -25 mV in one excursion) is one spike, not two."""
    data, _ = fake_release(n_sim=1, high_res=True)
    sim = data["Results"]["listOfSingleSimulationDicts"][0]
    T = len(sim["somaVoltageLowRes"])
    t = np.arange(8 * T) / 8.0
    v = np.full(t.size, -70.0)
    for peak in (200.0, 400.0):
        v += np.clip(1 - np.abs(t - peak) / 2.0, 0, None) * 100.0
    v[t == 400.0] -= 10.0  # a dip at the top: 399.875 and 400.125 are both local maxima
    sim["somaVoltageHighRes"] = v
    sim["somaVoltageLowRes"] = v[::8]
    pkl = tmp_path / "wiggle.p"
    pkl.write_bytes(pickle.dumps(data))
    out = import_authors_file(pkl, tmp_path / "wiggle.nc")
    with xr.open_dataset(out) as ds:
        times = ds["spike_time"].values
    np.testing.assert_allclose(times, detect_spikes(t, v))  # the simulator's definition
    assert len(times) == 2
    np.testing.assert_allclose(times, [200.0, 400.0], atol=0.25)


def test_files_of_a_split_folder_in_name_order(tmp_path):
    for name in ("b.p", "a.p", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in authors_files(tmp_path)] == ["a.p", "b.p"]
    with pytest.raises(DatasetError, match="no file matching"):
        authors_files(tmp_path, "*.pickle")
    with pytest.raises(DatasetError, match="not found"):
        authors_files(tmp_path / "missing")


def test_duration_must_match_the_config(tmp_path):
    data, _ = fake_release()
    pkl = tmp_path / "sim.p"
    pkl.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match="simulations of 600 ms.*simulation.duration_ms"):
        import_authors_file(pkl, tmp_path / "x.nc", duration_ms=6000)
    out = import_authors_file(pkl, tmp_path / "y.nc", duration_ms=600, shard=3, split="valid")
    with xr.open_dataset(out) as ds:
        assert (ds.attrs["shard"], ds.attrs["split"], ds.attrs["source_file"]) == (
            3,
            "valid",
            "sim.p",
        )


def test_bad_pickles_name_the_file(tmp_path):
    pkl = tmp_path / "broken.p"
    pkl.write_bytes(pickle.dumps({"Params": {}}))
    with pytest.raises(DatasetError, match="broken.p"):
        import_authors_file(pkl, tmp_path / "x.nc")
    data, _ = fake_release()
    data["Results"]["listOfSingleSimulationDicts"][1]["exInputSpikeTimes"][7] = np.array([3.0])
    pkl2 = tmp_path / "badseg.p"
    pkl2.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match="badseg.p simulation 1: segment index 7"):
        import_authors_file(pkl2, tmp_path / "y.nc")
    assert not (tmp_path / "y.nc").exists()


def test_a_variant_without_authors_folders_is_a_config_error_naming_the_key(tmp_path):
    import yaml

    from neurodepth.core.errors import ConfigError
    from neurodepth.ops.study_config import validate_study_config

    config = yaml.safe_load((Path(__file__).parents[1] / "e2e" / "tiny_config.yaml").read_text())
    folders = {split: str(tmp_path) for split in ("train", "valid", "test")}
    config["dataset"] = {"source": "authors", "authors": {"full": folders, "no_nmda": folders}}
    del config["inputs"]  # not needed: nothing is simulated
    config["variants"] = ["full", "no_nmda"]
    validate_study_config(config)
    config["variants"] = ["full", "lif"]
    with pytest.raises(ConfigError, match=r"'dataset\.authors\.lif' is missing"):
        validate_study_config(config)
