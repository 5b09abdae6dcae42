"""Our NMODL mechanisms: compile/load plumbing, synaptic peaks, the Mg block, channel rates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurodepth.cells import mechanisms_build as mb
from neurodepth.cells.spec import KNOWN_MECHANISMS
from neurodepth.core.errors import MechanismError

CHANNELS = list(KNOWN_MECHANISMS)  # every channel a spec may name is compiled and loadable


def test_mod_sources_cover_channels_and_synapses():
    stems = {p.stem for p in mb.mod_files()}
    assert set(CHANNELS) | {"nd_AMPANMDA", "nd_AMPA", "nd_GABAA"} == stems


@pytest.mark.neuron
def test_manifest_lists_mechanisms_with_checksums(mechanisms):
    manifest = json.loads((mechanisms / "mechanisms.json").read_text())
    assert set(manifest["mechanisms"]) == {p.stem for p in mb.mod_files()}
    for path in mb.mod_files():
        assert manifest["sha256"][path.name] == mb._sha256(path)
    # idempotent: loading the same folder again is a no-op
    assert mb.load_mechanisms(mechanisms) == mechanisms.resolve()


@pytest.mark.neuron
def test_loading_a_second_folder_is_refused(mechanisms, tmp_path):
    with pytest.raises(MechanismError, match="already has mechanisms loaded"):
        mb.load_mechanisms(tmp_path)


def test_broken_mod_file_error_names_it(tmp_path):
    bad = tmp_path / "src" / "broken_chan.mod"
    bad.parent.mkdir()
    bad.write_text("NEURON { SUFFIX broken_chan }\nBREAKPOINT { this is not nmodl }\n")
    with pytest.raises(MechanismError) as info:
        mb.compile_mechanisms(tmp_path / "out", mod_sources=[bad])
    assert "broken_chan.mod" in str(info.value)
    assert not (tmp_path / "out" / "mechanisms.json").exists()


def _section():
    from neuron import h

    sec = h.Section(name="probe")
    sec.L = sec.diam = 10.0
    return sec


def _single_event_peak(syn, attr, dt=0.001, tstop=30.0):
    from neuron import h

    h.load_file("stdrun.hoc")
    h.cvode.active(0)
    h.dt = dt
    nc = h.NetCon(None, syn)
    nc.weight[0] = 1.0
    g = h.Vector().record(getattr(syn, f"_ref_{attr}"))
    t = h.Vector().record(h._ref_t)
    fih = h.FInitializeHandler(lambda: nc.event(1.0))
    h.finitialize(-70.0)
    h.continuerun(tstop)
    g, t = np.array(g), np.array(t)
    del fih
    return g.max(), t[g.argmax()] - 1.0


@pytest.mark.neuron
@pytest.mark.parametrize(
    "mech, params, attr, gmax, tpeak",
    [
        ("nd_AMPA", {}, "g", 0.0004, 0.76753),
        ("nd_GABAA", {}, "g", 0.001, 0.75669),
        ("nd_AMPANMDA", {"mg": 0.0}, "g_AMPA", 0.0004, 0.76753),
        ("nd_AMPANMDA", {"mg": 0.0}, "g_NMDA", 0.0004, 7.31983),
    ],
)
def test_single_event_peak_equals_gmax(mechanisms, mech, params, attr, gmax, tpeak):
    from neuron import h

    sec = _section()
    syn = getattr(h, mech)(sec(0.5))
    for k, v in params.items():
        setattr(syn, k, v)
    peak, when = _single_event_peak(syn, attr, tstop=40.0 if attr == "g_NMDA" else 15.0)
    assert peak == pytest.approx(gmax, rel=2e-4)
    assert when == pytest.approx(tpeak, abs=0.01)


@pytest.mark.neuron
def test_event_at_time_zero_releases(mechanisms):
    """Unlike the original mod, an input at t = 0 is delivered (no permanent silencing)."""
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = _section()
    syn = h.nd_AMPA(sec(0.5))
    nc = h.NetCon(None, syn)
    nc.weight[0] = 1.0
    g = h.Vector().record(syn._ref_g)
    fih = h.FInitializeHandler(lambda: (nc.event(0.0), nc.event(20.0)))
    h.cvode.active(0)
    h.dt = 0.01
    h.finitialize(-70.0)
    h.continuerun(40.0)
    g = np.array(g)
    del fih
    assert g[: int(10 / 0.01)].max() == pytest.approx(0.0004, rel=1e-2)
    assert g[int(20 / 0.01) :].max() == pytest.approx(0.0004, rel=1e-2)


@pytest.mark.neuron
@pytest.mark.parametrize("v, expected", [(-76.0, 0.00810), (-40.0, 0.1270), (0.0, 0.7812)])
def test_nmda_mg_block_follows_formula(mechanisms, v, expected):
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = _section()
    syn = h.nd_AMPANMDA(sec(0.5))
    clamp = h.SEClamp(sec(0.5))
    clamp.dur1, clamp.amp1, clamp.rs = 100.0, v, 1e-3
    nc = h.NetCon(None, syn)
    nc.weight[0] = 1.0
    fih = h.FInitializeHandler(lambda: nc.event(1.0))
    h.cvode.active(0)
    h.dt = 0.01
    h.finitialize(v)
    h.continuerun(1.0 + 7.31983)
    formula = 1.0 / (1.0 + math.exp(-0.08 * sec(0.5).v) / 3.57)
    assert syn.mggate == pytest.approx(formula, rel=1e-6)
    assert syn.mggate == pytest.approx(expected, rel=2e-3)
    unblocked = syn.gmax * (syn.B_NMDA - syn.A_NMDA)
    assert syn.g_NMDA == pytest.approx(unblocked * syn.mggate, rel=1e-6)
    assert syn.i_NMDA == pytest.approx(syn.g_NMDA * (sec(0.5).v - 0.0), rel=1e-4)
    del fih


@pytest.mark.neuron
def test_eca_from_nernst_at_6_3_celsius(mechanisms):
    from neuron import h

    sec = _section()
    sec.insert("Ca_HVA")
    sec.insert("CaDynamics_E2")
    h.celsius = 6.3
    h.finitialize(-76.0)
    assert sec(0.5).cai == pytest.approx(5e-5)
    assert sec(0.5).eca == pytest.approx(127.59, abs=0.01)


@pytest.mark.neuron
def test_rates_at_singular_points_are_finite_and_continuous(mechanisms):
    """Rates of the form y/(1-exp(-y/s)) use their limit: no NaN, no jump at the singularity."""

    sec = _section()
    for mech in ("NaTs2_t", "Nap_Et2", "Ih", "Ca_HVA"):
        sec.insert(mech)
    seg = sec(0.5)
    for mech, vsing in (
        ("NaTs2_t", -32.0),
        ("NaTs2_t", -60.0),
        ("Nap_Et2", -17.0),
        ("Nap_Et2", -64.4),
        ("Ih", -154.9),
        ("Ca_HVA", -27.0),
    ):
        m = getattr(seg, mech)
        vals = []
        for v in (vsing - 1e-3, vsing, vsing + 1e-3):
            m.rates(v)
            vals.append((m.mInf, m.mTau) if mech != "Nap_Et2" else (m.hTau,))
        vals = np.array(vals)
        assert np.all(np.isfinite(vals))
        assert np.allclose(vals[1], vals[0], rtol=1e-3) and np.allclose(vals[1], vals[2], rtol=1e-3)
    # Ih at its singular voltage: alpha -> 0.001*6.43*11.9
    seg.Ih.rates(-154.9)
    beta = 0.001 * 193 * math.exp(-154.9 / 33.1)
    alpha = 0.001 * 6.43 * 11.9
    assert seg.Ih.mInf == pytest.approx(alpha / (alpha + beta), rel=1e-6)


# Independent evaluation of the facts sheet's section 2 (away from singular points).
QT = 2.3 ** ((34 - 21) / 10)


def _ab(a, b, qt=1.0):
    return a / (a + b), 1.0 / ((a + b) * qt)


def _nat(v, sh_m, sh_h):
    am = 0.182 * (v + sh_m) / (1 - np.exp(-(v + sh_m) / 6))
    bm = 0.124 * (-v - sh_m) / (1 - np.exp(-(-v - sh_m) / 6))
    ah = -0.015 * (v + sh_h) / (1 - np.exp((v + sh_h) / 6))
    bh = -0.015 * (-v - sh_h) / (1 - np.exp((-v - sh_h) / 6))
    return (*_ab(am, bm, QT), *_ab(ah, bh, QT))


def _nap(v):
    am = 0.182 * (v + 38) / (1 - np.exp(-(v + 38) / 6))
    bm = 0.124 * (-v - 38) / (1 - np.exp(-(-v - 38) / 6))
    ah = -2.88e-6 * (v + 17) / (1 - np.exp((v + 17) / 4.63))
    bh = 6.94e-6 * (v + 64.4) / (1 - np.exp(-(v + 64.4) / 2.63))
    return (
        1 / (1 + np.exp(-(v + 52.6) / 4.6)),
        6 / ((am + bm) * QT),
        1 / (1 + np.exp((v + 48.8) / 10)),
        1 / ((ah + bh) * QT),
    )


def _kp(v):
    u = v + 10
    mtau = (1.25 + 175.03 * np.exp(0.026 * u)) if u < -50 else (1.25 + 13 * np.exp(-0.026 * u))
    return (
        1 / (1 + np.exp(-(u + 1) / 12)),
        mtau / QT,
        1 / (1 + np.exp((u + 54) / 11)),
        (360 + (1010 + 24 * (u + 55)) * np.exp(-(((u + 75) / 48) ** 2))) / QT,
    )


def _kt(v):
    u = v + 10
    return (
        1 / (1 + np.exp(-u / 19)),
        (0.34 + 0.92 * np.exp(-(((u + 71) / 59) ** 2))) / QT,
        1 / (1 + np.exp((u + 66) / 10)),
        (8 + 49 * np.exp(-(((u + 73) / 23) ** 2))) / QT,
    )


def _hva(v):
    am = 0.055 * (-27 - v) / (np.exp((-27 - v) / 3.8) - 1)
    bm = 0.94 * np.exp((-75 - v) / 17)
    ah = 0.000457 * np.exp((-13 - v) / 50)
    bh = 0.0065 / (np.exp((-v - 15) / 28) + 1)
    return (*_ab(am, bm), *_ab(ah, bh))


def _lva(v):
    u = v + 10
    return (
        1 / (1 + np.exp(-(u + 30) / 6)),
        (5 + 20 / (1 + np.exp((u + 25) / 5))) / QT,
        1 / (1 + np.exp((u + 80) / 6.4)),
        (20 + 50 / (1 + np.exp((u + 40) / 7))) / QT,
    )


def _kv31(v):
    return 1 / (1 + np.exp(-(v - 18.7) / 9.7)), 4 / (1 + np.exp(-(v + 46.56) / 44.14))


def _im(v):
    return _ab(3.3e-3 * np.exp(0.1 * (v + 35)), 3.3e-3 * np.exp(-0.1 * (v + 35)), QT)


def _ih(v):
    a = 0.001 * 6.43 * (v + 154.9) / (np.exp((v + 154.9) / 11.9) - 1)
    b = 0.001 * 193 * np.exp(v / 33.1)
    return _ab(a, b)


KINETICS = {
    "NaTs2_t": lambda v: _nat(v, 32, 60),
    "NaTa_t": lambda v: _nat(v, 38, 66),
    "Nap_Et2": _nap,
    "K_Pst": _kp,
    "K_Tst": _kt,
    "Ca_HVA": _hva,
    "Ca_LVAst": _lva,
    "SKv3_1": _kv31,
    "Im": _im,
    "Ih": _ih,
}


@pytest.mark.neuron
@pytest.mark.parametrize("mech", sorted(KINETICS))
def test_channel_kinetics_match_facts_sheet(mechanisms, mech):
    sec = _section()
    sec.insert(mech)
    m = getattr(sec(0.5), mech)
    names = ("mInf", "mTau", "hInf", "hTau")
    for v in np.arange(-120.0, 60.0, 2.3):  # grid avoids the exact singular voltages
        m.rates(v)
        ours = [getattr(m, n) for n in names[: len(KINETICS[mech](v))]]
        assert np.allclose(ours, KINETICS[mech](v), rtol=1e-9), (mech, v)


@pytest.mark.neuron
def test_sk_e2_activation_from_calcium(mechanisms):
    sec = _section()
    sec.insert("SK_E2")
    for cai in (5e-5, 1e-4, 4.3e-4, 2e-3):
        sec(0.5).SK_E2.rates(cai)
        assert sec(0.5).SK_E2.zInf == pytest.approx(1 / (1 + (0.00043 / cai) ** 4.8), rel=1e-12)


@pytest.mark.neuron
def test_up_to_date_check(mechanisms, tmp_path):
    assert mb.is_up_to_date(mechanisms)
    assert not mb.is_up_to_date(tmp_path)
