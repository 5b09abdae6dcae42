"""Import of the authors' pickled release format, on a small pickle of the same structure."""

import pickle

import numpy as np
import pytest

from neurodepth.core.errors import DatasetError
from neurodepth.data.authors_data import detect_spikes, import_authors_file
from neurodepth.data.reader import DatasetReader


def _fake_release(n_sim=3, n_seg=5, T=600, high_res=True, seed=0):
    rng = np.random.default_rng(seed)
    sims, truth = [], []
    for i in range(n_sim):
        ex = {
            s: np.sort(rng.choice(T, size=rng.integers(0, 30), replace=False)).astype(float)
            for s in range(n_seg)
        }
        inh = {
            s: np.sort(rng.choice(T, size=rng.integers(0, 20), replace=False)).astype(float)
            for s in range(n_seg)
        }
        t_hi = np.arange(8 * T) / 8.0
        v_hi = np.full(t_hi.size, -70.0)
        spikes = (
            np.sort(rng.choice(np.arange(50, T - 50), size=i + 2, replace=False)) + 0.375 + 0.01 * i
        )
        for sp in spikes:  # 1 ms wide triangular spike peaking exactly at sp
            v_hi += np.clip(1 - np.abs(t_hi - sp) / 0.5, 0, None) * 100.0
        sim = {
            "exInputSpikeTimes": ex,
            "inhInputSpikeTimes": inh,
            "outputSpikeTimes": spikes.astype(np.float16),
            "somaVoltageLowRes": v_hi[::8].astype(np.float16),
            "nexusVoltageLowRes": np.full(T, -68.0, np.float16),
            "dendriticVoltagesLowRes": np.full((n_seg, T), -69.0, np.float16),
        }
        if high_res:
            sim["somaVoltageHighRes"] = v_hi
        sims.append(sim)
        truth.append((ex, inh, spikes))
    data = {
        "Params": {
            "totalSimDurationInSec": T / 1000,
            "allSegmentsType": ["basal"] * 2 + ["apical"] * (n_seg - 2),
            "allSegmentsLength": list(np.linspace(10, 30, n_seg)),
        },
        "Results": {"listOfSingleSimulationDicts": sims},
    }
    return data, truth


@pytest.mark.parametrize("high_res", [True, False])
def test_import_matches_pickle(tmp_path, high_res):
    data, truth = _fake_release(high_res=high_res)
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
    import xarray as xr

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
        np.testing.assert_allclose(ds["dendritic_voltage"].values, -69.0, atol=0.01)
        np.testing.assert_array_equal(
            ds["channel_segment"].values, np.r_[np.arange(5), np.arange(5)]
        )


def test_detect_spikes_local_maxima_above_threshold():
    v = np.array([-70, -30, -20, -30, -70, -26, -70, 10, 10, -70], float)
    np.testing.assert_allclose(detect_spikes(v, 0.5), [1.0, 3.5])  # -26 is below -25; plateau once


def test_bad_pickles_name_the_file(tmp_path):
    pkl = tmp_path / "broken.p"
    pkl.write_bytes(pickle.dumps({"Params": {}}))
    with pytest.raises(DatasetError, match="broken.p"):
        import_authors_file(pkl, tmp_path / "x.nc")
    data, _ = _fake_release()
    data["Results"]["listOfSingleSimulationDicts"][1]["exInputSpikeTimes"][7] = np.array([3.0])
    pkl2 = tmp_path / "badseg.p"
    pkl2.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match="badseg.p simulation 1: segment index 7"):
        import_authors_file(pkl2, tmp_path / "y.nc")
    assert not (tmp_path / "y.nc").exists()
