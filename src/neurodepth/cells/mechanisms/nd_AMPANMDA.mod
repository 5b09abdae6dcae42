: Excitatory synapse with an AMPA and an NMDA component (neurodepth; facts sheet section 3.1-3.2).
: Each component is a double exponential g = gmax*(B - A) whose jump is scaled by a factor that
: makes a single weight-1 event peak at exactly gmax. Both components share gmax and the weight.
: NMDA is gated by the Mg block B(V) = 1/(1 + exp(-0.08 V) Mg/3.57).
: Release is deterministic: every event (including one at t = 0) adds weight*factor to the states.

NEURON {
    POINT_PROCESS nd_AMPANMDA
    RANGE tau_r_AMPA, tau_d_AMPA, tau_r_NMDA, tau_d_NMDA
    RANGE gmax, e, mg, mggate
    RANGE g, g_AMPA, g_NMDA, i_AMPA, i_NMDA
    RANGE factor_AMPA, factor_NMDA
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (mM) = (milli/liter)
}

PARAMETER {
    tau_r_AMPA = 0.3 (ms)
    tau_d_AMPA = 3.0 (ms)
    tau_r_NMDA = 2.0 (ms)
    tau_d_NMDA = 70.0 (ms)
    gmax = 0.0004 (uS)
    e = 0 (mV)
    mg = 1 (mM)
}

ASSIGNED {
    v (mV)
    i (nA)
    i_AMPA (nA)
    i_NMDA (nA)
    g (uS)
    g_AMPA (uS)
    g_NMDA (uS)
    mggate
    factor_AMPA
    factor_NMDA
}

STATE {
    A_AMPA
    B_AMPA
    A_NMDA
    B_NMDA
}

INITIAL {
    A_AMPA = 0
    B_AMPA = 0
    A_NMDA = 0
    B_NMDA = 0
    factor_AMPA = peak_factor(tau_r_AMPA, tau_d_AMPA)
    factor_NMDA = peak_factor(tau_r_NMDA, tau_d_NMDA)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    mggate = 1/(1 + exp(-0.08*v)*(mg/3.57))
    g_AMPA = gmax*(B_AMPA - A_AMPA)
    g_NMDA = gmax*(B_NMDA - A_NMDA)*mggate
    g = g_AMPA + g_NMDA
    i_AMPA = g_AMPA*(v - e)
    i_NMDA = g_NMDA*(v - e)
    i = i_AMPA + i_NMDA
}

DERIVATIVE states {
    A_AMPA' = -A_AMPA/tau_r_AMPA
    B_AMPA' = -B_AMPA/tau_d_AMPA
    A_NMDA' = -A_NMDA/tau_r_NMDA
    B_NMDA' = -B_NMDA/tau_d_NMDA
}

FUNCTION peak_factor(tr (ms), td (ms)) {
    : 1/(exp(-tp/td) - exp(-tp/tr)) at the peak time tp of exp(-t/td) - exp(-t/tr)
    LOCAL tp
    tp = (tr*td)/(td - tr)*log(td/tr)
    peak_factor = 1/(exp(-tp/td) - exp(-tp/tr))
}

NET_RECEIVE(weight) {
    A_AMPA = A_AMPA + weight*factor_AMPA
    B_AMPA = B_AMPA + weight*factor_AMPA
    A_NMDA = A_NMDA + weight*factor_NMDA
    B_NMDA = B_NMDA + weight*factor_NMDA
}
