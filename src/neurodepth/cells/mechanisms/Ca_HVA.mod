: High-voltage-activated Ca current (Hay et al. 2011, 5b set); facts sheet section 2.10.
: No temperature factor. E_Ca comes from NEURON's Nernst computation (cai is written by CaDynamics_E2).

NEURON {
    SUFFIX Ca_HVA
    USEION ca READ eca WRITE ica
    RANGE gbar, g, ica
    RANGE mInf, mTau, hInf, hTau
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    eca (mV)
    ica (mA/cm2)
    g (S/cm2)
    mInf
    mTau (ms)
    hInf
    hTau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar*m*m*h
    ica = g*(v - eca)
}

DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
    h' = (hInf - h)/hTau
}

INITIAL {
    rates(v)
    m = mInf
    h = hInf
}

FUNCTION linoid(y, s) {
    : y/(1 - exp(-y/s)), with limit s at y = 0
    if (fabs(y/s) < 1e-6) {
        linoid = s*(1 + y/(2*s))
    } else {
        linoid = y/(1 - exp(-y/s))
    }
}

PROCEDURE rates(v (mV)) {
    LOCAL am, bm, ah, bh
    : 0.055*u/(exp(u/3.8) - 1) with u = -27 - v
    am = 0.055*linoid(v + 27, 3.8)
    bm = 0.94*exp((-75 - v)/17)
    ah = 0.000457*exp((-13 - v)/50)
    bh = 0.0065/(exp((-v - 15)/28) + 1)
    mInf = am/(am + bm)
    mTau = 1/(am + bm)
    hInf = ah/(ah + bh)
    hTau = 1/(ah + bh)
}
