"""The embedded stylized L5PC: shape, NMDA spikes in thin dendrites, back-propagating AP."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from neurodepth.cells.builder import build_cell
from neurodepth.cells.spec import load_cell_spec

pytestmark = pytest.mark.neuron


@pytest.fixture(scope="module")
def spec():
    return load_cell_spec("stylized_l5pc")


@pytest.fixture(scope="module")
def cell(mechanisms, spec):
    c = build_cell(spec)
    yield c
    del c
    gc.collect()


def _trunk_sections(cell):
    """Sections from the nexus back to the soma."""
    secs = []
    sec = cell.nexus_seg.sec
    while sec is not None and "soma" not in sec.name():
        secs.append(sec)
        parent = sec.parentseg()
        sec = parent.sec if parent is not None else None
    return secs[::-1]


def test_shape(cell):
    tab = cell.segment_table
    assert 90 <= len(tab) <= 200
    assert cell.n_channels == 2 * len(tab)
    trees = tab.tree.to_numpy()
    n_basal = (trees == "basal").sum()
    assert set(trees[:n_basal]) == {"basal"} and set(trees[n_basal:]) == {"apical"}
    assert set(tab.region) == {"basal", "oblique", "tuft"}
    nexus_d = tab.path_distance_um[tab.region == "tuft"].min()
    assert 650 < nexus_d < 760  # first tuft segment centre just beyond the ~680 um nexus
    assert 1200 < tab.path_distance_um.max() < 1350
    assert 200 < tab.path_distance_um[tab.tree == "basal"].max() < 300
    # realistic membrane areas (um^2): same order as the reconstruction
    basal_area = tab.area_um2[tab.tree == "basal"].sum()
    apical_area = tab.area_um2[tab.tree == "apical"].sum()
    assert 4000 < basal_area < 10000 and 12000 < apical_area < 25000
    # the Ca hot zone and the Ih gradient apply along the apical tree
    gca = np.array([s.Ca_LVAst.gbar for s in cell.segments[n_basal:]])
    assert (gca > 0.1).sum() >= 3
    gih = np.array([s.Ih.gbar for s in cell.segments[n_basal:]])
    d = tab.path_distance_um[n_basal:].to_numpy()
    assert gih[d.argmax()] > 5 * gih[d.argmin()]


def _run(cell, tstop, events=(), clamp=None, record=()):
    from neuron import h

    h.load_file("stdrun.hoc")
    h.cvode.active(1)
    ncs = []
    for syn, times in events:
        nc = h.NetCon(None, syn)
        nc.weight[0] = 1.0
        ncs.append((nc, times))
    fih = h.FInitializeHandler(lambda: [nc.event(float(t)) for nc, ts in ncs for t in ts])
    stim = None
    if clamp is not None:
        stim = h.IClamp(cell.soma_seg)
        stim.amp, stim.delay, stim.dur = clamp
    t = h.Vector().record(h._ref_t)
    vecs = [h.Vector().record(seg._ref_v) for seg in record]
    h.finitialize(-76.0)
    h.continuerun(tstop)
    del fih
    return np.array(t), [np.array(v) for v in vecs]


def _branch_burst(cell, section, burst_ms=20):
    """One event per ms for ``burst_ms`` ms on every excitatory synapse of ``section``."""
    idx = cell.segment_table.index[cell.segment_table.section == section].tolist()
    times = 200.0 + np.arange(burst_ms)
    events = [(cell.exc_synapses[i], times) for i in idx]
    tip = cell.segments[idx[-1]]
    t, (v, vs) = _run(cell, 450.0, events=events, record=[tip, cell.soma_seg])
    after = t >= 200.0 + burst_ms
    plateau_ms = np.trapezoid((v[after] > -40.0).astype(float), t[after])
    return plateau_ms, v, vs


def test_nmda_spike_in_thin_basal_branch_needs_nmda(mechanisms, spec, cell):
    # a terminal basal branch (thin, 0.5 um) with its 3 synapses driven at 1 event/ms for 20 ms
    branch = "dend[2]"
    assert cell.sections[branch].diam < 0.6 and len(cell.sections[branch].children()) == 0
    plateau_full, v_full, _ = _branch_burst(cell, branch)
    assert plateau_full > 20.0  # a regenerative plateau outlasting the input by > 20 ms
    assert v_full.max() > -20.0
    ampa = build_cell(spec, synapses="no_nmda")
    try:
        plateau_ampa, _, _ = _branch_burst(ampa, branch)
    finally:
        del ampa
        gc.collect()
    assert plateau_ampa < 8.0  # AMPA alone: the depolarisation ends with the input
    assert plateau_full > 3 * plateau_ampa


def test_backpropagating_action_potential(cell):
    trunk = _trunk_sections(cell)
    segs = [seg for sec in trunk for seg in sec]
    t, traces = _run(cell, 360.0, clamp=(3.0, 300.0, 2.0), record=[cell.soma_seg] + segs)
    soma, dend = traces[0], traces[1:]
    from neuron import h

    dist = np.array([h.distance(cell.soma_seg, seg) for seg in segs])
    peaks = np.array([v[t > 299].max() for v in dend])
    rest = np.array([v[(t > 250) & (t < 299)].mean() for v in dend])
    assert soma.max() > 20.0  # one somatic spike
    near = (dist > 100) & (dist < 200)
    assert near.any()
    # the spike invades the trunk: well above rest, and it arrives after the soma's peak
    assert np.all(peaks[near] - rest[near] > 50.0)
    i = np.flatnonzero(near)[0]
    assert t[dend[i][t > 299].argmax() + (t <= 299).sum()] > t[soma.argmax()]


def test_rest_and_firing(cell):
    t, (v,) = _run(cell, 800.0, clamp=(1.0, 300.0, 500.0), record=[cell.soma_seg])
    assert np.interp(299.0, t, v) == pytest.approx(-81.0, abs=1.5)
    up = np.flatnonzero((v[1:] > -20) & (v[:-1] <= -20))
    assert len(up) >= 5 and t[up[-1]] > 700.0
