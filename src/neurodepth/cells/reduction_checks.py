"""Checks of a reduction: what an equivalent-cylinder cell must keep of the full cell, measured
the same way on both (somatic input resistance and time constant, soma-referenced EPSP
attenuation). Used by tests/unit/test_reduce.py and docs/design.md's validation table."""

from __future__ import annotations

import numpy as np

from neurodepth.cells.neuron_tools import hoc, mechanism_parameters


def _run(h, v_init: float, tstop: float, dt: float, rec_segs):
    # fixed step on a shared time grid: an earlier CVODE run in this process must not leak in
    h.CVode().active(0)
    h.dt = dt
    h.steps_per_ms = 1.0 / dt
    vecs = [h.Vector().record(seg._ref_v) for seg in rec_segs]
    t = h.Vector().record(h._ref_t)
    h.finitialize(v_init)
    h.continuerun(tstop)
    return np.array(t), [np.array(v) for v in vecs]


def somatic_passive_response(
    cell,
    v_init: float | None = None,
    settle_ms: float = 400.0,
    step_na: float = -0.05,
    step_ms: float = 400.0,
    pulse_na: float = -0.5,
    pulse_ms: float = 1.0,
    fit_start_ms: float = 20.0,
    fit_max_ms: float = 100.0,
    dt: float = 0.025,
) -> dict:
    """Somatic input resistance (MOhm) and membrane time constant (ms), from current injections.

    ``rin_mohm``: steady deflection (mean of the last 20 ms of a small step) / current.
    ``tau_ms``: Rall's slowest time constant tau_0, from the decay after a brief pulse: a
    log-linear fit of |dV| from ``fit_start_ms`` after the pulse until it has fallen to 20 % of
    that value (at most ``fit_max_ms``). The default start (20 ms, about tau_0) skips the
    equalising components, which are faster in a tree than in its cylinder by construction
    (Rall's peeling fits the tail for the same reason); ``tau_early_ms`` is the same fit from
    5 ms, reported for comparison.
    """
    v_init = cell.v_init_mv if v_init is None else v_init
    h = hoc()
    stim = h.IClamp(cell.soma_seg)
    stim.delay, stim.dur, stim.amp = settle_ms, step_ms, step_na
    try:
        t, (v,) = _run(h, v_init, settle_ms + step_ms, dt, [cell.soma_seg])
        stim.dur, stim.amp = pulse_ms, pulse_na
        tp, (vp,) = _run(
            h,
            v_init,
            settle_ms + pulse_ms + max(fit_start_ms, 5.0) + fit_max_ms + 5.0,
            dt,
            [cell.soma_seg],
        )
    finally:
        stim.amp = 0.0
        del stim
    base = v[(t > settle_ms - 20) & (t <= settle_ms)].mean()
    on = (t > settle_ms) & (t <= settle_ms + step_ms)
    steady = v[on][t[on] > settle_ms + step_ms - 20].mean() - base
    base_p = vp[(tp > settle_ms - 20) & (tp <= settle_ms)].mean()
    t0 = settle_ms + pulse_ms + fit_start_ms
    win = tp >= t0
    dv = np.abs(vp[win] - base_p)
    keep = np.arange(dv.size) < np.argmax(np.r_[dv < 0.2 * dv[0], True])
    keep &= tp[win] <= t0 + fit_max_ms
    slope = np.polyfit(tp[win][keep], np.log(dv[keep]), 1)[0]
    early = (tp >= settle_ms + pulse_ms + 5.0) & (tp <= settle_ms + pulse_ms + 5.0 + fit_max_ms)
    dve = np.abs(vp[early] - base_p)
    keep_e = np.arange(dve.size) < np.argmax(np.r_[dve < 0.2 * dve[0], True])
    slope_e = np.polyfit(tp[early][keep_e], np.log(dve[keep_e]), 1)[0]
    return {
        "v_rest_mv": float(base),
        "rin_mohm": float(steady / step_na),
        "tau_ms": float(-1.0 / slope),
        "tau_early_ms": float(-1.0 / slope_e),
    }


def epsp_attenuation(
    cell,
    segments,
    v_init: float | None = None,
    settle_ms: float = 300.0,
    window_ms: float = 100.0,
    dt: float = 0.025,
) -> list[dict]:
    """Somatic EPSP from one event on each listed segment's excitatory synapse, relative to the
    somatic EPSP of an identical synapse placed at the soma (``attenuation`` = distal/somatic).

    Reducing a tree preserves transfer impedances to the soma, not local input impedances, so
    this soma-referenced ratio (and the somatic amplitude) is what a reduction must keep; the
    local EPSP (``local_epsp_mv``) is reported for information. A run without any event is
    subtracted from every trace, so slow drift towards rest does not bias the amplitudes.
    """
    v_init = cell.v_init_mv if v_init is None else v_init
    h = hoc()
    segments = [int(i) for i in np.atleast_1d(segments)]
    rec = [cell.soma_seg] + [cell.segments[i] for i in segments]
    syn0 = cell.exc_synapses[segments[0]]
    cls = syn0.hname().split("[")[0]
    ref = getattr(h, cls)(cell.soma_seg)
    for k, size in mechanism_parameters(h, cls):
        if size == 1:
            setattr(ref, k, getattr(syn0, k))

    def run_with(target):
        if target is None:
            return _run(h, v_init, settle_ms + window_ms, dt, rec)
        nc = h.NetCon(None, target)
        nc.weight[0] = 1.0
        fih = h.FInitializeHandler(lambda: nc.event(settle_ms))
        out = _run(h, v_init, settle_ms + window_ms, dt, rec)
        del fih  # a live handler would send its event again in every later run
        return out

    t, control = run_with(None)
    after = t >= settle_ms
    _, vs = run_with(ref)
    soma_ref = float(np.max((vs[0] - control[0])[after]))
    out = []
    for k, i in enumerate(segments):
        _, vs = run_with(cell.exc_synapses[i])
        soma = float(np.max((vs[0] - control[0])[after]))
        local = float(np.max((vs[k + 1] - control[k + 1])[after]))
        out.append(
            {
                "segment": i,
                "soma_epsp_mv": soma,
                "soma_epsp_somatic_syn_mv": soma_ref,
                "local_epsp_mv": local,
                "attenuation": soma / soma_ref,
            }
        )
    del ref
    return out
