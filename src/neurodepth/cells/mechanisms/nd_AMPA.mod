: AMPA-only excitatory synapse for the no-NMDA variant (neurodepth; facts sheet sections 3.1-3.3).
: Same kinetics and peak as the AMPA component of nd_AMPANMDA. Deterministic release.

NEURON {
    POINT_PROCESS nd_AMPA
    RANGE tau_r, tau_d, gmax, e, g, factor
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
}

PARAMETER {
    tau_r = 0.3 (ms)
    tau_d = 3.0 (ms)
    gmax = 0.0004 (uS)
    e = 0 (mV)
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    factor
}

STATE { A B }

INITIAL {
    A = 0
    B = 0
    factor = peak_factor(tau_r, tau_d)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gmax*(B - A)
    i = g*(v - e)
}

DERIVATIVE states {
    A' = -A/tau_r
    B' = -B/tau_d
}

FUNCTION peak_factor(tr (ms), td (ms)) {
    LOCAL tp
    tp = (tr*td)/(td - tr)*log(td/tr)
    peak_factor = 1/(exp(-tp/td) - exp(-tp/tr))
}

NET_RECEIVE(weight) {
    A = A + weight*factor
    B = B + weight*factor
}
