"""The Hay 2011 L5PC built from its spec against the reference table and the facts sheet."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from neurodepth.cells.builder import SEGMENT_COLUMNS, build_cell
from neurodepth.cells.spec import load_cell_spec
from neurodepth.core.errors import MorphologyError

pytestmark = pytest.mark.neuron


@pytest.fixture(scope="module")
def hay(mechanisms, hay_morphology_path):
    spec = load_cell_spec("hay2011_l5pc", morphology_path=hay_morphology_path)
    cell = build_cell(spec)
    yield cell
    del cell
    gc.collect()


@pytest.fixture(scope="module")
def reference(hay_segments_csv):
    ref = pd.read_csv(hay_segments_csv)
    return ref[ref.dend_list_index >= 0].reset_index(drop=True)


def _run(cell, tstop, clamp_amp=None, delay=0.0, dur=0.0):
    from neuron import h

    h.load_file("stdrun.hoc")
    h.cvode.active(1)
    h.cvode.atol(1e-3)
    stim = None
    if clamp_amp is not None:
        stim = h.IClamp(cell.soma_seg)
        stim.amp, stim.delay, stim.dur = clamp_amp, delay, dur
    t = h.Vector().record(h._ref_t)
    v = h.Vector().record(cell.soma_seg._ref_v)
    vn = h.Vector().record(cell.nexus_seg._ref_v)
    h.finitialize(-76.0)
    h.continuerun(tstop)
    return np.array(t), np.array(v), np.array(vn)


def test_counts_and_channel_map(hay):
    tab = hay.segment_table
    assert len(hay.segments) == len(tab) == 639
    assert (tab.tree == "basal").sum() == 262 and (tab.tree == "apical").sum() == 377
    assert hay.n_channels == 1278
    assert list(tab.columns) == SEGMENT_COLUMNS
    assert hay.synapse_for_channel(5) is hay.exc_synapses[5]
    assert hay.synapse_for_channel(639 + 5) is hay.inh_synapses[5]
    assert hay.exc_synapses[0].hname().startswith("nd_AMPANMDA")
    assert hay.inh_synapses[0].hname().startswith("nd_GABAA")
    # every synapse sits on its own segment
    assert all(s.get_segment() == seg for s, seg in zip(hay.exc_synapses, hay.segments))
    assert hay.inh_synapses[0].e == -80.0 and hay.inh_synapses[0].gmax == pytest.approx(0.001)


def test_regions_match_paper_index_ranges(hay):
    r = hay.segment_table.region.to_numpy()
    assert set(r[:262]) == {"basal"}
    assert set(r[262:366]) == {"oblique"} and set(r[559:639]) == {"oblique"}
    assert set(r[366:559]) == {"tuft"}


def test_segments_match_reference_table(hay, reference):
    tab = hay.segment_table
    assert list(tab.section) == list(reference.section)
    np.testing.assert_allclose(tab.x, reference.x_centre, atol=1e-6)
    np.testing.assert_allclose(
        tab.path_distance_um, reference.path_dist_from_soma_centre_um, rtol=1e-2
    )
    np.testing.assert_allclose(tab.area_um2, reference.area_um2, rtol=1e-2)
    np.testing.assert_allclose(tab.length_um, reference.seg_length_um, rtol=1e-2)
    gih = np.array([seg.Ih.gbar for seg in hay.segments])
    np.testing.assert_allclose(gih, reference.gIhbar_S_cm2, rtol=1e-2)
    apical = (tab.tree == "apical").to_numpy()
    gca = np.array([seg.Ca_LVAst.gbar for seg, a in zip(hay.segments, apical) if a])
    np.testing.assert_allclose(gca, reference.gCa_LVAstbar_S_cm2[apical], rtol=1e-2)
    assert (gca > 0.1).sum() == 29  # the hot zone, including apic[50]'s last segment
    # per-segment passive properties
    assert all(seg.cm == 2.0 and seg.pas.g == pytest.approx(6e-5) for seg in hay.segments)
    assert hay.nexus_seg.sec.name().endswith("apic[50]")


def test_rest_potential(hay):
    t, v, vn = _run(hay, 300.0)
    assert v[-1] == pytest.approx(-81.13, abs=0.7)
    assert vn[-1] == pytest.approx(-75.84, abs=0.7)
    assert np.interp(10.0, t, v) < -77.5  # relaxes quickly from -76


def test_somatic_step_gives_repetitive_firing(hay):
    t, v, _ = _run(hay, 600.0, clamp_amp=1.0, delay=100.0, dur=500.0)
    up = np.flatnonzero((v[1:] > -20) & (v[:-1] <= -20)) + 1
    times = t[up]
    # facts: 34 spikes in 2 s (17 Hz) at 1 nA, first spike after 9.5 ms
    assert 6 <= len(times) <= 12
    assert times[0] - 100.0 == pytest.approx(9.5, abs=2.0)
    # an initial burst, then regular firing that lasts to the end of the step
    assert np.all(np.diff(times[-5:]) > 40.0)
    assert times[-1] > 500.0


def test_no_nmda_variant_and_rebuild(mechanisms, hay_morphology_path, hay):
    spec = load_cell_spec("hay2011_l5pc", morphology_path=hay_morphology_path)
    other = build_cell(spec, synapses="no_nmda")
    assert other.variant == "no_nmda" and len(other.segments) == 639
    assert other.exc_synapses[10].hname().startswith("nd_AMPA[")
    pd.testing.assert_frame_equal(other.segment_table, hay.segment_table)
    del other
    gc.collect()


def test_missing_morphology_is_a_clear_error(mechanisms, tmp_path):
    spec = load_cell_spec("hay2011_l5pc")
    with pytest.raises(MorphologyError, match="morphology"):
        build_cell(spec)
    spec = load_cell_spec("hay2011_l5pc", morphology_path=tmp_path / "gone.asc")
    with pytest.raises(MorphologyError, match="gone.asc"):
        build_cell(spec)


def _path_to(cell, name):
    path, sec = [], cell.sections[name]
    while "soma" not in sec.name():
        path.append(sec)
        sec = sec.parentseg().sec
    return path[::-1]


def test_backpropagating_ap_attenuates_as_in_facts(hay):
    """3 nA x 2 ms at the soma: peak voltage along the path to apic[60] (facts sheet section 5)."""
    from neuron import h

    segs = [seg for sec in _path_to(hay, "apic[60]") for seg in sec]
    stim = h.IClamp(hay.soma_seg)
    stim.amp, stim.delay, stim.dur = 3.0, 300.0, 2.0
    t = h.Vector().record(h._ref_t)
    vs = [h.Vector().record(seg._ref_v) for seg in segs]
    soma = h.Vector().record(hay.soma_seg._ref_v)
    h.cvode.active(1)
    h.finitialize(-76.0)
    h.continuerun(340.0)
    tt = np.array(t)
    dist = np.array([h.distance(hay.soma_seg, seg) for seg in segs])
    peaks = np.array([np.array(v)[tt > 299].max() for v in vs])
    assert max(soma) == pytest.approx(41.5, abs=1.5)
    facts = {
        100: -6.5,
        200: -31.4,
        307: -50.3,
        391: -53.7,
        504: -56.8,
        598: -58.5,
        699: -60.3,
        805: -63.0,
        890: -64.8,
    }
    for d, v in facts.items():
        assert np.interp(d, dist, peaks) == pytest.approx(v, abs=2.0), d


def test_dendritic_calcium_spike_in_hot_zone(hay):
    """10 ms current at apic[51](0.5): no event at 0.2 nA; a ~32 ms Ca plateau and 2 somatic
    spikes at 0.3 nA (facts sheet section 5)."""
    from neuron import h

    site = hay.sections["apic[51]"](0.5)
    stim = h.IClamp(site)
    stim.delay, stim.dur = 300.0, 10.0
    t = h.Vector().record(h._ref_t)
    vd = h.Vector().record(site._ref_v)
    vs = h.Vector().record(hay.soma_seg._ref_v)
    out = {}
    for amp in (0.2, 0.3):
        stim.amp = amp
        h.cvode.active(1)
        h.finitialize(-76.0)
        h.continuerun(450.0)
        tt, v, so = np.array(t), np.array(vd), np.array(vs)
        out[amp] = (
            np.trapezoid((v > -40).astype(float), tt),
            int(np.sum((so[1:] > -20) & (so[:-1] <= -20))),
        )
    assert out[0.2] == (0.0, 0)
    assert out[0.3][0] == pytest.approx(32.5, abs=4.0) and out[0.3][1] == 2


@pytest.mark.slow
@pytest.mark.parametrize("amp, spikes, latency", [(0.3, 0, None), (0.5, 10, 37.9), (1.0, 34, 9.5)])
def test_f_i_table(hay, amp, spikes, latency):
    """2 s somatic steps reproduce the facts sheet's f-I table (spike counts +-2, latency
    +-3 ms)."""
    t, v, _ = _run(hay, 2300.0, clamp_amp=amp, delay=200.0, dur=2000.0)
    up = np.flatnonzero((v[1:] > -20) & (v[:-1] <= -20)) + 1
    assert abs(len(up) - spikes) <= 2
    if latency is not None:
        assert t[up[0]] - 200.0 == pytest.approx(latency, abs=3.0)
