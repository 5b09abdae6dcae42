"""The no_branching reduction (equivalent cylinders) and the no_nmda variant."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.neuron

SETTLE_MS = 200.0


def _delete(cell):
    """Remove a built cell's sections so later runs do not simulate it too."""
    from neuron import h

    for sec in list(cell.sections.values()):
        h.delete_section(sec=sec)


def _distal_picks(table):
    ap = table[table["tree"] == "apical"]
    bs = table[table["tree"] == "basal"]
    return {
        "distal_apical": int(ap["path_distance_um"].idxmax()),
        "distal_basal": int(bs["path_distance_um"].idxmax()),
        "mid_apical": int(
            (ap["path_distance_um"] - ap["path_distance_um"].max() / 2).abs().idxmin()
        ),
    }


def _compare(spec):
    from neurodepth.cells.builder import build_cell
    from neurodepth.cells.reduction_checks import epsp_attenuation, somatic_passive_response
    from neurodepth.cells.variants import build_variant

    v_init = spec.simulation["v_init_mv"]
    full = build_cell(spec, "full")
    picks = _distal_picks(full.segment_table)
    out = {"full_table": full.segment_table.copy(), "picks": picks}
    out["full_passive"] = somatic_passive_response(full, v_init=v_init, settle_ms=SETTLE_MS)
    res = epsp_attenuation(full, list(picks.values()), v_init=v_init, settle_ms=SETTLE_MS)
    out["full_epsp"] = dict(zip(picks, res))
    out["full_exc"] = [s.hname().split("[")[0] for s in full.exc_synapses]
    out["full_inh"] = [s.hname().split("[")[0] for s in full.inh_synapses]
    out["full_gmax"] = [s.gmax for s in full.exc_synapses]
    out["full_n_channels"] = full.n_channels
    _delete(full)
    red = build_variant(spec, "no_branching")
    out["red"] = red
    out["red_passive"] = somatic_passive_response(red, v_init=v_init, settle_ms=SETTLE_MS)
    res = epsp_attenuation(red, list(picks.values()), v_init=v_init, settle_ms=SETTLE_MS)
    out["red_epsp"] = dict(zip(picks, res))
    return out


@pytest.fixture(scope="module")
def stylized(mechanisms):
    from neurodepth.cells.spec import load_cell_spec

    return _compare(load_cell_spec("stylized_l5pc"))


def test_reduced_cell_keeps_channels_and_synapse_types(stylized):
    red = stylized["red"]
    assert red.variant == "no_branching"
    assert red.n_channels == stylized["full_n_channels"]
    assert len(red.segments) == len(stylized["full_table"])
    assert [s.hname().split("[")[0] for s in red.exc_synapses] == stylized["full_exc"]
    assert [s.hname().split("[")[0] for s in red.inh_synapses] == stylized["full_inh"]
    assert set(stylized["full_exc"]) == {"nd_AMPANMDA"}  # NMDA kept
    np.testing.assert_allclose([s.gmax for s in red.exc_synapses], stylized["full_gmax"])
    # synapse i sits on the reduced segment recorded for original segment i
    for i in range(0, len(red.segments), 7):
        seg = red.exc_synapses[i].get_segment()
        assert seg.sec == red.segments[i].sec and seg.x == pytest.approx(red.segments[i].x)
    assert red.synapse_for_channel(len(red.segments)) is red.inh_synapses[0]


def test_reduced_morphology_is_unbranched(stylized):
    red = stylized["red"]
    soma = red.soma_seg.sec
    cyl_names = set(red.segment_table["reduced_section"])
    n_stems = len(cyl_names)
    assert n_stems == len(red.reduction)
    for fit in red.reduction:
        assert fit.n_sections >= 1
    for sec in soma.children():
        if sec in [red.sections[k] for k in cyl_names]:
            assert len(sec.children()) == 0  # one cylinder per stem, nothing hangs off it
    # the dendritic sections of the full cell are gone from the reduced cell's section map
    assert all(name not in red.sections for name in stylized["full_table"]["section"].unique())
    table = red.segment_table
    for col in (
        "segment",
        "section",
        "x",
        "region",
        "tree",
        "path_distance_um",
        "reduced_section",
        "reduced_x",
    ):
        assert col in table.columns
    assert table["reduced_x"].between(0, 1).all()
    # synapses move outward with electrotonic distance: distal apical maps farther than proximal
    ap = table[table["tree"] == "apical"].sort_values("path_distance_um")
    assert ap["reduced_x"].iloc[-1] > ap["reduced_x"].iloc[0]


def test_cylinders_reproduce_subtree_targets(stylized):
    for fit in stylized["red"].reduction:
        assert fit.z_in_fit_mohm == pytest.approx(fit.z_in_mohm, rel=1e-3), fit.root
        assert fit.attenuation_fit == pytest.approx(fit.attenuation_min, rel=1e-3), fit.root
        assert fit.diam_um > 0 and fit.length_um > 0 and fit.nseg % 2 == 1


def test_input_resistance_within_10_percent(stylized):
    full, red = stylized["full_passive"], stylized["red_passive"]
    assert full["rin_mohm"] > 10
    assert red["rin_mohm"] == pytest.approx(full["rin_mohm"], rel=0.10)


def test_membrane_time_constant_within_10_percent(stylized):
    full, red = stylized["full_passive"], stylized["red_passive"]
    assert full["tau_ms"] > 5
    assert red["tau_ms"] == pytest.approx(full["tau_ms"], rel=0.10)


@pytest.mark.parametrize("site", ["distal_apical", "distal_basal", "mid_apical"])
def test_distal_epsp_attenuation_within_20_percent(stylized, site):
    full, red = stylized["full_epsp"][site], stylized["red_epsp"][site]
    assert 0 < full["attenuation"] < 1
    assert red["attenuation"] == pytest.approx(full["attenuation"], rel=0.20)


def test_no_nmda_cell_has_no_nmda_anywhere(mechanisms):
    from neuron import h

    from neurodepth.cells.builder import build_cell
    from neurodepth.cells.spec import load_cell_spec

    spec = load_cell_spec("stylized_l5pc")
    cell = build_cell(spec, "no_nmda")
    kinds = {s.hname().split("[")[0] for s in cell.exc_synapses}
    assert kinds == {"nd_AMPA"}
    for syn in cell.exc_synapses + cell.inh_synapses:
        assert not hasattr(syn, "g_NMDA") and not hasattr(syn, "tau_d_NMDA")
    # under an event the conductance is AMPA's double exponential: gone after ~30 ms, whereas an
    # NMDA component (tau_d 70 ms) would still be large there.
    syn = cell.exc_synapses[len(cell.exc_synapses) // 2]
    g = h.Vector().record(syn._ref_g)
    t = h.Vector().record(h._ref_t)
    nc = h.NetCon(None, syn)
    nc.weight[0] = 1.0
    fih = h.FInitializeHandler(lambda: nc.event(5.0))
    h.load_file("stdrun.hoc")
    h.dt = 0.025
    h.finitialize(spec.simulation["v_init_mv"])
    h.continuerun(60.0)
    g, t = np.array(g), np.array(t)
    del fih
    assert g.max() == pytest.approx(syn.gmax, rel=0.01)
    tau_r, tau_d = syn.tau_r, syn.tau_d
    tp = tau_r * tau_d / (tau_d - tau_r) * np.log(tau_d / tau_r)
    f = 1 / (np.exp(-tp / tau_d) - np.exp(-tp / tau_r))
    # a recorded value is the one computed in the previous step, hence the one-dt lag
    s = np.clip(t - 5.0 - h.dt, 0, None)
    expected = syn.gmax * f * (np.exp(-s / tau_d) - np.exp(-s / tau_r))
    np.testing.assert_allclose(g, expected, atol=0.02 * syn.gmax)
    assert g[t > 40].max() < 1e-4 * syn.gmax
    _delete(cell)


@pytest.fixture(scope="module")
def hay(mechanisms, hay_morphology_path):
    from neurodepth.cells.spec import load_cell_spec

    return _compare(load_cell_spec("hay2011_l5pc", morphology_path=hay_morphology_path))


@pytest.mark.slow
def test_hay_reduction(hay):
    res = hay
    red = res["red"]
    assert red.n_channels == 1278
    assert len(red.reduction) == 9  # 8 basal stems + the apical tree
    assert res["red_passive"]["rin_mohm"] == pytest.approx(
        res["full_passive"]["rin_mohm"], rel=0.10
    )
    for site in ("distal_apical", "distal_basal", "mid_apical"):
        assert res["red_epsp"][site]["attenuation"] == pytest.approx(
            res["full_epsp"][site]["attenuation"], rel=0.20
        ), site


@pytest.mark.slow
@pytest.mark.xfail(
    reason="known shortfall: the Hay cell's reduced tau_0 is ~22 % short "
    "(11.8 vs 15.2 ms); see docs/design.md 'no_branching reduction'",
    strict=False,
)
def test_hay_membrane_time_constant_within_10_percent(hay):
    assert hay["red_passive"]["tau_ms"] == pytest.approx(hay["full_passive"]["tau_ms"], rel=0.10)
